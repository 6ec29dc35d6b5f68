"""proxy_drop_non_standard_port: the proxy refused to tunnel to an unusual port.

Malware and people working around policy try CONNECT to whatever port their server
listens on; the proxy's refusals are grouped by client. Matches what the squid parser
reads from `TCP_DENIED/... CONNECT host:port` lines (`details.proxyaction`,
`details.method`, `details.destinationport`, `details.destination`).
"""

from datetime import timedelta
from typing import ClassVar

from pydantic import Field

from mozdef.alerts.builtin.values import distinct
from mozdef.alerts.rules import AggregationRule, AggregationSettings, Draft, Group
from mozdef.core.durations import Duration
from mozdef.core.query import Bool, Query, Term, Terms


class ProxyDropNonStandardPortSettings(AggregationSettings):
    """The `[alerts.rules.proxy_drop_non_standard_port]` table."""

    field: str = Field(
        "details.sourceipaddress", description="Refusals are counted per value of this field."
    )
    threshold: int = Field(1, ge=1, description="Refusals for one client that raise an alert.")
    window: Duration = Field(timedelta(minutes=20), description="How far back each run looks.")
    excludedports: list[int] = Field(
        [443, 8443], description="Ports whose refused CONNECTs are not suspicious."
    )


class ProxyDropNonStandardPort(AggregationRule):
    """The proxy refused CONNECTs to non-standard ports."""

    name = "proxy_drop_non_standard_port"
    Settings: ClassVar = ProxyDropNonStandardPortSettings
    settings: ProxyDropNonStandardPortSettings

    def query(self) -> Query:
        return Bool(
            must=(
                Term("category", "proxy"),
                Term("details.proxyaction", "TCP_DENIED"),
                Term("details.method", "CONNECT"),
            ),
            must_not=(Terms("details.destinationport", tuple(self.settings.excludedports)),),
        )

    def alert(self, group: Group) -> Draft:
        destinations = ",".join(distinct(group.events, "details.destination"))
        return Draft(
            f"Suspicious Proxy DROP event(s) detected from {group.value} to the following "
            f"non-std port destination(s): {destinations}",
            category="squid",
            severity="WARNING",
            tags=("squid", "proxy"),
        )
