"""Worker and loginput processes, run as `mozdef run --role worker|loginput` runs them:
a worker killed with -9 mid-stream and restarted loses and duplicates nothing that was
confirmed, even to an HTTP client; several workers share one queue."""

import http.client
from collections.abc import Iterator
from pathlib import Path

import gevent
import orjson
import pytest
from test_queue_support import (
    RoleProcess,
    Scratch,
    free_port,
    listening,
    sqlite_store,
    sshd_events,
    stored_ids,
    wait_until,
    write_role_config,
)

from mozdef.core.query import Search
from mozdef.core.queue.publisher import Publisher
from mozdef.core.store import Store

pytest_plugins = ["test_queue_support"]

NDJSON = {"Content-Type": "application/x-ndjson"}


@pytest.fixture
def processes() -> Iterator[list[RoleProcess]]:
    """The processes a test starts, killed at the end whatever happened."""
    started: list[RoleProcess] = []
    yield started
    for process in started:
        if process.process.poll() is None:
            process.kill()


def count(store: Store) -> int:
    return store.search(Search(size=1)).total


def publish_steadily(publisher: Publisher, total: int, per_call: int) -> list[str]:
    """What a busy loginput does: batch after batch, each confirmed before the next."""
    confirmed: list[str] = []
    for start in range(0, total, per_call):
        results = publisher.accept(sshd_events(per_call, start))
        confirmed += [result.doc_id for result in results]
        gevent.sleep(0.002)
    return confirmed


def test_a_worker_killed_mid_stream_and_restarted_loses_and_duplicates_nothing(
    scratch: Scratch, tmp_path: Path, processes: list[RoleProcess]
) -> None:
    settings = scratch.settings(events_per_message=20, prefetch=10, batch_size=200)
    database = tmp_path / "events.sqlite3"
    config = write_role_config(tmp_path / "mozdef.toml", settings, database)
    log = tmp_path / "worker.log"
    store = sqlite_store(database)
    with Publisher(settings) as publisher:
        producer = gevent.spawn(publish_steadily, publisher, 6000, 20)
        processes.append(RoleProcess(config, log))
        wait_until(lambda: count(store) >= 1000, 30, "the first worker to store 1,000 events")
        processes[0].kill()
        assert count(store) < 6000, "the stream was over before the kill"
        processes.append(RoleProcess(config, log))
        confirmed = producer.get(timeout=30)
        wait_until(lambda: count(store) >= len(confirmed), 30, "every confirmed event")
    assert processes[1].stop() == 0  # a clean shutdown on SIGTERM

    ids = stored_ids(store)
    assert len(ids) == len(set(ids)) == len(confirmed) == 6000
    assert set(ids) == set(confirmed)
    assert scratch.depth(settings.queue) == 0
    store.close()


def test_several_workers_on_one_queue_share_the_load(
    scratch: Scratch, tmp_path: Path, processes: list[RoleProcess]
) -> None:
    settings = scratch.settings(events_per_message=10, prefetch=2, batch_size=20)
    stores = []
    for number in range(2):
        database = tmp_path / f"worker{number}.sqlite3"
        config = write_role_config(tmp_path / f"worker{number}.toml", settings, database)
        processes.append(RoleProcess(config, tmp_path / f"worker{number}.log"))
        stores.append(sqlite_store(database))
    with Publisher(settings) as publisher:
        confirmed = publish_steadily(publisher, 3000, 10)
    wait_until(lambda: sum(map(count, stores)) >= 3000, 30, "every event")
    for worker in processes:
        assert worker.stop() == 0

    shares = [set(stored_ids(store)) for store in stores]
    assert all(len(share) >= 300 for share in shares), [len(share) for share in shares]
    assert not shares[0] & shares[1]  # each message went to one worker
    assert shares[0] | shares[1] == set(confirmed)
    for store in stores:
        store.close()


def bulk_request(first: int, count: int) -> bytes:
    """A /_bulk body as a shipper sends it: an action line, then the document."""
    lines = []
    for event in sshd_events(count, first):
        lines += [b'{"index": {"_index": "events"}}', orjson.dumps(event.value)]
    return b"\n".join(lines) + b"\n"


def test_every_event_a_client_got_a_2xx_for_is_stored_though_a_worker_was_killed(
    scratch: Scratch, tmp_path: Path, processes: list[RoleProcess]
) -> None:
    settings = scratch.settings(events_per_message=25, prefetch=4, batch_size=100)
    database = tmp_path / "events.sqlite3"
    port = free_port()
    config = write_role_config(tmp_path / "mozdef.toml", settings, database, http_port=port)
    processes.append(RoleProcess(config, tmp_path / "loginput.log", role="loginput"))
    processes.append(RoleProcess(config, tmp_path / "worker.log"))
    loginput = processes[0].process
    wait_until(lambda: listening(port) or loginput.poll() is not None, 30, "the loginput")
    assert loginput.poll() is None, (tmp_path / "loginput.log").read_text()
    store = sqlite_store(database)
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    acknowledged: list[str] = []
    for request in range(60):
        client.request("POST", "/_bulk", bulk_request(request * 50, 50), NDJSON)
        response = client.getresponse()
        answer = orjson.loads(response.read())
        assert response.status == 200 and not answer["errors"], answer
        acknowledged += [item["index"]["_id"] for item in answer["items"]]
        if request == 30:
            wait_until(lambda: count(store) > 0, 30, "the worker to store events")
            processes[1].kill()
            processes.append(RoleProcess(config, tmp_path / "worker.log"))
    client.close()
    wait_until(lambda: count(store) >= len(acknowledged), 30, "every acknowledged event")
    assert processes[2].stop() == 0
    assert processes[0].stop() == 0

    ids = stored_ids(store)
    assert len(ids) == len(set(ids)) == len(acknowledged) == 3000
    assert set(ids) == set(acknowledged)
    store.close()
