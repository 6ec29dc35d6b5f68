"""Where events and alerts are kept: the interface every store implements.

The embedded default is SQLite; Elasticsearch and OpenSearch serve at scale (see
`mozdef.core.stores`, which picks one). Everything above this interface (ingest, alerts,
the CLI) is the same whichever is configured.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from mozdef.core.query import Results, Search


@dataclass(frozen=True, slots=True)
class Document:
    """One event (or alert) to store: the logical index it goes to ("events", "alerts"
    or one a plugin chose) and its id, stable when redelivery must not duplicate it."""

    index: str
    doc_id: str
    event: dict


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one document: stored, or (`stored` False) set aside in the
    dead-letter index/table because the store refused it, with the store's reason."""

    doc_id: str
    stored: bool = True
    error: str | None = None


class StoreUnavailable(Exception):
    """The batch could not be committed, even after retries: acknowledge none of it."""


class Store(Protocol):
    """What every store does."""

    def write(self, documents: Sequence[Document]) -> list[Outcome]:
        """Commit `documents`; one outcome each, in order. Returns only once every
        document is durably stored or dead-lettered; raises `StoreUnavailable` if that
        cannot be done, in which case none of them may be acknowledged."""

    def search(self, search: Search) -> Results:
        """Run a search (see `mozdef.core.query`)."""

    def mark_alerted(self, references: Sequence[tuple[str, str]], rule: str) -> None:
        """Add `rule` to the `alert_names` list of the events named by (index, id) as a
        search returned them, so that the rule does not count them again. Atomic per
        event: marks by other rules at the same moment are kept."""

    def close(self) -> None:
        """Flush and release connections and files."""
