"""What the tests/test_queue_*.py files share: a running RabbitMQ, exchanges and queues
with names of their own (the broker is shared) that are deleted afterwards, worker
processes, and a private broker node that a test may kill and restart.

Loaded by those files with `pytest_plugins = ["test_queue_support"]`; it holds no tests.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import gevent
import gevent.subprocess
import pika
import pika.exceptions
import pytest

from mozdef.core.app import MozDef
from mozdef.core.ingest import RawEvent
from mozdef.core.query import Search
from mozdef.core.queue.settings import RabbitSettings, SourceSettings
from mozdef.core.reference import toml_value
from mozdef.core.store import Store
from mozdef.core.stores import StoreSection, open_store
from mozdef.core.stores.sqlite import SqliteSettings

HOST = "127.0.0.1"
PORT = 5672
URL = f"amqp://guest:guest@{HOST}:{PORT}/"
NOT_FOUND = 404
RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")

# What `mozdef run --role worker|loginput` does, in a process of its own.
ROLE_CODE = """
import sys
from mozdef.core.config import load_config
from mozdef.core.logs import configure_logging
from mozdef.core.queue.publisher import run_loginput
from mozdef.core.queue.worker import run_worker
config = load_config(sys.argv[2])
configure_logging(config.settings.mozdef.log_level)
{"worker": run_worker, "loginput": run_loginput}[sys.argv[1]](config)
"""


def listening(port: int, host: str = HOST) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition`, letting greenlets run in between."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        gevent.sleep(0.05)


@pytest.fixture(scope="session")
def broker() -> str:
    """The shared RabbitMQ at 127.0.0.1:5672, started (and installed) if need be."""
    if not listening(PORT):
        if shutil.which("rabbitmq-server") is None:
            environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            subprocess.run(["apt-get", "update", "-q"], check=False, env=environment)
            subprocess.run(
                ["apt-get", "install", "-y", "-q", "rabbitmq-server"], check=True, env=environment
            )
        subprocess.run(["rabbitmq-server", "-detached"], check=False)
        deadline = time.monotonic() + 90
        while not listening(PORT):
            if time.monotonic() > deadline:
                pytest.fail("RabbitMQ did not start listening on 127.0.0.1:5672")
            time.sleep(0.5)
    return URL


class Scratch:
    """Uniquely named exchanges and queues on a broker, and ways to look at them."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.suffix = uuid.uuid4().hex[:10]
        self.queues: set[str] = set()
        self.exchanges: set[str] = set()

    def name(self, base: str) -> str:
        return f"mozdef-test.{base}.{self.suffix}"

    def settings(self, **changes) -> RabbitSettings:
        """Settings with names of this test's own and quick reconnection."""
        values = {
            "url": self.url,
            "exchange": self.name("events"),
            "queue": self.name("events"),
            "dead_letter_exchange": self.name("deadletter"),
            "dead_letter_queue": self.name("deadletter"),
            "reconnect_min": 0.1,
            "reconnect_max": 1.0,
            "heartbeat": 10,
        } | changes
        settings = RabbitSettings(**values)
        self.queues |= {settings.queue, settings.dead_letter_queue}
        self.exchanges |= {settings.exchange, settings.dead_letter_exchange}
        for source in settings.sources:
            self.queues.add(source.queue)
            self.exchanges.add(source.exchange)
        return settings

    def source(self, base: str, **changes) -> SourceSettings:
        values = {"exchange": self.name(f"{base}-exchange"), "queue": self.name(base)}
        return SourceSettings(**(values | changes))

    def channel(self):
        connection = pika.BlockingConnection(pika.URLParameters(self.url))
        return connection, connection.channel()

    def publish(
        self, exchange: str, routing_key: str, body: bytes, properties: pika.BasicProperties
    ) -> None:
        connection, channel = self.channel()
        try:
            channel.confirm_delivery()
            channel.basic_publish(exchange, routing_key, body, properties, mandatory=True)
        finally:
            connection.close()

    def depth(self, queue: str) -> int:
        """Messages ready in `queue` (not counting those delivered and unacknowledged);
        0 if it does not exist yet."""
        connection, channel = self.channel()
        try:
            return channel.queue_declare(queue, passive=True).method.message_count
        except pika.exceptions.ChannelClosedByBroker as exc:
            if exc.reply_code == NOT_FOUND:
                return 0
            raise
        finally:
            if connection.is_open:
                connection.close()

    def take_all(self, queue: str) -> list[tuple[pika.BasicProperties, bytes]]:
        connection, channel = self.channel()
        messages = []
        try:
            while True:
                method, properties, body = channel.basic_get(queue, auto_ack=True)
                if method is None:
                    return messages
                messages.append((properties, body))
        finally:
            connection.close()

    def cleanup(self) -> None:
        connection, channel = self.channel()
        try:
            for queue in self.queues:
                channel.queue_delete(queue)
            for exchange in self.exchanges:
                channel.exchange_delete(exchange)
        finally:
            connection.close()


@pytest.fixture
def scratch(broker: str) -> Iterator[Scratch]:
    names = Scratch(broker)
    yield names
    names.cleanup()


def close_connections(name_prefix: str) -> int:
    """Have the broker close our connections whose name starts with `name_prefix` (never
    anyone else's: the broker is shared); the number closed. Greenlets keep running
    meanwhile."""
    listing = gevent.subprocess.run(
        ["rabbitmqctl", "-q", "list_connections", "pid", "client_properties", "--no-table-headers"],
        capture_output=True,
        text=True,
        check=True,
    )
    closed = 0
    for line in listing.stdout.splitlines():
        pid, _, properties = line.partition("\t")
        if f'{{"connection_name","{name_prefix}' in properties:
            gevent.subprocess.run(
                ["rabbitmqctl", "-q", "close_connection", pid, "closed by a MozDef test"],
                check=True,
                capture_output=True,
            )
            closed += 1
    return closed


def sqlite_store(path: Path) -> Store:
    return open_store(StoreSection(sqlite=SqliteSettings(path=str(path))))


def stored_ids(store: Store) -> list[str]:
    """Every stored event's document id (a duplicate would appear twice)."""
    total = store.search(Search(size=1)).total
    return [hit.doc_id for hit in store.search(Search(size=max(total, 1))).hits]


def sshd_events(count: int, start: int = 0, source: str = "test") -> list[RawEvent]:
    """Realistic syslog events as a shipper sends them, numbered in `details.seq`."""
    return [
        RawEvent(
            {
                "timestamp": "2026-11-21T10:15:00+00:00",
                "hostname": f"bastion{number % 3}.example.com",
                "processname": "sshd",
                "processid": str(1000 + number % 50),
                "severity": "INFO",
                "summary": f"Accepted publickey for user{number} from 10.1.{number % 250}.7 "
                "port 50022 ssh2: RSA SHA256:0sP2ZxB4kLq",
                "details": {"seq": number},
            },
            source,
        )
        for number in range(start, start + count)
    ]


def write_role_config(
    path: Path, settings: RabbitSettings, database: Path, http_port: int = 0
) -> Path:
    """A mozdef.toml for a worker or loginput process: these queues, this SQLite file,
    this HTTP port."""
    lines = [
        "[mozdef]",
        'hostname = "worker.mozdef.test"',
        'log_level = "INFO"',
        "[store.sqlite]",
        f'path = "{database}"',
        "[rabbitmq]",
    ]
    lines += [f"{key} = {toml_value(value)}" for key, value in settings.model_dump().items()]
    lines += ["[server]", f"port = {http_port}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class RoleProcess:
    """`run_worker` or `run_loginput` in a process of its own, as `mozdef run --role`
    runs them."""

    def __init__(self, config: Path, log: Path, role: str = "worker") -> None:
        self.log = log
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-c", ROLE_CODE, role, str(config)],
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=15)


class PrivateBroker:
    """A RabbitMQ node of this test's own, on free ports and in a temporary folder, so
    that a test can kill and restart it without disturbing anyone using the shared one."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.port, dist_port = free_port(), free_port()
        (folder / "rabbitmq.conf").write_text(f"listeners.tcp.local = {HOST}:{self.port}\n")
        (folder / "env.conf").write_text("")
        (folder / "enabled_plugins").write_text("[].\n")
        self.environment = {
            **os.environ,
            "HOME": str(folder),
            "RABBITMQ_NODENAME": f"mozdef-test-{uuid.uuid4().hex[:8]}@localhost",
            "RABBITMQ_DIST_PORT": str(dist_port),
            "RABBITMQ_CONF_ENV_FILE": str(folder / "env.conf"),
            "RABBITMQ_CONFIG_FILE": str(folder / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"),
            "RABBITMQ_LOG_BASE": str(folder / "log"),
            "ERL_EPMD_ADDRESS": HOST,
        }
        self.url = f"amqp://guest:guest@{HOST}:{self.port}/"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> None:
        with (self.folder / "server.log").open("ab") as output:
            self.process = subprocess.Popen(
                [str(RABBITMQ_BIN / "rabbitmq-server")],
                env=self.environment,
                cwd=self.folder,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(lambda: listening(self.port), timeout, "the private RabbitMQ node")

    def kill(self) -> None:
        """Kill -9 the whole node, as a crash or a power cut would."""
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.process = None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@pytest.fixture
def private_broker(broker: str, tmp_path: Path) -> Iterator[PrivateBroker]:
    if not (RABBITMQ_BIN / "rabbitmq-server").exists():
        pytest.skip("RabbitMQ's server scripts are not installed")
    node = PrivateBroker(tmp_path / "rabbitmq")
    node.start()
    yield node
    node.kill()


@pytest.fixture
def mozdef(config_file) -> Iterator[MozDef]:
    with MozDef(config_file('[mozdef]\nhostname = "worker.mozdef.test"\n')) as running:
        yield running


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = sqlite_store(tmp_path / "events.sqlite3")
    yield opened
    opened.close()
