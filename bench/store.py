"""Write throughput of the embedded SQLite store, in batches of 1,000 documents.

The documents are the pipeline benchmark's corpus after normalisation and the default
chain, so they have the size and shape of real stored events, and their ids are random
as the ingest path makes them. Only `SqliteStore.write` is timed: serialisation, the
transaction and its indexes. Prints the rate over all batches, and the median and
slowest batch (the slow ones are those that checkpoint the WAL).
"""

import statistics
import tempfile
import time
import uuid
from pathlib import Path

import orjson

from bench.pipeline import CONFIG, load_corpus
from mozdef.core.app import MozDef
from mozdef.core.config import load_config
from mozdef.core.event import EventMeta
from mozdef.core.store import Document
from mozdef.core.stores.sqlite import SqliteSettings, SqliteStore

BATCH = 1_000


def stored_events(size: int) -> list[dict]:
    """`size` events as the chain leaves them (events a plugin drops are left out)."""
    lines, _ = load_corpus(size)
    with MozDef(load_config(CONFIG, {})) as mozdef:
        processed = (mozdef.process(orjson.loads(line), EventMeta()) for line in lines)
        return [event for event in processed if event is not None]


def run(size: int = 200_000) -> None:
    events = stored_events(size)
    batches = [
        [Document("events", uuid.uuid4().hex, event) for event in events[start : start + BATCH]]
        for start in range(0, len(events), BATCH)
    ]
    seconds = []
    with tempfile.TemporaryDirectory() as folder:
        store = SqliteStore(SqliteSettings(path=str(Path(folder) / "bench.sqlite3")))
        try:
            for batch in batches:
                started = time.perf_counter()
                store.write(batch)
                seconds.append(time.perf_counter() - started)
        finally:
            store.close()
        megabytes = (Path(folder) / "bench.sqlite3").stat().st_size / 1e6
    written = sum(len(batch) for batch in batches)
    print(
        f"sqlite store, {written:,} documents in batches of {BATCH:,}: "
        f"{written / sum(seconds):>10,.0f} documents/s "
        f"({sum(seconds) / written * 1e6:.1f} µs/document; "
        f"median batch {statistics.median(seconds) * 1e3:.1f} ms, "
        f"slowest {max(seconds) * 1e3:.1f} ms; file {megabytes:,.0f} MB)"
    )
