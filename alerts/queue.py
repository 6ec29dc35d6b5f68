"""Alerts in queue mode: `mozdef run --role alerts` publishes each alert to RabbitMQ's
`alerts` topic exchange (routing key `mozdef.alert`), and `mozdef run --role bot`
consumes them and hands them to the notifying plugins (IRC, Matrix, webhooks).

Real-time rules: events are stored by the workers, so each worker tests its stored
events against the real-time rules and sends a note (rule, values) on the same
exchange (routing key `mozdef.realtime`) to the one alerts process, which runs the
rule. The count is the store's, over every worker's events, and one process raising
every alert means each alert is raised once.

Alerts are persistent messages on a durable queue, published with confirms: an alert
raised while no bot runs waits for one. A bot acknowledges an alert once every
notifier has been given it; several bot processes share the queue, each alert going
to one of them.
"""

import logging
import signal
import time
import uuid
from collections.abc import Sequence

import gevent
import gevent.event
import orjson
import pika

from mozdef.alerts.catalog import Catalog, Entry
from mozdef.alerts.realtime import Realtime
from mozdef.alerts.service import AlertService, notify_in_process
from mozdef.core.app import MozDef
from mozdef.core.config import Config, ConfigError
from mozdef.core.pluginmanager import Plugins
from mozdef.core.query import Scalar
from mozdef.core.queue.link import BrokerUnavailable, Link
from mozdef.core.queue.messages import CONTENT_TYPE, PERSISTENT
from mozdef.core.queue.settings import RabbitSettings
from mozdef.core.queue.topology import declare_alerts, declare_realtime

logger = logging.getLogger(__name__)

MESSAGE_TYPE = "mozdef.alert.v1"
REALTIME_TYPE = "mozdef.realtime-note.v1"


class AlertPublisher:
    """Delivers alerts to the alerts exchange, waiting for the broker's confirm."""

    def __init__(self, settings: RabbitSettings) -> None:
        self.settings = settings
        self.link = Link(settings, "alerts", declare_alerts)
        self.link.start()

    def deliver(self, alert: dict) -> None:
        """Publish one alert (the bots decide whether it notifies), retrying through
        reconnections until `confirm_timeout`; then `BrokerUnavailable`. The alert is
        stored either way."""
        body = orjson.dumps(alert)
        deadline = time.monotonic() + self.settings.confirm_timeout
        while True:
            try:
                self.link.wait_ready(max(0.0, deadline - time.monotonic()))
                properties = pika.BasicProperties(
                    content_type=CONTENT_TYPE,
                    delivery_mode=PERSISTENT,
                    message_id=uuid.uuid4().hex,
                    type=MESSAGE_TYPE,
                    app_id="mozdef",
                    timestamp=int(time.time()),
                )
                settings = self.settings
                confirmation = self.link.publish(
                    settings.alerts_exchange, settings.alerts_routing_key, body, properties
                )
                confirmation.get(timeout=max(0.0, deadline - time.monotonic()))
                return
            except (BrokerUnavailable, gevent.Timeout) as exc:
                if time.monotonic() >= deadline:
                    raise BrokerUnavailable(f"alert {alert['id']} not confirmed: {exc}") from exc
                gevent.sleep(self.settings.reconnect_min)

    def close(self) -> None:
        self.link.close()


class RealtimeForwarder:
    """In a worker: the real-time rules' notes, sent to the alerts role. A note that
    cannot be sent is logged; the rule's next scheduled run counts those events."""

    def __init__(self, settings: RabbitSettings) -> None:
        self.settings = settings
        self.link = Link(settings, "realtime", declare_realtime)
        self.link.start()

    def send(self, entry: Entry, values: Sequence[Scalar] | None) -> None:
        body = orjson.dumps({"rule": entry.name, "values": values})
        properties = pika.BasicProperties(
            content_type=CONTENT_TYPE, message_id=uuid.uuid4().hex, type=REALTIME_TYPE
        )
        try:
            self.link.publish(
                self.settings.alerts_exchange, self.settings.realtime_routing_key, body, properties
            )
        except BrokerUnavailable as exc:
            logger.warning("real-time note for %s not sent: %s", entry.name, exc)

    def close(self) -> None:
        self.link.close()


def forward_realtime(config: Config, plugins: Plugins) -> tuple[Realtime, RealtimeForwarder] | None:
    """A worker's real-time watch, if alerts are on and some rule runs in real time."""
    if not config.settings.alerts.enabled:
        return None
    entries = [e for e in Catalog(config, plugins).enabled() if e.rule.settings.realtime]
    if not entries:
        return None
    forwarder = RealtimeForwarder(config.settings.rabbitmq)
    return Realtime(entries, forwarder.send, config.settings.alerts.realtime_delay), forwarder


class RealtimeConsumer:
    """In the alerts role: runs the rules that the workers' notes name."""

    def __init__(self, service: AlertService, settings: RabbitSettings) -> None:
        self.service = service
        self.settings = settings
        self.link = Link(settings, "alerts-realtime", self.subscribe)
        self.link.start()

    def subscribe(self, link: Link) -> None:
        declare_realtime(link)
        channel = link.channel
        link.rpc(lambda done: channel.basic_qos(prefetch_count=100, callback=done))
        link.rpc(
            lambda done: channel.basic_consume(
                self.settings.realtime_queue, self.receive, callback=done
            )
        )

    def receive(self, channel, method, properties, body: bytes) -> None:
        try:
            note = orjson.loads(body)
            entry = self.service.catalog.get(note["rule"])
            values = note["values"]
        except (ValueError, KeyError, TypeError, ConfigError) as exc:
            logger.warning("ignoring a real-time note: %s", exc)
        else:
            if entry.rule.settings.enabled:
                self.service.run_soon(entry, values)
        channel.basic_ack(method.delivery_tag)

    def close(self) -> None:
        self.link.close()


class BotConsumer:
    """Consumes the bots' queue into this process's notifying plugins."""

    def __init__(self, plugins: Plugins, settings: RabbitSettings) -> None:
        self.notify = notify_in_process(plugins)
        self.settings = settings
        self.link = Link(settings, "bot", self.subscribe)

    def subscribe(self, link: Link) -> None:
        declare_alerts(link)
        channel = link.channel
        link.rpc(lambda done: channel.basic_qos(prefetch_count=10, callback=done))
        link.rpc(
            lambda done: channel.basic_consume(
                self.settings.alerts_queue, self.receive, callback=done
            )
        )

    def receive(self, channel, method, properties, body: bytes) -> None:
        # In the hub: notifiers queue and return (see mozdef_notify_alert's contract).
        try:
            alert = orjson.loads(body)
            if not isinstance(alert, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            logger.error("dropping an unreadable alert message: %s", exc)
            channel.basic_nack(method.delivery_tag, requeue=False)
            return
        self.notify(alert)
        channel.basic_ack(method.delivery_tag)

    def start(self) -> None:
        self.link.start()

    def close(self) -> None:
        self.link.close()


def until_stopped() -> None:
    stop = gevent.event.Event()
    handlers = [gevent.signal_handler(n, stop.set) for n in (signal.SIGTERM, signal.SIGINT)]
    try:
        stop.wait()
    finally:
        for handler in handlers:
            handler.cancel()


def run_alerts(config: Config) -> None:
    """`mozdef run --role alerts`: the rules on their schedules, alerts to RabbitMQ."""
    with MozDef(config) as mozdef:
        publisher = AlertPublisher(config.settings.rabbitmq)
        service = AlertService(config, mozdef.plugins, publisher.deliver)
        notes = RealtimeConsumer(service, config.settings.rabbitmq)
        try:
            service.start()
            until_stopped()
        finally:
            notes.close()
            service.stop()
            publisher.close()


def run_bots(config: Config) -> None:
    """`mozdef run --role bot`: the bots, fed from RabbitMQ's alerts queue."""
    with MozDef(config) as mozdef:
        mozdef.plugins.start_notifiers()
        consumer = BotConsumer(mozdef.plugins, config.settings.rabbitmq)
        consumer.start()
        try:
            until_stopped()
        finally:
            consumer.close()
