"""Turning RabbitMQ messages into raw events: the loginput's own messages, and those that
other systems already publish.

syslog-ng's amqp() destination sends each log message's name-value pairs as AMQP
headers, all as strings (by default the rfc3164 set HOST, PROGRAM, PID, MESSAGE,
FACILITY, PRIORITY, DATE, plus TAGS, SOURCEIP, SEQNUM where known, SOURCE, HOST_FROM,
LEGACY_MSGHDR and any parsed or SDATA values, whose names start with a dot), with
`content_type` text/plain and an empty body unless `body()` sets a template. The
normaliser already knows these names (MESSAGE fills `summary`, HOST `hostname`, ...),
so the headers become the event as they are, except SOURCE: that is the name of
syslog-ng's own source statement (s_net), kept as SYSLOG_NG_SOURCE so that FACILITY
fills MozDef's `source`. Dotted names are nested, as syslog-ng's format-json does. A
body that is a JSON object (`body("$(format-json ...)")`) is merged over the headers;
any other body is the message text.

A message's `message_id`, if its publisher set one, becomes the document id, so that
a redelivered message overwrites instead of duplicating.
"""

from collections.abc import Callable

import orjson
from pika.spec import BasicProperties

from mozdef.core.ingest import RawEvent
from mozdef.core.queue import messages
from mozdef.core.queue.messages import Unprocessable
from mozdef.core.queue.settings import SourceSettings

Decoder = Callable[[bytes, BasicProperties], list[RawEvent]]


def raw_events_decoder(queue: str) -> Decoder:
    """The raw-event queue carries the loginput's messages, and also plain JSON events
    from any other publisher that sends MozDef-format JSON to the same exchange."""
    source = f"rabbitmq:{queue}"

    def decode(body: bytes, properties: BasicProperties) -> list[RawEvent]:
        if properties.type == messages.MESSAGE_TYPE:
            return messages.decode(body)
        return json_events(body, properties, source)

    return decode


def source_decoder(settings: SourceSettings) -> Decoder:
    parse = json_events if settings.format == "json" else syslog_ng_events
    source = f"rabbitmq:{settings.queue}"
    return lambda body, properties: parse(body, properties, source)


def json_events(body: bytes, properties: BasicProperties, source: str) -> list[RawEvent]:
    """A JSON object is one event, a JSON array several; anything that is not an object
    is rejected item by item, by the normaliser."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Unprocessable(f"not JSON: {exc}") from None
    if not isinstance(value, list):
        return [RawEvent(value, source, properties.message_id)]
    message_id = properties.message_id
    return [
        RawEvent(item, source, f"{message_id}-{position}" if message_id else None)
        for position, item in enumerate(value)
    ]


def syslog_ng_events(body: bytes, properties: BasicProperties, source: str) -> list[RawEvent]:
    headers = {name: plain(value) for name, value in (properties.headers or {}).items()}
    if "SOURCE" in headers:
        headers["SYSLOG_NG_SOURCE"] = headers.pop("SOURCE")
    pairs = nest(headers)
    text = body.strip()
    parsed = None
    if text.startswith(b"{"):
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            parsed = None  # a message that merely starts with a brace
    if isinstance(parsed, dict):
        taken = {key.lower() for key in parsed}
        event = parsed | {key: value for key, value in pairs.items() if key.lower() not in taken}
    elif text:
        event = pairs | {"MESSAGE": text.decode("utf-8", "replace")}
    else:
        event = pairs
    if not event:
        raise Unprocessable("a syslog-ng message with no headers and an empty body")
    return [RawEvent(event, source, properties.message_id)]


def plain(value: object) -> object:
    """A header value as JSON can hold it (pika gives bytes for non-UTF-8 strings)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if value is None or isinstance(value, str | int | float | bool | list | dict):
        return value
    return str(value)


def nest(pairs: dict[str, object]) -> dict[str, object]:
    """{".SDATA.meta.sequenceId": "1"} -> {"SDATA": {"meta": {"sequenceId": "1"}}}; a
    name that would clash with a value already there stays as it is."""
    nested: dict[str, object] = {}
    for name, value in pairs.items():
        parts = name.lstrip(".").split(".")
        if not (all(parts) and place(nested, parts, value)):
            nested[name] = value
    return nested


def place(node: dict, path: list[str], value: object) -> bool:
    for part in path[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            return False
    if path[-1] in node:
        return False
    node[path[-1]] = value
    return True
