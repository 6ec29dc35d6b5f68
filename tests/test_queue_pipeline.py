"""Queue mode end to end in one process: the loginput's publisher -> a real RabbitMQ ->
a worker -> a real SQLite store; dead letters, and a store that is unavailable."""

import sqlite3
from collections.abc import Iterator, Sequence

import gevent
import orjson
import pika
import pytest
from test_queue_support import Scratch, sshd_events, stored_ids, wait_until

from mozdef.core.app import MozDef
from mozdef.core.ingest import Ingestor, RawEvent, Status
from mozdef.core.query import Search, Term
from mozdef.core.queue.messages import MESSAGE_TYPE
from mozdef.core.queue.publisher import Publisher
from mozdef.core.queue.settings import RabbitSettings
from mozdef.core.queue.worker import REASON_HEADER, Worker
from mozdef.core.store import Document, Outcome, Store
from mozdef.core.stores import StoreSection, open_store
from mozdef.core.stores.sqlite import SqliteSettings

pytest_plugins = ["test_queue_support"]


@pytest.fixture
def settings(scratch: Scratch) -> RabbitSettings:
    return scratch.settings(events_per_message=50, batch_linger=0.01)


@pytest.fixture
def publisher(settings: RabbitSettings) -> Iterator[Publisher]:
    with Publisher(settings) as opened:
        yield opened


def run_worker(mozdef: MozDef, store: Store, settings: RabbitSettings):
    worker = Worker(Ingestor(mozdef, store), settings)
    return worker, gevent.spawn(worker.run)


def stop(worker: Worker, greenlet: gevent.Greenlet) -> None:
    worker.stop()
    greenlet.join(timeout=10)
    assert greenlet.dead


def test_confirmed_events_are_stored_under_the_ids_the_loginput_gave(
    publisher, mozdef, store, settings, scratch
) -> None:
    batch = [
        *sshd_events(120),
        RawEvent({"summary": "with the sender's id", "details": {"seq": -1}}, "test", "bulk-1"),
        RawEvent({"Action": "login", "User": "bob"}, "test", application="myapp"),
    ]
    results = publisher.accept(batch)
    assert [result.status for result in results] == [Status.QUEUED] * len(batch)
    assert results[120].doc_id == "bulk-1"
    assert len({result.doc_id for result in results}) == len(batch)

    worker, greenlet = run_worker(mozdef, store, settings)
    wait_until(lambda: store.search(Search(size=1)).total == len(batch), 20, "the events")
    stop(worker, greenlet)

    assert sorted(stored_ids(store)) == sorted(result.doc_id for result in results)
    first = store.search(Search(Term("details.seq", 0))).hits[0]
    assert first.doc_id == results[0].doc_id
    assert first.event["summary"].startswith("Accepted publickey for user0 from 10.1.0.7")
    assert first.event["hostname"] == "bastion0.example.com"
    assert first.event["mozdefhostname"] == "worker.mozdef.test"
    custom = store.search(Search(Term("customendpoint", "myapp"))).hits[0]
    assert custom.event["user"] == "bob"
    assert scratch.depth(settings.queue) == 0  # every message acknowledged
    assert scratch.depth(settings.dead_letter_queue) == 0


def test_items_that_are_not_objects_are_rejected_at_once(publisher) -> None:
    results = publisher.accept(
        [RawEvent([1, 2], "test"), RawEvent("text", "test"), *sshd_events(1)]
    )
    assert [result.status for result in results] == [
        Status.REJECTED,
        Status.REJECTED,
        Status.QUEUED,
    ]
    assert "JSON object" in results[0].reason


def test_messages_that_can_never_be_processed_are_dead_lettered_once_with_the_reason(
    publisher, mozdef, store, settings, scratch
) -> None:
    deep: dict = {}
    node = deep
    for _ in range(200):  # far past the normaliser's nesting limit
        node["next"] = {}
        node = node["next"]
    good = sshd_events(3)
    publisher.accept([good[0], RawEvent({"summary": "too deep", "details": deep}, "test"), good[1]])
    plain = pika.BasicProperties(delivery_mode=2, message_id="external-1")
    scratch.publish(settings.exchange, settings.routing_key, b"not json {", plain)
    scratch.publish(
        settings.exchange,
        settings.routing_key,
        b'{"not": "a list"}',
        pika.BasicProperties(delivery_mode=2, type=MESSAGE_TYPE),
    )
    scratch.publish(
        settings.exchange,
        settings.routing_key,
        orjson.dumps(good[2].value),
        pika.BasicProperties(delivery_mode=2, message_id="plain-json-event"),
    )

    worker, greenlet = run_worker(mozdef, store, settings)
    wait_until(lambda: scratch.depth(settings.dead_letter_queue) == 3, 20, "3 dead letters")
    wait_until(lambda: store.search(Search(size=1)).total == 3, 20, "the good events")
    gevent.sleep(0.5)  # time enough for any redelivery loop to show itself
    stop(worker, greenlet)

    assert scratch.depth(settings.queue) == 0
    letters = scratch.take_all(settings.dead_letter_queue)
    assert len(letters) == 3  # each once: no redelivery loop
    reasons = sorted(properties.headers[REASON_HEADER] for properties, _body in letters)
    assert reasons[0].startswith("a mozdef.raw-events.v1 message must be a JSON array")
    assert "nest" in reasons[1] or "depth" in reasons[1]
    assert reasons[2].startswith("not JSON")
    by_reason = {
        properties.headers[REASON_HEADER]: (properties, body) for properties, body in letters
    }
    properties, body = by_reason[reasons[2]]
    assert body == b"not json {"
    assert properties.headers["x-mozdef-message-id"] == "external-1"
    properties, body = by_reason[reasons[1]]
    assert orjson.loads(body)["summary"] == "too deep"  # the rejected event alone
    assert properties.headers["x-mozdef-queue"] == settings.queue
    assert "plain-json-event" in stored_ids(store)


class StoreWrapper:
    """The real store, with a test's fault injected around its writes."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def write(self, documents: Sequence[Document]) -> list[Outcome]:
        return self.store.write(documents)

    def search(self, search: Search):
        return self.store.search(search)

    def close(self) -> None:
        self.store.close()


def test_a_batch_the_store_cannot_take_goes_back_to_the_queue(
    publisher, mozdef, settings, scratch, tmp_path
) -> None:
    path = tmp_path / "locked.sqlite3"
    store = open_store(StoreSection(sqlite=SqliteSettings(path=str(path), lock_timeout=0.2)))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process is writing: the store is unavailable
    try:
        results = publisher.accept(sshd_events(100))
        worker, greenlet = run_worker(mozdef, store, settings)
        gevent.sleep(1.5)
        assert store.search(Search(size=1)).total == 0  # nothing stored, nothing lost
        holder.execute("ROLLBACK")
        wait_until(lambda: store.search(Search(size=1)).total == 100, 30, "the events")
        stop(worker, greenlet)
        assert sorted(stored_ids(store)) == sorted(result.doc_id for result in results)
    finally:
        holder.close()
        store.close()
    assert scratch.depth(settings.queue) == 0
    assert scratch.depth(settings.dead_letter_queue) == 0


class BrokenOnMarker(StoreWrapper):
    """A store that fails outright (not 'unavailable') on one particular event."""

    def write(self, documents: Sequence[Document]) -> list[Outcome]:
        if any(document.event["details"].get("seq") == 13 for document in documents):
            raise RuntimeError("cannot store event 13")
        return self.store.write(documents)


def test_a_message_that_makes_processing_fail_is_found_and_dead_lettered(
    publisher, mozdef, store, settings, scratch
) -> None:
    for start in range(0, 100, 10):  # ten messages of ten events
        publisher.accept(sshd_events(10, start))
    worker, greenlet = run_worker(mozdef, BrokenOnMarker(store), settings)
    wait_until(lambda: scratch.depth(settings.dead_letter_queue) == 1, 20, "the dead letter")
    wait_until(lambda: store.search(Search(size=1)).total == 90, 20, "the other events")
    stop(worker, greenlet)
    [(properties, body)] = scratch.take_all(settings.dead_letter_queue)
    assert "cannot store event 13" in properties.headers[REASON_HEADER]
    assert [item["event"]["details"]["seq"] for item in orjson.loads(body)] == list(range(10, 20))
    assert scratch.depth(settings.queue) == 0


class CrashAfterCommit(StoreWrapper):
    """Commits the first batch, then drops the worker's connection before it can
    acknowledge: the window in which a crash makes the broker redeliver stored events."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.worker: Worker | None = None
        self.written: list[str] = []

    def write(self, documents: Sequence[Document]) -> list[Outcome]:
        outcomes = self.store.write(documents)
        if not self.written:
            self.worker.link.connection.close()
        self.written += [document.doc_id for document in documents]
        return outcomes


def test_redelivered_events_overwrite_instead_of_duplicating(
    publisher, mozdef, store, settings, scratch
) -> None:
    results = publisher.accept(sshd_events(200))
    crashing = CrashAfterCommit(store)
    worker, greenlet = run_worker(mozdef, crashing, settings)
    crashing.worker = worker
    wait_until(lambda: len(crashing.written) >= 400, 20, "the redelivery")
    stop(worker, greenlet)
    assert len(set(crashing.written)) < len(crashing.written)  # some were stored twice
    ids = stored_ids(store)
    assert sorted(ids) == sorted(result.doc_id for result in results)  # each once
    assert scratch.depth(settings.queue) == 0
