"""bruteforce_ssh: many failed ssh logins from one address within a short time.

MozDef's rule counted sshd lines whose summary held "failed" and one of a few words.
Here it counts what the sshd parser reads from `Failed <method> for <user> from
<address>`, which sshd logs once per rejected attempt (`details.eventname` "failed");
the PAM `authentication failure` and `Invalid user` lines that come with some attempts
are left out, so that one attempt counts once.
"""

from datetime import timedelta
from typing import ClassVar

from pydantic import Field

from mozdef.alerts.builtin.networks import Networks, within
from mozdef.alerts.rules import AggregationRule, AggregationSettings, Draft, Group
from mozdef.core.durations import Duration
from mozdef.core.query import Bool, Query, Term

HOSTS_IN_SUMMARY = 5


class BruteforceSshSettings(AggregationSettings):
    """The `[alerts.rules.bruteforce_ssh]` table."""

    field: str = Field(
        "details.sourceipaddress", description="Failures are counted per value of this field."
    )
    threshold: int = Field(10, ge=1, description="Failures from one source that raise an alert.")
    window: Duration = Field(
        timedelta(minutes=2), description="How far back each run counts failures."
    )
    skiphosts: Networks = Field(
        [],
        description="Source addresses or networks (CIDR) whose failures never count, such "
        "as a vulnerability scanner's (MozDef's skiphosts).",
    )


class BruteforceSsh(AggregationRule):
    """Many failed ssh logins from one source address."""

    name = "bruteforce_ssh"
    Settings: ClassVar = BruteforceSshSettings
    settings: BruteforceSshSettings

    def query(self) -> Query:
        return Bool(
            must=(Term("tags", "sshd"), Term("details.eventname", "failed")),
            must_not=within("details.sourceipaddress", self.settings.skiphosts),
        )

    def alert(self, group: Group) -> Draft:
        commonest = group.most_common("hostname", HOSTS_IN_SUMMARY)
        hosts = "".join(f" {host} ({hits} hits)" for host, hits in commonest)
        return Draft(
            f"{group.count} ssh bruteforce attempts by {group.value}{hosts}",
            category="bruteforce",
            severity="NOTICE",
            tags=("ssh",),
        )
