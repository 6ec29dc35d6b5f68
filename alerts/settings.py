"""The `[alerts]` table of mozdef.toml: where rule files are and how rules are run.

Each rule's own table, `[alerts.rules.<name>]`, is validated once the rules are known
(`mozdef.alerts.catalog`), against that rule's settings model.
"""

from pydantic import Field

from mozdef.core.schema import Section


class AlertsSection(Section):
    """The `[alerts]` table."""

    enabled: bool = Field(
        True,
        description="Run the alert rules in `mozdef run` (the all role); in queue mode "
        "they run in `mozdef run --role alerts`.",
    )
    rules_folder: str = Field(
        "",
        description="Folder of declarative rule files (*.toml), each one rule; empty for "
        "none. Built-in and plugin rules need no file.",
    )
    state_file: str = Field(
        "var/alert-schedule.json",
        description="Where the scheduler records each rule's last run, so that a run "
        "missed while MozDef was down is made up once at start-up.",
    )
    concurrency: int = Field(
        4, ge=1, le=64, description="Rules run at the same time (each on its own thread)."
    )
    timeout: float = Field(
        300.0,
        gt=0,
        description="Seconds after which a run is reported as timed out; the rule's next "
        "run waits for it to end.",
    )
    realtime_delay: float = Field(
        0.2,
        ge=0,
        le=5,
        description="Seconds real-time rules gather stored events before running: one "
        "run for a burst, still well within a second of the event that fired it.",
    )
