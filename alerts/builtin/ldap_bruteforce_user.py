"""ldap_bruteforce_user: many rejected LDAP binds for one user.

No parser in MozDef reads LDAP server logs yet; the rule matches events of the shape
MozDef's did, as a shipper that decodes the LDAP protocol sends them:

    {"category": "ldap", "details": {"user": "jsmith@example.com", "client": "10.0.0.5",
     "server": "ldap1.example.com", "response": {"error": "LDAP_INVALID_CREDENTIALS"}}}
"""

from datetime import timedelta
from typing import ClassVar

from pydantic import Field

from mozdef.alerts.builtin.values import distinct
from mozdef.alerts.rules import AggregationRule, AggregationSettings, Draft, Group
from mozdef.core.durations import Duration
from mozdef.core.query import Bool, Query, Term, Terms

CLIENTS_IN_SUMMARY = 10


class LdapBruteforceUserSettings(AggregationSettings):
    """The `[alerts.rules.ldap_bruteforce_user]` table."""

    field: str = Field(
        "details.user", description="Rejected binds are counted per value of this field."
    )
    threshold: int = Field(1, ge=1, description="Rejected binds for one user that raise an alert.")
    window: Duration = Field(timedelta(minutes=60), description="How far back each run looks.")
    host_exclusions: list[str] = Field(
        [], description="LDAP servers (`details.server`) whose rejections never count."
    )


class LdapBruteforceUser(AggregationRule):
    """Rejected LDAP binds for one user."""

    name = "ldap_bruteforce_user"
    Settings: ClassVar = LdapBruteforceUserSettings
    settings: LdapBruteforceUserSettings

    def query(self) -> Query:
        return Bool(
            must=(
                Term("category", "ldap"),
                Term("details.response.error", "LDAP_INVALID_CREDENTIALS"),
            ),
            must_not=(
                Term("details.user", ""),
                Terms("details.server", tuple(self.settings.host_exclusions)),
            ),
        )

    def alert(self, group: Group) -> Draft:
        clients = distinct(group.events, "details.client")
        listed = ", ".join(clients[:CLIENTS_IN_SUMMARY])
        more = "..." if len(clients) > CLIENTS_IN_SUMMARY else ""
        return Draft(
            f"LDAP Bruteforce Attack in Progress against user ({group.value}) from the "
            f"following source ip(s): {listed}{more}",
            category="bruteforce",
            severity="WARNING",
            tags=("ldap",),
        )
