"""A store run on its own operating-system thread, for gevent processes (the HTTP
server, the queue worker).

A store call blocks (SQLite's fsync, a cluster's bulk request): made in the hub's thread
it would stall every connection. Here each call runs on one dedicated thread while the
calling greenlet waits and the hub goes on serving; SQLite releases the GIL while it
works, so its commits overlap with the hub parsing and processing the next requests.
One thread, the same for every call including the store's creation, because a SQLite
connection belongs to the thread that opened it.
"""

import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from gevent.threadpool import ThreadPool

from mozdef.core.http.metrics import Histogram
from mozdef.core.query import Results, Search
from mozdef.core.store import Document, Outcome, Store

T = TypeVar("T")


class StoreThread:
    """Implements `Store` by calling the store made by `open_store` on its own thread."""

    def __init__(self, open_store: Callable[[], Store], latency: Histogram | None = None) -> None:
        """`latency`, if given, observes how long each write takes, in seconds."""
        self.pool = ThreadPool(1)
        self.latency = latency
        self.store = self.call(open_store)

    def call(self, function: Callable[..., T], *args: object) -> T:
        return self.pool.spawn(function, *args).get()

    def write(self, documents: Sequence[Document]) -> list[Outcome]:
        started = time.perf_counter()
        try:
            return self.call(self.store.write, documents)
        finally:
            if self.latency is not None:
                self.latency.observe(time.perf_counter() - started)

    def search(self, search: Search) -> Results:
        return self.call(self.store.search, search)

    def mark_alerted(self, references: Sequence[tuple[str, str]], rule: str) -> None:
        self.call(self.store.mark_alerted, references, rule)

    def close(self) -> None:
        try:
            self.call(self.store.close)
        finally:
            self.pool.kill()
