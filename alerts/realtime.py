"""Real-time rules: evaluated as events are stored, not only when their schedule says.

MozDef and ElastAlert only poll, so an alert waits for the next run. Here every stored
event is tested against each real-time rule's query, compiled once into a Python
predicate with the same meaning as the store's search (`mozdef.core.querymatch`).
That test is all the per-event cost; a match only notes the rule (and, for an
aggregation, the event's value) as worth a run. After `delay` seconds, which gathers a
burst into one run, each noted rule runs through the normal engine, limited to the
noted values: the count, the window, the marks and suppression are the store's, so a
real-time run and a scheduled one can never disagree, and the threshold is counted
over every event stored, not just those this process saw.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import gevent

from mozdef.alerts.catalog import Entry
from mozdef.alerts.rules import AggregationRule
from mozdef.core.event import EventMeta
from mozdef.core.query import Scalar
from mozdef.core.querymatch import compile_query
from mozdef.core.registration import MISSING, at_path, split_path

RunSoon = Callable[[Entry, Sequence[Scalar] | None], None]


@dataclass(frozen=True, slots=True)
class Watch:
    """One real-time rule: its predicate and, for an aggregation, how to read its value."""

    entry: Entry
    matches: Callable[[dict], bool]
    value_of: Callable[[dict], object] | None


def identity(value: object) -> object:
    return value


class Realtime:
    """Notes the rules that stored events match; runs them shortly after."""

    def __init__(self, entries: Sequence[Entry], run_soon: RunSoon, delay: float) -> None:
        self.rules = [entry.name for entry in entries]
        self.watches = [
            Watch(
                entry,
                compile_query(entry.rule.query()),
                at_path(split_path(entry.rule.settings.field), identity)
                if isinstance(entry.rule, AggregationRule)
                else None,
            )
            for entry in entries
        ]
        self.run_soon = run_soon
        self.delay = delay
        self.noted: dict[str, tuple[Entry, set[Scalar] | None]] = {}
        self.flushing: gevent.Greenlet | None = None

    def stored(self, event: dict, meta: EventMeta) -> None:
        """Called for every stored event, from the hub: the hot path."""
        for watch in self.watches:
            if not watch.matches(event):
                continue
            name = watch.entry.rule.name
            if watch.value_of is None:
                self.noted.setdefault(name, (watch.entry, None))
            else:
                value = watch.value_of(event)
                if value is MISSING or not isinstance(value, str | int | float | bool):
                    continue  # an aggregation cannot group an event without a value
                _, values = self.noted.setdefault(name, (watch.entry, set()))
                values.add(value)
            if self.flushing is None:
                self.flushing = gevent.spawn_later(self.delay, self.flush)

    def flush(self) -> None:
        noted, self.noted, self.flushing = self.noted, {}, None
        for entry, values in noted.values():
            self.run_soon(entry, sorted(values, key=str) if values is not None else None)

    def stop(self) -> None:
        if self.flushing is not None:
            self.flushing.kill()
