"""Alert rules at scale.

1. One run of an aggregation rule (the built-in bruteforce_ssh, its window widened to
   15 minutes) over a SQLite store of 1,000,000 events whose window holds 100,000: the
   aggregation, the members of each group over the threshold, storing the alerts and
   marking their events. Timed cold (a new connection) and again on an unchanged store
   (nothing left to alert on). The events are synthetic: a fifth of them failed ssh
   logins, half of those from 100 attackers and half from 20,000 other addresses; the
   rest other syslog traffic.
2. Real-time evaluation: the pipeline's rate on the realistic corpus, with every
   built-in rule that can run in real time watching each processed event, against the
   rate without; the issue's budget is 10%.
"""

import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from bench.pipeline import CONFIG, RUNS, load_corpus
from mozdef.alerts.catalog import Catalog, realtime_capable
from mozdef.alerts.engine import Engine
from mozdef.alerts.realtime import Realtime
from mozdef.core.app import MozDef
from mozdef.core.config import load_config
from mozdef.core.event import EventMeta
from mozdef.core.store import Document
from mozdef.core.stores.sqlite import SqliteSettings, SqliteStore
from mozdef.core.timestamps import isoformat

SIZE = 1_000_000
SPAN = timedelta(minutes=150)  # 15 minutes of it hold a tenth of the events
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
BATCH = 10_000


def synthetic(number: int, rng: random.Random) -> dict:
    moment = isoformat(NOW - SPAN * (number / SIZE))
    event = {
        "utctimestamp": moment,
        "timestamp": moment,
        "receivedtimestamp": moment,
        "hostname": f"web{number % 50}.example.com",
        "processid": 100,
        "severity": "INFO",
        "source": "syslog",
        "tags": [],
        "details": {},
    }
    if number % 5 == 0:  # half from 100 persistent attackers, half from 20,000 addresses
        address = (
            f"203.0.113.{rng.randrange(100)}"
            if rng.random() < 0.5
            else f"198.51.{rng.randrange(80)}.{rng.randrange(250)}"
        )
        event.update(
            category="authentication",
            processname="sshd",
            summary=f"Failed password for root from {address} port 4242 ssh2",
            tags=["sshd"],
            details={"eventname": "failed", "sourceipaddress": address, "username": "root"},
        )
    else:
        event.update(category="syslog", processname="cron", summary=f"job {number} finished")
    return event


def build_store(path: Path) -> None:
    rng = random.Random(1)
    store = SqliteStore(SqliteSettings(path=str(path)))
    try:
        for start in range(0, SIZE, BATCH):
            store.write(
                [
                    Document("events", f"e{n}", synthetic(n, rng))
                    for n in range(start, start + BATCH)
                ]
            )
    finally:
        store.close()


def aggregation_run() -> None:
    config = load_config(CONFIG, {})
    with MozDef(config) as mozdef, tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "alerts.sqlite3"
        started = time.perf_counter()
        build_store(path)
        print(f"store of {SIZE:,} events built in {time.perf_counter() - started:.0f} s")
        rule = Catalog(config, mozdef.plugins).get("bruteforce_ssh").rule
        rule.settings = rule.settings.model_copy(update={"window": timedelta(minutes=15)})
        for label in ("first run", "second run (nothing new)"):
            store = SqliteStore(SqliteSettings(path=str(path)))
            try:
                started = time.perf_counter()
                raised = Engine(store).run(rule, NOW)
                seconds = time.perf_counter() - started
            finally:
                store.close()
            print(
                f"bruteforce_ssh over 15 minutes, {label}: {seconds * 1e3:,.0f} ms, "
                f"{len(raised):,} alerts"
            )


def realtime_cost(size: int = 100_000) -> None:
    lines, _ = load_corpus(size)
    with MozDef(load_config(CONFIG, {})) as mozdef:
        catalog = Catalog(mozdef.config, mozdef.plugins)
        watching = [e for e in catalog.enabled() if realtime_capable(type(e.rule))]
        realtime = Realtime(watching, lambda entry, values: None, delay=3600)
        stored, meta = realtime.stored, EventMeta(source="bench")
        process = mozdef.process
        without = with_rules = 0.0
        for _ in range(RUNS):
            raws = [orjson.loads(line) for line in lines]
            started = time.perf_counter()
            events = [process(raw, meta) for raw in raws]
            processing = time.perf_counter() - started
            without = max(without, len(lines) / processing)
            started = time.perf_counter()
            for event in events:
                if event is not None:
                    stored(event, meta)
            with_rules = max(with_rules, len(lines) / (processing + time.perf_counter() - started))
    print(
        f"pipeline {without:,.0f} events/s; with {len(watching)} built-in rules evaluated in "
        f"real time {with_rules:,.0f} events/s ({(1 - with_rules / without) * 100:.1f}% less)"
    )


def run() -> None:
    aggregation_run()
    realtime_cost()
