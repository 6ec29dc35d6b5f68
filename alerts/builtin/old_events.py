"""old_events: events arriving long after they happened, a sign that part of the event
pipeline (a shipper, a queue) is stuck or replaying a backlog.

As in MozDef, an event is late when it was received recently (within the rule's
`window`, laid over `receivedtimestamp`) yet its own time is older than `age` before the
run; the late events are grouped by the MozDef host that received them. Both bounds
follow the alert clock, so `mozdef alerts test --now` finds the same late events as a
live run at that moment would.
"""

from datetime import datetime, timedelta
from typing import ClassVar

from pydantic import Field

from mozdef.alerts.rules import AggregationRule, AggregationSettings, Draft, Group
from mozdef.core.durations import Duration
from mozdef.core.query import Query, Range
from mozdef.core.timestamps import isoformat


class OldEventsSettings(AggregationSettings):
    """The `[alerts.rules.old_events]` table."""

    field: str = Field(
        "mozdefhostname", description="Late events are counted per value of this field."
    )
    threshold: int = Field(1, ge=1, description="Late events that raise an alert.")
    window: Duration = Field(
        timedelta(hours=6),
        description="Events received (receivedtimestamp) within this long are looked at.",
    )
    age: Duration = Field(
        timedelta(days=1),
        description="An event whose utctimestamp is older than this before the run is late.",
    )


class OldEvents(AggregationRule):
    """Events received recently whose own time is more than a day old."""

    name = "old_events"
    Settings: ClassVar = OldEventsSettings
    settings: OldEventsSettings
    window_field = "receivedtimestamp"

    def query_at(self, now: datetime) -> Query:
        return Range("utctimestamp", lt=isoformat(now - self.settings.age))

    def alert(self, group: Group) -> Draft:
        return Draft(
            f"Events have an outdated utctimestamp ({group.count})",
            category="maintenance",
            severity="ERROR",
            tags=("pipeline",),
        )
