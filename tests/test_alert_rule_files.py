"""Rule files and `[alerts.rules.*]` tables: validated at start-up, errors naming the
file and key, and the rules they declare run for real against SQLite."""

from datetime import timedelta

import pytest
from alert_support import NOW, event, open_store, store_events

from mozdef.alerts.catalog import Catalog
from mozdef.alerts.engine import Engine
from mozdef.core.config import ConfigError
from mozdef.core.pluginmanager import Plugins

FAILED_LOGINS = """
kind = "aggregation"
description = "Many failed logins for one user"
search = "category:authentication AND NOT details.username:healthcheck"
filters = { "details.success" = false }
field = "details.username"
window = "10m"
threshold = 3
samples = 1
category = "authentication"
severity = "WARNING"
summary = "{count} failed logins for {value} on {event.hostname} in {window}{event.details.absent}"
tags = ["auth"]
url = "https://wiki.example.com/failed-logins"
"""


@pytest.fixture
def rules(tmp_path):
    folder = tmp_path / "rules"
    folder.mkdir()
    return folder


def catalog(config_file, rules, extra: str = "") -> Catalog:
    config = config_file(f'[alerts]\nrules_folder = "{rules}"\n{extra}')
    return Catalog(config, Plugins(config, candidates=[]))


def failure(user: str, ago: int = 30) -> dict:
    return event(
        timedelta(seconds=ago),
        category="authentication",
        hostname="bastion.example.com",
        details={"username": user, "success": False},
    )


def test_a_rule_file_is_a_rule_named_after_the_file(config_file, rules, tmp_path):
    (rules / "failed_logins.toml").write_text(FAILED_LOGINS)
    entry = catalog(config_file, rules).get("failed_logins")
    assert (entry.kind, entry.description) == ("aggregation", "Many failed logins for one user")
    with open_store(tmp_path) as store:
        store_events(store, *(failure("alice") for _ in range(3)), failure("bob"))
        store_events(store, *(failure("healthcheck") for _ in range(3)))
        store_events(store, failure("alice", ago=900))  # outside the 10 minutes
        (alert,) = Engine(store).run(entry.rule, NOW)
    assert alert["summary"] == "3 failed logins for alice on bastion.example.com in 10m"
    assert (alert["severity"], alert["category"], alert["tags"]) == (
        "WARNING",
        "authentication",
        ["auth"],
    )
    assert alert["url"] == "https://wiki.example.com/failed-logins"
    assert sum("event" in reference for reference in alert["events"]) == 1


def test_mozdef_toml_overrides_what_the_file_says(config_file, rules, tmp_path):
    (rules / "failed_logins.toml").write_text(FAILED_LOGINS)
    entry = catalog(
        config_file, rules, '[alerts.rules.failed_logins]\nthreshold = 5\nschedule = "*/5 * * * *"'
    ).get("failed_logins")
    assert (entry.rule.settings.threshold, entry.rule.settings.schedule) == (5, "*/5 * * * *")
    with open_store(tmp_path) as store:
        store_events(store, *(failure("alice") for _ in range(4)))
        assert Engine(store).run(entry.rule, NOW) == []


def test_simple_and_deadman_files(config_file, rules, tmp_path):
    (rules / "root_login.toml").write_text(
        'kind = "simple"\nsearch = "details.username:root"\ncategory = "access"\n'
        'summary = "root logged in to {event.hostname}"\nseverity = "CRITICAL"\n'
    )
    (rules / "no_firewall_logs.toml").write_text(
        'kind = "deadman"\nfilters = { category = "firewall" }\nwindow = "1h"\n'
        'category = "deadman"\nseverity = "ERROR"\nsummary = "no firewall events in {window}"\n'
    )
    found = catalog(config_file, rules)
    with open_store(tmp_path) as store:
        store_events(store, event(details={"username": "root"}), event(details={"username": "bob"}))
        (login,) = Engine(store).run(found.get("root_login").rule, NOW)
        (silent,) = Engine(store).run(found.get("no_firewall_logs").rule, NOW)
        store_events(store, event(category="firewall"))
        assert (
            Engine(store).run(found.get("no_firewall_logs").rule, NOW + timedelta(minutes=1)) == []
        )
    assert login["summary"] == "root logged in to host1.example.com"
    assert login["notify"] is True
    assert silent["summary"] == "no firewall events in 1h"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('kind = "sometimes"\n', "kind: expected simple, aggregation or deadman, got 'sometimes'"),
        ('category = "x"\nsummary = "{count} by {who}"\n', "unknown placeholder {who}"),
        ('category = "x"\nsummary = "s"\nsearch = "category:(a"\n', "search"),
        ('category = "x"\nsummary = "s"\nthreshold = "ten"\n', "threshold"),
        ('category = "x"\nsummary = "s"\nwindow = "soon"\n', "is not a duration"),
        ('category = "x"\nsummary = "s"\nschedule = "every day"\n', "cron expression"),
        ('category = "x"\nsummary = "s"\nseverity = "LOUD"\n', "severity"),
        ('summary = "s"\n', "category"),
        ('category = "x"\nsummary = "s"\nthresold = 3\n', "thresold"),
    ],
)
def test_an_invalid_rule_file_is_reported_with_the_file_and_key(config_file, rules, text, problem):
    path = rules / "broken.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        catalog(config_file, rules)
    message = str(raised.value)
    assert str(path) in message and problem in message


def test_a_table_for_no_rule_is_an_error_with_a_suggestion(config_file, rules):
    (rules / "failed_logins.toml").write_text(FAILED_LOGINS)
    with pytest.raises(
        ConfigError,
        match=r"alerts\.rules\.failed_login: no such rule \(did you mean 'failed_logins'\?\)",
    ):
        catalog(config_file, rules, "[alerts.rules.failed_login]\nenabled = false")


def test_a_bad_override_names_the_key_in_mozdef_toml(config_file, rules):
    (rules / "failed_logins.toml").write_text(FAILED_LOGINS)
    with pytest.raises(ConfigError, match=r"alerts\.rules\.failed_logins\.threshold"):
        catalog(config_file, rules, "[alerts.rules.failed_logins]\nthreshold = 0")


def test_a_missing_rules_folder_is_an_error(config_file, tmp_path):
    with pytest.raises(ConfigError, match="not a folder"):
        catalog(config_file, tmp_path / "nowhere")


def test_rules_that_cannot_run_in_real_time_say_so(config_file, rules):
    (rules / "silence.toml").write_text(
        'kind = "deadman"\ncategory = "deadman"\nsummary = "quiet"\nrealtime = true\n'
    )
    with pytest.raises(ConfigError, match=r"alerts\.rules\.silence\.realtime: silence cannot run"):
        catalog(config_file, rules)
