"""The ordered chain of plugins that every event passes through.

The chain is built once at start-up from the enabled plugins: each link holds the
plugin's compiled registration, its hook function already bound to its settings, and
its counters. Running an event is then a loop of cheap registration tests and calls.
"""

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mozdef.core.event import DROP, EventMeta, note_error
from mozdef.core.logs import RateLimitedLog
from mozdef.core.registration import Matcher, everything

logger = logging.getLogger(__name__)

Call = Callable[[dict, EventMeta], Any]


@dataclass(slots=True)
class PluginStats:
    """What one plugin did: plain integers, cheap to bump on every event."""

    seen: int = 0
    changed: int = 0
    dropped: int = 0
    errors: int = 0
    nanoseconds: int = 0


@dataclass(slots=True)
class Link:
    """One plugin's place in the chain."""

    name: str
    call: Call
    wants: Matcher = everything
    stats: PluginStats = field(default_factory=PluginStats)
    log: RateLimitedLog = field(default_factory=lambda: RateLimitedLog(logger))


def bind(function: Callable, argnames: tuple[str, ...], item: str, settings: Any) -> Call:
    """Adapt a hook implementation that takes any subset of (item, meta, settings) to a
    uniform `call(item, meta)`, so that the per-event loop need not care."""
    if argnames == (item, "meta"):
        return function
    if argnames == (item, "meta", "settings"):
        return functools.partial(function, settings=settings)
    if argnames == (item,):
        return lambda value, meta: function(value)
    if argnames == (item, "settings"):
        return lambda value, meta: function(value, settings)
    fixed = {"settings": settings} if "settings" in argnames else {}
    bound = functools.partial(function, **fixed)
    if "meta" in argnames:
        return lambda value, meta: bound(**{item: value}, meta=meta)
    return lambda value, meta: bound(**{item: value})


class Chain:
    """Runs a value (an event or an alert) through the links, in order."""

    def __init__(self, links: list[Link]) -> None:
        self.links = links
        # Unpacked once, so that the loop does no attribute lookups it can avoid.
        self.steps = [(link.wants, link.call, link.stats, link.name, link.log) for link in links]

    def run(self, item: dict, meta: EventMeta) -> dict | None:
        """The item after every plugin that wants it, or None if one dropped it.

        The names of the plugins that ran go to `item["mozdef"]["plugins"]`; a plugin's
        exception is noted in `item["mozdef"]["errors"]` and the chain goes on.
        """
        ran = []
        clock = time.perf_counter_ns
        for wants, call, stats, name, log in self.steps:
            if not wants(item):
                continue
            ran.append(name)
            started = clock()
            try:
                result = call(item, meta)
            except Exception as exc:
                stats.nanoseconds += clock() - started
                stats.seen += 1
                stats.errors += 1
                log.exception("plugin %s failed", name)
                note_error(item, f"{name}: {type(exc).__name__}: {exc}")
                continue
            stats.nanoseconds += clock() - started
            stats.seen += 1
            if result is None:
                continue
            if result is DROP:
                stats.dropped += 1
                return None
            if type(result) is not dict:
                stats.errors += 1
                kind = type(result).__name__
                note_error(item, f"{name}: returned {kind}, expected a dict, None or DROP")
                continue
            stats.changed += 1
            item = result
        mozdef = item.get("mozdef")
        if mozdef is None:
            item["mozdef"] = {"plugins": ran}
        else:
            mozdef["plugins"] = ran
        return item

    def stats(self) -> dict[str, PluginStats]:
        return {link.name: link.stats for link in self.links}
