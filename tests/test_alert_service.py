"""The alert service for real: rules on their schedules in a gevent hub, catching up
after downtime, one failing rule not holding up another, real-time rules firing from
events POSTed to the HTTP server."""

import json
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta

import gevent
import pytest
from test_bot_webhook import Receiver

from mozdef.alerts.rules import AggregationRule, AggregationSettings, Draft, Group
from mozdef.alerts.schedule import ScheduleState
from mozdef.alerts.service import AlertService
from mozdef.core.hookspecs import hookimpl
from mozdef.core.http.metrics import Registry
from mozdef.core.http.server import BackgroundServer
from mozdef.core.pluginmanager import Candidate, Plugins
from mozdef.core.query import Search, Term
from mozdef.core.store import Document
from mozdef.core.stores import open_store
from mozdef.core.timestamps import isoformat

RULE_FILE = """
kind = "aggregation"
filters = { category = "authentication" }
field = "details.sourceipaddress"
threshold = 3
window = "5m"
category = "bruteforce"
severity = "WARNING"
summary = "{count} failures from {value}"
schedule = "1h"
realtime = true
"""


class Logins(AggregationRule):
    """Three failures from one address."""

    name = "logins"

    class Settings(AggregationSettings):
        threshold: int = 3

    def query(self):
        return Term("category", "authentication")

    def alert(self, group: Group) -> Draft:
        return Draft(f"{group.count} from {group.value}", "bruteforce", "WARNING")


class Broken(AggregationRule):
    """Always fails."""

    name = "broken"

    def query(self):
        raise RuntimeError("this rule is broken")


class RulePlugin:
    @hookimpl
    def mozdef_alert_rules(self):
        return [Logins, Broken]


def deadline_wait(condition, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        gevent.sleep(0.02)


def login_failures(count: int, ip: str = "203.0.113.9") -> list[dict]:
    now = isoformat(datetime.now(UTC))
    return [
        {
            "utctimestamp": now,
            "category": "authentication",
            "summary": "login failed",
            "details": {"sourceipaddress": ip},
        }
        for _ in range(count)
    ]


@pytest.fixture
def configured(config_file, tmp_path):
    def make(extra: str = ""):
        return config_file(
            f'[store.sqlite]\npath = "{tmp_path}/store.sqlite3"\n'
            f'[alerts]\nstate_file = "{tmp_path}/schedule.json"\n{extra}'
        )

    return make


def test_scheduled_rules_run_at_start_and_one_failure_does_not_stop_the_others(configured):
    config = configured(
        '[alerts.rules.logins]\nschedule = "1h"\n[alerts.rules.broken]\nschedule = "1h"'
    )
    with open_store(config.settings.store) as store:
        store.write([Document("events", str(n), e) for n, e in enumerate(login_failures(3))])
    delivered: list[dict] = []
    registry = Registry()
    plugins = Plugins(config, [Candidate("rules", "test", RulePlugin())])
    service = AlertService(config, plugins, delivered.append, registry)
    service.start()
    try:
        deadline_wait(lambda: delivered and service.runs.values.get(("broken", "failed")))
    finally:
        service.stop()
    assert [alert["summary"] for alert in delivered] == ["3 from 203.0.113.9"]
    metrics = registry.render().decode()
    assert 'mozdef_alert_runs_total{rule="logins",outcome="ok"} 1' in metrics
    assert 'mozdef_alert_runs_total{rule="broken",outcome="failed"} 1' in metrics
    assert 'mozdef_alerts_total{rule="logins"} 1' in metrics
    last = ScheduleState(service.state.path).last_run("logins")
    assert last is not None and datetime.now(UTC) - last < timedelta(minutes=1)


def test_a_rule_not_due_waits_and_a_missed_one_runs_once(configured, tmp_path):
    config = configured(
        '[alerts.rules.logins]\nschedule = "1h"\n[alerts.rules.broken]\nenabled = false'
    )
    state = ScheduleState(tmp_path / "schedule.json")
    state.ran("logins", datetime.now(UTC) - timedelta(minutes=10))  # next run in 50 minutes
    with open_store(config.settings.store) as store:
        store.write([Document("events", str(n), e) for n, e in enumerate(login_failures(3))])
    plugins = Plugins(config, [Candidate("rules", "test", RulePlugin())])
    delivered: list[dict] = []
    service = AlertService(config, plugins, delivered.append)
    service.start()
    gevent.sleep(0.5)
    service.stop()
    assert delivered == [] and not service.runs.values

    state.ran("logins", datetime.now(UTC) - timedelta(hours=5))  # five slots missed
    service = AlertService(config, plugins, delivered.append)
    service.start()
    try:
        deadline_wait(lambda: delivered)
        gevent.sleep(0.3)
    finally:
        service.stop()
    assert len(delivered) == 1
    assert service.runs.values == {("logins", "ok"): 1}


def post(address: tuple[str, int], events: list[dict]) -> None:
    request = urllib.request.Request(
        f"http://{address[0]}:{address[1]}/events",
        data=json.dumps(events).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def test_a_realtime_rule_fires_from_the_event_that_crosses_its_threshold(configured, tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "realtime_logins.toml").write_text(RULE_FILE)
    config = configured(f'rules_folder = "{rules}"')
    # The schedule has just run, so only real-time evaluation can raise the alert.
    ScheduleState(tmp_path / "schedule.json").ran("realtime_logins", datetime.now(UTC))
    with BackgroundServer(config) as address, open_store(config.settings.store) as store:
        post(address, login_failures(2))
        post(address, login_failures(2, ip="198.51.100.1"))
        time.sleep(1.0)  # past the real-time delay: nothing may have fired yet
        assert store.search(Search(indices=("alerts",))).total == 0
        post(address, login_failures(1))
        end = time.monotonic() + 10
        while (found := store.search(Search(indices=("alerts",)))).total == 0:
            assert time.monotonic() < end, "the real-time rule did not fire"
            time.sleep(0.05)
    (alert,) = found.hits
    assert alert.event["summary"] == "3 failures from 203.0.113.9"
    assert alert.event["rule"] == "realtime_logins"


def test_marks_by_two_rules_at_once_are_both_kept(configured):
    """Two rules marking the same events at once keep both marks."""
    config = configured()
    with open_store(config.settings.store) as store:
        store.write([Document("events", "e1", login_failures(1)[0])])
    stores = [open_store(config.settings.store) for _ in range(2)]
    threads = [
        threading.Thread(target=s.mark_alerted, args=([("events", "e1")], name))
        for s, name in zip(stores, ("first", "second"), strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for s in stores:
        s.close()
    with open_store(config.settings.store) as store:
        (hit,) = store.search(Search(Term("alert_names", "first"))).hits
    assert sorted(hit.event["alert_names"]) == ["first", "second"]


def test_an_alert_reaches_a_notifier_within_moments_of_the_deciding_event(configured, tmp_path):
    """The whole path in one process: HTTP in, the pipeline, the store, a real-time rule,
    the alert stored, then handed to a notifier (the webhook, to a real HTTP receiver)."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "realtime_logins.toml").write_text(RULE_FILE)
    receiver = Receiver()
    try:
        config = configured(
            f'rules_folder = "{rules}"\n'
            f'[plugins.webhook]\nenabled = true\nurls = ["{receiver.url()}"]\n'
        )
        ScheduleState(tmp_path / "schedule.json").ran("realtime_logins", datetime.now(UTC))
        with BackgroundServer(config) as address:
            post(address, login_failures(3))
            end = time.monotonic() + 10
            while not receiver.requests:
                assert time.monotonic() < end, "no alert reached the webhook"
                time.sleep(0.05)
    finally:
        receiver.close()
    (attachment,) = receiver.requests[0].json()["attachments"]
    assert attachment["text"] == "3 failures from 203.0.113.9"
