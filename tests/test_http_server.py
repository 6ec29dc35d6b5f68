"""The server's limits and guarantees, each tested against a real server: sizes, time,
overload, an unavailable store, tokens, TLS, unexpected errors, and a graceful
shutdown of a real process on SIGTERM."""

import base64
import gzip
import os
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from test_http_support import Client, make_config, serving, stored

from mozdef.core.config import ConfigError

pytest_plugins = ["test_http_support"]

EVENT = orjson.dumps(
    {"hostname": "web1.example.com", "processname": "nginx", "summary": "GET /index.html 200"}
)


def raw_request(address: tuple[str, int], head: str, body: bytes = b"") -> socket.socket:
    """A connection that sent `head` (request line and headers) and `body`, no more."""
    connection = socket.create_connection(address)
    connection.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
    return connection


def read_until_closed(connection: socket.socket, timeout: float = 5) -> bytes:
    connection.settimeout(timeout)
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    connection.close()
    return received


def post_head(length: int, path: str = "/events") -> str:
    return (
        f"POST {path} HTTP/1.1\nHost: test\nContent-Type: application/json\n"
        f"Content-Length: {length}\n"
    )


def test_a_declared_oversize_body_is_413_before_it_is_sent(tmp_path):
    config = make_config(tmp_path, "max_body_bytes = 65536\n")
    with serving(config) as address:
        started = time.monotonic()
        connection = raw_request(address, post_head(10_000_000))
        answer = read_until_closed(connection)
        assert time.monotonic() - started < 0.5  # it did not wait for the body first
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"Connection: close" in answer
    assert b'"type":"payload_too_large"' in answer


def test_decompressed_and_chunked_sizes_are_limited_too(tmp_path):
    config = make_config(tmp_path, "max_body_bytes = 65536\n")
    with serving(config) as address:
        client = Client(address)
        bomb = gzip.compress(b" " * 50_000_000)  # about 50 KB that inflate to 50 MB
        answer = client.post("/events", bomb, **{"Content-Encoding": "gzip"})
        assert answer.status == 413
        assert "decompresses to over 65536" in answer.json["error"]["reason"]
        client = Client(address)
        pieces = iter([EVENT + b"\n"] * 1000)  # about 80 KB, of unknown length
        answer = client.request("POST", "/events", pieces, chunked=True)
        assert answer.status == 413
        client.close()
    assert stored(config) == []


def test_a_client_that_stops_mid_body_times_out_and_others_are_unaffected(tmp_path):
    config = make_config(tmp_path)  # timeout = 1.0
    with serving(config) as address:
        hung = raw_request(address, post_head(1000), b'{"summary": "half')
        started = time.monotonic()
        for _ in range(5):
            client = Client(address)
            assert client.post("/events", EVENT).status == 200
            client.close()
        assert time.monotonic() - started < 0.9  # served while the other one hangs
        answer = read_until_closed(hung)
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert 0.9 < waited < 4.5
    assert len(stored(config)) == 5


def test_an_idle_connection_is_closed_after_the_timeout(shared):
    _, address = shared
    connection = socket.create_connection(address)
    started = time.monotonic()
    assert read_until_closed(connection) == b""
    assert 0.9 < time.monotonic() - started < 4


def test_overload_is_429_with_retry_after(tmp_path):
    config = make_config(tmp_path, "max_inflight_requests = 1\nretry_after = 7\n")
    with serving(config) as address:
        holder = raw_request(address, post_head(1000), b"{")
        time.sleep(0.2)
        client = Client(address)
        answer = client.post("/events", EVENT)
        assert answer.status == 429
        assert answer.headers["Retry-After"] == "7"
        assert answer.json["error"]["type"] == "too_many_requests"
        assert Client(address).request("GET", "/status").status == 200  # not an event route
        read_until_closed(holder)
        assert Client(address).post("/events", EVENT).status == 200  # the place is free again


def test_bodies_in_flight_are_bounded_in_bytes(tmp_path):
    config = make_config(tmp_path, "max_body_bytes = 4096\nmax_inflight_bytes = 6000\n")
    with serving(config) as address:
        holder = raw_request(address, post_head(4000), b"{")
        time.sleep(0.2)
        answer = Client(address).post("/events", EVENT + b" " * 3000)
        assert answer.status == 429
        assert "max_inflight_bytes" in answer.json["error"]["reason"]
        assert Client(address).post("/events", EVENT).status == 200  # small ones still fit
        read_until_closed(holder)


def test_an_unavailable_store_is_503_and_nothing_is_acknowledged(tmp_path):
    config = make_config(tmp_path, "retry_after = 3\n")  # the store waits 0.2 s for a lock
    with serving(config) as address:
        client = Client(address)
        assert client.post("/events", EVENT).status == 200  # the file exists now
        blocker = sqlite3.connect(config.settings.store.sqlite.path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        answer = client.post("/events", EVENT)
        assert answer.status == 503
        assert answer.headers["Retry-After"] == "3"
        assert "nothing was accepted" in answer.json["error"]["reason"]
        bulk = client.post("/_bulk", b'{"index": {}}\n' + EVENT + b"\n", "application/x-ndjson")
        assert bulk.status == 503
        blocker.execute("ROLLBACK")
        blocker.close()
        assert client.post("/events", EVENT).status == 200
        client.close()
    assert len(stored(config)) == 2


class Exploding:
    """A sink with a bug."""

    def accept(self, batch: object) -> list:
        raise RuntimeError("a bug")

    def close(self) -> None:
        pass


def test_an_unexpected_error_is_500_with_a_json_body(tmp_path, caplog):
    config = make_config(tmp_path)
    with serving(config, Exploding()) as address:
        answer = Client(address).post("/events", EVENT)
    assert answer.status == 500
    assert answer.json == {
        "error": {"type": "internal_error", "reason": "an unexpected error: see the server log"},
        "status": 500,
    }
    assert "RuntimeError: a bug" in caplog.text


def credentials(scheme: str, secret: str) -> dict[str, str]:
    return {"Authorization": f"{scheme} {secret}"}


def encoded(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


TOKEN_CASES = [
    ({}, 401),
    (credentials("Bearer", "s3cret"), 200),
    (credentials("Bearer", "s3cret-not"), 401),
    (credentials("Basic", encoded("filebeat:s3cret")), 200),
    (credentials("Basic", encoded("filebeat:wrong")), 401),
    (credentials("ApiKey", encoded("beats-key:s3cret")), 200),
    (credentials("ApiKey", "not base64!"), 401),
    (credentials("Token", "s3cret"), 401),
]


def test_the_token_from_the_environment(tmp_path):
    config = make_config(tmp_path, environ={"MOZDEF_SERVER_TOKEN": "s3cret"})
    with serving(config) as address:
        client = Client(address)
        for headers, status in TOKEN_CASES:
            answer = client.request("POST", "/events", EVENT, headers)
            assert answer.status == status, headers
            if status == 401:
                assert answer.json["error"]["type"] == "security_exception"
                challenge = answer.headers.get_all("WWW-Authenticate")
                assert challenge == ['Bearer realm="mozdef"', 'Basic realm="mozdef"']
            assert client.request("GET", "/metrics", None, headers).status == status
        assert client.request("GET", "/status").status == 200  # health checks need no token
        client.close()
    assert len(stored(config)) == 3


def test_tls_with_a_generated_certificate(tmp_path):
    certificate, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-nodes", "-days", "1", "-subj", "/CN=localhost"),
            *("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(certificate)),
        ],
        check=True,
        capture_output=True,
    )
    config = make_config(tmp_path, f'tls_certificate = "{certificate}"\ntls_key = "{key}"\n')
    with serving(config) as address:
        context = ssl.create_default_context(cafile=str(certificate))
        client = Client(address, context)
        assert client.post("/events", EVENT).status == 200
        assert client.request("GET", "/status").json["status"] == "ok"
        client.close()
        plain = Client(address)
        with pytest.raises((ConnectionError, OSError)):
            plain.request("GET", "/status")
    assert len(stored(config)) == 1


def test_unloadable_tls_files_name_the_keys(tmp_path):
    missing = tmp_path / "missing.pem"
    config = make_config(tmp_path, f'tls_certificate = "{missing}"\ntls_key = "{missing}"\n')
    with pytest.raises(ConfigError, match=r"server\.tls_certificate/tls_key"), serving(config):
        pass


SERVE = """
import sys
from mozdef.core.config import load_config
from mozdef.core.http.server import serve
from mozdef.core.logs import configure_logging

config = load_config(sys.argv[1])
configure_logging(config.settings.mozdef.log_level)
serve(config)
"""


def test_sigterm_finishes_requests_under_way_then_closes_the_store(tmp_path):
    config = make_config(tmp_path)
    environ = {
        **os.environ,
        "MOZDEF_MOZDEF_LOG_LEVEL": "INFO",
        "MOZDEF_SERVER_TIMEOUT": "30",  # so that only shutdown closes the idle connection
    }
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, config.source],
        env=environ,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in process.stderr:
            if "listening on http://" in line:
                port = int(line.rsplit(":", 1)[1])
                break
        address = ("127.0.0.1", port)
        idle = Client(address)
        assert idle.post("/events", EVENT).status == 200  # then stays open, idle
        under_way = raw_request(address, post_head(len(EVENT)), EVENT[:10])
        time.sleep(0.2)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        under_way.sendall(EVENT[10:])
        answer = read_until_closed(under_way)
        assert answer.startswith(b"HTTP/1.1 200 ")
        assert b"Connection: close" in answer
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - started < 5  # the idle connection did not hold it up
    finally:
        process.kill()
        process.wait()
        process.stderr.close()
    assert len(stored(config)) == 2
    assert not Path(config.settings.store.sqlite.path + "-wal").exists()  # closed cleanly


def test_a_port_in_use_names_the_keys(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = make_config(tmp_path, environ={"MOZDEF_SERVER_PORT": str(port)})
        with (
            pytest.raises(ConfigError, match=r"server\.bind/port: cannot listen on"),
            serving(config),
        ):
            pass
