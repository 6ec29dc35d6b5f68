"""Alerts in queue mode, on the real RabbitMQ: the alerts role publishes, bots consume."""

import json
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime

import gevent
import pika
import pytest
from test_alert_service import RULE_FILE, Logins, RulePlugin, login_failures
from test_queue_support import Scratch, wait_until

from mozdef.alerts.queue import AlertPublisher, BotConsumer, RealtimeConsumer, forward_realtime
from mozdef.alerts.schedule import ScheduleState
from mozdef.alerts.service import AlertService
from mozdef.core.app import MozDef
from mozdef.core.hookspecs import hookimpl
from mozdef.core.ingest import Ingestor, RawEvent
from mozdef.core.pluginmanager import Candidate, Plugins
from mozdef.core.queue.publisher import Publisher
from mozdef.core.queue.worker import Worker
from mozdef.core.store import Document
from mozdef.core.stores import open_store

pytest_plugins = ["test_queue_support"]


class Recorder:
    def __init__(self) -> None:
        self.alerts: list[dict] = []

    @hookimpl
    def mozdef_notify_alert(self, alert: dict) -> None:
        self.alerts.append(alert)


@pytest.fixture
def settings(scratch: Scratch):
    exchange, queue = scratch.name("alerts"), scratch.name("bots")
    scratch.exchanges.add(exchange)
    scratch.queues.add(queue)
    return scratch.settings(alerts_exchange=exchange, alerts_queue=queue)


def recording(config_file, recorder: Recorder) -> Plugins:
    return Plugins(config_file(), [Candidate("recorder", "test", recorder)])


def alert(number: int, notify: bool = True) -> dict:
    return {"id": f"alert-{number}", "summary": f"alert {number}", "notify": notify}


def test_alerts_raised_while_no_bot_runs_wait_for_one(config_file, scratch, settings):
    publisher = AlertPublisher(settings)
    try:
        for number, notify in ((1, True), (2, False), (3, True)):
            publisher.deliver(alert(number, notify))
    finally:
        publisher.close()
    assert scratch.depth(settings.alerts_queue) == 3
    recorder = Recorder()
    consumer = BotConsumer(
        Plugins(config_file(), [Candidate("recorder", "test", recorder)]), settings
    )
    consumer.start()
    try:
        wait_until(lambda: len(recorder.alerts) == 2, 10, "the bot to get the alerts")
        wait_until(lambda: scratch.depth(settings.alerts_queue) == 0, 10, "the acks")
    finally:
        consumer.close()
    assert [a["id"] for a in recorder.alerts] == ["alert-1", "alert-3"]  # 2 does not notify


def test_an_unreadable_alert_message_is_dropped_not_redelivered(config_file, scratch, settings):
    recorder = Recorder()
    consumer = BotConsumer(
        Plugins(config_file(), [Candidate("recorder", "test", recorder)]), settings
    )
    consumer.start()
    try:
        consumer.link.wait_ready(10)
        scratch.publish(
            settings.alerts_exchange,
            settings.alerts_routing_key,
            b"{not json",
            pika.BasicProperties(),
        )
        scratch.publish(
            settings.alerts_exchange,
            settings.alerts_routing_key,
            json.dumps(alert(4)).encode(),
            pika.BasicProperties(),
        )
        wait_until(lambda: recorder.alerts, 10, "the readable alert")
        wait_until(lambda: scratch.depth(settings.alerts_queue) == 0, 10, "nothing left")
    finally:
        consumer.close()
    assert [a["id"] for a in recorder.alerts] == ["alert-4"]


def test_the_alerts_role_publishes_what_its_rules_raise(config_file, tmp_path, scratch, settings):
    config = config_file(
        f'[store.sqlite]\npath = "{tmp_path}/store.sqlite3"\n'
        f'[alerts]\nstate_file = ""\n[alerts.rules.broken]\nenabled = false\n'
    )
    with open_store(config.settings.store) as store:
        store.write([Document("events", str(n), e) for n, e in enumerate(login_failures(3))])
    publisher = AlertPublisher(settings)
    plugins = Plugins(config, [Candidate("rules", "test", RulePlugin())])
    service = AlertService(config, plugins, publisher.deliver)
    service.start()
    try:
        wait_until(lambda: scratch.depth(settings.alerts_queue) == 1, 10, "the published alert")
    finally:
        service.stop()
        publisher.close()
    ((properties, body),) = scratch.take_all(settings.alerts_queue)
    published = json.loads(body)
    assert (published["rule"], published["summary"]) == (Logins.name, "3 from 203.0.113.9")
    assert properties.delivery_mode == 2 and properties.type == "mozdef.alert.v1"
    assert datetime.fromisoformat(published["utctimestamp"]) <= datetime.now(UTC)


def test_real_time_rules_fire_from_events_that_workers_store(
    config_file, tmp_path, scratch, settings
):
    """A worker tests the events it stores; the alerts role runs the rule they match."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "realtime_logins.toml").write_text(RULE_FILE)
    settings = settings.model_copy(
        update={"realtime_queue": scratch.name("realtime"), "batch_linger": 0.01}
    )
    scratch.queues.add(settings.realtime_queue)
    config = config_file(
        f'[store.sqlite]\npath = "{tmp_path}/store.sqlite3"\n'
        f'[alerts]\nstate_file = "{tmp_path}/schedule.json"\nrules_folder = "{rules}"\n'
    )
    config = replace(config, settings=config.settings.model_copy(update={"rabbitmq": settings}))
    ScheduleState(tmp_path / "schedule.json").ran("realtime_logins", datetime.now(UTC))
    delivered: list[dict] = []
    with MozDef(config) as mozdef, closing(open_store(config.settings.store)) as store:
        realtime, forwarder = forward_realtime(config, mozdef.plugins)
        worker = Worker(Ingestor(mozdef, store, realtime.stored), settings)
        service = AlertService(config, mozdef.plugins, delivered.append)
        notes = RealtimeConsumer(service, settings)
        running = gevent.spawn(worker.run)
        loginput = Publisher(settings)
        try:
            loginput.accept([RawEvent(event, "test") for event in login_failures(3)])
            wait_until(lambda: delivered, 10, "the real-time alert")
        finally:
            loginput.close()
            worker.stop()
            running.join(10)
            notes.close()
            forwarder.close()
            service.stop()
    (alert,) = delivered
    assert (alert["rule"], alert["summary"]) == ("realtime_logins", "3 failures from 203.0.113.9")
