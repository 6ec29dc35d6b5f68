"""session_opened_sensitive_user: an ssh session opened for one of the users listed,
outside the times such sessions are expected (a scheduled scan, a backup).

Matches what the sshd parser reads from `pam_unix(sshd:session): session opened for user
<user>` (`details.eventname` "session_opened", `details.username`). As in MozDef, one
alert per run covers every such session (grouped by `details.eventname`, which these
events share). The expected windows are times of day in UTC; an event inside one is
left out of the alert, and an alert whose events all fall inside is not raised.
"""

from datetime import datetime, time, timedelta
from typing import Annotated, ClassVar

from pydantic import BeforeValidator, Field

from mozdef.alerts.builtin.values import distinct
from mozdef.alerts.rules import AggregationRule, AggregationSettings, Draft, Group
from mozdef.core.durations import Duration
from mozdef.core.query import Bool, Hit, Query, Term, Terms
from mozdef.core.schema import Section


def time_of_day(value: object) -> object:
    """TOML's local times (`03:05:00`) as they are, text such as "03:05" read as one."""
    if isinstance(value, str):
        try:
            return time.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a time of day such as 03:05:00") from None
    return value


TimeOfDay = Annotated[time, BeforeValidator(time_of_day)]


class ExpectedWindow(Section):
    """One `[[alerts.rules.session_opened_sensitive_user.expected]]` table."""

    start: TimeOfDay = Field(..., description="When the expected sessions begin (UTC).")
    end: TimeOfDay = Field(..., description="When they end (UTC); before `start` spans midnight.")

    def holds(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment <= self.end
        return moment >= self.start or moment <= self.end


class SessionOpenedSensitiveUserSettings(AggregationSettings):
    """The `[alerts.rules.session_opened_sensitive_user]` table."""

    field: str = Field(
        "details.eventname", description="Sessions are counted per value of this field."
    )
    threshold: int = Field(1, ge=1, description="Sessions that raise an alert.")
    window: Duration = Field(timedelta(minutes=10), description="How far back each run looks.")
    users: list[str] = Field(
        [], description="The sensitive users (`details.username`); none by default."
    )
    expected: list[ExpectedWindow] = Field(
        [ExpectedWindow(start=time(3, 5), end=time(4, 10))],
        description="Times of day (UTC) when these users' sessions are expected.",
    )


class SessionOpenedSensitiveUser(AggregationRule):
    """An ssh session opened for a sensitive user outside the expected times."""

    name = "session_opened_sensitive_user"
    Settings: ClassVar = SessionOpenedSensitiveUserSettings
    settings: SessionOpenedSensitiveUserSettings

    def query(self) -> Query:
        return Bool(
            must=(
                Term("tags", "sshd"),
                Term("details.eventname", "session_opened"),
                Terms("details.username", tuple(self.settings.users)),
            )
        )

    def alert(self, group: Group) -> Draft | None:
        unexpected = tuple(hit for hit in group.events if not self.expected(hit))
        if not unexpected:
            return None
        hosts = " ".join(distinct(unexpected, "hostname"))
        return Draft(
            "Session opened by a sensitive user outside of the expected window - "
            f"sample hosts: {hosts} [total {len(unexpected)} hosts]",
            category="session",
            severity="WARNING",
            tags=("pam", "syslog"),
        )

    def expected(self, hit: Hit) -> bool:
        moment = datetime.fromisoformat(hit.event["utctimestamp"]).time()
        return any(window.holds(moment) for window in self.settings.expected)
