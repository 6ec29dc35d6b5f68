"""The embedded store: one SQLite file in WAL mode, no server to run.

Layout (see `SCHEMA`): a `documents` table holds each event whole, as JSON text, with
the fields most searches filter on copied into columns; an FTS5 index covers
`summary`; refused documents go to `dead_letters`. `mozdef.core.querysql` compiles
searches against these tables.

Indexes: every search MozDef makes (alerts above all) has a time window, so the main
index is on `utctimestamp` and also carries the other columns (index name, category,
hostname, severity, process name, addresses): a window's events are filtered, counted
and grouped by those inside the index, without reading the events themselves. A
search without a window on those columns scans that index, which is still far
smaller than the table. The address columns (16-byte keys, see
`mozdef.core.querysql.ip_key`) have indexes of their own for subnet searches over all
time, partial so that events without an address cost nothing there. Each index costs
every write several microseconds per event, which is why there are no more.

Writing: one `write` is one transaction (BEGIN IMMEDIATE ... COMMIT), so a batch is
stored whole or not at all, and a document whose (index, id) is already stored is
replaced rather than duplicated, which makes at-least-once delivery safe. The journal
is a write-ahead log with `synchronous = NORMAL`: a committed transaction survives the
process being killed at any moment (the WAL is in the operating system's hands as
soon as COMMIT returns), but the last transactions before a power cut or kernel crash
may roll back. `synchronous = "FULL"` also syncs the log on every commit, for hosts
where that matters more than write speed.

The FTS5 index uses `documents` as its external content, so summaries are not stored
twice. New rows are indexed by one statement per batch (a trigger per row would flush
FTS5's buffer on every row, several times slower); replaced rows by a trigger, which
redelivery alone fires. Rows may only be deleted by `prune`, which keeps the index in
step.

Retention: `prune()` deletes events older than `retention_days` (by `utctimestamp`)
in chunks, each its own transaction, and dead letters older than that. `write` runs
one chunk when a pass is due (hourly, and every second while chunks remain), so every
process that writes keeps the retention without a scheduler, and no write waits for
more than one chunk.

One store object holds one connection. Its calls must not overlap (the owner makes
them one at a time), but they may come from another thread than the one that opened
it: SQLite does its work without holding the GIL, so a writer thread (gevent's
threadpool, say) lets a batch be stored on one core while Python parses the next on
the other. Other processes may use the same file at once: readers never wait, and a
writer waits up to `lock_timeout` for another writer before `StoreUnavailable`.
"""

import itertools
import logging
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import orjson
from pydantic import Field

from mozdef.core.query import Bucket, Hit, Results, Scalar, Search
from mozdef.core.querysql import (
    FULL_TEXT_TABLE,
    IP_FUNCTION,
    compile_search,
    ip_key,
    ip_text,
    stored_time,
)
from mozdef.core.schema import Section
from mozdef.core.store import Document, Outcome, StoreUnavailable
from mozdef.core.timestamps import isoformat

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
SCHEMA = f"""
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY,
    index_name TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    utctimestamp TEXT,
    receivedtimestamp TEXT,
    category TEXT,
    hostname TEXT,
    severity TEXT,
    processname TEXT,
    source_ip BLOB,
    destination_ip BLOB,
    summary TEXT,
    doc TEXT NOT NULL,
    UNIQUE (doc_id, index_name)
);
CREATE INDEX IF NOT EXISTS documents_utctimestamp ON documents (
    utctimestamp, index_name, category, hostname, severity, processname,
    source_ip, destination_ip
);
CREATE INDEX IF NOT EXISTS documents_source_ip ON documents (source_ip, index_name)
    WHERE source_ip IS NOT NULL;
CREATE INDEX IF NOT EXISTS documents_destination_ip ON documents (destination_ip, index_name)
    WHERE destination_ip IS NOT NULL;
CREATE VIRTUAL TABLE IF NOT EXISTS {FULL_TEXT_TABLE} USING fts5 (
    summary, content = 'documents', content_rowid = 'id'
);
CREATE TRIGGER IF NOT EXISTS documents_summary_replaced AFTER UPDATE OF summary ON documents BEGIN
    INSERT INTO {FULL_TEXT_TABLE} ({FULL_TEXT_TABLE}, rowid, summary)
        VALUES ('delete', old.id, old.summary);
    INSERT INTO {FULL_TEXT_TABLE} (rowid, summary) VALUES (new.id, new.summary);
END;
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY,
    refused TEXT NOT NULL,
    index_name TEXT,
    doc_id TEXT,
    error TEXT NOT NULL,
    document TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_refused ON dead_letters (refused);
PRAGMA user_version = {SCHEMA_VERSION};
COMMIT;
"""
COLUMNS = (
    "index_name, doc_id, utctimestamp, receivedtimestamp, category, hostname, severity, "
    "processname, source_ip, destination_ip, summary, doc"
)
UPSERT = f"""
INSERT INTO documents ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (doc_id, index_name) DO UPDATE SET
    utctimestamp = excluded.utctimestamp, receivedtimestamp = excluded.receivedtimestamp,
    category = excluded.category, hostname = excluded.hostname,
    severity = excluded.severity, processname = excluded.processname,
    source_ip = excluded.source_ip, destination_ip = excluded.destination_ip,
    summary = excluded.summary, doc = excluded.doc
"""
MARK_ALERTED = """
UPDATE documents SET doc = CASE
    WHEN json_type(doc, '$.alert_names') = 'array' THEN json_insert(doc, '$.alert_names[#]', ?1)
    ELSE json_set(doc, '$.alert_names', json_array(?1)) END
WHERE doc_id = ?2 AND index_name = ?3
    AND NOT EXISTS (SELECT 1 FROM json_each(documents.doc, '$.alert_names') WHERE value = ?1)
"""
LAST_ID = "SELECT coalesce(max(id), 0) FROM documents"
INDEX_NEW = (
    f"INSERT INTO {FULL_TEXT_TABLE} (rowid, summary) SELECT id, summary FROM documents WHERE id > ?"
)
DEAD_LETTER = (
    "INSERT INTO dead_letters (refused, index_name, doc_id, error, document) VALUES (?, ?, ?, ?, ?)"
)
EXPIRED = "SELECT id FROM documents WHERE utctimestamp < :cutoff ORDER BY utctimestamp LIMIT :chunk"
FORGET_EXPIRED = f"""
INSERT INTO {FULL_TEXT_TABLE} ({FULL_TEXT_TABLE}, rowid, summary)
    SELECT 'delete', id, summary FROM documents WHERE id IN ({EXPIRED})
"""
DELETE_EXPIRED = f"DELETE FROM documents WHERE id IN ({EXPIRED})"
DELETE_EXPIRED_DEAD_LETTERS = "DELETE FROM dead_letters WHERE refused < :cutoff"
PRUNE_CHUNK = 10_000  # rows per prune transaction: bounded time holding the write lock
PRUNE_EVERY = 3600.0  # seconds between retention passes
PRUNE_RESUME = 1.0  # seconds before the next chunk while a pass has more to delete
CACHE_KIB = 64 * 1024
# Checkpoint (copy the WAL into the database, with a sync) after this many 4 KiB pages:
# about every ten 1,000-event batches rather than after each one.
CHECKPOINT_PAGES = 10_000
JOURNAL_LIMIT = 64 * 1024 * 1024  # bytes the WAL file keeps after a checkpoint


class SqliteSettings(Section):
    """The `[store.sqlite]` table."""

    path: str = Field("var/mozdef.sqlite3", description="Database file; its folder is created.")
    retention_days: int = Field(
        0,
        ge=0,
        le=36_500,
        description="Delete events older than this many days (by utctimestamp), checked "
        "hourly as events are written; 0 keeps them forever.",
    )
    synchronous: Literal["NORMAL", "FULL"] = Field(
        "NORMAL",
        description="NORMAL: commits survive the process being killed, the last ones may "
        "be lost to a power cut. FULL: they survive that too, at a cost in write speed.",
    )
    lock_timeout: float = Field(
        10.0,
        ge=0,
        description="Seconds a write waits while another process writes to the same file, "
        "before the store reports itself unavailable.",
    )


class SqliteStore:
    """The `Store` on one SQLite file (see the module's docstring)."""

    def __init__(self, settings: SqliteSettings) -> None:
        """Open (creating if need be) the database. Raises `StoreUnavailable` if it
        cannot be opened for writing or was made by a newer MozDef."""

        self.settings = settings
        self.path = Path(settings.path)
        self.next_prune = time.monotonic()  # the first write starts a pass
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.connection = connect(self.path, settings)
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailable(f"cannot open {self.path}: {exc}") from exc

    def write(self, documents: Sequence[Document]) -> list[Outcome]:
        """Store the documents in one transaction; one outcome each, in order."""

        rows: dict[tuple[str, str], tuple] = {}
        refused = []
        outcomes = []
        dumps, text = orjson.dumps, text_or_none
        for document in documents:
            event = document.event
            try:
                if type(event) is not dict:
                    raise TypeError("an event must be a JSON object")
                if not (type(document.doc_id) is str and document.doc_id):
                    raise TypeError("a document id must be a non-empty string")
                if not (type(document.index) is str and document.index):
                    raise TypeError("an index name must be a non-empty string")
                body = dumps(event).decode()
            except TypeError as exc:  # orjson's JSONEncodeError is a TypeError
                error = f"not storable: {exc}"
                refused.append((str(document.index), str(document.doc_id), error, repr(event)))
                outcomes.append(Outcome(document.doc_id, stored=False, error=error))
                continue
            get = event.get
            details = get("details")
            found = details.get if type(details) is dict else EMPTY.get
            rows[document.doc_id, document.index] = (
                document.index,
                document.doc_id,
                stored_time(get("utctimestamp")),
                stored_time(get("receivedtimestamp")),
                text(get("category")),
                text(get("hostname")),
                text(get("severity")),
                text(get("processname")),
                ip_key(found("sourceipaddress")),
                ip_key(found("destinationipaddress")),
                text(get("summary")),
                body,
            )
            outcomes.append(Outcome(document.doc_id))
        if not outcomes:
            return outcomes
        with self.transaction() as connection:
            if rows:
                (last,) = connection.execute(LAST_ID).fetchone()
                connection.executemany(UPSERT, rows.values())
                connection.execute(INDEX_NEW, (last,))
            if refused:
                now = isoformat(datetime.now(UTC))
                connection.executemany(DEAD_LETTER, [(now, *row) for row in refused])
        if self.settings.retention_days and time.monotonic() >= self.next_prune:
            self.prune_a_chunk()
        return outcomes

    def prune_a_chunk(self) -> None:
        """One chunk of the retention pass, after a committed write. A failure here is
        logged, not raised: the write it follows has been committed."""
        try:
            more = self.prune(max_chunks=1) >= PRUNE_CHUNK
        except StoreUnavailable as exc:
            logger.warning("retention: pruning %s failed, will retry: %s", self.path, exc)
            more = False
        self.next_prune = time.monotonic() + (PRUNE_RESUME if more else PRUNE_EVERY)

    def search(self, search: Search) -> Results:
        """Run a search; all its statements see one snapshot of the database. Raises
        ValueError (or `QuerySyntaxError`) for a search that cannot be compiled."""
        compiled = compile_search(search)
        with self.transaction("BEGIN") as connection:
            (total,) = connection.execute(*compiled.total).fetchone()
            hits = ()
            if compiled.hits is not None:
                hits = tuple(read_hits(connection.execute(*compiled.hits)))
            buckets = ()
            if compiled.buckets is not None:
                buckets = tuple(read_buckets(connection.execute(*compiled.buckets)))
        return Results(total, hits, buckets)

    def mark_alerted(self, references: Sequence[tuple[str, str]], rule: str) -> None:
        """Mark the events in one transaction (see `Store.mark_alerted`)."""
        with self.transaction() as connection:
            connection.executemany(MARK_ALERTED, [(rule, i, x) for x, i in references])

    def prune(self, now: datetime | None = None, max_chunks: int | None = None) -> int:
        """Delete what is older than `retention_days` (nothing if that is 0), at most
        `max_chunks` chunks of PRUNE_CHUNK events (all if None), each chunk in its own
        transaction so writers wait at most one chunk. Returns how many events went.
        A caller that must stay responsive (gevent) calls it with max_chunks=1 until
        it returns less than PRUNE_CHUNK."""
        days = self.settings.retention_days
        if not days:
            return 0
        cutoff = isoformat((now or datetime.now(UTC)) - timedelta(days=days))
        params = {"cutoff": cutoff, "chunk": PRUNE_CHUNK}
        deleted = 0
        for chunk in itertools.count():
            if max_chunks is not None and chunk >= max_chunks:
                break
            with self.transaction() as connection:
                if chunk == 0:
                    connection.execute(DELETE_EXPIRED_DEAD_LETTERS, params)
                connection.execute(FORGET_EXPIRED, params)
                count = connection.execute(DELETE_EXPIRED, params).rowcount
            deleted += count
            if count < PRUNE_CHUNK:
                break
        return deleted

    def close(self) -> None:
        """Checkpoint the WAL into the database file (leaving no -wal file behind) and
        close; closing twice is harmless."""
        connection, self.connection = self.connection, None
        if connection is None:
            return
        try:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass  # another process is reading; its last close will checkpoint
        finally:
            connection.close()

    def __enter__(self) -> "SqliteStore":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def transaction(self, begin: str = "BEGIN IMMEDIATE") -> Iterator[sqlite3.Connection]:
        """One transaction, rolled back on any error; SQLite's errors (locked past the
        timeout, disk full, read-only, closed) become `StoreUnavailable`."""

        connection = self.connection
        if connection is None:
            raise StoreUnavailable(f"{self.path} is closed")
        try:
            connection.execute(begin)
            try:
                yield connection
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"{self.path}: {exc}") from exc


EMPTY: dict = {}


def text_or_none(value: object) -> str | None:
    """A value for a text column: the columns hold strings only (which normalisation
    guarantees for these fields); anything else is still found through the JSON."""
    return value if type(value) is str else None


def connect(path: Path, settings: SqliteSettings) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL on, the schema
    in place and the address function registered."""
    connection = sqlite3.connect(
        path, timeout=settings.lock_timeout, isolation_level=None, check_same_thread=False
    )
    try:
        (mode,) = connection.execute("PRAGMA journal_mode = WAL").fetchone()
        if mode != "wal":
            raise sqlite3.OperationalError(f"cannot use a write-ahead log (journal is {mode})")
        connection.execute(f"PRAGMA synchronous = {settings.synchronous}")
        connection.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        connection.execute(f"PRAGMA wal_autocheckpoint = {CHECKPOINT_PAGES}")
        connection.execute(f"PRAGMA journal_size_limit = {JOURNAL_LIMIT}")
        connection.execute("PRAGMA temp_store = MEMORY")
        connection.create_function(IP_FUNCTION, 1, ip_key, deterministic=True)
        create_schema(connection)
    except BaseException:
        connection.close()
        raise
    return connection


def create_schema(connection: sqlite3.Connection) -> None:
    """Create the tables in a new file. Every statement is IF NOT EXISTS, so processes
    opening a new file at the same moment do not trip over each other."""
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    if version > SCHEMA_VERSION:
        raise sqlite3.DatabaseError(f"made by a newer MozDef (schema {version})")
    if version == 0:
        try:
            connection.executescript(SCHEMA)
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise


def read_hits(rows: Iterable[tuple]) -> Iterator[Hit]:
    for index, doc_id, doc in rows:
        yield Hit(index, doc_id, orjson.loads(doc))


def read_buckets(rows: Iterable[tuple]) -> Iterator[Bucket]:
    """Rows come bucket by bucket, each row one sample (or none, all NULL)."""
    for (value, kind), group in itertools.groupby(rows, key=lambda row: row[:2]):
        group = list(group)
        samples = tuple(read_hits(row[3:] for row in group if row[4] is not None))
        yield Bucket(bucket_key(value, kind), group[0][2], samples)


def bucket_key(value: Scalar | bytes, kind: str) -> Scalar:
    """JSON true and false come back from SQLite as 1 and 0, addresses as keys."""
    if kind == "true" or kind == "false":
        return kind == "true"
    if kind == "ip":
        return ip_text(value)
    return value
