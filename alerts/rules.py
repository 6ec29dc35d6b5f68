"""What an alert rule is: the base classes that rule plugins subclass.

A rule is a search over stored events and what to say when it finds something. There
are three kinds, after MozDef's AlertTask and its deadman checks:

* `SimpleRule`: every matching event may raise an alert of its own;
* `AggregationRule`: N matching events sharing a field's value within a time window
  raise one alert for that value;
* `DeadmanRule`: an alert when the search finds nothing in its window.

A rule class names itself (`name`), says what it looks for (`query`) and turns what
was found into a `Draft` (`alert`); the engine (`mozdef.alerts.engine`) does the rest
the same way for every rule: the time window, leaving out events that already raised
an alert for this rule, the alert's shape and id, suppression, enrichment, storing and
notifying. A rule's tunables are its `Settings` (validated against
`[alerts.rules.<name>]` in mozdef.toml): subclass the kind's settings to add keys or
change defaults. Rules are offered by plugins through the `mozdef_alert_rules` hook.

    class BruteforceSsh(AggregationRule):
        name = "bruteforce_ssh"
        class Settings(AggregationSettings):
            field: str = "details.sourceipaddress"
            threshold: int = 10
            window: Duration = timedelta(minutes=2)

        def query(self) -> Query:
            return Term("details.program", "sshd")

        def alert(self, group: Group) -> Draft:
            return Draft(f"{group.count} ssh bruteforce attempts by {group.value}",
                         category="bruteforce", severity="NOTICE", tags=("ssh",))
"""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from mozdef.core.durations import Duration
from mozdef.core.query import Hit, Query, Scalar
from mozdef.core.registration import lookup, split_path
from mozdef.core.schema import Section

Severity = Literal["DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT", "EMERGENCY"]
SEVERITIES = Severity.__args__


class RuleSettings(Section):
    """The keys every `[alerts.rules.<name>]` table has."""

    enabled: bool = Field(True, description="Run this rule.")
    schedule: str = Field(
        "* * * * *",
        description='When to run: a cron expression ("*/5 * * * *", UTC) or an interval '
        '("90s", "15m"). A run missed while MozDef was down is made up once.',
    )
    realtime: bool = Field(
        False,
        description="Also evaluate the rule as matching events are stored, so that it "
        "fires within a second of the event that crosses its threshold.",
    )
    window: Duration = Field(
        timedelta(minutes=15), description="How far back each run looks (90s, 15m, 1h...)."
    )
    suppress: Duration | None = Field(
        None,
        description="Do not raise another alert with the same key (the aggregation value, "
        "or the deadman check) within this long of the last one; none by default.",
    )
    channel: str | None = Field(
        None, description="Chat channel for this rule's alerts; the bots' default if unset."
    )

    @field_validator("schedule")
    @classmethod
    def schedule_is_valid(cls, value: str) -> str:
        from mozdef.alerts.schedule import parse_schedule  # the parser needs croniter

        parse_schedule(value)
        return value


class SimpleSettings(RuleSettings):
    limit: int = Field(
        100, ge=1, le=10_000, description="Most alerts one run raises (newest events first)."
    )


class AggregationSettings(RuleSettings):
    field: str = Field(
        "details.sourceipaddress", description="Dotted field whose value groups the events."
    )
    threshold: int = Field(
        10, ge=1, description="Events sharing a value that raise an alert for it."
    )
    samples: int = Field(
        10, ge=0, le=1000, description="Events copied whole into the alert (newest first)."
    )


class DeadmanSettings(RuleSettings):
    window: Duration = Field(
        timedelta(hours=1), description="Alert when the search finds nothing in this long."
    )


@dataclass(frozen=True, slots=True)
class Draft:
    """What a rule says about what it found; the engine makes it an alert."""

    summary: str
    category: str
    severity: Severity = "NOTICE"
    tags: tuple[str, ...] = ()
    url: str = ""
    details: dict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Check:
    """One deadman search: its suppression key, query, window and the alert if silent."""

    key: str
    query: Query
    window: timedelta
    draft: Draft


@dataclass(frozen=True, slots=True)
class Group:
    """The events of an aggregation sharing one value: how many, and the events
    themselves (newest first, at most `mozdef.alerts.engine.MAX_REFERENCES`)."""

    field: str
    value: Scalar
    count: int
    events: tuple[Hit, ...]

    def most_common(self, path: str, n: int = 5) -> list[tuple[Scalar, int]]:
        """The `n` commonest values of a field among the group's events, with counts."""
        return most_common(self.events, path, n)


def most_common(hits: tuple[Hit, ...], path: str, n: int = 5) -> list[tuple[Scalar, int]]:
    """The `n` commonest values of a dotted field among `hits`, with their counts."""
    parts = split_path(path)
    counts = Counter(
        value for hit in hits if isinstance(value := lookup(hit.event, parts), str | int | float)
    )
    return counts.most_common(n)


class Rule:
    """Base of every rule; subclass one of the three kinds below."""

    name: str  # unique among all rules; a rule file's name is its file's
    Settings: ClassVar[type[RuleSettings]] = RuleSettings
    # The time the window applies to: when events happened, or when MozDef got them.
    window_field: ClassVar[Literal["utctimestamp", "receivedtimestamp"]] = "utctimestamp"

    def __init__(self, settings: RuleSettings, name: str | None = None) -> None:
        self.settings = settings
        self.name = name or type(self).name

    @classmethod
    def description(cls) -> str:
        """The first line of the class docstring, for `mozdef alerts list`."""
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""

    def query(self) -> Query:
        """What to look for (see `mozdef.core.query`); the window is added by the engine."""
        raise NotImplementedError

    def query_at(self, now: datetime) -> Query:
        """The query of a run at `now`: `query()`, unless the search depends on the
        alert clock (override this instead; such a rule cannot run in real time)."""
        return self.query()


class SimpleRule(Rule):
    """Every matching event may raise its own alert."""

    Settings: ClassVar[type[RuleSettings]] = SimpleSettings

    def alert(self, hit: Hit) -> Draft | None:
        """The alert for one event, or None to let it pass."""
        raise NotImplementedError


class AggregationRule(Rule):
    """`threshold` matching events sharing the value of `field` raise one alert."""

    Settings: ClassVar[type[RuleSettings]] = AggregationSettings

    def alert(self, group: Group) -> Draft | None:
        """The alert for a group that reached the threshold, or None to let it pass."""
        raise NotImplementedError


class DeadmanRule(Rule):
    """An alert when nothing matched in the window: a source has gone quiet."""

    Settings: ClassVar[type[RuleSettings]] = DeadmanSettings

    def alert(self) -> Draft:
        """The alert to raise when the window was silent."""
        raise NotImplementedError

    def checks(self) -> Iterable[Check]:
        """The searches that must find something: by default one, from `query`, the
        window setting and `alert`. Override to check several sources in one rule."""
        yield Check(self.name, self.query(), self.settings.window, self.alert())
