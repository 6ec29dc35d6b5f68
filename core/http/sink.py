"""What the HTTP server hands events to: the one seam between receiving and keeping.

Embedded (the default), the sink is a `Committer` in front of the `Ingestor`: events are
processed and committed to the store before the client is answered. In queue mode
(`mozdef run --role loginput`) it is a RabbitMQ publisher, and "accepted" means
confirmed by the broker. The routes neither know nor care which.
"""

from collections.abc import Sequence
from typing import Protocol

from mozdef.core.ingest import RawEvent, Result


class SinkUnavailable(Exception):
    """Nothing of the batch was accepted (the store or the broker is down, or the sink
    is shutting down): the client is told to retry later with 503 and Retry-After."""


class Sink(Protocol):
    def accept(self, batch: Sequence[RawEvent]) -> list[Result]:
        """Accept a batch: one `Result` per event, in order, once every event is
        committed (stored, dead-lettered, dropped or rejected). Called from many
        greenlets at once; blocks only the calling one. Raises `SinkUnavailable` if the
        batch could not be committed, in which case none of it may be acknowledged."""

    def close(self) -> None:
        """Finish the work accepted so far, then release what the sink holds."""
