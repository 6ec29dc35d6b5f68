"""Schedules: cron and intervals, and a missed run made up once after downtime."""

from datetime import datetime, timedelta

import pytest

from mozdef.alerts.schedule import Cron, Interval, ScheduleState, first_run, parse_schedule

NOON = datetime.fromisoformat("2026-11-22T12:00:00+00:00")


def test_cron_and_interval_forms():
    assert parse_schedule("*/5 * * * *") == Cron("*/5 * * * *")
    assert parse_schedule("90s") == Interval(timedelta(seconds=90))
    assert parse_schedule("*/5 * * * *").next_after(
        NOON + timedelta(seconds=1)
    ) == NOON + timedelta(minutes=5)
    assert parse_schedule("15m").next_after(NOON) == NOON + timedelta(minutes=15)


@pytest.mark.parametrize("text", ["* * *", "61 * * * *", "often", "0m", "every 5 minutes"])
def test_what_is_not_a_schedule(text):
    with pytest.raises(ValueError, match=r"neither an interval|not a duration"):
        parse_schedule(text)


def test_a_rule_that_never_ran_runs_at_once():
    assert first_run(parse_schedule("0 * * * *"), None, NOON) == NOON


def test_a_run_missed_during_downtime_is_made_up_once_then_the_schedule_resumes():
    schedule = parse_schedule("*/10 * * * *")
    last = NOON - timedelta(hours=5)  # thirty slots missed
    assert first_run(schedule, last, NOON) == NOON
    assert schedule.next_after(NOON) == NOON + timedelta(minutes=10)


def test_a_run_not_yet_due_waits_for_its_slot():
    schedule = parse_schedule("*/10 * * * *")
    assert first_run(schedule, NOON - timedelta(minutes=3), NOON) == NOON + timedelta(minutes=0)
    assert first_run(
        schedule, NOON + timedelta(minutes=1), NOON + timedelta(minutes=2)
    ) == NOON + timedelta(minutes=10)


def test_last_runs_survive_a_restart(tmp_path):
    path = tmp_path / "var" / "schedule.json"
    ScheduleState(path).ran("bruteforce_ssh", NOON)
    assert ScheduleState(path).last_run("bruteforce_ssh") == NOON
    assert ScheduleState(path).last_run("other") is None


def test_an_unreadable_state_file_means_every_rule_runs_now(tmp_path, caplog):
    path = tmp_path / "schedule.json"
    path.write_text("{not json")
    assert ScheduleState(path).last_run("bruteforce_ssh") is None
    assert "unreadable" in caplog.text
