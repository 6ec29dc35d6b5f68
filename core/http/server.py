"""gevent's WSGI server around the `App`: binding, TLS, timeouts and graceful shutdown.

pywsgi has no read timeout of its own, so every accepted socket gets `timeout`: a
client that goes silent, between requests or in the middle of a body, is disconnected
and holds nothing after that. Connections are capped (`max_connections`) by the pool
that runs them.

Shutdown (SIGTERM or SIGINT) stops accepting, closes the connections that wait idle
for their next request, gives requests under way `shutdown_grace` seconds to finish
(their answers close the connection), then commits what the sink holds and closes it.
"""

import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import gevent
import gevent.event
import gevent.pool
import gevent.ssl
from gevent.pywsgi import WSGIHandler, WSGIServer

from mozdef.core.config import Config, ConfigError
from mozdef.core.http.app import LINGER, App
from mozdef.core.http.embedded import EmbeddedSink
from mozdef.core.http.metrics import Registry
from mozdef.core.http.settings import ServerSettings
from mozdef.core.http.sink import Sink
from mozdef.core.http.workers import SharedMetrics, cannot_listen, serve_processes

logger = logging.getLogger(__name__)

LINGER_SECONDS = 2.0  # how long an unread body is drained before closing, at most
LINGER_BYTES = 16 * 1024 * 1024


class Handler(WSGIHandler):
    """pywsgi's handler, told apart when idle (for shutdown) and closing politely when it
    answered without reading the body."""

    def read_requestline(self) -> str:
        self.server.idle.add(self)
        try:
            return super().read_requestline()
        finally:
            self.server.idle.discard(self)

    def run_application(self) -> None:
        super().run_application()
        if self.environ.get(LINGER):
            self.linger()

    def linger(self) -> None:
        """The answer went out before the body was read (413, 401, 429...): read and drop
        what the client still sends, for a while, so that closing with unread data does
        not reset the connection before the client has read the answer."""
        self.close_connection = True
        self.wsgi_input = NothingToDiscard()
        try:
            self.socket.shutdown(socket.SHUT_WR)
            drained = 0
            with gevent.Timeout(LINGER_SECONDS, False):
                while drained < LINGER_BYTES and (data := self.socket.recv(65536)):
                    drained += len(data)
        except OSError:
            pass

    def shut_idle(self) -> None:
        with contextlib.suppress(OSError):
            self.socket.shutdown(socket.SHUT_RDWR)


class NothingToDiscard:
    """Stands in for the request's input once the connection is to close: pywsgi would
    otherwise read the rest of the body, however large, before closing."""

    def _discard(self) -> None:
        pass


class Server(WSGIServer):
    handler_class = Handler

    def __init__(
        self, settings: ServerSettings, app: App, listener: socket.socket | None, **tls: object
    ) -> None:
        self.timeout = settings.timeout
        self.idle: set[Handler] = set()
        self.connections = gevent.pool.Pool(settings.max_connections)
        super().__init__(
            listener or (settings.bind, settings.port),
            app,
            spawn=self.connections,
            log=None,
            error_log=logger,
            **tls,
        )

    def wrap_socket_and_handle(self, client: socket.socket, address: tuple) -> None:
        """gevent's, less the traceback when a handshake fails: a plain HTTP client on
        the TLS port, a scanner, a client that goes silent."""
        try:
            secured = self.wrap_socket(client, **self.ssl_args)
        except OSError as exc:  # SSLError and timeouts alike
            logger.debug("TLS handshake with %s failed: %s", address[0], exc)
            return
        with contextlib.closing(secured):
            self.handle(secured, address)

    def do_read(self) -> tuple | None:
        accepted = super().do_read()
        if accepted is not None:
            client = accepted[0]
            client.settimeout(self.timeout)
            # pywsgi sends the headers and the body of an answer separately: with Nagle's
            # algorithm the body would wait for the client's delayed ACK (40 ms on Linux).
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return accepted


class HttpServer:
    """The server for one sink: start, then stop gracefully."""

    def __init__(
        self,
        config: Config,
        sink: Sink,
        registry: Registry,
        listener: socket.socket | None = None,
        render_metrics: Callable[[], bytes] | None = None,
    ) -> None:
        """`listener`: a socket already listening (shared by several processes);
        `render_metrics`: what /metrics answers, if not this process's registry."""
        self.config = config
        self.settings = config.settings.server
        self.app = App(self.settings, sink, registry, render_metrics)
        self.server = Server(self.settings, self.app, listener, **tls_arguments(config))

    def start(self) -> tuple[str, int]:
        """Listen; returns the address bound (the port is chosen when 0 was configured)."""
        try:
            self.server.start()
        except OSError as exc:
            raise cannot_listen(self.config, exc) from None
        return self.server.address[:2]

    def stop(self) -> None:
        self.app.stopping = True
        self.server.close()
        for handler in list(self.server.idle):
            handler.shut_idle()
        if not self.server.connections.join(timeout=self.settings.shutdown_grace):
            logger.warning("requests still under way after shutdown_grace: abandoning them")
            self.server.connections.kill(block=True, timeout=1)


def tls_arguments(config: Config) -> dict:
    """`ssl_context` for gevent when a certificate is configured; a `ConfigError` naming
    the key if the files cannot be loaded."""
    settings = config.settings.server
    if not settings.tls_certificate:
        return {}
    context = gevent.ssl.SSLContext(gevent.ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = gevent.ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(settings.tls_certificate, settings.tls_key)
    except (OSError, gevent.ssl.SSLError) as exc:
        problem = f"server.tls_certificate/tls_key: cannot load the certificate and key: {exc}"
        raise ConfigError(config.source, [problem]) from None
    return {"ssl_context": context}


def run(
    config: Config,
    sink: Sink | None,
    wait: Callable[[], None],
    started: Callable[[tuple[str, int]], None],
    listener: socket.socket | None = None,
    metrics_folder: Path | None = None,
    alerts: bool = True,
) -> None:
    """Serve until `wait` returns, then shut down; `started(address)` once listening.
    With no sink given, events are processed and stored in this process. `listener` and
    `metrics_folder` are given to each of several server processes (see `workers`), and
    `alerts` to the one of them that runs the alert rules and bots."""
    registry = Registry()
    sink = sink or EmbeddedSink(config, registry, alerts)
    shared = SharedMetrics(registry, metrics_folder) if metrics_folder else None
    try:
        render_metrics = shared.render if shared else None
        server = HttpServer(config, sink, registry, listener, render_metrics)
        started(server.start())
        wait()
        logger.info("shutting down")
        server.stop()
    finally:
        sink.close()
        if shared:
            shared.close()


def serve(config: Config, sink: Sink | None = None) -> None:
    """Run the HTTP ingest server until SIGTERM or SIGINT. `sink` is where events go:
    None for the embedded pipeline and store (the default `mozdef run`), in as many
    processes as `[server] processes` says, or a queue publisher (`mozdef run --role
    loginput`), in this process."""
    if config.settings.server.processes > 1:
        if sink is not None:
            problem = "server.processes: several processes need the embedded pipeline"
            raise ConfigError(config.source, [problem])
        serve_processes(config)
        return
    serve_one(config, sink)


def serve_one(
    config: Config,
    sink: Sink | None,
    listener: socket.socket | None = None,
    metrics_folder: Path | None = None,
    alerts: bool = True,
) -> None:
    """One server process, until SIGTERM or SIGINT."""
    stop = gevent.event.Event()
    signals = (signal.SIGTERM, signal.SIGINT)
    handlers = [gevent.signal_handler(number, stop.set) for number in signals]

    def announce(address: tuple[str, int]) -> None:
        if listener is None:  # else the parent of the server processes says where
            logger.info(listening(address, config))

    try:
        run(config, sink, stop.wait, announce, listener, metrics_folder, alerts)
    finally:
        for handler in handlers:
            handler.cancel()


def listening(address: tuple[str, int], config: Config) -> str:
    scheme = "https" if config.settings.server.tls_certificate else "http"
    host, port = address[:2]
    return f"listening on {scheme}://{f'[{host}]' if ':' in host else host}:{port}"


class BackgroundServer:
    """`serve` on a thread of its own (with its own gevent hub), for tests and tools that
    need a real server in their process:

        with BackgroundServer(config) as (host, port):
            ...
    """

    def __init__(self, config: Config, sink: Sink | None = None) -> None:
        self.config = config
        self.sink = sink
        self.ready = threading.Event()
        self.address: tuple[str, int] | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self.run, name="mozdef-http", daemon=True)

    def run(self) -> None:
        self.hub = gevent.get_hub()
        self.stop_requested = gevent.event.Event()
        try:
            run(self.config, self.sink, self.stop_requested.wait, self.listening)
        except BaseException as exc:
            self.error = exc
        finally:
            self.ready.set()
            self.hub.destroy(destroy_loop=True)

    def listening(self, address: tuple[str, int]) -> None:
        self.address = address
        self.ready.set()

    def __enter__(self) -> tuple[str, int]:
        self.thread.start()
        self.ready.wait()
        if self.error is not None:
            raise self.error
        assert self.address is not None
        return self.address

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.hub.loop.run_callback_threadsafe(self.stop_requested.set)
        self.thread.join()
        if self.error is not None and kind is None:
            raise self.error
