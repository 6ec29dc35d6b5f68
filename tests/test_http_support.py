"""What the tests/test_http_*.py files share: a real server on an ephemeral port of
127.0.0.1 in front of a real SQLite file, a small HTTP client, and a look at what the
store holds. Loaded with `pytest_plugins = ["test_http_support"]`; it holds no tests.
"""

import http.client
import ssl
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from mozdef.core.config import Config, load_config
from mozdef.core.http.server import BackgroundServer
from mozdef.core.http.sink import Sink
from mozdef.core.query import Search
from mozdef.core.stores.sqlite import SqliteSettings, SqliteStore

BASE_CONFIG = """
[mozdef]
hostname = "test.mozdef.example"
log_level = "WARNING"

[plugins]
autoload = false

[store.sqlite]
path = "{store}"
lock_timeout = 0.2
"""


def make_config(
    folder: Path, server: str = "", tables: str = "", environ: dict[str, str] | None = None
) -> Config:
    """A mozdef.toml in `folder`: built-in plugins, a store file there, and a server on
    a free port with a 1-second silence timeout, plus the `[server]` keys and the other
    tables given."""
    store = folder / "var" / "events.sqlite3"
    server = "\n[server]\nport = 0\ntimeout = 1.0\n" + server
    text = BASE_CONFIG.format(store=store) + server + "\n" + tables
    path = folder / "mozdef.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path, environ or {})


def stored(config: Config) -> list[dict]:
    """Every event in the configured store, read through its own connection."""
    store = SqliteStore(SqliteSettings(path=config.settings.store.sqlite.path))
    try:
        return [hit.event for hit in store.search(Search(size=10_000)).hits]
    finally:
        store.close()


def stored_ids(config: Config) -> list[str]:
    store = SqliteStore(SqliteSettings(path=config.settings.store.sqlite.path))
    try:
        return [hit.doc_id for hit in store.search(Search(size=10_000)).hits]
    finally:
        store.close()


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def json(self) -> object:
        return orjson.loads(self.body)


class Client:
    """One keep-alive connection to the server."""

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext | None = None) -> None:
        host, port = address
        if context is None:
            self.connection = http.client.HTTPConnection(host, port, timeout=10)
        else:
            self.connection = http.client.HTTPSConnection(host, port, timeout=10, context=context)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | Iterable[bytes] | None = None,
        headers: dict[str, str] | None = None,
        *,
        chunked: bool = False,
    ) -> Answer:
        self.connection.request(method, path, body, headers or {}, encode_chunked=chunked)
        response = self.connection.getresponse()
        return Answer(response.status, response.headers, response.read())

    def post(
        self, path: str, body: bytes, content_type: str = "application/json", **headers: str
    ) -> Answer:
        return self.request("POST", path, body, {"Content-Type": content_type, **headers})

    def close(self) -> None:
        self.connection.close()


@contextmanager
def serving(config: Config, sink: Sink | None = None) -> Iterator[tuple[str, int]]:
    with BackgroundServer(config, sink) as address:
        yield address


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Config, tuple[str, int]]]:
    """One server for a whole test file, on default limits: (config, address)."""
    config = make_config(tmp_path_factory.mktemp("http"))
    with serving(config) as address:
        yield config, address


@pytest.fixture
def client(shared: tuple[Config, tuple[str, int]]) -> Iterator[Client]:
    connection = Client(shared[1])
    yield connection
    connection.close()
