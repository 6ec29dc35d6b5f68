"""duo_fail_open: Duo's VPN plugin could not reach Duo and let a login in on its first
factor alone.

No parser in MozDef reads these lines: the rule matches the plugin's own words,
`Failsafe Duo login`, anywhere in the summary (the syslog message), and groups the
events by the host that logged them, the VPN server.
"""

from datetime import timedelta
from typing import ClassVar

from pydantic import Field

from mozdef.alerts.rules import AggregationRule, AggregationSettings, Draft, Group
from mozdef.core.durations import Duration
from mozdef.core.query import Phrase, Query


class DuoFailOpenSettings(AggregationSettings):
    """The `[alerts.rules.duo_fail_open]` table."""

    field: str = Field("hostname", description="Fail-opens are counted per value of this field.")
    threshold: int = Field(1, ge=1, description="Fail-opens on one host that raise an alert.")
    window: Duration = Field(timedelta(minutes=15), description="How far back each run looks.")


class DuoFailOpen(AggregationRule):
    """Duo multi-factor authentication failed open."""

    name = "duo_fail_open"
    Settings: ClassVar = DuoFailOpenSettings

    def query(self) -> Query:
        return Phrase("summary", "Failsafe Duo login")

    def alert(self, group: Group) -> Draft:
        return Draft(
            f"DuoSecurity contact failed, fail open triggered on {group.value}",
            category="bypass",
            severity="WARNING",
            tags=("openvpn", "duosecurity"),
        )
