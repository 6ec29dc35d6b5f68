"""deadman_generic: an alert for each configured source that has gone quiet.

Each check is a search that recent events must match, such as a heartbeat or a log
source that never stops; when a check's search finds nothing within its window, the
rule raises an alert for that check. The checks are settings, as MozDef's
deadman_generic.json was:

    [[alerts.rules.deadman_generic.checks]]
    description = "Firewall logs"
    search = "category:firewall"
    window = "30m"
    tags = ["firewall"]
"""

from collections.abc import Iterable
from datetime import timedelta
from typing import ClassVar

from pydantic import Field, field_validator

from mozdef.alerts.rules import Check, DeadmanRule, DeadmanSettings, Draft, Severity
from mozdef.core.durations import Duration, format_duration
from mozdef.core.query import QueryString
from mozdef.core.querystring import QuerySyntaxError, parse_query
from mozdef.core.schema import Section

UNIT_NAMES = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week"}


class DeadmanCheck(Section):
    """One `[[alerts.rules.deadman_generic.checks]]` table."""

    description: str = Field(
        ..., min_length=1, description="What should keep arriving; named in the alert."
    )
    search: str = Field(..., min_length=1, description="Lucene query string events must match.")
    window: Duration | None = Field(
        None, description="Alert when nothing matched in this long; the rule's window if unset."
    )
    tags: list[str] = Field(["generic_deadman"], description="The alert's tags, after 'deadman'.")

    @field_validator("search")
    @classmethod
    def search_parses(cls, text: str) -> str:
        try:
            parse_query(text)
        except QuerySyntaxError as exc:
            raise ValueError(str(exc)) from None
        return text


class DeadmanGenericSettings(DeadmanSettings):
    """The `[alerts.rules.deadman_generic]` table."""

    severity: Severity = Field("ERROR", description="Severity of every check's alert.")
    checks: list[DeadmanCheck] = Field(
        [], description="The searches that must keep finding events; none by default."
    )

    @field_validator("checks")
    @classmethod
    def descriptions_unique(cls, checks: list[DeadmanCheck]) -> list[DeadmanCheck]:
        seen: set[str] = set()
        for check in checks:
            if check.description in seen:
                raise ValueError(f"two checks are described as {check.description!r}")
            seen.add(check.description)
        return checks


class DeadmanGeneric(DeadmanRule):
    """Configured sources that have sent nothing for too long."""

    name = "deadman_generic"
    Settings: ClassVar = DeadmanGenericSettings
    settings: DeadmanGenericSettings

    def __init__(self, settings: DeadmanGenericSettings, name: str | None = None) -> None:
        super().__init__(settings, name)
        self.prepared = tuple(self.prepare(check) for check in settings.checks)

    def prepare(self, check: DeadmanCheck) -> Check:
        """A check's search and alert, built once: its description is its alert's key."""
        window = check.window or self.settings.window
        draft = Draft(
            f"Deadman check failed for '{check.description}' the past {spoken(window)}",
            category="deadman",
            severity=self.settings.severity,
            tags=("deadman", *check.tags),
        )
        return Check(check.description, QueryString(check.search), window, draft)

    def checks(self) -> Iterable[Check]:
        return self.prepared


def spoken(span: timedelta) -> str:
    """`5 minutes`, `1 hour`: a window as MozDef's summary said it."""
    text = format_duration(span)
    count, unit = int(text[:-1]), UNIT_NAMES[text[-1]]
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"
