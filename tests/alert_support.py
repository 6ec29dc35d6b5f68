"""Shared by the alert tests: a real SQLite store and events written into it."""

import itertools
from datetime import datetime, timedelta

from mozdef.core.store import Document
from mozdef.core.stores.sqlite import SqliteSettings, SqliteStore
from mozdef.core.timestamps import isoformat

NOW = datetime.fromisoformat("2026-11-22T12:00:00+00:00")
IDS = itertools.count()


def open_store(tmp_path) -> SqliteStore:
    return SqliteStore(SqliteSettings(path=str(tmp_path / "store.sqlite3")))


def event(ago: timedelta = timedelta(seconds=30), **fields: object) -> dict:
    """A stored-looking event `ago` before NOW; `fields` override the defaults."""
    moment = isoformat(NOW - ago)
    base = {
        "utctimestamp": moment,
        "timestamp": moment,
        "receivedtimestamp": moment,
        "category": "syslog",
        "hostname": "host1.example.com",
        "processname": "sshd",
        "processid": 100,
        "severity": "INFO",
        "source": "test",
        "summary": "",
        "tags": [],
        "details": {},
    }
    base.update(fields)
    return base


def store_events(store: SqliteStore, *events: dict) -> list[str]:
    """Write the events; their document ids, in order."""
    ids = [f"event-{next(IDS)}" for _ in events]
    store.write([Document("events", i, e) for i, e in zip(ids, events, strict=True)])
    return ids
