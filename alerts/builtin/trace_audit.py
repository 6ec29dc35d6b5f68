"""trace_audit: one process tracing another (strace, gdb, ptrace), grouped by user.

Matches both shapes of such an audit record: audisp-json's `ptrace` events, where
`details.processname` is `strace` (what MozDef's rule looked for), and raw SYSCALL
records whose `details.syscall` is `ptrace`, as the auditd plugin leaves them. Events
are grouped by the login user, `details.originaluser`, which audisp-json sends; raw
records carry only the login uid: set `field = "details.auid"` to group those.
"""

from datetime import timedelta
from typing import ClassVar

from pydantic import Field

from mozdef.alerts.builtin.values import distinct
from mozdef.alerts.rules import AggregationRule, AggregationSettings, Draft, Group
from mozdef.core.durations import Duration
from mozdef.core.query import Bool, Query, Term, Terms


class TraceAuditSettings(AggregationSettings):
    """The `[alerts.rules.trace_audit]` table."""

    field: str = Field(
        "details.originaluser", description="Traces are counted per value of this field."
    )
    threshold: int = Field(1, ge=1, description="Traces by one user that raise an alert.")
    window: Duration = Field(timedelta(minutes=5), description="How far back each run looks.")
    skiphosts: list[str] = Field(
        [], description="Hostnames whose traces never count (MozDef's hostfilter)."
    )


class TraceAudit(AggregationRule):
    """strace or ptrace run on a host."""

    name = "trace_audit"
    Settings: ClassVar = TraceAuditSettings
    settings: TraceAuditSettings

    def query(self) -> Query:
        return Bool(
            should=(Term("details.processname", "strace"), Term("details.syscall", "ptrace")),
            must_not=(Terms("hostname", tuple(self.settings.skiphosts)),),
        )

    def alert(self, group: Group) -> Draft:
        hosts = ",".join(distinct(group.events, "hostname"))
        return Draft(
            f"{group.count} instances of Strace or Ptrace executed by {group.value} on {hosts}",
            category="trace",
            severity="WARNING",
            tags=("audit",),
        )
