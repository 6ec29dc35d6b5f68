"""When rules run: cron expressions or fixed intervals, and making up for downtime.

A schedule answers one question, "after this moment, when is the next run due?".
The scheduler remembers when each rule last ran (`ScheduleState`, a small JSON file),
so that after MozDef was down a missed run is made up once, at start-up, however many
slots were missed: the rule's window covers the gap; running it once per slot would
only raise the same alerts again.
"""

import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import orjson
from croniter import croniter

from mozdef.core.durations import parse_duration
from mozdef.core.timestamps import isoformat

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Interval:
    """Every `every`, counted from the last run."""

    every: timedelta

    def next_after(self, moment: datetime) -> datetime:
        return moment + self.every


@dataclass(frozen=True, slots=True)
class Cron:
    """A five-field cron expression, read in UTC."""

    expression: str

    def next_after(self, moment: datetime) -> datetime:
        return croniter(self.expression, moment).get_next(datetime)


Schedule = Interval | Cron


def parse_schedule(text: str) -> Schedule:
    """A schedule from "15m" (an interval) or "*/5 * * * *" (cron); ValueError otherwise."""
    if len(text.split()) == 1:
        return Interval(parse_duration(text))
    if len(text.split()) != 5 or not croniter.is_valid(text):
        raise ValueError(
            f"{text!r} is neither an interval such as 15m nor a five-field cron expression"
        )
    return Cron(text)


def first_run(schedule: Schedule, last_run: datetime | None, now: datetime) -> datetime:
    """When a rule should first run after start-up: now if a run was missed (or it never
    ran), else its next slot."""
    if last_run is None:
        return now
    due = schedule.next_after(last_run)
    return now if due <= now else due


class ScheduleState:
    """When each rule last ran, kept in a JSON file so that restarts can catch up."""

    def __init__(self, path: Path | None) -> None:
        """`path` None keeps the state in memory only (`mozdef alerts run`, tests)."""
        self.path = path
        self.last_runs: dict[str, datetime] = {}
        if path is not None and path.exists():
            self.last_runs = self.read(path)

    @staticmethod
    def read(path: Path) -> dict[str, datetime]:
        try:
            stored = orjson.loads(path.read_bytes())
            return {name: datetime.fromisoformat(text) for name, text in stored.items()}
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            logger.warning("%s unreadable (%s): every rule runs now, once", path, exc)
            return {}

    def last_run(self, rule: str) -> datetime | None:
        return self.last_runs.get(rule)

    def ran(self, rule: str, moment: datetime) -> None:
        """Record a run; written through at once (a temporary file renamed over the old)."""
        self.last_runs[rule] = moment
        if self.path is None:
            return
        body = orjson.dumps({name: isoformat(at) for name, at in sorted(self.last_runs.items())})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        try:
            temporary.write_bytes(body)
            os.replace(temporary, self.path)
        except OSError as exc:
            logger.warning("cannot record the schedule in %s: %s", self.path, exc)
