"""The worker role: consume raw events from RabbitMQ, store them, then acknowledge.

Deliveries are batched (up to `batch_size` events, waiting at most `batch_linger` for
more) and run through `Ingestor.ingest`, one store commit per batch. A message is
acknowledged only after the commit, so a worker killed at any point loses nothing: the
broker redelivers what was not acknowledged, and stable document ids make the second
store overwrite the first.

What can never be processed is not requeued, which would loop forever: a message that
cannot be decoded, an event the normaliser rejects, or a message that makes processing
fail is published to the dead-letter queue with its reason (and confirmed) before the
original is acknowledged. When the store is unavailable, the batch goes back to the
queue after a growing pause.
"""

import functools
import logging
import signal
import time
import uuid
from contextlib import closing
from dataclasses import dataclass, field

import gevent
import gevent.event
import gevent.queue
import orjson
import pika
import pika.exceptions

from mozdef.alerts.queue import forward_realtime
from mozdef.core.app import MozDef
from mozdef.core.backoff import backoff_delay
from mozdef.core.config import Config
from mozdef.core.ingest import Ingestor, RawEvent, Status
from mozdef.core.queue.link import BrokerUnavailable, Link
from mozdef.core.queue.messages import PERSISTENT, Unprocessable
from mozdef.core.queue.settings import RabbitSettings
from mozdef.core.queue.sources import Decoder, raw_events_decoder, source_decoder
from mozdef.core.queue.topology import declare_dead_letters, declare_events, declare_source
from mozdef.core.store import StoreUnavailable
from mozdef.core.stores import open_store
from mozdef.core.storethread import StoreThread

logger = logging.getLogger(__name__)

REASON_HEADER = "x-mozdef-reason"


@dataclass(slots=True)
class Delivery:
    """One message as the broker delivered it, and what it decoded to."""

    channel: object
    tag: int
    queue: str
    exchange: str
    routing_key: str
    properties: pika.BasicProperties
    body: bytes
    events: list[RawEvent] = field(default_factory=list)
    problem: str | None = None  # why it can never be processed


@dataclass(frozen=True, slots=True)
class DeadLetter:
    delivery: Delivery
    body: bytes
    reason: str
    doc_id: str | None = None


class Worker:
    """Consumes the raw-event queue and every configured source queue into the store."""

    def __init__(self, ingestor: Ingestor, settings: RabbitSettings) -> None:
        self.ingestor = ingestor
        self.settings = settings
        self.consumers: list[tuple[str, int, Decoder]] = [
            (settings.queue, settings.prefetch, raw_events_decoder(settings.queue)),
            *(
                (source.queue, source.prefetch, source_decoder(source))
                for source in settings.sources
            ),
        ]
        self.decoders = {queue: decode for queue, _prefetch, decode in self.consumers}
        self.inbox: gevent.queue.Queue[Delivery] = gevent.queue.Queue()
        self.link = Link(settings, "worker", self.subscribe)
        self.stopping = gevent.event.Event()
        self.store_failures = 0

    def subscribe(self, link: Link) -> None:
        """Declare what the worker reads and writes, then start consuming (on every
        connection, the first and each reconnection)."""
        declare_events(link)
        declare_dead_letters(link)
        for source in self.settings.sources:
            declare_source(link, source)
        for queue, prefetch, _decode in self.consumers:
            self.consume(link, queue, prefetch)

    def consume(self, link: Link, queue: str, prefetch: int) -> None:
        channel = link.channel
        deliver = functools.partial(self.receive, queue)
        link.rpc(lambda done: channel.basic_qos(prefetch_count=prefetch, callback=done))
        link.rpc(lambda done: channel.basic_consume(queue, deliver, callback=done))

    def receive(self, queue: str, channel, method, properties, body: bytes) -> None:
        # Runs in gevent's hub: hand over, nothing more.
        self.inbox.put_nowait(
            Delivery(
                channel,
                method.delivery_tag,
                queue,
                method.exchange,
                method.routing_key,
                properties,
                body,
            )
        )

    def run(self) -> None:
        """Consume until `stop()`; then close the connection, which hands every message
        not yet acknowledged back to the broker."""
        self.link.start()
        try:
            while not self.stopping.is_set():
                batch = self.collect()
                if batch:
                    self.handle(batch)
        finally:
            self.link.close()

    def stop(self) -> None:
        self.stopping.set()

    def collect(self) -> list[Delivery]:
        """Up to `batch_size` events' worth of deliveries, waiting at most `batch_linger`
        after the first."""
        try:
            first = self.inbox.get(timeout=0.2)
        except gevent.queue.Empty:
            return []
        batch = [first]
        count = self.decode(first)
        deadline = time.monotonic() + self.settings.batch_linger
        while count < self.settings.batch_size:
            try:
                delivery = self.inbox.get(timeout=max(deadline - time.monotonic(), 0))
            except gevent.queue.Empty:
                break
            batch.append(delivery)
            count += self.decode(delivery)
        return batch

    def decode(self, delivery: Delivery) -> int:
        try:
            delivery.events = self.decoders[delivery.queue](delivery.body, delivery.properties)
        except Unprocessable as exc:
            delivery.problem = str(exc)
        return len(delivery.events)

    def handle(self, batch: list[Delivery]) -> None:
        # Deliveries from a channel that has since closed will come again on the new one.
        batch = [delivery for delivery in batch if delivery.channel.is_open]
        letters = [DeadLetter(d, d.body, d.problem) for d in batch if d.problem is not None]
        good = [delivery for delivery in batch if delivery.problem is None]
        requeue: list[Delivery] = []
        try:
            letters += self.ingest(good)
            self.store_failures = 0
        except StoreUnavailable as exc:
            self.store_failures += 1
            pause = backoff_delay(
                self.store_failures + 1, self.settings.reconnect_min, self.settings.reconnect_max
            )
            logger.warning(
                "store unavailable (%s): %d message(s) go back to the queue in %.1f s",
                exc,
                len(good),
                pause,
            )
            gevent.sleep(pause)
            requeue = good
        requeue += self.dead_letter(letters)
        self.settle(batch, requeue)

    def ingest(self, deliveries: list[Delivery]) -> list[DeadLetter]:
        """Store the deliveries' events in one commit; the dead letters for the events
        the normaliser rejected. If processing fails outright, find the message that makes
        it fail by storing one message at a time."""
        events = [raw for delivery in deliveries for raw in delivery.events]
        if not events:
            return []
        try:
            results = self.ingestor.ingest(events)
        except StoreUnavailable:
            raise
        except Exception as exc:
            if len(deliveries) > 1:
                return [letter for delivery in deliveries for letter in self.ingest([delivery])]
            logger.exception("processing a message from %s failed", deliveries[0].queue)
            return [DeadLetter(deliveries[0], deliveries[0].body, f"processing failed: {exc!r}")]
        outcomes = iter(results)
        letters = []
        for delivery in deliveries:
            for raw in delivery.events:
                result = next(outcomes)
                if result.status is Status.REJECTED:
                    letters.append(
                        DeadLetter(
                            delivery,
                            event_body(raw, delivery),
                            result.reason or "rejected",
                            raw.doc_id,
                        )
                    )
        return letters

    def dead_letter(self, letters: list[DeadLetter]) -> list[Delivery]:
        """Publish the letters and wait for the broker's confirms; the deliveries whose
        letters were not confirmed, which must not be acknowledged."""
        if not letters:
            return []
        logger.warning(
            "dead-lettering %d item(s), the first from %s: %s",
            len(letters),
            letters[0].delivery.queue,
            letters[0].reason,
        )
        sent = [(letter, self.send(letter)) for letter in letters]
        gevent.wait(
            [confirmation for _, confirmation in sent if confirmation is not None],
            timeout=self.settings.confirm_timeout,
        )
        return [
            letter.delivery
            for letter, confirmation in sent
            if confirmation is None or not confirmation.successful()
        ]

    def send(self, letter: DeadLetter) -> gevent.event.AsyncResult | None:
        try:
            return self.link.publish(
                self.settings.dead_letter_exchange,
                letter.delivery.queue,
                letter.body,
                dead_letter_properties(letter),
            )
        except BrokerUnavailable:
            return None

    def settle(self, batch: list[Delivery], requeue: list[Delivery]) -> None:
        """Requeue the ones listed, acknowledge the rest: one ack per channel, covering
        every earlier delivery (all of them are settled by then)."""
        returning = {id(delivery) for delivery in requeue}
        highest: dict[int, tuple[object, int]] = {}
        try:
            for delivery in batch:
                if id(delivery) in returning:
                    if delivery.channel.is_open:
                        delivery.channel.basic_nack(delivery.tag, requeue=True)
                    continue
                channel, tag = highest.get(id(delivery.channel), (delivery.channel, 0))
                highest[id(delivery.channel)] = (channel, max(tag, delivery.tag))
            for channel, tag in highest.values():
                if channel.is_open:
                    channel.basic_ack(tag, multiple=True)
        except pika.exceptions.AMQPError as exc:
            # The channel went away: the broker redelivers whatever was not settled.
            logger.warning("could not acknowledge: %s", exc)


def event_body(raw: RawEvent, delivery: Delivery) -> bytes:
    """A rejected event on its own, or its whole message if it cannot be serialised."""
    try:
        return orjson.dumps(raw.value)
    except TypeError:
        return delivery.body


def dead_letter_properties(letter: DeadLetter) -> pika.BasicProperties:
    original = letter.delivery.properties
    headers = dict(original.headers or {})
    headers.update(
        {
            REASON_HEADER: letter.reason,
            "x-mozdef-queue": letter.delivery.queue,
            "x-mozdef-exchange": letter.delivery.exchange,
            "x-mozdef-routing-key": letter.delivery.routing_key,
        }
    )
    if letter.doc_id:
        headers["x-mozdef-doc-id"] = letter.doc_id
    if original.message_id:
        headers["x-mozdef-message-id"] = original.message_id
    return pika.BasicProperties(
        content_type=original.content_type,
        delivery_mode=PERSISTENT,
        message_id=uuid.uuid4().hex,
        type=original.type,
        headers=headers,
        timestamp=int(time.time()),
    )


def run_worker(config: Config) -> None:
    """`mozdef run --role worker`: consume until SIGTERM or SIGINT. The store runs on
    its own thread, so that a slow commit never stalls the broker connection's loop
    (and its heartbeats)."""
    opened = StoreThread(lambda: open_store(config.settings.store))
    with MozDef(config) as mozdef, closing(opened) as store:
        realtime = forward_realtime(config, mozdef.plugins)
        on_stored = realtime[0].stored if realtime else None
        worker = Worker(Ingestor(mozdef, store, on_stored), config.settings.rabbitmq)
        for signum in (signal.SIGTERM, signal.SIGINT):
            gevent.signal_handler(signum, worker.stop)
        try:
            worker.run()
        finally:
            if realtime:
                realtime[1].close()
