"""The alert-enrichment plugins, run for real: registered through pluggy, configured from
a real mozdef.toml, against a real SQLite store and MaxMind databases the tests write."""

import copy
import logging
from datetime import timedelta

import pytest
from alert_support import NOW, event, open_store, store_events
from test_geoip import LONDON, LONDON_FIELDS, MUNICH, MUNICH_FIELDS, NOWHERE, write_database

from mozdef.alerts.engine import AlertMeta, Engine
from mozdef.alerts.plugins import related_events
from mozdef.alerts.plugins.ip_enrichment import IPDescriber, IPEnrichment
from mozdef.alerts.plugins.related_events import source_address
from mozdef.alerts.rules import AggregationRule, AggregationSettings, Draft, Group
from mozdef.core.config import ConfigError
from mozdef.core.pluginmanager import Candidate, Plugins
from mozdef.core.query import Search, Term
from mozdef.core.timestamps import isoformat
from mozdef.plugins.geoip import GeoIP
from mozdef.plugins.network_tags import NetworkTags

ATTACKER = "81.2.69.160"  # London in the test databases
NETWORKS = """
[[plugins.network_tags.networks]]
name = "office-paris"
cidrs = ["10.1.0.0/16"]
site = "paris"
tags = ["office"]

[[plugins.network_tags.networks]]
name = "partner"
cidrs = ["81.2.69.0/24"]
"""
LONDON_DESCRIPTION = {
    "address": ATTACKER,
    "internal": False,
    "network": "partner",
    "geolocation": LONDON_FIELDS,
    "geopoint": "51.5142,-0.0931",
    "asn": 20712,
    "asorganization": "Andrews & Arnold Ltd",
}
PARIS_DESCRIPTION = {
    "address": "10.1.2.3",
    "internal": True,
    "network": "office-paris",
    "site": "paris",
    "tags": ["office"],
}


@pytest.fixture(scope="module")
def databases(tmp_path_factory) -> str:
    """[plugins.geoip] naming a city and an ASN database; both know 10.0.0.0/8, so that
    looking up a private address would show."""
    folder = tmp_path_factory.mktemp("alert-geoip")
    city = {"81.2.69.0/24": LONDON, "2a02:ab00::/29": MUNICH, "10.0.0.0/8": NOWHERE}
    asn = {
        "81.2.69.0/24": {
            "autonomous_system_number": 20712,
            "autonomous_system_organization": "Andrews & Arnold Ltd",
        },
        "10.0.0.0/8": {"autonomous_system_number": 64501},
    }
    return (
        "[plugins.geoip]\n"
        f'city_database = "{write_database(folder / "city.mmdb", "GeoLite2-City", city)}"\n'
        f'asn_database = "{write_database(folder / "asn.mmdb", "GeoLite2-ASN", asn)}"\n'
    )


@pytest.fixture
def store(tmp_path):
    with open_store(tmp_path) as store:
        yield store


def started(config_file, toml: str = "") -> Plugins:
    """MozDef's plugins as installed (the event ones whose tables the alert ones read),
    configured by `toml` and started."""
    candidates = [
        Candidate("geoip", "built-in", GeoIP()),
        Candidate("network_tags", "built-in", NetworkTags()),
        Candidate("alert_ip_enrichment", "built-in", IPEnrichment()),
        Candidate("alert_related_events", "built-in", related_events),
    ]
    plugins = Plugins(config_file(toml), candidates)
    plugins.start()
    return plugins


def enrich(plugins: Plugins, alert: dict, store) -> dict:
    return plugins.alert_chain().run(alert, AlertMeta(store, NOW))


def alert(key: object = None, details: dict | None = None, copies: tuple = (), ids=()) -> dict:
    """An alert as the engine shapes it: references to `ids`, the first carrying `copies`."""
    events = [{"index": "events", "id": doc_id} for doc_id in ids]
    for reference, copied in zip(events, copies, strict=False):
        reference["event"] = copied
    return {
        "id": "alert-1",
        "utctimestamp": isoformat(NOW),
        "rule": "test",
        "summary": "something happened",
        "key": key,
        "events": events,
        "details": details or {},
    }


def from_address(address: str, ago: timedelta = timedelta(seconds=30), **fields) -> dict:
    return event(ago, details={"sourceipaddress": address}, **fields)


# IP enrichment


def test_each_address_gets_network_tags_and_a_public_one_geo(config_file, databases, store):
    plugins = started(config_file, databases + NETWORKS)
    enriched = enrich(plugins, alert(ATTACKER, {"destinationipaddress": "10.1.2.3"}), store)
    assert enriched["details"]["ips"] == [LONDON_DESCRIPTION, PARIS_DESCRIPTION]


def test_addresses_come_from_the_key_the_alert_and_its_event_copies_each_once(
    config_file, databases, store
):
    plugins = started(config_file, databases)
    copies = (
        {"details": {"sourceipaddress": "10.9.9.9", "destinationipaddress": ATTACKER}},
        {"details": {"sourceipaddress": "not an address", "destinationipaddress": "10.9.9.9"}},
    )
    raised = alert(ATTACKER, {"sourceipaddress": "2a02:ab00:1:2::99"}, copies, ["e1", "e2", "e3"])
    ips = enrich(plugins, raised, store)["details"]["ips"]
    assert [ip["address"] for ip in ips] == [ATTACKER, "2a02:ab00:1:2::99", "10.9.9.9"]
    assert ips[1]["geolocation"] == MUNICH_FIELDS
    assert ips[2] == {"address": "10.9.9.9", "internal": True}


def test_the_fields_and_the_number_of_addresses_are_configurable(config_file, databases, store):
    toml = databases + '[plugins.alert_ip_enrichment]\nfields = ["details.client"]\n'
    toml += "max_addresses = 2\n"
    plugins = started(config_file, toml)
    copies = [{"details": {"client": f"10.0.0.{n}", "sourceipaddress": "10.1.2.3"}} for n in (1, 2)]
    ips = enrich(plugins, alert("quiet", {}, copies, ["e1", "e2"]), store)["details"]["ips"]
    assert [ip["address"] for ip in ips] == ["10.0.0.1", "10.0.0.2"]


def test_without_a_geoip_database_addresses_get_network_tags_and_it_says_so_once(
    config_file, store, caplog
):
    caplog.set_level(logging.INFO, logger="mozdef.alerts.plugins.ip_enrichment")
    plugins = started(config_file, NETWORKS)
    for _ in range(3):
        ips = enrich(plugins, alert(ATTACKER), store)["details"]["ips"]
        assert ips == [{"address": ATTACKER, "internal": False, "network": "partner"}]
    said = [r.getMessage() for r in caplog.records if r.name.endswith("ip_enrichment")]
    assert len(said) == 1
    assert "no GeoIP database in [plugins.geoip]" in said[0]


def test_an_alert_about_no_address_is_left_as_it_was(config_file, databases, store):
    plugins = started(config_file, databases + NETWORKS)
    copies = ({"details": {"sourceipaddress": "host1.example.com"}},)
    raised = alert("heartbeat", {"check": "heartbeat"}, copies, ["e1"])
    before = copy.deepcopy(raised)
    enriched = enrich(plugins, raised, store)
    assert enriched.pop("mozdef") == {"plugins": ["alert_ip_enrichment", "alert_related_events"]}
    assert enriched == before


def test_the_describer_answers_for_one_address_as_the_bots_ask(config_file, databases):
    describer = IPDescriber.from_config(config_file(databases + NETWORKS))
    try:
        assert describer.describe("::ffff:81.2.69.160")["geolocation"] == LONDON_FIELDS
        assert describer.describe("10.1.2.3") == PARIS_DESCRIPTION
        assert describer.describe("example.com") is None
    finally:
        describer.close()


def test_a_field_that_is_not_a_dotted_path_is_named(config_file):
    with pytest.raises(ConfigError, match=r"plugins\.alert_ip_enrichment\.fields"):
        started(config_file, '[plugins.alert_ip_enrichment]\nfields = ["details..ip"]\n')


# Related events


def test_related_events_are_the_newest_others_from_the_source_within_the_window(config_file, store):
    plugins = started(config_file)
    own = [from_address(ATTACKER, category="authentication") for _ in range(3)]
    own_ids = store_events(store, *own)
    others = [from_address(ATTACKER, timedelta(hours=hours)) for hours in range(1, 13)]
    other_ids = store_events(store, *others)
    store_events(
        store,
        from_address(ATTACKER, timedelta(hours=25)),  # before the window
        from_address(ATTACKER, timedelta(hours=-1)),  # after the alert, by its clock
        from_address("81.2.69.161"),
    )
    related = enrich(plugins, alert(ATTACKER, {}, own, own_ids), store)["details"]
    related = related["related_events"]
    assert [ref["id"] for ref in related["events"]] == other_ids[:10]
    assert related["total"] == 15  # the alert's own three included
    assert related["sourceipaddress"] == ATTACKER
    assert related["since"] == isoformat(NOW - timedelta(hours=24))
    assert related["events"][0] == {
        "index": "events",
        "id": other_ids[0],
        "utctimestamp": others[0]["utctimestamp"],
        "category": "syslog",
        "summary": "",
    }


def test_the_window_and_the_number_of_events_are_configurable(config_file, store):
    plugins = started(config_file, '[plugins.alert_related_events]\nwindow = "1h"\nlimit = 2\n')
    own_ids = store_events(store, from_address(ATTACKER))
    minutes = [10, 20, 30, 90]
    other_ids = store_events(
        store, *(from_address(ATTACKER, timedelta(minutes=m), summary="x" * 300) for m in minutes)
    )
    related = enrich(plugins, alert(ATTACKER, {}, (), own_ids), store)["details"]
    related = related["related_events"]
    assert [ref["id"] for ref in related["events"]] == other_ids[:2]
    assert related["total"] == 4
    assert len(related["events"][0]["summary"]) == 200


def test_an_alert_with_no_source_address_gets_no_related_events(config_file, store):
    plugins = started(config_file)
    store_events(store, from_address(ATTACKER))
    copies = ({"details": {"destinationipaddress": ATTACKER}},)
    enriched = enrich(plugins, alert("host1.example.com", {}, copies, ["e1"]), store)
    assert "related_events" not in enriched["details"]


@pytest.mark.parametrize(
    ("key", "details", "copies", "source"),
    [
        (ATTACKER, {}, [], ATTACKER),  # no copies to tell: the key
        (ATTACKER, {}, [{"details": {"sourceipaddress": ATTACKER}}], ATTACKER),
        # keyed on the destination: the copies' commonest source
        (
            ATTACKER,
            {},
            [{"details": {"sourceipaddress": s}} for s in ("10.0.0.1", "10.0.0.2", "10.0.0.2")],
            "10.0.0.2",
        ),
        ("host1", {"sourceipaddress": "10.0.0.7"}, [{"details": {}}], "10.0.0.7"),
        ("host1", {}, [{"details": {"sourceipaddress": "10.0.0.1"}}], "10.0.0.1"),
        (None, {"sourceipaddress": "not an address"}, [], None),
    ],
)
def test_the_source_address_is_the_one_the_events_came_from(key, details, copies, source):
    ids = [f"e{n}" for n in range(len(copies))]
    assert source_address(alert(key, details, copies, ids)) == source


# Both, run by the engine


class Bruteforce(AggregationRule):
    name = "bruteforce"

    def query(self):
        return Term("category", "authentication")

    def alert(self, group: Group) -> Draft:
        return Draft(f"{group.count} failed logins from {group.value}", "bruteforce")


def test_the_engine_stores_alerts_enriched_by_both_plugins(config_file, databases, store):
    plugins = started(config_file, databases + NETWORKS)
    failures = [from_address(ATTACKER, category="authentication") for _ in range(3)]
    store_events(store, *failures)
    earlier = store_events(store, from_address(ATTACKER, timedelta(hours=2), category="web"))
    rule = Bruteforce(AggregationSettings(threshold=3, window=timedelta(minutes=5), samples=1))
    (raised,) = Engine(store, plugins.alert_chain()).run(rule, NOW)
    (stored,) = store.search(Search(indices=("alerts",))).hits
    assert stored.event == raised
    details = stored.event["details"]
    assert details["ips"] == [LONDON_DESCRIPTION]
    assert [ref["id"] for ref in details["related_events"]["events"]] == earlier
    assert details["related_events"]["total"] == 4
    assert stored.event["mozdef"]["plugins"] == ["alert_ip_enrichment", "alert_related_events"]
