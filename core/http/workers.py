"""Several server processes on one port, so that the server can use more than one core.

One Python process runs its pipeline on one core at a time (the GIL); processing and
storing events cost tens of microseconds each, so a busy server needs more. With
`[server] processes = N` the parent binds the port, forks N server processes that all
accept on it, and supervises them: one that dies is replaced, SIGTERM and SIGINT are
passed on, and the parent exits once every server process has shut down gracefully.
Each server process has its own pipeline, store connection and group commit; SQLite
lets their commits take turns on the one file. The first process (slot 0) also runs
the alert rules and the bots, so that each alert is raised and sent once; real-time
rules see only the events that process stores, the others' are caught by the rules'
schedules.

`/metrics` is answered by whichever process takes the request, so each process writes
a snapshot of its metrics to a folder every second and when scraped, and answers with
the sum of all of them. The snapshot of a process that ended keeps its counters (a
counter never goes back) but loses its gauges.

A process that cannot start (a plugin failing at start-up, say) would fail again: after
three in a row end within seconds of starting, the parent stops the others and raises.
"""

import contextlib
import logging
import os
import shutil
import signal
import socket
import tempfile
import time
from pathlib import Path

import gevent
import orjson

from mozdef.core.config import Config, ConfigError
from mozdef.core.http.metrics import Family, Registry, merge, render

logger = logging.getLogger(__name__)

PUBLISH_SECONDS = 1.0
RESTART_DELAY = 1.0
EARLY_SECONDS = 10.0  # a process that ends sooner than this after starting failed to start
EARLY_FAILURES = 3  # so many in a row, and the server gives up instead of looping
BACKLOG = 1024


class SharedMetrics:
    """This process's metrics, published for the others and rendered with theirs."""

    def __init__(self, registry: Registry, folder: Path) -> None:
        self.registry = registry
        self.folder = folder
        self.path = folder / f"{os.getpid()}.json"
        self.publisher = gevent.spawn(self.publish_every, PUBLISH_SECONDS)

    def publish(self) -> None:
        partial = self.path.with_suffix(".partial")
        partial.write_bytes(orjson.dumps(self.registry.families()))
        partial.replace(self.path)  # readers see a whole snapshot or the previous one

    def publish_every(self, seconds: float) -> None:
        while True:
            gevent.sleep(seconds)
            self.publish()

    def render(self) -> bytes:
        self.publish()
        snapshots = []
        for path in self.folder.glob("*.json"):
            try:
                snapshots.append(orjson.loads(path.read_bytes()))
            except (OSError, orjson.JSONDecodeError):  # its process is being retired
                continue
        return render(merge(snapshots))

    def close(self) -> None:
        self.publisher.kill()
        self.publish()


def retire(folder: Path, pid: int) -> None:
    """Drop the gauges of an ended process's snapshot; its counters still count."""
    path = folder / f"{pid}.json"
    try:
        families: list[Family] = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return
    kept = [family for family in families if family[1] != "gauge"]
    path.write_bytes(orjson.dumps(kept))


def listen(config: Config) -> socket.socket:
    """The listening socket the server processes share."""
    settings = config.settings.server
    family = socket.AF_INET6 if ":" in settings.bind else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((settings.bind, settings.port))
        listener.listen(BACKLOG)
        listener.setblocking(False)  # the processes race to accept; losers must not block
    except OSError as exc:
        listener.close()
        raise cannot_listen(config, exc) from None
    return listener


def cannot_listen(config: Config, exc: OSError) -> ConfigError:
    settings = config.settings.server
    where = f"{settings.bind}:{settings.port}"
    return ConfigError(
        config.source, [f"server.bind/port: cannot listen on {where}: {exc.strerror or exc}"]
    )


def serve_processes(config: Config) -> None:
    """Run `processes` server processes on one port until SIGTERM or SIGINT."""
    from mozdef.core.http.server import listening, serve_one, tls_arguments

    count = config.settings.server.processes
    tls_arguments(config)  # a bad certificate stops start-up here, not in every process
    listener = listen(config)
    folder = Path(tempfile.mkdtemp(prefix="mozdef-metrics-"))
    children: dict[int, int] = {}  # pid -> slot
    started: dict[int, float] = {}  # slot -> when its process started
    stopping = False
    failures = 0  # processes in a row that ended soon after starting
    failed: RuntimeError | None = None

    def start(slot: int) -> None:
        started[slot] = time.monotonic()
        pid = os.fork()
        if pid == 0:  # the server process
            status = 1
            try:
                gevent.reinit()
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                serve_one(config, None, listener, folder, alerts=slot == 0)
                status = 0
            except BaseException:
                logger.exception("server process %d failed", slot)
            finally:
                os._exit(status)
        children[pid] = slot

    def stop(number: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            with contextlib.suppress(ProcessLookupError):  # it has just ended
                os.kill(pid, signal.SIGTERM)

    for slot in range(count):
        start(slot)
    previous = {number: signal.signal(number, stop) for number in (signal.SIGTERM, signal.SIGINT)}
    logger.info("%s with %d processes", listening(listener.getsockname(), config), count)
    try:
        while children:
            pid, status = os.wait()
            slot = children.pop(pid, None)
            retire(folder, pid)
            if slot is None or stopping:
                continue
            code = os.waitstatus_to_exitcode(status)
            early = time.monotonic() - started[slot] < EARLY_SECONDS
            failures = failures + 1 if early else 0
            if failures >= EARLY_FAILURES:
                stop(signal.SIGTERM, None)
                failed = RuntimeError("server processes keep ending as they start: see the log")
                continue
            logger.error("server process %d ended (exit %d); starting another", pid, code)
            time.sleep(RESTART_DELAY)
            start(slot)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        listener.close()
        shutil.rmtree(folder, ignore_errors=True)
    if failed is not None:
        raise failed
