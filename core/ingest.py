"""From raw events to stored ones: the one path that every input (HTTP, RabbitMQ, the
CLI) takes, so that all of them mean the same thing by "accepted".

A batch of raw events is normalised and run through the chain one by one, written to
the store in one commit, and only then reported as stored; after the commit the
`mozdef_event_stored` hook sees each stored event. Every item gets its own result, so a
bad item never costs the good ones in the same batch.
"""

import itertools
import os
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum

from mozdef.core.app import MozDef
from mozdef.core.event import EventMeta
from mozdef.core.normalize import MalformedEvent
from mozdef.core.store import Document, Store

OnStored = Callable[..., object]  # called as hook(event=..., meta=...)


class Status(Enum):
    STORED = "stored"
    QUEUED = "queued"  # confirmed by RabbitMQ (queue mode); a worker stores it
    DEAD_LETTERED = "dead-lettered"  # the store refused it; kept aside with the reason
    DROPPED = "dropped"  # a plugin dropped it, as configured
    REJECTED = "rejected"  # not an event: malformed, or over a limit


class DocumentIds:
    """Unique document ids at a fraction of uuid4's cost: a random prefix per process
    and a counter. Ids from one process sort in arrival order, which keeps the store's
    unique index growing at its end."""

    def __init__(self) -> None:
        self.reseed()
        os.register_at_fork(after_in_child=self.reseed)  # a forked server gets its own

    def reseed(self) -> None:
        self.prefix = secrets.token_hex(8)
        self.counter = itertools.count()

    def new(self) -> str:
        return f"{self.prefix}{next(self.counter):012x}"


DOCUMENT_IDS = DocumentIds()


@dataclass(frozen=True, slots=True)
class RawEvent:
    """One item as it arrived: the parsed JSON value, where it came from, an id the
    sender gave it (a bulk request's `_id`), and the custom endpoint's application."""

    value: object
    source: str
    doc_id: str | None = None
    application: str | None = None


@dataclass(frozen=True, slots=True)
class Result:
    """What became of one raw event."""

    status: Status
    doc_id: str | None = None
    reason: str | None = None


STORING = Result(Status.STORED)  # a placeholder while the batch is being written


class Ingestor:
    """Runs batches of raw events through the pipeline into the store."""

    def __init__(self, mozdef: MozDef, store: Store, on_stored: OnStored | None = None) -> None:
        """`on_stored`, if given, sees each stored event after the plugins do (real-time
        alerts)."""
        self.mozdef = mozdef
        self.store = store
        hooks = (mozdef.plugins.broadcaster("mozdef_event_stored"), on_stored)
        self.on_stored = [hook for hook in hooks if hook is not None]

    def ingest(self, batch: Iterable[RawEvent]) -> list[Result]:
        """Process and commit a batch; one result per item, in order. Raises
        `StoreUnavailable` if the store could not commit: then nothing was stored."""
        results: list[Result] = []
        pending: list[tuple[int, EventMeta, Document]] = []  # (position, meta, document)
        for raw in batch:
            meta = EventMeta(source=raw.source, doc_id=raw.doc_id)
            try:
                event = self.process(raw, meta)
            except MalformedEvent as exc:
                results.append(Result(Status.REJECTED, reason=str(exc)))
                continue
            if event is None:
                results.append(Result(Status.DROPPED))
                continue
            meta.doc_id = meta.doc_id or DOCUMENT_IDS.new()
            pending.append((len(results), meta, Document(meta.index, meta.doc_id, event)))
            results.append(STORING)  # replaced below by the store's outcome
        outcomes = self.store.write([document for _, _, document in pending]) if pending else []
        for (position, meta, document), outcome in zip(pending, outcomes, strict=True):
            status = Status.STORED if outcome.stored else Status.DEAD_LETTERED
            results[position] = Result(status, outcome.doc_id, outcome.error)
            if outcome.stored:
                for hook in self.on_stored:
                    hook(event=document.event, meta=meta)
        return results

    def process(self, raw: RawEvent, meta: EventMeta) -> dict | None:
        if raw.application is not None:
            return self.mozdef.process_custom(raw.value, raw.application, meta)
        return self.mozdef.process(raw.value, meta)
