"""The HTTP ingest server end to end: events over real sockets into SQLite.

A real server process (`serve`, the default chain of `mozdef.bench.toml`, a fresh
SQLite file) is loaded by wrk, a C load generator run as a second process (Debian's
`wrk` package: `apt-get install -y wrk`), keeping connections alive:

- `/_bulk` with 1,000-event requests (the mixed corpus of `bench.pipeline`) from 8
  connections: events/s = requests/s x 1,000.
- single-event `POST /events` from 50 connections, cycling through the corpus.

Both are measured with one server process, then with one per core (`[server]
processes`).

Both processes share the machine's cores (the pinning of `python -m bench` is undone
for them). Each figure is the best of `runs` runs; every answer must be a 2xx, and the
events in the store at the end are counted against those acknowledged.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.pipeline import CONFIG, load_corpus
from mozdef.core.query import Search
from mozdef.core.stores.sqlite import SqliteSettings, SqliteStore

BULK_EVENTS = 1000
BULK_CONNECTIONS = 8
SINGLE_CONNECTIONS = 50
SERVE = """
import sys
from mozdef.core.config import load_config
from mozdef.core.http.server import serve
from mozdef.core.logs import configure_logging

config = load_config(sys.argv[1])
configure_logging("INFO")
serve(config)
"""
BULK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-ndjson"
wrk.body = io.open("{body}", "rb"):read("*a")
"""
SINGLE_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
bodies = {{}}
for line in io.lines("{lines}") do bodies[#bodies + 1] = line end
i = 0
request = function()
  i = i % #bodies + 1
  return wrk.format(nil, "/events", nil, bodies[i])
end
"""


def run(duration: int = 10, runs: int = 3) -> None:
    """Both figures with one server process, then with one per core."""
    if shutil.which("wrk") is None:
        print("http: skipped, wrk is not installed (apt-get install -y wrk)")
        return
    lines, _ = load_corpus(BULK_EVENTS)
    with tempfile.TemporaryDirectory(prefix="mozdef-bench-") as folder:
        work = Path(folder)
        bulk = work / "bulk.ndjson"
        bulk.write_bytes(b"".join(b'{"index":{}}\n' + line + b"\n" for line in lines))
        singles = work / "single.ndjson"
        singles.write_bytes(b"\n".join(lines) + b"\n")
        (work / "bulk.lua").write_text(BULK_SCRIPT.format(body=bulk))
        (work / "single.lua").write_text(SINGLE_SCRIPT.format(lines=singles))
        print(f"load generator: wrk, 2 threads, {duration} s per run, best of {runs}")
        for processes in sorted({1, os.cpu_count() or 1}):
            measure(work / f"run-{processes}", processes, duration, runs)


def measure(folder: Path, processes: int, duration: int, runs: int) -> None:
    folder.mkdir()
    store = folder / "events.sqlite3"
    config = folder / "mozdef.toml"
    server_table = f"[server]\nport = 0\nprocesses = {processes}\n"
    config.write_text(f'{CONFIG.read_text()}\n{server_table}\n[store.sqlite]\npath = "{store}"\n')
    server, url = start_server(config)
    try:
        scripts = folder.parent
        bulk_rates, bulk_done = load(
            url + "/_bulk", scripts / "bulk.lua", BULK_CONNECTIONS, duration, runs
        )
        single_rates, single_done = load(
            url + "/events", scripts / "single.lua", SINGLE_CONNECTIONS, duration, runs
        )
        peak = peak_memory(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    kept = count_stored(store)
    expected = bulk_done * BULK_EVENTS + single_done
    print(f"server processes: {processes}")
    print(
        f"  /_bulk, {BULK_EVENTS}-event requests, {BULK_CONNECTIONS} connections: "
        f"{max(bulk_rates) * BULK_EVENTS:>8,.0f} events/s "
        f"(runs: {', '.join(f'{rate * BULK_EVENTS:,.0f}' for rate in bulk_rates)})"
    )
    print(
        f"  POST /events, one event each, {SINGLE_CONNECTIONS} connections: "
        f"{max(single_rates):>6,.0f} requests/s "
        f"(runs: {', '.join(f'{rate:,.0f}' for rate in single_rates)})"
    )
    print(f"  peak resident memory, all server processes: {peak / 1024:,.0f} MiB")
    # Requests cut off at the end of a run may be stored without wrk counting them.
    verdict = "none lost" if kept >= expected else "EVENTS LOST"
    print(f"  events in the store: {kept:,}; acknowledged to wrk: {expected:,}: {verdict}")


def start_server(config: Path) -> tuple[subprocess.Popen, str]:
    """The server in a process of its own, on every core, logging to a file beside its
    configuration; returns the process and its URL."""
    log = config.with_name("server.log")
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(config)],
            env={**os.environ, "MOZDEF_CONFIG": ""},
            stderr=output,
            preexec_fn=on_every_core,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        found = re.search(r"listening on (http://\S+)", log.read_text())
        if found:
            return server, found[1]
        time.sleep(0.1)
    server.kill()
    raise SystemExit(f"the server did not start:\n{log.read_text()}")


def load(
    url: str, script: Path, connections: int, duration: int, runs: int
) -> tuple[list[float], int]:
    """Requests per second of each run, and the requests completed in all."""
    rates, done = [], 0
    for _ in range(runs):
        command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "-s", str(script), url]
        output = subprocess.run(
            command, capture_output=True, text=True, check=True, preexec_fn=on_every_core
        ).stdout
        failed = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
        if failed:
            raise SystemExit(f"{url}: {failed[1]} answers were not 2xx")
        rates.append(float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1]))
        done += int(re.search(r"(\d+) requests in", output)[1])
    return rates, done


def on_every_core() -> None:
    os.sched_setaffinity(0, range(os.cpu_count() or 1))


def peak_memory(pid: int) -> int:
    """Peak resident set sizes of a process and of its children, added up, in KiB."""
    total = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        parent = int(re.search(r"PPid:\s+(\d+)", text)[1])
        if status.parent.name == str(pid) or parent == pid:
            total += int(re.search(r"VmHWM:\s+(\d+) kB", text)[1])
    return total


def count_stored(path: Path) -> int:
    store = SqliteStore(SqliteSettings(path=str(path)))
    try:
        return store.search(Search(size=0)).total
    finally:
        store.close()
