"""proxy_exfil_domains: clients reaching sites known for carrying data out (paste
sites, file drops), through the proxy.

Matches proxy events whose destination host (`details.host`, which the squid parser
reads from the URL, or from `host:port` for CONNECT) is one of `exfil_domains`, exactly;
grouped by client.
"""

from datetime import timedelta
from typing import ClassVar

from pydantic import Field, field_validator

from mozdef.alerts.builtin.values import distinct
from mozdef.alerts.rules import AggregationRule, AggregationSettings, Draft, Group
from mozdef.core.durations import Duration
from mozdef.core.query import Bool, Query, Term, Terms


class ProxyExfilDomainsSettings(AggregationSettings):
    """The `[alerts.rules.proxy_exfil_domains]` table."""

    field: str = Field(
        "details.sourceipaddress", description="Requests are counted per value of this field."
    )
    threshold: int = Field(1, ge=1, description="Requests by one client that raise an alert.")
    window: Duration = Field(timedelta(minutes=20), description="How far back each run looks.")
    exfil_domains: list[str] = Field(
        ["pastebin.com", "www.sendspace.com"],
        min_length=1,
        description="Host names known for exfiltration, matched exactly (any case).",
    )

    @field_validator("exfil_domains")
    @classmethod
    def lowercase(cls, domains: list[str]) -> list[str]:
        return [domain.strip().lower() for domain in domains]  # as the parser writes hosts


class ProxyExfilDomains(AggregationRule):
    """Proxy requests to domains known for exfiltration."""

    name = "proxy_exfil_domains"
    Settings: ClassVar = ProxyExfilDomainsSettings
    settings: ProxyExfilDomainsSettings

    def query(self) -> Query:
        return Bool(
            must=(
                Term("category", "proxy"),
                Terms("details.host", tuple(self.settings.exfil_domains)),
            )
        )

    def alert(self, group: Group) -> Draft:
        domains = ",".join(distinct(group.events, "details.host"))
        return Draft(
            f"Proxy drop events detected from {group.value} to the following domain(s) that "
            f"are known for exfiltrating data: {domains}",
            category="squid",
            severity="WARNING",
            tags=("squid", "proxy"),
        )
