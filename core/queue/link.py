"""One connection and one confirm-mode channel to RabbitMQ, kept open under gevent.

pika's gevent adapter runs the AMQP protocol inside gevent's hub, so it needs no
monkey-patching and shares the loop with the HTTP server. pika's callbacks fire in the
hub, where nothing may block: each one only hands a value to a waiting greenlet (an
`AsyncResult`) or a queue. Greenlets call pika directly, which is safe because a
greenlet is never switched out in the middle of a pika call.

Publisher confirms are asynchronous: any number of greenlets publish on the one channel
and each waits only for its own messages' acks, which the broker sends in batches.
When the connection or channel is lost, everything waiting fails at once with
`BrokerUnavailable` and the link reconnects with exponential backoff, then runs its
`on_open` set-up again (declarations, consumers).
"""

import contextlib
import itertools
import logging
import random
import time
import uuid
from collections.abc import Callable

import gevent
import gevent.event
import pika
import pika.exceptions
from pika.adapters.gevent_connection import GeventConnection
from pika.spec import Basic, BasicProperties

from mozdef.core.backoff import backoff_delay
from mozdef.core.queue.settings import RabbitSettings

logger = logging.getLogger(__name__)
# pika logs every step of every connection at INFO; MozDef logs what matters itself.
logging.getLogger("pika").setLevel(logging.WARNING)

# Bound on any one broker round trip (open a channel, declare a queue...).
RPC_TIMEOUT = 30.0


class BrokerUnavailable(Exception):
    """Not connected, the connection was lost, or the broker refused a message."""


class Link:
    """A connection to RabbitMQ for one role of this process, reopened whenever it drops."""

    def __init__(
        self, settings: RabbitSettings, role: str, on_open: Callable[["Link"], None]
    ) -> None:
        self.settings = settings
        self.name = f"mozdef-{role}-{uuid.uuid4().hex[:8]}"
        self.parameters = pika.URLParameters(settings.url)
        self.parameters.heartbeat = settings.heartbeat
        # Shown by `rabbitmqctl list_connections client_properties` and in the UI.
        self.parameters.client_properties = {"connection_name": self.name, "product": "MozDef"}
        self.on_open = on_open
        self.connection: GeventConnection | None = None
        self.channel = None
        self.ready = gevent.event.Event()
        self.lost = gevent.event.AsyncResult()
        self.waiting: set[gevent.event.AsyncResult] = set()
        self.unconfirmed: dict[int, tuple[str | None, gevent.event.AsyncResult]] = {}
        self.returned: set[str] = set()
        self.published = 0
        self.closing = False
        self.greenlet: gevent.Greenlet | None = None

    def start(self) -> None:
        self.greenlet = gevent.spawn(self.run)

    def close(self) -> None:
        """Close the connection; unacknowledged deliveries go back to their queues."""
        self.closing = True
        connection = self.connection
        self.disconnect()
        self.fail("the connection was closed")
        # The hub sends Connection.Close and waits for CloseOk; give it a moment.
        deadline = time.monotonic() + 5
        while connection is not None and not connection.is_closed and time.monotonic() < deadline:
            gevent.sleep(0.01)
        if self.greenlet is not None:
            self.greenlet.kill(timeout=5)

    def wait_ready(self, timeout: float) -> None:
        """Wait until the channel is open and set up, or raise `BrokerUnavailable`."""
        if not self.ready.wait(timeout):
            raise BrokerUnavailable(f"not connected to RabbitMQ at {self.where}")

    @property
    def where(self) -> str:
        return f"{self.parameters.host}:{self.parameters.port}"

    def run(self) -> None:
        failures = 0
        while not self.closing:
            try:
                self.connect()
            except Exception as exc:
                self.fail(exc)
                self.disconnect()
                if self.closing:
                    break
                failures += 1
                delay = backoff_delay(
                    failures, self.settings.reconnect_min, self.settings.reconnect_max
                )
                logger.warning(
                    "%s: cannot connect to RabbitMQ at %s (%s); retrying in %.1f s",
                    self.name,
                    self.where,
                    describe(exc),
                    delay,
                )
                gevent.sleep(delay * random.uniform(0.8, 1.2))
                continue
            failures = 0
            logger.info("%s: connected to RabbitMQ at %s", self.name, self.where)
            reason = self.lost.get()
            self.disconnect()
            if not self.closing:
                logger.warning("%s: lost RabbitMQ connection (%s); reconnecting", self.name, reason)
                gevent.sleep(self.settings.reconnect_min)

    def connect(self) -> None:
        self.lost = gevent.event.AsyncResult()
        opened = gevent.event.AsyncResult()
        connection = self.connection = GeventConnection(
            self.parameters,
            on_open_callback=opened.set,
            on_open_error_callback=lambda _connection, error: opened.set_exception(
                error if isinstance(error, BaseException) else BrokerUnavailable(str(error))
            ),
            on_close_callback=lambda _connection, reason: self.lose(connection, reason),
        )
        wait_for(opened, "opening the connection")
        channel = self.rpc(lambda done: connection.channel(on_open_callback=done))
        channel.add_on_close_callback(lambda _channel, reason: self.lose(connection, reason))
        channel.add_on_return_callback(self.on_return)
        # A consumer cancelled by the broker (its queue deleted...) would leave a worker
        # idle on an open connection: reconnect, which declares and consumes again.
        channel.add_on_cancel_callback(
            lambda _frame: self.lose(connection, "the broker cancelled a consumer")
        )
        self.rpc(lambda done: channel.confirm_delivery(self.on_confirm, callback=done))
        self.channel = channel
        self.published = 0
        self.returned.clear()
        self.on_open(self)
        if not self.lost.ready():
            self.ready.set()

    def lose(self, connection: GeventConnection, reason: object) -> None:
        """pika reports a closed connection or channel; late reports about a connection
        already replaced are ignored."""
        if connection is self.connection:
            self.fail(reason)

    def disconnect(self) -> None:
        connection, self.connection, self.channel = self.connection, None, None
        self.ready.clear()
        if connection is not None and not (connection.is_closing or connection.is_closed):
            with contextlib.suppress(pika.exceptions.AMQPError):
                connection.close()

    def fail(self, reason: object) -> None:
        """The connection or channel is gone: wake everything that waits on it."""
        self.ready.clear()
        error = reason if isinstance(reason, BrokerUnavailable) else BrokerUnavailable(str(reason))
        if not self.lost.ready():
            self.lost.set(describe(reason))
        for waiter in list(self.waiting):
            waiter.set_exception(error)
        unconfirmed, self.unconfirmed = self.unconfirmed, {}
        for _message_id, confirmation in unconfirmed.values():
            confirmation.set_exception(error)

    def rpc(self, start: Callable[[Callable], object]):
        """Start an asynchronous pika operation with `start(done)` and wait for `done`."""
        done = gevent.event.AsyncResult()
        self.waiting.add(done)
        try:
            start(done.set)
            return wait_for(done, "a reply from the broker")
        finally:
            self.waiting.discard(done)

    def publish(
        self, exchange: str, routing_key: str, body: bytes, properties: BasicProperties
    ) -> gevent.event.AsyncResult:
        """Publish a message (mandatory, so an unroutable one fails instead of vanishing);
        the result is set when the broker confirms it, or fails with `BrokerUnavailable`.
        `properties.message_id` must be unique."""
        channel = self.channel
        if channel is None or not self.ready.is_set():
            raise BrokerUnavailable(f"not connected to RabbitMQ at {self.where}")
        try:
            channel.basic_publish(exchange, routing_key, body, properties, mandatory=True)
        except pika.exceptions.AMQPError as exc:
            raise BrokerUnavailable(describe(exc)) from exc
        confirmation = gevent.event.AsyncResult()
        self.published += 1
        self.unconfirmed[self.published] = (properties.message_id, confirmation)
        return confirmation

    def on_return(self, _channel, _method, properties: BasicProperties, _body: bytes) -> None:
        # A returned message is still acked afterwards: remember it, fail it then.
        self.returned.add(properties.message_id)

    def on_confirm(self, frame) -> None:
        method = frame.method
        if method.multiple:
            tags = list(
                itertools.takewhile(lambda tag: tag <= method.delivery_tag, self.unconfirmed)
            )
        else:
            tags = [method.delivery_tag]
        for tag in tags:
            entry = self.unconfirmed.pop(tag, None)
            if entry is None:
                continue
            message_id, confirmation = entry
            if isinstance(method, Basic.Nack):
                confirmation.set_exception(BrokerUnavailable("the broker refused the message"))
            elif message_id in self.returned:
                self.returned.discard(message_id)
                confirmation.set_exception(
                    BrokerUnavailable("unroutable: no queue is bound to receive the message")
                )
            else:
                confirmation.set(True)


def wait_for(result: gevent.event.AsyncResult, what: str):
    try:
        return result.get(timeout=RPC_TIMEOUT)
    except gevent.Timeout:
        raise BrokerUnavailable(f"timed out after {RPC_TIMEOUT:.0f} s waiting for {what}") from None


def describe(reason: object) -> str:
    """pika's exceptions often have an empty str(); name them at least."""
    text = str(reason)
    if isinstance(reason, BaseException) and not text:
        return type(reason).__name__
    return text or repr(reason)
