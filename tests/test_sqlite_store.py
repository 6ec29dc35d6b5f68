"""The embedded SQLite store on real files: WAL, indexes in use, idempotent writes, full
text, retention, aggregations, dead letters, failures, and hostile field names."""

import math
import os
import resource
import shutil
import signal
import sqlite3
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from query_cases import EVENTS, event

from mozdef.core.query import (
    Bool,
    Exists,
    Phrase,
    Range,
    Search,
    Subnet,
    Term,
    Terms,
    TermsAggregation,
    TimeWindow,
    Wildcard,
)
from mozdef.core.querysql import compile_search
from mozdef.core.store import Document, StoreUnavailable
from mozdef.core.stores import sqlite as sqlite_store
from mozdef.core.stores.sqlite import SqliteSettings, SqliteStore
from mozdef.core.timestamps import isoformat

NOBODY = 65534


def open_store(path: Path, **settings) -> SqliteStore:
    return SqliteStore(SqliteSettings(path=str(path), **settings))


@pytest.fixture
def store(tmp_path):
    store = open_store(tmp_path / "var" / "mozdef.sqlite3")
    yield store
    store.close()


@pytest.fixture
def filled(store):
    store.write([Document("events", doc_id, body) for doc_id, body in EVENTS.items()])
    return store


def found(store, query=None, **search) -> list[str]:
    """Ids of the hits, newest first; checks that `total` agrees."""
    results = store.search(Search(query=query, **search))
    if search.get("size", 100) >= results.total:
        assert results.total == len(results.hits)
    return [hit.doc_id for hit in results.hits]


def rows(store, sql: str, *params) -> list[tuple]:
    """Read the file through a connection of its own, as another process would."""
    with sqlite3.connect(store.path) as other:
        return other.execute(sql, params).fetchall()


# --- the file ---------------------------------------------------------------------------


def test_creates_its_folder_and_uses_a_write_ahead_log(tmp_path):
    path = tmp_path / "deep" / "er" / "mozdef.sqlite3"
    with open_store(path) as store:
        assert rows(store, "PRAGMA journal_mode") == [("wal",)]
        assert store.connection.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
    with open_store(path, synchronous="FULL") as store:
        assert store.connection.execute("PRAGMA synchronous").fetchone() == (2,)


def test_close_checkpoints_the_log_into_the_database(tmp_path):
    path = tmp_path / "mozdef.sqlite3"
    store = open_store(path)
    store.write([Document("events", "one", EVENTS["kernel"])])
    wal = Path(f"{path}-wal")
    assert wal.stat().st_size > 0
    store.close()
    assert not wal.exists() or wal.stat().st_size == 0
    store.close()  # twice is harmless
    with pytest.raises(StoreUnavailable, match="closed"):
        store.write([Document("events", "two", EVENTS["kernel"])])
    with open_store(path) as reopened:
        assert found(reopened) == ["one"]


def test_indexes_exist(store):
    def columns(index: str) -> list[str]:
        return [name for _, _, name in rows(store, f"PRAGMA index_info({index})")]

    assert columns("documents_utctimestamp") == [
        "utctimestamp",
        "index_name",
        "category",
        "hostname",
        "severity",
        "processname",
        "source_ip",
        "destination_ip",
    ]
    assert columns("documents_source_ip") == ["source_ip", "index_name"]
    assert columns("documents_destination_ip") == ["destination_ip", "index_name"]


def plan(store, search: Search, statement: str = "hits") -> str:
    sql, params = getattr(compile_search(search), statement)
    steps = store.connection.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
    return " / ".join(step[-1] for step in steps)


WINDOW = TimeWindow(since=datetime(2026, 11, 20, 10, 5, tzinfo=UTC))


def test_a_time_window_is_read_from_the_time_index_newest_first(filled):
    steps = plan(filled, Search(query=Term("details.username", "root"), window=WINDOW))
    assert "USING INDEX documents_utctimestamp (utctimestamp>?)" in steps
    assert "TEMP B-TREE FOR ORDER BY" not in steps  # no sort of the matches (ties aside)


def test_a_window_filters_on_indexed_columns_without_reading_events(filled):
    search = Search(query=Term("category", "authentication"), window=WINDOW)
    steps = plan(filled, search, "total")
    assert steps == "SEARCH d USING COVERING INDEX documents_utctimestamp (utctimestamp>?)"


def test_a_subnet_is_a_range_over_the_address_index(filled):
    query = Subnet("details.destinationipaddress", "2.192.0.0/16")
    steps = plan(filled, Search(query=query), "total")
    assert (
        "USING COVERING INDEX documents_destination_ip (destination_ip>? AND destination_ip<?)"
        in steps
    )


def test_without_a_window_category_is_still_read_from_an_index(filled):
    steps = plan(filled, Search(query=Terms("category", ("proxy", "execve"))), "total")
    assert steps == "SCAN d USING COVERING INDEX documents_utctimestamp"


# --- writing ----------------------------------------------------------------------------


def test_writing_an_id_again_replaces_the_document(store):
    first = event("2026-11-20T10:00:00+00:00", category="first", summary="alpha bravo")
    second = event("2026-11-20T10:01:00+00:00", category="second", summary="charlie delta")
    store.write([Document("events", "same", first), Document("events", "other", first)])
    assert all(outcome.stored for outcome in store.write([Document("events", "same", second)]))

    assert rows(store, "SELECT count(*) FROM documents") == [(2,)]
    assert found(store, Term("category", "second")) == ["same"]
    assert found(store, Term("category", "first")) == ["other"]
    assert found(store, Phrase("summary", "charlie delta")) == ["same"]
    assert found(store, Phrase("summary", "alpha")) == ["other"]  # the old summary is gone
    assert rows(store, "INSERT INTO documents_fts (documents_fts) VALUES ('integrity-check')") == []


def test_a_repeated_id_in_one_batch_is_stored_once_the_last_wins(store):
    older = event("2026-11-20T10:00:00+00:00", summary="first version")
    newer = event("2026-11-20T10:00:00+00:00", summary="second version")
    outcomes = store.write([Document("events", "dup", older), Document("events", "dup", newer)])
    assert [outcome.doc_id for outcome in outcomes] == ["dup", "dup"]
    hits = store.search(Search()).hits
    assert [hit.event["summary"] for hit in hits] == ["second version"]
    assert found(store, Phrase("summary", "first")) == []


def test_the_same_id_in_another_index_is_another_document(store):
    body = EVENTS["kernel"]
    store.write([Document("events", "x", body), Document("alerts", "x", body)])
    assert rows(store, "SELECT index_name FROM documents ORDER BY index_name") == [
        ("alerts",),
        ("events",),
    ]


def test_documents_it_cannot_store_are_dead_lettered_and_the_rest_stored(store):
    good = EVENTS["kernel"]
    huge = dict(good, details={"counter": 2**70})  # beyond JSON's 64-bit integers
    keyed = dict(good, details={1: "a non-string key"})
    outcomes = store.write(
        [
            Document("events", "good", good),
            Document("events", "huge", huge),
            Document("events", "keyed", keyed),
            Document("events", "", good),
        ]
    )
    assert [(o.doc_id, o.stored) for o in outcomes] == [
        ("good", True),
        ("huge", False),
        ("keyed", False),
        ("", False),
    ]
    assert "64-bit" in outcomes[1].error
    assert "document id" in outcomes[3].error
    assert found(store) == ["good"]
    letters = rows(store, "SELECT index_name, doc_id, error, document FROM dead_letters")
    assert [(index, doc_id) for index, doc_id, _, _ in letters] == [
        ("events", "huge"),
        ("events", "keyed"),
        ("events", ""),
    ]
    assert str(2**70) in letters[0][3]


def test_time_columns_hold_one_form_whatever_the_event_had(store):
    for doc_id, stamp in [
        ("zulu", "2026-11-20T10:00:00Z"),
        ("offset", "2026-11-20T12:00:30+02:00"),
    ]:
        store.write([Document("events", doc_id, event(stamp))])
    assert rows(store, "SELECT utctimestamp FROM documents ORDER BY id") == [
        ("2026-11-20T10:00:00.000000+00:00",),
        ("2026-11-20T10:00:30.000000+00:00",),
    ]
    window = TimeWindow(
        since=datetime(2026, 11, 20, 10, 0, 30, tzinfo=UTC),
        until=datetime(2026, 11, 20, 10, 1, tzinfo=UTC),
    )
    assert found(store, window=window) == ["offset"]
    store.write([Document("events", "year-one", event("0001-01-01T00:00:00+01:00"))])
    assert rows(store, "SELECT utctimestamp FROM documents WHERE doc_id = 'year-one'") == [(None,)]


# --- searching --------------------------------------------------------------------------


def test_hits_are_newest_first_limited_to_size_with_the_full_total(filled):
    results = filled.search(Search(query=Term("category", "authentication"), size=2))
    assert [hit.doc_id for hit in results.hits] == ["late", "v6-login"]
    assert results.total == 5
    assert results.hits[0].event == EVENTS["late"]
    assert results.hits[0].index == "events"
    counted = filled.search(Search(size=0))
    assert (counted.total, counted.hits) == (len(EVENTS), ())


def test_a_window_on_receivedtimestamp(store):
    late_arrival = dict(EVENTS["kernel"], receivedtimestamp="2026-11-21T00:00:00+00:00")
    store.write([Document("events", "a", EVENTS["audit"]), Document("events", "b", late_arrival)])
    window = TimeWindow(since=datetime(2026, 11, 20, 12, tzinfo=UTC), field="receivedtimestamp")
    assert found(store, window=window) == ["b"]


def test_events_means_every_index_but_the_alerts(store):
    body = EVENTS["kernel"]
    store.write(
        [
            Document("events", "event", body),
            Document("audit", "routed", body),
            Document("alerts", "alert", body),
        ]
    )
    assert sorted(found(store)) == ["event", "routed"]
    assert found(store, indices=("alerts",)) == ["alert"]
    assert found(store, indices=("audit",)) == ["routed"]
    assert sorted(found(store, indices=("events", "alerts"))) == ["alert", "event", "routed"]
    assert found(store, indices=()) == []


FULL_TEXT = [
    ("FAILED PASSWORD", ["late", "ssh-fail-2", "ssh-fail-1"]),  # any case
    ("password for root", ["late", "ssh-fail-1"]),
    ("failed root", []),  # both words, but not side by side
    ("203.0.113.9", ["ssh-fail-2", "ssh-fail-1"]),  # punctuation separates words
    ('"quoted" (parens) OR NOT', []),  # no FTS5 syntax gets through
    ("...", []),  # no words at all
]


@pytest.mark.parametrize(("text", "expected"), FULL_TEXT)
def test_phrases_on_the_summary_use_the_full_text_index(filled, text, expected):
    assert found(filled, Phrase("summary", text)) == expected


def test_phrases_on_other_fields_are_words_in_order(filled):
    assert found(filled, Phrase("details.command", "USR bin curl")) == ["audit"]
    assert found(filled, Phrase("details.command", "curl usr")) == []


def test_an_object_is_not_a_list_of_its_members(filled):
    assert found(filled, Term("details", "root")) == []
    assert found(filled, Wildcard("details", "*")) == []


def test_numbers_and_their_text_are_the_same_value(filled):
    assert found(filled, Term("details.destinationport", "8443")) == ["proxy-deny"]
    assert found(filled, Term("details.auid", 1000.0)) == ["audit"]
    assert found(filled, Term("details.success", "true")) == ["v6-login", "ssh-ok"]
    assert found(filled, Term("details.ses", 1)) == []  # -1 is not 1
    assert found(filled, Term("details.success", 1)) == []  # true is not 1


def test_ranges_compare_numbers_with_numbers_and_text_with_text(filled):
    assert found(filled, Range("details.sourceport", gte="4000")) == []  # text > numbers
    assert found(filled, Range("details.sourceport", gte=4000)) == ["ssh-fail-2", "ssh-fail-1"]
    assert found(filled, Range("details.device", gte="eth", lt="eti")) == ["kernel"]
    assert found(filled, Range("details.ses", lt=0)) == ["audit"]
    with pytest.raises(ValueError, match="timestamps"):
        filled.search(Search(query=Range("utctimestamp", gte="yesterday")))


def test_a_range_on_time_reads_its_bounds_as_timestamps(filled):
    query = Range("utctimestamp", gt="2026-11-20T12:06:00+02:00", lte="2026-11-20T10:07:00Z")
    assert found(filled, query) == ["kernel"]


def test_must_not_keeps_events_that_lack_the_field(filled):
    query = Bool(must_not=(Term("details.username", "root"),))
    assert set(found(filled, query)) == set(EVENTS) - {"ssh-fail-1", "late"}
    assert set(found(filled, Bool(must_not=(Range("details.octets", gt=0),)))) == set(EVENTS) - {
        "netflow"
    }
    nameless = {key: value for key, value in EVENTS["kernel"].items() if key != "hostname"}
    filled.write([Document("events", "nameless", nameless)])  # a NULL in the column
    query = Bool(must=(Term("category", "promiscuous"),), must_not=(Term("hostname", "x"),))
    assert sorted(found(filled, query)) == ["kernel", "nameless"]


def test_minimum_should_match_counts_clauses(filled):
    should = (Term("tags", "sshd"), Term("tags", "failure"), Term("details.username", "root"))
    assert found(filled, Bool(should=should, minimum_should_match=3)) == ["late", "ssh-fail-1"]
    assert len(found(filled, Bool(should=should, minimum_should_match=2))) == 3
    assert found(filled, Bool(should=should, minimum_should_match=4)) == []
    assert found(filled, Bool(should=should, minimum_should_match=-1)) == found(
        filled, Bool(should=should, minimum_should_match=2)
    )
    assert found(filled, Bool(must=(Exists("category"),), minimum_should_match=1)) == []
    everything = Bool(must=(Exists("category"),), should=should)  # with a must: optional
    assert len(found(filled, everything)) == len(EVENTS)
    nameless = {key: value for key, value in EVENTS["late"].items() if key != "hostname"}
    filled.write([Document("events", "nameless", nameless)])  # a NULL in the column
    should = (Term("hostname", "x"), Term("tags", "sshd"), Term("tags", "failure"))
    assert "nameless" in found(filled, Bool(should=should, minimum_should_match=2))


def test_wildcards_are_whole_value_and_case_sensitive(filled):
    assert found(filled, Wildcard("hostname", "BASTION*")) == []
    assert found(filled, Wildcard("hostname", "bastion")) == []
    assert found(filled, Wildcard("summary", "*promiscuous*")) == ["kernel"]
    assert found(filled, Wildcard("details.proxyaction", "TCP_[DENIED]")) == []  # [ is literal


def test_exists_ignores_null_and_empty_lists(store):
    store.write(
        [
            Document("events", "null", event("2026-11-20T10:00:00+00:00", details={"x": None})),
            Document("events", "empty", event("2026-11-20T10:01:00+00:00", details={"x": []})),
            Document("events", "zero", event("2026-11-20T10:02:00+00:00", details={"x": 0})),
            Document("events", "nulls", event("2026-11-20T10:03:00+00:00", details={"x": [None]})),
        ]
    )
    assert found(store, Exists("details.x")) == ["zero"]


# --- addresses --------------------------------------------------------------------------


def test_subnets_in_ipv6_and_mapped_ipv4(store):
    addresses = {
        "v4": "10.1.2.3",
        "mapped": "::ffff:10.9.9.9",
        "v6": "2001:db8:0:1::5",
        "v6-far": "2001:db9::1",
        "junk": "not an address",
    }
    store.write(
        [
            Document(
                "events",
                name,
                event(f"2026-11-20T10:0{n}:00+00:00", details={"sourceipaddress": ip}),
            )
            for n, (name, ip) in enumerate(addresses.items())
        ]
    )
    assert found(store, Subnet("details.sourceipaddress", "10.0.0.0/8")) == ["mapped", "v4"]
    assert found(store, Subnet("details.sourceipaddress", "2001:db8::/32")) == ["v6"]
    assert found(store, Subnet("details.sourceipaddress", "2001:db8:0:1::5/128")) == ["v6"]
    assert found(store, Subnet("details.sourceipaddress", "::/0")) == [
        "v6-far",
        "v6",
        "mapped",
        "v4",
    ]
    assert found(store, Term("details.sourceipaddress", "::ffff:10.1.2.3")) == ["v4"]
    assert found(store, Term("details.sourceipaddress", "not an address")) == ["junk"]
    with pytest.raises(ValueError, match="CIDR"):
        store.search(Search(query=Subnet("details.sourceipaddress", "10.0.0.0/33")))


def test_subnets_on_fields_without_an_address_column_and_in_lists(store):
    details = {"resolved": ["192.0.2.7", "2001:db8::1"], "gateway": "198.51.100.1"}
    store.write([Document("events", "dns", event("2026-11-20T10:00:00+00:00", details=details))])
    assert found(store, Subnet("details.resolved", "192.0.2.0/24")) == ["dns"]
    assert found(store, Subnet("details.resolved", "2001:db8::/48")) == ["dns"]
    assert found(store, Subnet("details.gateway", "198.51.100.0/24")) == ["dns"]
    assert found(store, Subnet("details.gateway", "198.51.101.0/24")) == []


# --- aggregations -----------------------------------------------------------------------


def buckets(store, aggregation, **search) -> list[tuple]:
    results = store.search(Search(size=0, aggregation=aggregation, **search))
    return [(b.key, b.count, [hit.doc_id for hit in b.samples]) for b in results.buckets]


def test_aggregation_counts_commonest_first_with_newest_samples(filled):
    assert buckets(filled, TermsAggregation("category", size=2, samples=2)) == [
        ("authentication", 5, ["late", "v6-login"]),
        ("execve", 1, ["audit"]),  # ties: by value
    ]


def test_aggregation_over_a_list_field_counts_each_element(filled):
    assert buckets(filled, TermsAggregation("tags", size=3, samples=1)) == [
        ("sshd", 5, ["late"]),
        ("failure", 3, ["late"]),
        ("netflow", 1, ["netflow"]),
    ]


def test_aggregation_keeps_json_types_and_skips_missing_values(filled):
    assert buckets(filled, TermsAggregation("details.success")) == [(True, 2, [])]
    assert buckets(filled, TermsAggregation("details.destinationport")) == [
        (6824, 1, []),
        (8443, 1, []),
    ]


def test_aggregation_applies_the_query_and_window(filled):
    window = TimeWindow(until=datetime(2026, 11, 20, 10, 9, tzinfo=UTC))
    query = Term("category", "authentication")
    assert buckets(
        filled, TermsAggregation("details.username", size=10), query=query, window=window
    ) == [
        ("admin", 1, []),
        ("alice", 1, []),
        ("bob", 1, []),
        ("root", 1, []),
    ]
    results = filled.search(
        Search(query=query, window=window, aggregation=TermsAggregation("tags"))
    )
    assert results.total == 4


def test_aggregation_by_address_gives_addresses_in_one_spelling(filled):
    filled.write(
        [
            Document(
                "events",
                "mapped",
                event(
                    "2026-11-20T11:00:00+00:00", details={"sourceipaddress": "::ffff:203.0.113.9"}
                ),
            )
        ]
    )
    assert buckets(filled, TermsAggregation("details.sourceipaddress", size=3, samples=2)) == [
        ("203.0.113.9", 3, ["mapped", "ssh-fail-2"]),
        ("10.1.2.3", 1, ["ssh-ok"]),
        ("10.1.2.99", 1, ["proxy-deny"]),
    ]
    assert buckets(filled, TermsAggregation("details.sourceipaddress", size=10))[-1] == (
        "2001:db8::17",
        1,
        [],
    )


def test_a_value_twice_in_one_list_counts_once(store):
    body = event("2026-11-20T10:00:00+00:00", tags=["x", "x", "y"])
    store.write([Document("events", "one", body)])
    assert buckets(store, TermsAggregation("tags", samples=3)) == [
        ("x", 1, ["one"]),
        ("y", 1, ["one"]),
    ]


# --- retention --------------------------------------------------------------------------


def aged(days_ago: int) -> dict:
    stamp = f"2026-11-{20 - days_ago:02d}T10:00:00+00:00"
    return event(stamp, summary=f"event from {days_ago} days ago")


NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def test_prune_deletes_what_is_older_than_the_retention(tmp_path):
    with open_store(tmp_path / "db.sqlite3", retention_days=7) as store:
        store.next_prune = math.inf  # prune() on its own: no pass started by a write
        store.write([Document("events", f"d{days}", aged(days)) for days in (0, 3, 8, 10)])
        store.write([Document("events", "bad", {"x": 2**70})])  # a dead letter, refused now
        assert store.prune(now=NOW) == 2
        assert found(store) == ["d0", "d3"]
        assert found(store, Phrase("summary", "days ago")) == ["d0", "d3"]
        assert (
            rows(store, "INSERT INTO documents_fts (documents_fts) VALUES ('integrity-check')")
            == []
        )
        assert store.prune(now=NOW) == 0
        assert store.prune(now=datetime(2026, 12, 30, tzinfo=UTC)) == 2
        assert rows(store, "SELECT count(*) FROM dead_letters") == [(0,)]
        # the ids of deleted rows are used again: their words must have gone with them
        store.write([Document("events", "fresh", event("2026-12-30T00:00:00+00:00"))])
        assert found(store, Phrase("summary", "days ago")) == []


def test_prune_works_in_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_store, "PRUNE_CHUNK", 2)
    with open_store(tmp_path / "db.sqlite3", retention_days=1) as store:
        store.next_prune = math.inf  # prune() on its own: no pass started by a write
        store.write([Document("events", f"old{n}", aged(5)) for n in range(5)])
        store.write([Document("events", "new", aged(0))])
        assert store.prune(now=NOW, max_chunks=1) == 2
        assert store.prune(now=NOW, max_chunks=1) == 2
        assert store.prune(now=NOW) == 1
        assert found(store) == ["new"]


def test_writes_run_the_retention_pass_a_chunk_at_a_time(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_store, "PRUNE_CHUNK", 2)
    today = isoformat(datetime.now(UTC))
    with open_store(tmp_path / "db.sqlite3", retention_days=1) as store:
        store.next_prune = math.inf
        store.write([Document("events", f"old{n}", aged(19)) for n in range(3)])
        assert len(found(store)) == 3

        store.next_prune = 0  # a pass is due: the next write deletes one chunk
        store.write([Document("events", "new1", event(today))])
        assert sorted(found(store)) == ["new1", "old2"]
        assert store.next_prune - time.monotonic() <= sqlite_store.PRUNE_RESUME

        store.next_prune = 0
        store.write([Document("events", "new2", event(today))])
        assert sorted(found(store)) == ["new1", "new2"]
        assert store.next_prune - time.monotonic() > sqlite_store.PRUNE_EVERY - 60

        store.write([Document("events", "old9", aged(19))])  # not due: kept for now
        assert "old9" in found(store)


def test_retention_zero_keeps_everything(store):
    store.write([Document("events", "ancient", aged(19))])
    assert store.prune(now=datetime(2036, 1, 1, tzinfo=UTC)) == 0
    assert found(store) == ["ancient"]


# --- when the file cannot be written ----------------------------------------------------


@pytest.fixture
def shared_folder():
    """A folder an unprivileged user can reach (pytest's own are private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="mozdef-store-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


@contextmanager
def unprivileged():
    """Run the block as an ordinary user, for whom file permissions apply."""
    if os.geteuid() != 0:
        yield
        return
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)


def test_unavailable_when_the_folder_cannot_be_written(shared_folder):
    locked = shared_folder / "locked"
    locked.mkdir(mode=0o555)
    writable = shared_folder / "writable"
    writable.mkdir()
    writable.chmod(0o777)  # mkdir's mode is masked by the umask
    with unprivileged():
        with pytest.raises(StoreUnavailable, match="cannot open"):
            open_store(locked / "mozdef.sqlite3")
        open_store(writable / "mozdef.sqlite3").close()  # the same, where allowed


def test_unavailable_when_the_file_is_read_only(shared_folder):
    path = shared_folder / "mozdef.sqlite3"
    shared_folder.chmod(0o777)
    with open_store(path) as store:
        store.write([Document("events", "kept", EVENTS["kernel"])])
    path.chmod(0o444)
    with unprivileged(), open_store(path) as store:
        assert found(store) == ["kept"]  # still searchable
        with pytest.raises(StoreUnavailable, match="readonly"):
            store.write([Document("events", "new", EVENTS["audit"])])


def test_unavailable_when_the_folder_is_a_file(tmp_path):
    (tmp_path / "var").write_text("not a folder")
    with pytest.raises(StoreUnavailable):
        open_store(tmp_path / "var" / "mozdef.sqlite3")


def test_unavailable_while_another_process_holds_the_write_lock(tmp_path):
    path = tmp_path / "mozdef.sqlite3"
    with open_store(path, lock_timeout=0.05) as store:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreUnavailable, match="locked"):
            store.write([Document("events", "waiting", EVENTS["kernel"])])
        assert found(store) == []  # reads never wait
        other.execute("ROLLBACK")
        other.close()
        store.write([Document("events", "waiting", EVENTS["kernel"])])
        assert found(store) == ["waiting"]


@contextmanager
def file_size_limit(size: int):
    """Writes past `size` bytes fail as they do on a full disk (EFBIG, not a signal)."""
    previous_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, previous_limit[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, previous_limit)
        signal.signal(signal.SIGXFSZ, previous_handler)


def test_unavailable_when_the_disk_refuses_the_batch_and_none_of_it_is_stored(store):
    store.write([Document("events", "before", EVENTS["kernel"])])
    batch = [
        Document("events", f"big{n}", dict(EVENTS["audit"], summary="x" * 2000)) for n in range(500)
    ]
    with file_size_limit(256 * 1024), pytest.raises(StoreUnavailable):
        store.write(batch)
    assert found(store) == ["before"]
    store.write([Document("events", "after", EVENTS["kernel"])])  # and it recovers
    assert sorted(found(store)) == ["after", "before"]


# --- hostile input ----------------------------------------------------------------------

HOSTILE_FIELDS = [
    "details.x') OR 1=1 --",
    "category; DROP TABLE documents",
    'details."username"',
    "details.a[0]",
    "$.details",
    "details..username",
    "Details.Username",
    "details.user name",
    "",
]


@pytest.mark.parametrize("field", HOSTILE_FIELDS)
def test_field_names_outside_the_allowed_form_are_refused(filled, field):
    for query in (Term(field, "x"), Exists(field), Subnet(field, "10.0.0.0/8"), Range(field, gt=1)):
        with pytest.raises(ValueError, match="not a field name"):
            filled.search(Search(query=query))
    with pytest.raises(ValueError, match="not a field name"):
        filled.search(Search(aggregation=TermsAggregation(field)))
    assert rows(filled, "SELECT count(*) FROM documents") == [(len(EVENTS),)]


HOSTILE_VALUES = [
    "x' OR '1'='1",
    "'); DELETE FROM documents; --",
    '" OR 1=1 --',
    "%",
    "_",
]


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_values_are_only_ever_values(filled, value):
    assert found(filled, Term("category", value)) == []
    assert found(filled, Term("details.username", value)) == []
    assert found(filled, Phrase("details.username", value)) == []
    assert found(filled, Wildcard("details.username", value)) == []
    assert found(filled, Terms("hostname", (value, "nobody"))) == []
    assert rows(filled, "SELECT count(*) FROM documents") == [(len(EVENTS),)]


def test_a_value_can_be_found_whatever_characters_it_holds(store):
    value = "x' OR '1'='1 %_*?[\""
    store.write(
        [Document("events", "odd", event("2026-11-20T10:00:00+00:00", details={"v": value}))]
    )
    assert found(store, Term("details.v", value)) == ["odd"]
    assert found(store, Wildcard("details.v", "x' OR *\\*\\?[\"")) == ["odd"]
    store.write(
        [Document("events", "plain", event("2026-11-20T10:01:00+00:00", details={"v": "x' OR yy"}))]
    )
    assert found(store, Wildcard("details.v", "x' OR \\*y")) == []  # an escaped * is a star
    assert found(store, Wildcard("details.v", "x' OR ?y")) == ["plain"]
