"""write_audit: files watched by auditd written to, grouped by the login user.

Matches the `write` records audisp-json sends for watched paths (category `write`,
`details.auditkey` naming the watch, `details.path` the file, `details.user` the
effective user and `details.originaluser` the login user). The auditd plugin leaves
these records as they arrive unless `write` is added to its categories; either way the
fields read here stay. MozDef took the path from the summary (`Write: <path>`); here
it is `details.path`.
"""

from datetime import timedelta
from typing import ClassVar

from pydantic import Field

from mozdef.alerts.builtin.values import distinct
from mozdef.alerts.rules import AggregationRule, AggregationSettings, Draft, Group
from mozdef.core.durations import Duration
from mozdef.core.query import Bool, Query, Term, Terms

HOSTS_IN_SUMMARY = 5


class WriteAuditSettings(AggregationSettings):
    """The `[alerts.rules.write_audit]` table."""

    field: str = Field(
        "details.originaluser", description="Writes are counted per value of this field."
    )
    threshold: int = Field(2, ge=1, description="Writes by one user that raise an alert.")
    window: Duration = Field(timedelta(minutes=15), description="How far back each run looks.")
    auditkeys: list[str] = Field(
        ["audit"], min_length=1, description="Audit watch keys (`details.auditkey`) to alert on."
    )
    skipprocesses: list[str] = Field(
        [], description="Process names (`details.processname`) whose writes never count."
    )
    expectedusers: list[str] = Field(
        [],
        description="Login users expected to make such writes: their alerts are NOTICE, "
        "not WARNING.",
    )


class WriteAudit(AggregationRule):
    """Writes to files watched by auditd."""

    name = "write_audit"
    Settings: ClassVar = WriteAuditSettings
    settings: WriteAuditSettings

    def __init__(self, settings: WriteAuditSettings, name: str | None = None) -> None:
        super().__init__(settings, name)
        self.expected = frozenset(settings.expectedusers)

    def query(self) -> Query:
        return Bool(
            must=(
                Term("category", "write"),
                Terms("details.auditkey", tuple(self.settings.auditkeys)),
            ),
            must_not=(Terms("details.processname", tuple(self.settings.skipprocesses)),),
        )

    def alert(self, group: Group) -> Draft:
        paths = ", ".join(distinct(group.events, "details.path"))
        users = ", ".join(distinct(group.events, "details.user"))
        summary = (
            f"{group.count} Filesystem write(s) to an auditd path ({paths}) "
            f"by {users} ({group.value})"
        )
        hosts = group.most_common("hostname", HOSTS_IN_SUMMARY)
        if len(hosts) > 1:  # one configuration changed on several hosts
            summary += "".join(f" on {host} ({hits} hosts)" for host, hits in hosts)
        return Draft(
            summary,
            category="write",
            severity="NOTICE" if group.value in self.expected else "WARNING",
            tags=("audit",),
        )
