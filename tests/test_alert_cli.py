"""`mozdef alerts`, run as an operator runs it: real processes, real files, a golden file."""

from pathlib import Path

import pytest
from test_cli import mozdef

SAMPLES = Path(__file__).parent / "samples" / "alerts"
NOW = "2026-11-22T12:00:00Z"


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "mozdef.toml"
    path.write_text(
        f'[mozdef]\nhostname = "mozdef.test"\n'
        f'[store.sqlite]\npath = "{tmp_path}/store.sqlite3"\n'
        f'[alerts]\nrules_folder = "{SAMPLES}"\n'
    )
    return path


def test_list_shows_the_rules_with_their_schedules(config):
    listed = mozdef("--config", str(config), "alerts", "list")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if line.startswith("failed_logins"))
    assert row.split()[:8] == ["failed_logins", "aggregation", "*", "*", "*", "*", "*", "10m"]
    assert "Many failed logins for one user" in row


def test_test_prints_what_would_fire_the_same_every_time(config):
    events = str(SAMPLES / "failed_logins.ndjson")
    args = ["--config", str(config), "alerts", "test", "failed_logins", "--events", events]
    first = mozdef(*args, "--now", NOW, "--json")
    second = mozdef(*args, "--now", NOW, "--json")
    assert first.stdout == second.stdout
    assert first.stdout == (SAMPLES / "failed_logins.golden.ndjson").read_text()
    # The file's last line is not JSON: reported with its line number, exit status 1.
    assert first.returncode == 1
    assert "failed_logins.ndjson: line 7: not valid JSON" in first.stderr
    plain = mozdef(*args, "--now", NOW)
    assert (
        "WARNING  authentication  4 failed logins for alice on bastion.example.com" in plain.stdout
    )


def test_the_clock_decides_what_is_in_the_window(config):
    events = str(SAMPLES / "failed_logins.ndjson")
    later = mozdef(
        "--config",
        str(config),
        "alerts",
        "test",
        "failed_logins",
        "--events",
        events,
        "--now",
        "2026-11-22T12:30:00Z",
    )
    assert later.stdout == "" and "0 alert(s)" in later.stderr


def test_a_rule_file_can_be_tested_before_it_is_installed(tmp_path):
    rule = tmp_path / "two_failures.toml"
    rule.write_text(
        (SAMPLES / "failed_logins.toml").read_text().replace("threshold = 3", "threshold = 2")
    )
    events = str(SAMPLES / "failed_logins.ndjson")
    tested = mozdef("alerts", "test", str(rule), "--events", events, "--now", NOW)
    assert "4 failed logins for alice" in tested.stdout
    assert "0 alert(s)" not in tested.stderr


def test_run_stores_alerts_once_and_dry_run_stores_nothing(config, tmp_path):
    events = SAMPLES / "failed_logins.ndjson"
    good = tmp_path / "events.ndjson"
    good.write_text("".join(events.read_text().splitlines(keepends=True)[:-1]))
    ingested = mozdef("--config", str(config), "ingest", str(good))
    assert ingested.returncode == 0, ingested.stderr
    run = ["--config", str(config), "alerts", "run", "failed_logins", "--now", NOW]
    dry = mozdef(*run, "--dry-run")
    assert "4 failed logins for alice" in dry.stdout
    assert "4 failed logins for alice" in mozdef(*run).stdout
    again = mozdef(*run)
    assert again.stdout == "" and "0 alert(s)" in again.stderr


def test_an_unknown_rule_is_an_error_with_a_suggestion(config):
    events = str(SAMPLES / "failed_logins.ndjson")
    wrong = mozdef("--config", str(config), "alerts", "test", "failed_login", "--events", events)
    assert wrong.returncode == 2
    assert "no rule named 'failed_login' (did you mean 'failed_logins'?)" in wrong.stderr
