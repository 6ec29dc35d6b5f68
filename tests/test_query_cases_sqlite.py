"""Every case of the shared query table, run for real against the SQLite store."""

import pytest
from query_cases import CASES, EVENTS

from mozdef.core.query import Search
from mozdef.core.store import Document
from mozdef.core.stores.sqlite import SqliteSettings, SqliteStore


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("cases") / "var" / "mozdef.sqlite3"
    store = SqliteStore(SqliteSettings(path=str(path)))
    outcomes = store.write([Document("events", doc_id, event) for doc_id, event in EVENTS.items()])
    assert all(outcome.stored for outcome in outcomes)
    yield store
    store.close()


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_case(store, case):
    results = store.search(Search(query=case.query, window=case.window, size=len(EVENTS)))
    assert {hit.doc_id for hit in results.hits} == case.expected
    assert results.total == len(case.expected)
