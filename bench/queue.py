"""Queue mode end to end: loginput publisher -> RabbitMQ -> worker -> SQLite.

The loginput side is this process: the mixed sample corpus in 1,000-event batches (one
bulk request each) through `Publisher.accept`, each batch confirmed by the broker
before the next. Workers are `run_worker` in processes of their own (one, then two on
one queue), storing into a fresh SQLite file with every built-in plugin on its
defaults. The broker is the RabbitMQ at 127.0.0.1:5672, on the same machine. Nothing is
pinned to a core (`python -m bench` pins itself; this undoes it while it runs): the
loginput, the workers and the broker share the machine, as on one small host.

Printed: the loginput's rate (accepted and confirmed) and the end-to-end rate (first
publish to last event committed). Run with `python -m bench.queue [EVENTS]`.
"""

import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import orjson
import pika

from bench import machine
from bench.pipeline import CONFIG, load_corpus
from mozdef.core.ingest import RawEvent
from mozdef.core.query import Search
from mozdef.core.queue.publisher import Publisher
from mozdef.core.queue.settings import RabbitSettings
from mozdef.core.reference import toml_value
from mozdef.core.stores import StoreSection, open_store
from mozdef.core.stores.sqlite import SqliteSettings

BATCH = 1000
WORKER = "import sys; from mozdef.core.config import load_config; " + (
    "from mozdef.core.queue.worker import run_worker; run_worker(load_config(sys.argv[1]))"
)


def run(size: int = 100_000) -> None:
    """Prints the machine, then the rates with one worker process and with two."""
    print(f"machine: {machine.describe()}")
    lines, _mix = load_corpus(size)
    batches = [
        [RawEvent(orjson.loads(line), "bench") for line in lines[at : at + BATCH]]
        for at in range(0, size, BATCH)
    ]
    print(f"events: {size:,} in {BATCH:,}-event batches, loginput -> RabbitMQ -> SQLite")
    pinned = os.sched_getaffinity(0)
    os.sched_setaffinity(0, range(os.cpu_count() or 1))  # several processes: every core
    try:
        for workers in (1, 2):
            published, stored = measure(batches, workers)
            print(
                f"{workers} worker process(es): loginput {published:>8,.0f} events/s accepted "
                f"and confirmed; end to end {stored:>8,.0f} events/s committed"
            )
    finally:
        os.sched_setaffinity(0, pinned)


def measure(batches: list[list[RawEvent]], workers: int) -> tuple[float, float]:
    """Events/s through the loginput (until the last batch is confirmed) and end to end
    (until the last event is committed), on queues and a database of their own."""
    size = sum(map(len, batches))
    suffix = uuid.uuid4().hex[:8]
    settings = RabbitSettings(
        exchange=f"mozdef-bench.events.{suffix}",
        queue=f"mozdef-bench.events.{suffix}",
        dead_letter_exchange=f"mozdef-bench.deadletter.{suffix}",
        dead_letter_queue=f"mozdef-bench.deadletter.{suffix}",
    )
    with tempfile.TemporaryDirectory(prefix="mozdef-bench-") as folder:
        database = Path(folder) / "events.sqlite3"
        config = Path(folder) / "mozdef.toml"
        config.write_text(worker_config(settings, database), encoding="utf-8")
        processes = [
            subprocess.Popen([sys.executable, "-c", WORKER, str(config)]) for _ in range(workers)
        ]
        try:
            wait_for_consumers(settings, workers)
            store = open_store(StoreSection(sqlite=SqliteSettings(path=str(database))))
            with Publisher(settings) as publisher:
                started = time.perf_counter()
                for batch in batches:
                    publisher.accept(batch)
                published = time.perf_counter() - started
            while store.search(Search(size=1)).total < size:
                time.sleep(0.1)
            stored = time.perf_counter() - started
            store.close()
        finally:
            for process in processes:
                process.terminate()
                process.wait()
            delete(settings)
    return size / published, size / stored


def worker_config(settings: RabbitSettings, database: Path) -> str:
    table = "\n".join(
        f"{key} = {toml_value(value)}" for key, value in settings.model_dump().items()
    )
    store = f"[store.sqlite]\npath = {toml_value(str(database))}\n"
    return CONFIG.read_text(encoding="utf-8") + f"\n{store}\n[rabbitmq]\n{table}\n"


def wait_for_consumers(settings: RabbitSettings, workers: int, timeout: float = 30) -> None:
    """Until the workers have declared their queue and are consuming from it."""
    connection = pika.BlockingConnection(pika.URLParameters(settings.url))
    channel = connection.channel()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                declared = channel.queue_declare(settings.queue, passive=True)
                if declared.method.consumer_count >= workers:
                    return
            except pika.exceptions.ChannelClosedByBroker:
                channel = connection.channel()  # not declared yet
            time.sleep(0.1)
        raise SystemExit("the workers did not start consuming")
    finally:
        connection.close()


def delete(settings: RabbitSettings) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(settings.url))
    channel = connection.channel()
    for queue in (settings.queue, settings.dead_letter_queue):
        channel.queue_delete(queue)
    for exchange in (settings.exchange, settings.dead_letter_exchange):
        channel.exchange_delete(exchange)
    connection.close()


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
