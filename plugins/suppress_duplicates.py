"""Identical events repeated within a short window kept once, with a count of the rest.

Two events are identical when they agree on every `key_fields` path. The first of a
kind is kept and opens a window of `window_seconds`; repeats inside the window are
dropped and counted. The next one after the window closes is kept, opens a new window,
and carries `details.suppressedcount` (repeats dropped since the last kept one) and
`details.suppressedsince` (that kept event's `utctimestamp`). With `max_suppressed`,
a repeat is also kept once that many have been dropped in a row, so a storm is reported
while it lasts.

The kept event has already left the chain when its repeats arrive, and nothing can
emit an event later, so a count is only ever written on a later occurrence: repeats
that stop inside a window and never recur leave no count on any event (the chain's
per-plugin `dropped` statistic still counts them). At most `max_tracked_keys` kinds
are remembered; the oldest window is forgotten first, expired ones before live ones.
Off by default: alerts that count events would have to add up the counts.
"""

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from mozdef.core import DROP, PluginSettings, hookimpl
from mozdef.core.registration import at_path, split_path

DEFAULT_KEY_FIELDS = ["hostname", "processname", "summary", "category", "details.sourceipaddress"]


def dotted_paths(paths: list[str]) -> list[str]:
    for path in paths:
        split_path(path)
    return paths


class SuppressDuplicatesSettings(PluginSettings):
    """The `[plugins.suppress_duplicates]` table."""

    enabled: bool = Field(
        False,
        description="Run this plugin. Off by default: it drops events, and alerts that "
        "count events must then add up details.suppressedcount.",
    )
    priority: int = 95
    window_seconds: float = Field(
        60.0, gt=0, description="How long after a kept event its repeats are dropped."
    )
    key_fields: Annotated[list[str], AfterValidator(dotted_paths)] = Field(
        DEFAULT_KEY_FIELDS,
        min_length=1,
        description="Dotted paths whose values together make two events identical; an "
        "absent field counts as a value.",
    )
    max_tracked_keys: int = Field(
        10_000, ge=1, description="Most kinds of event remembered at once (bounds memory)."
    )
    max_suppressed: int = Field(
        0,
        ge=0,
        description="Keep a repeat anyway once this many in a row have been dropped; "
        "0: only the first after the window is kept.",
    )


def same(value: Any) -> Any:
    return value


class Window:
    """One kind of event: when its window opened, what has been dropped since."""

    __slots__ = ("opened", "since", "suppressed")

    def __init__(self, opened: float, since: Any) -> None:
        self.opened = opened
        self.since = since
        self.suppressed = 0


class SuppressDuplicates:
    """MozDef instantiates this once; tests give it a clock of their own."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.windows: OrderedDict[Any, Window] = OrderedDict()  # oldest window first
        self.key_parts: list[Callable[[dict], Any]] = []
        self.window = 60.0
        self.capacity = 1
        self.max_suppressed = 0
        self.forgotten = 0  # windows dropped from memory while still open

    @hookimpl
    def mozdef_plugin_settings(self) -> type[SuppressDuplicatesSettings]:
        return SuppressDuplicatesSettings

    @hookimpl
    def mozdef_startup(self, settings: SuppressDuplicatesSettings) -> None:
        self.key_parts = [at_path(split_path(path), same) for path in settings.key_fields]
        self.window = settings.window_seconds
        self.capacity = settings.max_tracked_keys
        self.max_suppressed = settings.max_suppressed

    @hookimpl
    def mozdef_event_registration(self) -> str:
        return "*"

    @hookimpl
    def mozdef_process_event(self, event: dict) -> object:
        key = tuple([part(event) for part in self.key_parts])
        try:
            window = self.windows.get(key)
        except TypeError:  # a list or an object among the values
            key = repr(key)
            window = self.windows.get(key)
        now = self.clock()
        if window is not None:
            if now - window.opened < self.window and not (
                self.max_suppressed and window.suppressed >= self.max_suppressed
            ):
                window.suppressed += 1
                return DROP
            del self.windows[key]
        else:
            self.make_room(now)
        self.windows[key] = Window(now, event.get("utctimestamp"))
        if window is None or not window.suppressed:
            return None
        details = event["details"]
        details["suppressedcount"] = window.suppressed
        details["suppressedsince"] = window.since
        return event

    def make_room(self, now: float) -> None:
        """When full: forget closed windows, oldest first, then if need be the oldest open
        one. Closed windows stay until then, so that their count reaches the next repeat."""
        windows = self.windows
        if len(windows) < self.capacity:
            return
        while windows and now - next(iter(windows.values())).opened >= self.window:
            windows.popitem(last=False)
        if len(windows) >= self.capacity:
            windows.popitem(last=False)
            self.forgotten += 1
