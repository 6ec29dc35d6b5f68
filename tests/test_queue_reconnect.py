"""Connections that drop and a broker that restarts mid-stream: the loginput and the
worker reconnect by themselves, and every event the loginput confirmed is stored once."""

import time

import gevent
import pytest
from test_queue_support import (
    PrivateBroker,
    Scratch,
    close_connections,
    free_port,
    sshd_events,
    stored_ids,
    wait_until,
)

from mozdef.core.app import MozDef
from mozdef.core.http.sink import SinkUnavailable
from mozdef.core.ingest import Ingestor
from mozdef.core.query import Search
from mozdef.core.queue.publisher import Publisher
from mozdef.core.queue.settings import RabbitSettings
from mozdef.core.queue.worker import Worker
from mozdef.core.store import Store

pytest_plugins = ["test_queue_support"]


class Stream:
    """A loginput publishing steadily in a greenlet, keeping the ids it got confirmed and
    counting the batches it was refused (503s a client would retry)."""

    def __init__(self, settings: RabbitSettings) -> None:
        self.publisher = Publisher(settings)
        self.confirmed: list[str] = []
        self.refused = 0
        self.running = True
        self.greenlet = gevent.spawn(self.run)

    def run(self) -> None:
        number = 0
        while self.running:
            try:
                results = self.publisher.accept(sshd_events(10, number))
                self.confirmed += [result.doc_id for result in results]
            except SinkUnavailable:
                self.refused += 1
            number += 10
            gevent.sleep(0.005)

    def finish(self) -> list[str]:
        self.running = False
        self.greenlet.get(timeout=30)
        self.publisher.close()
        return self.confirmed


def consume(mozdef: MozDef, store: Store, settings: RabbitSettings):
    worker = Worker(Ingestor(mozdef, store), settings)
    return worker, gevent.spawn(worker.run)


def count(store: Store) -> int:
    return store.search(Search(size=1)).total


def check_stored_once(store: Store, confirmed: list[str]) -> None:
    ids = stored_ids(store)
    assert len(ids) == len(set(ids))
    assert set(confirmed) <= set(ids)


def test_connections_closed_by_the_broker_are_reopened_without_loss(
    scratch: Scratch, mozdef: MozDef, store: Store
) -> None:
    settings = scratch.settings(events_per_message=10, batch_linger=0.01)
    stream = Stream(settings)
    worker, greenlet = consume(mozdef, store, settings)
    try:
        wait_until(lambda: count(store) >= 300, 20, "the stream to flow")
        assert close_connections(stream.publisher.link.name) == 1
        assert close_connections(worker.link.name) == 1
        stored_at_close = count(store)
        wait_until(lambda: count(store) >= stored_at_close + 500, 20, "the stream to resume")
        confirmed = stream.finish()
        wait_until(lambda: count(store) >= len(set(confirmed)), 20, "every confirmed event")
    finally:
        worker.stop()
        greenlet.join(timeout=10)
    assert stream.refused == 0  # republished on the new connection within confirm_timeout
    check_stored_once(store, confirmed)
    assert scratch.depth(settings.queue) == 0


def test_a_broker_killed_and_restarted_mid_stream_loses_nothing_confirmed(
    private_broker: PrivateBroker, mozdef: MozDef, store: Store
) -> None:
    names = Scratch(private_broker.url)  # the node is thrown away with its queues
    settings = names.settings(events_per_message=10, batch_linger=0.01, confirm_timeout=30.0)
    stream = Stream(settings)
    worker, greenlet = consume(mozdef, store, settings)
    try:
        wait_until(lambda: count(store) >= 300, 20, "the stream to flow")
        private_broker.kill()
        gevent.sleep(0.5)
        private_broker.start()
        stored_at_restart = count(store)
        wait_until(lambda: count(store) >= stored_at_restart + 300, 30, "the stream to resume")
        confirmed = stream.finish()
        wait_until(lambda: count(store) >= len(set(confirmed)), 30, "every confirmed event")
    finally:
        worker.stop()
        greenlet.join(timeout=10)
    check_stored_once(store, confirmed)
    assert names.depth(settings.queue) == 0


def test_without_a_broker_the_loginput_refuses_within_the_confirm_timeout(
    scratch: Scratch,
) -> None:
    nowhere = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    settings = scratch.settings(url=nowhere, confirm_timeout=0.5)
    with Publisher(settings) as publisher:
        started = time.monotonic()
        with pytest.raises(SinkUnavailable, match="did not confirm 1 message"):
            publisher.accept(sshd_events(5))
        assert time.monotonic() - started < 2
