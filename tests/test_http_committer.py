"""Group commit: the batches of concurrent requests share commits, each request gets its
own results, and a failed commit fails every request in it and nothing else."""

import gevent
import pytest
from test_http_support import make_config, stored

from mozdef.core.app import MozDef
from mozdef.core.http.committer import Committer
from mozdef.core.http.metrics import Histogram
from mozdef.core.http.sink import SinkUnavailable
from mozdef.core.ingest import Ingestor, RawEvent, Result, Status
from mozdef.core.store import StoreUnavailable
from mozdef.core.stores import open_store
from mozdef.core.storethread import StoreThread


class Recorder:
    """An ingest step that takes a while, as a commit does, and records each group."""

    def __init__(self, fail_with: Exception | None = None) -> None:
        self.groups: list[list[object]] = []
        self.fail_with = fail_with

    def __call__(self, events: list[RawEvent]) -> list[Result]:
        self.groups.append([raw.value for raw in events])
        gevent.sleep(0.01)
        if self.fail_with is not None:
            raise self.fail_with
        return [Result(Status.STORED, doc_id=f"id-{raw.value}") for raw in events]


def batches(count: int, size: int = 1) -> list[list[RawEvent]]:
    return [[RawEvent(f"{n}.{i}", "test") for i in range(size)] for n in range(count)]


def accept_all(committer: Committer, work: list[list[RawEvent]]) -> list[gevent.Greenlet]:
    greenlets = [gevent.spawn(committer.accept, batch) for batch in work]
    gevent.joinall(greenlets)
    return greenlets


def test_concurrent_batches_share_commits_and_each_gets_its_own_results():
    ingest = Recorder()
    committer = Committer(ingest)
    work = batches(50, size=2)
    greenlets = accept_all(committer, work)
    committer.close()
    for batch, greenlet in zip(work, greenlets, strict=True):
        assert [result.doc_id for result in greenlet.get()] == [f"id-{raw.value}" for raw in batch]
    assert len(ingest.groups) < 5  # 50 requests, a handful of commits
    assert sorted(value for group in ingest.groups for value in group) == sorted(
        raw.value for batch in work for raw in batch
    )


def test_a_group_holds_at_most_max_events_but_never_splits_a_batch():
    ingest = Recorder()
    committer = Committer(ingest, max_events=10)
    accept_all(committer, batches(12, size=4) + batches(1, size=25))
    committer.close()
    assert all(len(group) <= 10 or len(group) == 25 for group in ingest.groups)
    assert sum(len(group) for group in ingest.groups) == 12 * 4 + 25


def test_an_unavailable_store_fails_every_request_of_the_group():
    committer = Committer(Recorder(fail_with=StoreUnavailable("disk full")))
    greenlets = accept_all(committer, batches(5))
    committer.close()
    for greenlet in greenlets:
        with pytest.raises(SinkUnavailable, match="disk full"):
            greenlet.get()


def test_closing_commits_what_is_queued_then_refuses():
    ingest = Recorder()
    committer = Committer(ingest)
    greenlets = [gevent.spawn(committer.accept, batch) for batch in batches(3)]
    gevent.sleep(0)  # queued, not yet committed
    committer.close()
    assert [len(greenlet.get()) for greenlet in greenlets] == [1, 1, 1]
    with pytest.raises(SinkUnavailable, match="shutting down"):
        committer.accept(batches(1)[0])


def test_many_single_events_into_sqlite_take_few_commits(tmp_path):
    config = make_config(tmp_path)
    latency = Histogram("commits", "store writes", (1.0,))
    with MozDef(config) as mozdef:
        store = StoreThread(lambda: open_store(config.settings.store), latency)
        committer = Committer(Ingestor(mozdef, store).ingest)
        work = [[RawEvent({"summary": f"login {n}", "hostname": "h1"}, "test")] for n in range(200)]
        greenlets = accept_all(committer, work)
        committer.close()
        store.close()
    assert all(greenlet.get()[0].status is Status.STORED for greenlet in greenlets)
    assert len(stored(config)) == 200
    assert sum(latency.counts) < 50  # commits: far fewer than requests
