"""The rule engine against a real SQLite store: windows, marking, suppression, shape."""

from datetime import timedelta

import pytest
from alert_support import NOW, event, open_store, store_events

from mozdef.alerts.engine import Engine
from mozdef.alerts.rules import (
    AggregationRule,
    AggregationSettings,
    DeadmanRule,
    DeadmanSettings,
    Draft,
    Group,
    SimpleRule,
    SimpleSettings,
)
from mozdef.core.query import Hit, Search, Term


class FailedLogins(AggregationRule):
    name = "failed_logins"

    def query(self):
        return Term("category", "authentication")

    def alert(self, group: Group) -> Draft:
        hosts = " ".join(f"{host} ({n} hits)" for host, n in group.most_common("hostname"))
        return Draft(f"{group.count} failures by {group.value} {hosts}", "bruteforce")


class Promisc(SimpleRule):
    name = "promisc"

    def query(self):
        return Term("details.promisc", True)

    def alert(self, hit: Hit) -> Draft | None:
        if hit.event["hostname"] == "ignored.example.com":
            return None
        return Draft(f"promiscuous mode on {hit.event['hostname']}", "promisc", "WARNING")


class Quiet(DeadmanRule):
    name = "quiet"

    def query(self):
        return Term("category", "heartbeat")

    def alert(self) -> Draft:
        return Draft("no heartbeat", "deadman", "ERROR", ("deadman",))


def failed(ip: str, host: str = "host1.example.com", ago: int = 30) -> dict:
    return event(
        timedelta(seconds=ago),
        category="authentication",
        hostname=host,
        details={"sourceipaddress": ip},
    )


@pytest.fixture
def store(tmp_path):
    with open_store(tmp_path) as store:
        yield store


def aggregation(**settings) -> FailedLogins:
    return FailedLogins(AggregationSettings(threshold=3, window=timedelta(minutes=2), **settings))


def test_a_group_reaching_the_threshold_raises_one_alert_with_its_events(store):
    ids = store_events(store, *(failed("10.0.0.1") for _ in range(3)), failed("10.0.0.2"))
    (alert,) = Engine(store).run(aggregation(samples=2), NOW)
    assert alert["summary"] == "3 failures by 10.0.0.1 host1.example.com (3 hits)"
    assert alert["rule"] == "failed_logins"
    assert alert["key"] == "10.0.0.1"
    assert alert["status"] == "NEW"
    assert alert["utctimestamp"] == "2026-11-22T12:00:00.000000+00:00"
    assert sorted(ref["id"] for ref in alert["events"]) == sorted(ids[:3])
    assert sum("event" in ref for ref in alert["events"]) == 2  # the samples
    stored = store.search(Search(indices=("alerts",))).hits
    assert [hit.doc_id for hit in stored] == [alert["id"]]


def test_events_that_raised_an_alert_are_not_counted_again(store):
    store_events(store, *(failed("10.0.0.1") for _ in range(3)))
    engine = Engine(store)
    assert len(engine.run(aggregation(), NOW)) == 1
    assert engine.run(aggregation(), NOW) == []
    marked = store.search(Search(Term("alert_names", "failed_logins"))).total
    assert marked == 3
    store_events(store, *(failed("10.0.0.1") for _ in range(3)))
    assert len(engine.run(aggregation(), NOW)) == 1


def test_events_outside_the_window_do_not_count(store):
    store_events(store, failed("10.0.0.1", ago=30), failed("10.0.0.1", ago=30))
    store_events(store, failed("10.0.0.1", ago=600))
    assert Engine(store).run(aggregation(), NOW) == []


def test_a_dry_run_stores_and_marks_nothing(store):
    store_events(store, *(failed("10.0.0.1") for _ in range(3)))
    engine = Engine(store)
    assert len(engine.run(aggregation(), NOW, dry_run=True)) == 1
    assert store.search(Search(indices=("alerts",))).total == 0
    assert len(engine.run(aggregation(), NOW)) == 1


def test_the_same_value_is_suppressed_within_the_window(store):
    engine = Engine(store)
    rule = aggregation(suppress=timedelta(minutes=10))
    store_events(store, *(failed("10.0.0.1") for _ in range(3)))
    assert len(engine.run(rule, NOW)) == 1
    store_events(store, *(failed("10.0.0.1") for _ in range(3)))
    store_events(store, *(failed("10.0.0.9") for _ in range(3)))
    (alert,) = engine.run(rule, NOW + timedelta(seconds=1))
    assert alert["key"] == "10.0.0.9"
    store_events(store, *(failed("10.0.0.1", ago=-660) for _ in range(3)))
    (later,) = engine.run(rule, NOW + timedelta(minutes=11))
    assert later["key"] == "10.0.0.1"


def test_real_time_runs_look_only_at_the_values_given(store):
    store_events(store, *(failed("10.0.0.1") for _ in range(3)))
    store_events(store, *(failed("10.0.0.2") for _ in range(3)))
    (alert,) = Engine(store).run(aggregation(), NOW, only=["10.0.0.2"])
    assert alert["key"] == "10.0.0.2"


def test_simple_rules_alert_per_event_and_may_let_events_pass(store):
    store_events(
        store,
        event(hostname="a.example.com", details={"promisc": True}),
        event(hostname="ignored.example.com", details={"promisc": True}),
        event(hostname="b.example.com", details={"promisc": False}),
    )
    rule = Promisc(SimpleSettings(window=timedelta(minutes=5)))
    (alert,) = Engine(store).run(rule, NOW)
    assert alert["summary"] == "promiscuous mode on a.example.com"
    assert alert["notify"] is True  # WARNING notifies
    assert alert["events"][0]["event"]["hostname"] == "a.example.com"
    assert Engine(store).run(rule, NOW) == []


def test_quiet_severities_notify_only_with_a_channel(store):
    store_events(store, *(failed("10.0.0.1") for _ in range(6)))
    (quiet,) = Engine(store).run(aggregation(), NOW, dry_run=True)
    assert quiet["severity"] == "NOTICE" and quiet["notify"] is False
    (loud,) = Engine(store).run(aggregation(channel="#security"), NOW, dry_run=True)
    assert loud["notify"] is True and loud["channel"] == "#security"


def test_a_deadman_rule_fires_only_when_its_search_finds_nothing(store):
    rule = Quiet(DeadmanSettings(window=timedelta(minutes=10)))
    (alert,) = Engine(store).run(rule, NOW)
    assert (alert["summary"], alert["severity"], alert["events"]) == ("no heartbeat", "ERROR", [])
    store_events(store, event(category="heartbeat"))
    assert Engine(store).run(rule, NOW) == []


def test_alert_ids_depend_on_what_the_alert_is_about(store):
    store_events(store, *(failed("10.0.0.1") for _ in range(3)))
    engine = Engine(store)
    first = engine.run(aggregation(), NOW, dry_run=True)[0]["id"]
    assert engine.run(aggregation(), NOW + timedelta(seconds=5), dry_run=True)[0]["id"] == first


def test_a_group_whose_value_the_events_spell_differently_still_gets_its_events(store):
    """The store groups addresses by their value; the events keep their own spelling."""
    ids = store_events(store, *(failed("2001:DB8:0:0::1") for _ in range(3)))
    (alert,) = Engine(store).run(aggregation(), NOW)
    assert alert["key"] == "2001:db8::1"
    assert sorted(reference["id"] for reference in alert["events"]) == sorted(ids)
