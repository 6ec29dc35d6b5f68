"""The loginput in queue mode: raw events go to RabbitMQ, and "accepted" means that the
broker has confirmed them (persistent messages on a durable queue), so the HTTP server
can answer 2xx.

Each event gets its document id here, once, so that however often it is redelivered
downstream it is stored under the same id. If the connection drops before the broker
confirms, the same messages (same ids) are published again on the next connection,
until `confirm_timeout`; after that the caller gets `SinkUnavailable` (HTTP 503) and
nothing it sent may be counted as accepted.
"""

import time
import uuid
from collections.abc import Sequence
from types import TracebackType

import gevent
import gevent.event
import pika

from mozdef.core.config import Config
from mozdef.core.http.server import serve
from mozdef.core.http.sink import SinkUnavailable
from mozdef.core.ingest import DOCUMENT_IDS, RawEvent, Result, Status
from mozdef.core.normalize import not_an_object
from mozdef.core.queue import messages
from mozdef.core.queue.link import BrokerUnavailable, Link
from mozdef.core.queue.settings import RabbitSettings
from mozdef.core.queue.topology import declare_events


class Publisher:
    """A sink for the HTTP server: `accept(batch)` returns once RabbitMQ has the batch."""

    def __init__(self, settings: RabbitSettings) -> None:
        self.settings = settings
        self.link = Link(settings, "loginput", declare_events)
        self.link.start()

    def accept(self, batch: Sequence[RawEvent]) -> list[Result]:
        """One result per item, in order: QUEUED (confirmed by the broker, with the
        document id it will be stored under) or REJECTED. Raises `SinkUnavailable` if
        the broker did not confirm every message in time."""
        results = []
        items = []
        for raw in batch:
            if type(raw.value) is not dict:
                results.append(Result(Status.REJECTED, raw.doc_id, str(not_an_object(raw.value))))
                continue
            doc_id = raw.doc_id or DOCUMENT_IDS.new()
            try:
                items.append(
                    messages.encode_event(RawEvent(raw.value, raw.source, doc_id, raw.application))
                )
            except TypeError as exc:
                results.append(Result(Status.REJECTED, doc_id, f"cannot be sent as JSON: {exc}"))
                continue
            results.append(Result(Status.QUEUED, doc_id))
        size = self.settings.events_per_message
        self.publish([messages.join(items[at : at + size]) for at in range(0, len(items), size)])
        return results

    def publish(self, bodies: list[bytes]) -> None:
        """Publish every body and wait for all the confirms, republishing after a lost
        connection, until `confirm_timeout`."""
        timeout = self.settings.confirm_timeout
        deadline = time.monotonic() + timeout
        waiting = [(uuid.uuid4().hex, body) for body in bodies]
        problem = "no answer"
        while waiting:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SinkUnavailable(
                    f"RabbitMQ did not confirm {len(waiting)} message(s) within "
                    f"{timeout:g} s: {problem}"
                )
            try:
                self.link.wait_ready(remaining)
                sent = [(message, self.send(*message)) for message in waiting]
            except BrokerUnavailable as exc:
                problem = str(exc)
                gevent.sleep(min(self.settings.reconnect_min, max(remaining, 0)))
                continue
            gevent.wait([confirmation for _message, confirmation in sent], timeout=remaining)
            waiting = []
            for message, confirmation in sent:
                if not confirmation.successful():
                    waiting.append(message)
                    if confirmation.ready():
                        problem = str(confirmation.exception)

    def send(self, message_id: str, body: bytes) -> gevent.event.AsyncResult:
        properties = pika.BasicProperties(
            content_type=messages.CONTENT_TYPE,
            delivery_mode=messages.PERSISTENT,
            message_id=message_id,
            type=messages.MESSAGE_TYPE,
            app_id="mozdef",
            timestamp=int(time.time()),
        )
        return self.link.publish(
            self.settings.exchange, self.settings.routing_key, body, properties
        )

    def close(self) -> None:
        self.link.close()

    def __enter__(self) -> "Publisher":
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def run_loginput(config: Config) -> None:
    """`mozdef run --role loginput`: the HTTP server, with RabbitMQ as its sink (which
    the server closes when it stops)."""
    serve(config, Publisher(config.settings.rabbitmq))
