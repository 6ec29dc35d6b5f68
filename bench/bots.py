"""Alert latency, end to end: from the HTTP POST of the event that completes a real-time
aggregation to the alert's line in the IRC channel.

A real ngircd (the IRC tests' own set-up, installed if missing) and a person in the
channel; MozDef in this process (`BackgroundServer`, the embedded store, the IRC bot
enabled); a real-time rule that fires on the third failed login from one address. Each
of 100 rounds posts two events from a new address, then times the third: from just
before its POST to the moment the person's connection has the line. Flood control is
set loose enough not to hold any line back: what is measured is MozDef's path.
"""

import json
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import gevent

from bench.pipeline import ROOT
from mozdef.core.config import load_config
from mozdef.core.http.server import BackgroundServer
from mozdef.core.timestamps import isoformat

sys.path.insert(0, str(ROOT / "tests"))
from irc_support import ChatClient, IRCServer, bot_config

ROUNDS = 100
CHANNEL = "#alerts"
RULE = """
kind = "aggregation"
filters = { category = "authentication" }
field = "details.sourceipaddress"
threshold = 3
window = "5m"
category = "bruteforce"
severity = "WARNING"
summary = "{count} failed logins from {value}"
schedule = "1h"
realtime = true
"""


def failures(address: str, count: int) -> bytes:
    now = isoformat(datetime.now(UTC))
    event = {
        "utctimestamp": now,
        "category": "authentication",
        "summary": "login failed",
        "details": {"sourceipaddress": address},
    }
    return json.dumps([event] * count).encode()


def post(url: str, body: bytes) -> None:
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def run() -> None:
    for delay in (0.2, 0.0):  # the default gathering delay of real-time rules, and none
        latencies = rounds(delay)
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(
            f"HTTP POST to IRC line, {ROUNDS} real-time alerts, realtime_delay {delay:g} s: "
            f"p50 {statistics.median(latencies) * 1e3:,.0f} ms, p99 {p99 * 1e3:,.0f} ms, "
            f"max {latencies[-1] * 1e3:,.0f} ms"
        )


def rounds(delay: float) -> list[float]:
    """The sorted latencies of ROUNDS alerts."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "rules").mkdir()
        (folder / "rules" / "logins.toml").write_text(RULE)
        server = IRCServer(folder)
        server.start()
        try:
            settings = {"channels": [{"name": CHANNEL}], "default_channel": CHANNEL}
            settings |= {"flood_burst": 1000, "flood_rate": 1000.0}
            alerts = (
                f'[alerts]\nrules_folder = "{folder / "rules"}"\nstate_file = ""\n'
                f"realtime_delay = {delay}\n"
            )
            toml = bot_config(folder, server, "mozdefbot", settings, alerts)
            (folder / "mozdef.toml").write_text(toml)
            person = ChatClient(server, "responder", {CHANNEL: ""})
            with BackgroundServer(load_config(folder / "mozdef.toml", {})) as (host, port):
                url = f"http://{host}:{port}/events"
                wait_for(
                    lambda: any(" JOIN " in line and "mozdefbot" in line for line in person.lines)
                )
                latencies = [measure(person, url, round_) for round_ in range(ROUNDS)]
            person.close()
        finally:
            server.stop()
    return sorted(latencies)


def measure(person: ChatClient, url: str, round_: int) -> float:
    address = f"203.0.{round_ // 250}.{round_ % 250 + 1}"
    post(url, failures(address, 2))
    before = len(person.lines)
    started = time.perf_counter()
    post(url, failures(address, 1))
    wait_for(lambda: any(address in line for line in person.lines[before:]))
    return time.perf_counter() - started


def wait_for(condition: Callable[[], bool]) -> None:
    """Poll often: the person's greenlet records lines while this one sleeps."""
    deadline = time.monotonic() + 10
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("nothing reached the IRC channel within 10 s")
        gevent.sleep(0.001)
