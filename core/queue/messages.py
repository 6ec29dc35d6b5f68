"""The loginput's messages to the workers: raw events with the ids they were given.

One message carries up to `events_per_message` raw events, so that a bulk request
costs a few publishes and confirms, not one per event. Each event travels with the
document id the loginput assigned when it accepted it: a message redelivered after a
worker crash is stored again under the same ids, overwriting instead of duplicating.

The body is a JSON array of {"id", "source", "application" (custom endpoint only),
"event"}; the message's `type` property names the format.
"""

from collections.abc import Sequence

import orjson

from mozdef.core.ingest import RawEvent

MESSAGE_TYPE = "mozdef.raw-events.v1"
CONTENT_TYPE = "application/json"
PERSISTENT = 2  # AMQP delivery mode: written to disk by the broker


class Unprocessable(ValueError):
    """A message that no retry can make processable: it goes to the dead-letter queue."""


def encode_event(raw: RawEvent) -> bytes:
    """One item of a message body; raises `TypeError` for a value JSON cannot carry."""
    item = {"id": raw.doc_id, "source": raw.source, "event": raw.value}
    if raw.application is not None:
        item["application"] = raw.application
    return orjson.dumps(item)


def join(items: Sequence[bytes]) -> bytes:
    """A message body from items made by `encode_event`."""
    return b"[" + b",".join(items) + b"]"


def decode(body: bytes) -> list[RawEvent]:
    """The raw events of a loginput message; raises `Unprocessable` if it is not one."""
    try:
        items = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Unprocessable(f"not JSON: {exc}") from None
    if not isinstance(items, list):
        raise Unprocessable(f"a {MESSAGE_TYPE} message must be a JSON array")
    events = []
    for position, item in enumerate(items):
        if not isinstance(item, dict) or "event" not in item:
            raise Unprocessable(f"item {position} is not an object with an 'event'")
        doc_id, source, application = item.get("id"), item.get("source"), item.get("application")
        if not all(isinstance(value, str | None) for value in (doc_id, source, application)):
            raise Unprocessable(f"item {position}: id, source and application must be strings")
        events.append(RawEvent(item["event"], source or "rabbitmq", doc_id, application))
    return events
