"""Group commit: the batches of concurrent requests committed together.

One commit per request caps a server at the store's commits per second, far below
what single-event POSTs from many clients need. Instead each request queues its batch
here and waits; a writer greenlet takes every batch waiting (up to `max_events` events),
ingests them as one batch, one commit, and hands each request its own slice of the
results. Under light load a group is one request and nothing waits longer than its own
commit; under heavy load groups grow by themselves, and so does the work per commit.

While the writer waits for a commit (on the store's thread, see `StoreThread`), the hub
goes on reading the next requests. One writer, not two that would process one group
while the other commits: measured, that is slower, as the store's thread then waits
for the GIL after every row it writes while the hub runs the pipeline.
"""

import logging
from collections import deque
from collections.abc import Callable, Sequence

import gevent
from gevent.event import AsyncResult, Event

from mozdef.core.http.sink import SinkUnavailable
from mozdef.core.ingest import RawEvent, Result
from mozdef.core.store import StoreUnavailable

logger = logging.getLogger(__name__)

MAX_EVENTS = 2000

Ingest = Callable[[list[RawEvent]], list[Result]]


class Committer:
    """A `Sink` that group-commits through `ingest` (an `Ingestor.ingest`)."""

    def __init__(self, ingest: Ingest, max_events: int = MAX_EVENTS) -> None:
        self.ingest = ingest
        self.max_events = max_events
        self.pending: deque[tuple[Sequence[RawEvent], AsyncResult]] = deque()
        self.pending_events = 0
        self.ready = Event()
        self.closing = False
        self.writer = gevent.spawn(self.write_loop)

    def accept(self, batch: Sequence[RawEvent]) -> list[Result]:
        """Queue `batch` for the next group commit and wait for its results."""
        if self.closing:
            raise SinkUnavailable("the server is shutting down")
        if not batch:
            return []
        waiter = AsyncResult()
        self.pending.append((batch, waiter))
        self.pending_events += len(batch)
        self.ready.set()
        return waiter.get()

    def close(self) -> None:
        """Refuse new batches, commit those already queued, and stop the writer."""
        self.closing = True
        self.ready.set()
        self.writer.join()

    def write_loop(self) -> None:
        while True:
            self.ready.wait()
            if not self.pending:
                if self.closing:
                    return
                self.ready.clear()
                continue
            self.commit(self.take_group())

    def take_group(self) -> list[tuple[Sequence[RawEvent], AsyncResult]]:
        """The oldest waiting batch and those after it, up to `max_events` events."""
        group = [self.pending.popleft()]
        size = len(group[0][0])
        while self.pending and size + len(self.pending[0][0]) <= self.max_events:
            group.append(self.pending.popleft())
            size += len(group[-1][0])
        self.pending_events -= size
        return group

    def commit(self, group: list[tuple[Sequence[RawEvent], AsyncResult]]) -> None:
        events = [raw for batch, _ in group for raw in batch]
        try:
            results = self.ingest(events)
        except StoreUnavailable as exc:
            for _, waiter in group:
                waiter.set_exception(SinkUnavailable(f"the store is unavailable: {exc}"))
            return
        except Exception as exc:
            logger.exception("ingesting a group of %d batches failed", len(group))
            for _, waiter in group:
                waiter.set_exception(exc)
            return
        start = 0
        for batch, waiter in group:
            waiter.set(results[start : start + len(batch)])
            start += len(batch)
