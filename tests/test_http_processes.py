"""Several server processes on one port (`[server] processes`): they share the load and
the store, /metrics adds them up, one that dies is replaced, and SIGTERM stops them all
gracefully. Run as a real process tree, as `mozdef run` would run it."""

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
from test_http_support import Client, make_config, stored

pytest_plugins = ["test_http_support"]

SERVE = """
import sys
from mozdef.core.config import load_config
from mozdef.core.http.server import serve
from mozdef.core.logs import configure_logging

config = load_config(sys.argv[1])
configure_logging("INFO")
serve(config)
"""
BATCH = b"".join(
    b'{"index": {}}\n' + orjson.dumps({"hostname": "h", "summary": f"event {n}"}) + b"\n"
    for n in range(50)
)


def children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def wait_for(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def send_batches(address: tuple[str, int], count: int) -> list[int]:
    def one(_: int) -> int:
        client = Client(address)
        try:
            return client.post("/_bulk", BATCH, "application/x-ndjson").status
        finally:
            client.close()

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(one, range(count)))


def metric(address: tuple[str, int], sample: str) -> float:
    text = Client(address).request("GET", "/metrics").body.decode()
    values = dict(line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    return float(values[sample])


def test_server_processes_share_the_port_the_store_and_the_metrics(tmp_path):
    config = make_config(tmp_path, "processes = 2\n")
    log = tmp_path / "server.log"
    with log.open("w") as output:
        parent = subprocess.Popen([sys.executable, "-c", SERVE, config.source], stderr=output)
    try:
        wait_for(lambda: "listening on" in log.read_text())
        port = int(log.read_text().split("listening on http://127.0.0.1:")[1].split()[0])
        address = ("127.0.0.1", port)
        wait_for(lambda: len(children(parent.pid)) == 2)
        assert send_batches(address, 20) == [200] * 20
        time.sleep(1.2)  # every process has published its metrics since
        stored_sample = 'mozdef_http_events_total{endpoint="bulk",outcome="stored"}'
        assert metric(address, stored_sample) == 1000

        first = children(parent.pid)
        os.kill(min(first), signal.SIGKILL)
        wait_for(lambda: len(children(parent.pid)) == 2 and children(parent.pid) != first)
        assert send_batches(address, 4) == [200] * 4
        time.sleep(1.2)
        assert metric(address, stored_sample) == 1200  # the dead one's counts still count

        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=15) == 0
    finally:
        parent.kill()
        parent.wait()
    assert len(stored(config)) == 1200
    assert "ended (exit -9); starting another" in log.read_text()


def test_processes_that_cannot_start_stop_the_server(tmp_path):
    (tmp_path / "var").write_text("a file where the store's folder should be")
    config = make_config(tmp_path, "processes = 2\n")
    finished = subprocess.run(
        [sys.executable, "-c", SERVE, config.source], capture_output=True, text=True, timeout=60
    )
    assert finished.returncode != 0
    assert "server processes keep ending as they start" in finished.stderr
    assert "cannot open" in finished.stderr  # each process said why
