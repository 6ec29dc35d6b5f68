"""From raw events to stored ones: the one path that every input (HTTP, RabbitMQ, the
CLI) takes, so that all of them mean the same thing by "accepted".

A batch of raw events is normalised and run through the chain one by one, written to
the store in one commit, and only then reported as stored; after the commit the
`mozdef_event_stored` hook sees each stored event. Every item gets its own result, so a
bad item never costs the good ones in the same batch.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from mozdef.core.app import MozDef
from mozdef.core.event import EventMeta
from mozdef.core.normalize import MalformedEvent
from mozdef.core.store import Document, Store


class Status(Enum):
    STORED = "stored"
    DEAD_LETTERED = "dead-lettered"  # the store refused it; kept aside with the reason
    DROPPED = "dropped"  # a plugin dropped it, as configured
    REJECTED = "rejected"  # not an event: malformed, or over a limit


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


class Ingestor:
    """Runs batches of raw events through the pipeline into the store."""

    def __init__(self, mozdef: MozDef, store: Store) -> None:
        self.mozdef = mozdef
        self.store = store

    def ingest(self, batch: Iterable[RawEvent]) -> list[Result]:
        """Process and commit a batch; one result per item, in order. Raises
        `StoreUnavailable` if the store could not commit: then nothing was stored."""
        results: list[Result | None] = []
        documents: list[Document] = []
        metas: list[EventMeta] = []
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
            meta.doc_id = meta.doc_id or uuid.uuid4().hex
            documents.append(Document(meta.index, meta.doc_id, event))
            metas.append(meta)
            results.append(None)  # filled in from the store's outcome
        outcomes = self.store.write(documents) if documents else []
        written = iter(zip(metas, documents, outcomes, strict=True))
        stored = []
        for position, result in enumerate(results):
            if result is None:
                meta, document, outcome = next(written)
                if outcome.stored:
                    stored.append((document.event, meta))
                status = Status.STORED if outcome.stored else Status.DEAD_LETTERED
                results[position] = Result(status, outcome.doc_id, outcome.error)
        broadcast = self.mozdef.plugins.broadcast
        for event, meta in stored:
            broadcast("mozdef_event_stored", event=event, meta=meta)
        return results  # type: ignore[return-value]

    def process(self, raw: RawEvent, meta: EventMeta) -> dict | None:
        if raw.application is not None:
            return self.mozdef.process_custom(raw.value, raw.application, meta)
        return self.mozdef.process(raw.value, meta)
