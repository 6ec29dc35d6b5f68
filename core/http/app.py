"""The WSGI application: routes requests to the sink and answers every one in JSON.

Endpoints (POST or PUT for those that take events):

- `/events`, `/nxlog`: one JSON object, a JSON array of them, or NDJSON.
- `/cef`: CEF lines (text), or JSON as above.
- `/custom/<application>`: JSON events kept in their own shape (see `accept_custom`).
- `/_bulk`, `/<index>/_bulk`: Elasticsearch's bulk format and response (see `bulk`).
- `GET /status` (also `/_status`): liveness, never behind the token; 503 when stopping.
- `GET /metrics`: Prometheus text format.
- `GET /`, `HEAD /` and the start-up calls of Elasticsearch shippers (see `probes`).

A 2xx answer to events means the sink committed them. Malformed input is 400, a body
over the limit 413, an unsupported content type or encoding 415, overload 429 and an
unavailable store 503 (both with Retry-After), a body that stops arriving 408; anything
unexpected is logged and answered 500, with a JSON body like every other answer.
"""

import io
import logging
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Sequence

from mozdef.core.http import probes
from mozdef.core.http.admission import Admission
from mozdef.core.http.auth import TokenCheck
from mozdef.core.http.bodies import BodyReader, body_unread, media_type
from mozdef.core.http.bulk import bulk_response, parse_bulk
from mozdef.core.http.cef import CefError, parse_cef
from mozdef.core.http.metrics import CONTENT_TYPE, Collected, Counter, Registry
from mozdef.core.http.responses import HttpError, Response, json_response, retry_later
from mozdef.core.http.settings import ServerSettings
from mozdef.core.http.sink import Sink, SinkUnavailable
from mozdef.core.ingest import RawEvent, Result, Status
from mozdef.core.jsoninput import Record, read_records

logger = logging.getLogger(__name__)

INGEST_METHODS = frozenset(("POST", "PUT"))
JSON_ENDPOINTS = {"/events": "events", "/nxlog": "nxlog"}
STATUS_PATHS = frozenset(("/status", "/_status"))  # health checks: never behind the token
LINGER = "mozdef.linger"  # environ key: the server must close, draining the unread body
OUTCOMES = {
    Status.STORED: "stored",
    Status.QUEUED: "queued",
    Status.DROPPED: "dropped",
    Status.REJECTED: "rejected",
    Status.DEAD_LETTERED: "dead_lettered",
}
CEF_AS_JSON = ("application/json", "application/x-ndjson", "application/ndjson")
INTERNAL_ERROR = HttpError(500, "internal_error", "an unexpected error: see the server log")
Reader = Callable[[dict, bytes, str], Response]  # (environ, body, media type) -> answer


class App:
    """The WSGI callable."""

    def __init__(
        self,
        settings: ServerSettings,
        sink: Sink,
        registry: Registry,
        render_metrics: Callable[[], bytes] | None = None,
    ) -> None:
        """`render_metrics` answers /metrics; by default, `registry` rendered."""
        self.settings = settings
        self.sink = sink
        self.render_metrics = render_metrics or registry.render
        self.admission = Admission(
            settings.max_inflight_requests, settings.max_inflight_bytes, settings.retry_after
        )
        self.tokens = TokenCheck(settings.token) if settings.token else None
        self.stopping = False  # set on shutdown: connections close after their answer
        self.requests = Counter(
            "mozdef_http_requests_total", "HTTP requests answered.", ("endpoint", "code")
        )
        self.received = Counter(
            "mozdef_http_events_received_total",
            "Events received, before processing.",
            ("endpoint",),
        )
        self.outcomes = Counter(
            "mozdef_http_events_total",
            "Events by what became of them: stored, queued (confirmed by RabbitMQ), "
            "dropped (by a plugin), rejected "
            "(malformed), dead_lettered (refused by the store), failed (not committed).",
            ("endpoint", "outcome"),
        )
        for metric in (self.requests, self.received, self.outcomes):
            registry.add(metric)
        registry.add(
            Collected(
                "mozdef_http_requests_in_flight",
                "gauge",
                "Requests with events being handled.",
                (),
                lambda: [((), self.admission.requests)],
            )
        )
        registry.add(
            Collected(
                "mozdef_http_body_bytes_in_flight",
                "gauge",
                "Request body bytes held in memory.",
                (),
                lambda: [((), self.admission.bytes)],
            )
        )

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ["PATH_INFO"]
        endpoint = "other"
        try:
            if path not in STATUS_PATHS:
                self.check_token(environ)
            endpoint, handle = self.route(method, path)
            response = handle(environ)
        except HttpError as exc:
            response = exc.response()
        except Exception:
            logger.exception("%s %s failed", method, path)
            response = INTERNAL_ERROR.response()
        self.requests.inc(endpoint, str(response.status))
        return self.send(response, environ, start_response)

    def route(self, method: str, path: str) -> tuple[str, Callable[[dict], Response]]:
        """(endpoint name for the metrics, handler); raises 404 or 405."""
        if path in JSON_ENDPOINTS:
            return self.ingest_route(method, JSON_ENDPOINTS[path], self.receive_json)
        if path == "/cef":
            return self.ingest_route(method, "cef", self.receive_cef)
        if path.startswith("/custom/"):
            return self.ingest_route(method, "custom", self.receive_custom)
        if path == "/_bulk" or path.endswith("/_bulk"):
            return self.ingest_route(method, "bulk", self.receive_bulk)
        if path in STATUS_PATHS and method in ("GET", "HEAD"):
            return "status", self.status
        if path == "/metrics" and method in ("GET", "HEAD"):
            return "metrics", self.metrics
        answer = probes.answer("GET" if method == "HEAD" else method, path)
        if answer is not None:
            return "probe", lambda environ: answer
        raise HttpError(404, "not_found", f"no endpoint {method} {path}")

    def ingest_route(
        self, method: str, endpoint: str, read_events: Reader
    ) -> tuple[str, Callable[[dict], Response]]:
        if method not in INGEST_METHODS:
            raise HttpError(
                405,
                "method_not_allowed",
                f"{method} is not allowed here: send events with POST or PUT",
                headers=[("Allow", "POST, PUT")],
            )
        return endpoint, lambda environ: self.receive(environ, read_events)

    def check_token(self, environ: dict) -> None:
        if self.tokens is None or self.tokens.allows(environ.get("HTTP_AUTHORIZATION", "")):
            return
        raise HttpError(
            401,
            "security_exception",
            "missing or wrong API token: send 'Authorization: Bearer TOKEN'",
            headers=[
                ("WWW-Authenticate", 'Bearer realm="mozdef"'),
                ("WWW-Authenticate", 'Basic realm="mozdef"'),
            ],
        )

    def receive(self, environ: dict, read_events: Reader) -> Response:
        """Read the body within the limits, then hand it to the endpoint's reader."""
        with self.admission.admit() as ticket:
            media = media_type(environ)
            settings = self.settings
            reader = BodyReader(environ, settings.max_body_bytes, settings.body_timeout, ticket)
            return read_events(environ, reader.read(), media)

    def accept(self, endpoint: str, events: Sequence[RawEvent], refused: int) -> list[Result]:
        """Hand events to the sink, counting what becomes of them and of the `refused`
        items that could not even be read."""
        self.received.inc(endpoint, amount=len(events) + refused)
        if refused:
            self.outcomes.inc(endpoint, "rejected", amount=refused)
        try:
            results = self.sink.accept(events) if events else []
        except SinkUnavailable as exc:
            self.outcomes.inc(endpoint, "failed", amount=len(events))
            reason = f"nothing was accepted: {exc}"
            raise retry_later(
                503, "unavailable_exception", reason, self.settings.retry_after
            ) from None
        except Exception:
            self.outcomes.inc(endpoint, "failed", amount=len(events))
            raise
        for outcome, count in Tally(OUTCOMES[result.status] for result in results).items():
            self.outcomes.inc(endpoint, outcome, amount=count)
        return results

    def receive_json(self, environ: dict, body: bytes, media: str) -> Response:
        path = environ["PATH_INFO"]
        return self.take_records(JSON_ENDPOINTS[path], json_records(body), path)

    def receive_cef(self, environ: dict, body: bytes, media: str) -> Response:
        as_json = media in CEF_AS_JSON or media.endswith("+json") or body.lstrip()[:1] in b"{["
        records = json_records(body) if as_json else cef_records(body)
        return self.take_records("cef", records, "/cef")

    def receive_custom(self, environ: dict, body: bytes, media: str) -> Response:
        path = environ["PATH_INFO"]
        application = path.removeprefix("/custom/")
        if not application or "/" in application:
            raise HttpError(400, "bad_request", "the path is /custom/<application>")
        return self.take_records("custom", json_records(body), path, application)

    def take_records(
        self, endpoint: str, records: list[Record], source: str, application: str | None = None
    ) -> Response:
        """Ingest the readable records; answer with counts and every item not stored."""
        if not records:
            raise HttpError(400, "parse_exception", "the body holds no events")
        events = [
            RawEvent(record.value, source, application=application)
            for record in records
            if record.error is None
        ]
        outcomes = iter(self.accept(endpoint, events, len(records) - len(events)))
        counts = dict.fromkeys(OUTCOMES.values(), 0)
        problems = []
        for record in records:
            if record.error is not None:
                status, reason = "rejected", record.error
            else:
                result = next(outcomes)
                status, reason = OUTCOMES[result.status], result.reason
            counts[status] += 1
            if status in ("rejected", "dead_lettered"):
                problems.append({"item": record.where, "status": status, "reason": reason})
        body = {"received": len(records), **counts, "errors": problems}
        if counts["rejected"] == len(records):
            reason = f"{problems[0]['item']}: {problems[0]['reason']}"
            body["error"] = {"type": "parse_exception", "reason": reason}
            return json_response(400, body)
        return json_response(200, body)

    def receive_bulk(self, environ: dict, body: bytes, media: str) -> Response:
        started = time.perf_counter()
        path = environ["PATH_INFO"]
        index = path.removesuffix("/_bulk").strip("/") or "events"
        items = parse_bulk(body, index, "/_bulk")
        if not items:
            raise HttpError(400, "parse_exception", "the body holds no bulk items")
        events = [item.event for item in items if item.event is not None]
        results = self.accept("bulk", events, len(items) - len(events))
        took = int((time.perf_counter() - started) * 1000)
        return json_response(200, bulk_response(items, results, took))

    def status(self, environ: dict) -> Response:
        if self.stopping:
            return json_response(503, {"status": "stopping", "service": "loginput"})
        return json_response(200, {"status": "ok", "service": "loginput"})

    def metrics(self, environ: dict) -> Response:
        return Response(200, self.render_metrics(), content_type=CONTENT_TYPE)

    def send(self, response: Response, environ: dict, start_response: Callable) -> Iterable[bytes]:
        body = response.body
        headers = [
            ("Content-Type", response.content_type),
            ("Content-Length", str(len(body))),
            ("X-Elastic-Product", "Elasticsearch"),
            *response.headers,
        ]
        unread = body_unread(environ)
        if unread or self.stopping:
            headers.append(("Connection", "close"))
            environ[LINGER] = unread
        start_response(response.status_line, headers)
        return [b""] if environ["REQUEST_METHOD"] == "HEAD" else [body]


def json_records(body: bytes) -> list[Record]:
    """A JSON object, a JSON array, NDJSON, or a CloudTrail file, as for `mozdef ingest`."""
    return list(read_records(io.BytesIO(body)))


def cef_records(body: bytes) -> list[Record]:
    records = []
    for number, line in enumerate(body.decode("utf-8", "replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(Record(f"line {number}", parse_cef(line)))
        except CefError as exc:
            records.append(Record(f"line {number}", error=str(exc)))
    return records
