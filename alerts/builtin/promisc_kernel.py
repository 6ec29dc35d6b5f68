"""promisc_kernel: a network interface put into promiscuous mode, as sniffers do.

Counts what the kernel_promisc parser reads (the kernel's `entered promiscuous mode`
lines and the audit subsystem's ANOM_PROMISCUOUS records) per host. Container and VM
bridges put their virtual interfaces there routinely: MozDef left out `veth*`, and
`skipdevices` takes more patterns.
"""

from datetime import timedelta
from typing import ClassVar

from pydantic import Field

from mozdef.alerts.rules import AggregationRule, AggregationSettings, Draft, Group
from mozdef.core.durations import Duration
from mozdef.core.query import Bool, Query, Term, Wildcard


class PromiscKernelSettings(AggregationSettings):
    """The `[alerts.rules.promisc_kernel]` table."""

    field: str = Field("hostname", description="Events are counted per value of this field.")
    threshold: int = Field(1, ge=1, description="Events on one host that raise an alert.")
    window: Duration = Field(timedelta(minutes=2), description="How far back each run looks.")
    skipdevices: list[str] = Field(
        ["veth*"],
        description="Interfaces never alerted on: names or patterns (`*` any run of "
        "characters, `?` one).",
    )


class PromiscKernel(AggregationRule):
    """A host's network interface entered promiscuous mode."""

    name = "promisc_kernel"
    Settings: ClassVar = PromiscKernelSettings
    settings: PromiscKernelSettings

    def query(self) -> Query:
        return Bool(
            must=(Term("tags", "promiscuous"), Term("details.promiscuous", "on")),
            must_not=tuple(
                Wildcard("details.device", pattern) for pattern in self.settings.skipdevices
            ),
        )

    def alert(self, group: Group) -> Draft:
        return Draft(
            f"Promiscuous mode enabled on {group.value} [{group.count}]",
            category="promisc",
            severity="WARNING",
            tags=("promisc", "kernel"),
        )
