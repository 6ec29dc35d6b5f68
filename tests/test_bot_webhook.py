"""The webhook notifier against a real HTTP endpoint on a loopback port: what it posts, how it
retries, what it gives up on, and that a full queue or a shutdown never loses an alert
without saying so."""

import json
import re
import shutil
import ssl
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import gevent
import pytest

from mozdef.bots.webhook import BLUE, GREY, RED, YELLOW, Webhook, retry_after_seconds
from mozdef.core.config import ConfigError
from mozdef.core.pluginmanager import Candidate, Plugins

SECRET_PATH = "/services/T0001/B0002/s3cr3tT0k3n"


@dataclass(frozen=True)
class Answer:
    """How the receiver answers one request; DROP closes the connection without a word,
    HANG holds the request until the test ends."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"


DROP = Answer(-1)
HANG = Answer(-2)


@dataclass(frozen=True)
class Received:
    at: float  # time.monotonic() when the request had been read
    path: str
    content_type: str
    body: bytes

    def json(self) -> dict:
        """The body as JSON, refusing anything that is not valid UTF-8 JSON."""
        return json.loads(self.body.decode("utf-8"))


class Receiver:
    """An incoming-webhook endpoint on a free loopback port, served from a thread of its
    own: it records every request and answers as scripted, then 200 "ok"."""

    def __init__(self, certificate: Path | None = None) -> None:
        """With `certificate` (a PEM file holding the key too) it speaks HTTPS."""
        self.requests: list[Received] = []
        self.answers: deque[Answer] = deque()
        self.released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # the answer's head and body leave at once

            def do_POST(self) -> None:
                receiver.answer(self)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.scheme = "http"
        if certificate is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certificate)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def url(self, path: str = SECRET_PATH) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.server_port}{path}"

    def script(self, *answers: Answer) -> None:
        self.answers.extend(answers)

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers["Content-Length"]))
        self.requests.append(
            Received(time.monotonic(), handler.path, handler.headers["Content-Type"], body)
        )
        answer = self.answers.popleft() if self.answers else Answer(200)
        if answer in (DROP, HANG):
            if answer is HANG:
                self.released.wait()
            handler.close_connection = True
            return
        handler.send_response(answer.status)
        for name, value in answer.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(answer.body)))
        handler.end_headers()
        handler.wfile.write(answer.body)

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    started = Receiver()
    yield started
    started.close()


@pytest.fixture
def notifier(config_file):
    """Start the webhook plugin through pluggy from a real mozdef.toml, as the bot process
    does; `start(urls, **keys)` returns (plugins, webhook). Shut down at the end."""
    running: list[Plugins] = []

    def start(urls: list[str], **keys: object) -> tuple[Plugins, Webhook]:
        table = {
            "enabled": True,
            "urls": urls,
            "timeout": 5.0,
            "backoff_first": 0.01,
            "backoff_longest": 0.05,
            "shutdown_timeout": 5.0,
            **keys,
        }
        toml = "[plugins.webhook]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in table.items())
        webhook = Webhook()
        plugins = Plugins(config_file(toml), [Candidate("webhook", "built-in", webhook)])
        plugins.start()
        plugins.start_notifiers()
        running.append(plugins)
        return plugins, webhook

    yield start
    for plugins in running:
        plugins.shutdown()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> Path:
    """A self-signed certificate for 127.0.0.1, its key in the same file."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    pem = tmp_path_factory.mktemp("tls") / "webhook.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"),
            *("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(pem), "-out", str(pem)),
        ],
        check=True,
        capture_output=True,
    )
    return pem


@pytest.fixture
def tls_receiver(certificate):
    started = Receiver(certificate)
    yield started
    started.close()


def make_alert(number: int = 1, **fields: object) -> dict:
    return {
        "id": f"alert-{number}",
        "utctimestamp": "2026-11-22T02:40:00.000000+00:00",
        "rule": "bruteforce_ssh",
        "severity": "NOTICE",
        "category": "bruteforce",
        "summary": f"10 ssh bruteforce attempts by 1.2.3.{number} host1 (10 hits)",
        "tags": ["ssh"],
        "channel": None,
        "notify": True,
        "status": "NEW",
        "url": "",
        "events": [],
        "details": {},
        **fields,
    }


def wait_until(condition, what: str, timeout: float = 10.0) -> None:
    """Let the hub run (the notifier's greenlets post meanwhile) until `condition` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        gevent.sleep(0.005)


def settle(webhook: Webhook) -> None:
    """Wait until every destination has finished with every alert it was given."""
    wait_until(
        lambda: all(d.queue.unfinished_tasks == 0 for d in webhook.destinations),
        "the webhook queues to drain",
    )


def test_payload_is_a_slack_attachment(notifier, receiver):
    plugins, webhook = notifier(
        [receiver.url()],
        channel="#security",
        username="MozDef",
        icon_url="https://mozdef.example.com/icon.png",
        icon_emoji=":rotating_light:",
    )
    alert = make_alert(severity="CRITICAL", url="https://wiki.example.com/runbooks/ssh")
    plugins.broadcast("mozdef_notify_alert", alert=alert)
    settle(webhook)

    [request] = receiver.requests
    assert request.path == SECRET_PATH
    assert request.content_type == "application/json"
    assert request.json() == {
        "channel": "#security",
        "username": "MozDef",
        "icon_url": "https://mozdef.example.com/icon.png",
        "icon_emoji": ":rotating_light:",
        "attachments": [
            {
                "fallback": "10 ssh bruteforce attempts by 1.2.3.1 host1 (10 hits)",
                "color": RED,
                "title": "bruteforce_ssh",
                "title_link": "https://wiki.example.com/runbooks/ssh",
                "text": "10 ssh bruteforce attempts by 1.2.3.1 host1 (10 hits)",
                "fields": [
                    {"title": "Severity", "value": "CRITICAL", "short": True},
                    {"title": "Category", "value": "bruteforce", "short": True},
                ],
            }
        ],
    }
    assert webhook.destinations[0].tally.delivered == 1


def test_colour_follows_severity(notifier, receiver):
    expected = {
        "EMERGENCY": RED,
        "ALERT": RED,
        "CRITICAL": RED,
        "ERROR": RED,
        "WARNING": YELLOW,
        "NOTICE": BLUE,
        "INFO": GREY,
        "DEBUG": GREY,
        "SOMETHING-NEW": GREY,
    }
    assert len({RED, YELLOW, BLUE, GREY}) == 4
    plugins, webhook = notifier([receiver.url()])
    for severity in expected:
        plugins.broadcast("mozdef_notify_alert", alert=make_alert(severity=severity))
    settle(webhook)

    sent = [request.json()["attachments"][0] for request in receiver.requests]
    assert {a["fields"][0]["value"]: a["color"] for a in sent} == expected
    # No runbook url: no link, and no settings overrides: the webhook's own channel and name.
    assert all("title_link" not in a for a in sent)
    assert all(set(request.json()) == {"attachments"} for request in receiver.requests)


def test_server_error_is_retried(notifier, receiver, caplog):
    receiver.script(Answer(500, body=b"upstream trouble"))
    plugins, webhook = notifier([receiver.url()])
    plugins.broadcast("mozdef_notify_alert", alert=make_alert())
    settle(webhook)

    first, second = receiver.requests
    assert first.body == second.body
    tally = webhook.destinations[0].tally
    assert (tally.delivered, tally.retried, tally.failed) == (1, 1, 0)
    assert "HTTP 500: 'upstream trouble'; retry 1 of 4" in caplog.text


def test_connection_closed_without_answer_is_retried(notifier, receiver):
    receiver.script(DROP)
    plugins, webhook = notifier([receiver.url()])
    plugins.broadcast("mozdef_notify_alert", alert=make_alert())
    settle(webhook)

    assert len(receiver.requests) == 2
    assert webhook.destinations[0].tally.delivered == 1


def test_slow_answer_times_out_and_is_retried(notifier, receiver, caplog):
    receiver.script(HANG)
    plugins, webhook = notifier([receiver.url()], timeout=0.2)
    plugins.broadcast("mozdef_notify_alert", alert=make_alert())
    settle(webhook)

    assert len(receiver.requests) == 2
    assert webhook.destinations[0].tally.delivered == 1
    assert "TimeoutError: no answer within 0.2 s" in caplog.text


def test_retry_after_is_waited_out(notifier, receiver):
    # The backoff is 10 ms: a retry sooner than a second would mean Retry-After was ignored.
    receiver.script(Answer(429, {"Retry-After": "1"}, b"rate_limited"))
    plugins, webhook = notifier([receiver.url()])
    plugins.broadcast("mozdef_notify_alert", alert=make_alert())
    settle(webhook)

    limited, retried = receiver.requests
    assert retried.at - limited.at >= 1.0
    assert retried.body == limited.body
    assert webhook.destinations[0].tally.delivered == 1


def test_client_error_is_not_retried(notifier, receiver, caplog):
    receiver.script(Answer(400, body=b"invalid_payload"))
    plugins, webhook = notifier([receiver.url()])
    plugins.broadcast("mozdef_notify_alert", alert=make_alert(1))
    settle(webhook)

    assert len(receiver.requests) == 1
    assert webhook.destinations[0].tally.failed == 1
    assert "HTTP 400: 'invalid_payload'" in caplog.text
    assert "not retried" in caplog.text
    assert "s3cr3tT0k3n" not in caplog.text  # the URL's secret never reaches the log

    plugins.broadcast("mozdef_notify_alert", alert=make_alert(2))
    settle(webhook)
    sent = [r.json()["attachments"][0]["text"] for r in receiver.requests]
    assert sent == [make_alert(1)["summary"], make_alert(2)["summary"]]


def test_gives_up_after_max_attempts(notifier, receiver, caplog):
    receiver.script(*[Answer(503)] * 3)
    plugins, webhook = notifier([receiver.url()], max_attempts=3)
    plugins.broadcast("mozdef_notify_alert", alert=make_alert())
    settle(webhook)

    assert len(receiver.requests) == 3
    tally = webhook.destinations[0].tally
    assert (tally.delivered, tally.retried, tally.failed) == (0, 2, 1)
    assert "alert given up after 3 attempts: HTTP 503" in caplog.text


def test_burst_is_delivered_in_order(notifier, receiver):
    plugins, webhook = notifier([receiver.url()])
    for number in range(200):
        plugins.broadcast("mozdef_notify_alert", alert=make_alert(summary=f"alert {number}"))
    settle(webhook)

    texts = [request.json()["attachments"][0]["text"] for request in receiver.requests]
    assert texts == [f"alert {number}" for number in range(200)]


def test_every_url_gets_every_alert(notifier, receiver):
    other = Receiver()
    try:
        other.script(Answer(500))  # one failing endpoint does not hold back the other
        plugins, webhook = notifier([receiver.url(), other.url("/hooks/other")])
        for number in range(3):
            plugins.broadcast("mozdef_notify_alert", alert=make_alert(number))
        settle(webhook)
    finally:
        other.close()

    assert len(receiver.requests) == 3
    assert [r.body for r in other.requests[1:]] == [r.body for r in receiver.requests]


def test_full_queue_drops_are_counted_and_logged(notifier, receiver, caplog):
    plugins, webhook = notifier([receiver.url()], max_queue=2)
    # The notifier's greenlet cannot run between these calls: the queue fills at once.
    for number in range(5):
        plugins.broadcast("mozdef_notify_alert", alert=make_alert(number))
    assert receiver.requests == []  # notifying only queued: nothing was posted meanwhile
    assert webhook.destinations[0].tally.dropped == 3
    assert "2 alerts wait already (max_queue): dropping new ones" in caplog.text
    settle(webhook)

    plugins.broadcast("mozdef_notify_alert", alert=make_alert(5))
    settle(webhook)
    assert "3 alerts were dropped while the queue was full" in caplog.text
    sent = [r.json()["attachments"][0]["text"] for r in receiver.requests]
    assert sent == [make_alert(n)["summary"] for n in (0, 1, 5)]


def test_shutdown_delivers_what_is_queued(notifier, receiver):
    plugins, webhook = notifier([receiver.url()])
    for number in range(20):
        plugins.broadcast("mozdef_notify_alert", alert=make_alert(number))
    plugins.shutdown()

    assert len(receiver.requests) == 20
    assert webhook.destinations[0].tally.delivered == 20


def test_shutdown_deadline_drops_the_rest_and_says_so(notifier, receiver, caplog):
    receiver.script(HANG)
    plugins, webhook = notifier([receiver.url()], shutdown_timeout=0.2)
    for number in range(3):
        plugins.broadcast("mozdef_notify_alert", alert=make_alert(number))
    plugins.shutdown()

    assert webhook.destinations[0].tally.dropped == 3
    assert "3 alerts not delivered by the shutdown deadline" in caplog.text
    plugins.broadcast("mozdef_notify_alert", alert=make_alert(4))
    assert webhook.destinations[0].tally.dropped == 4
    assert "alert dropped, MozDef is shutting down" in caplog.text


HOSTILE = {
    "multi-line": ("line one\nline two\r\n\tindented", "line one\nline two\n\tindented"),
    "control characters": ("\x00\x07\x1b[31mred\x7f\x85", "\ufffd\ufffd\ufffd[31mred\ufffd\ufffd"),
    "lone surrogate": ("bad \ud800 half", "bad ? half"),
    "slack markup": (
        "<!channel> ping & <https://evil.example|click> > 1",
        "&lt;!channel&gt; ping &amp; &lt;https://evil.example|click&gt; &gt; 1",
    ),
    "mentions": ("@here @all from bob@example.com", "@\u2060here @\u2060all from bob@example.com"),
    "very long": ("x" * 100_000, "x" * 2999 + "…"),
}


def test_hostile_summaries_make_valid_json(notifier, receiver):
    plugins, webhook = notifier([receiver.url()], max_text_length=3000)
    for summary, _ in HOSTILE.values():
        plugins.broadcast("mozdef_notify_alert", alert=make_alert(summary=summary))
    plugins.broadcast("mozdef_notify_alert", alert=make_alert(category="a\x00b", rule="r\nx"))
    settle(webhook)

    *hostile, other_fields = [request.json()["attachments"][0] for request in receiver.requests]
    for (name, (_, shown)), attachment in zip(HOSTILE.items(), hostile, strict=True):
        assert attachment["text"] == shown, name
        assert attachment["fallback"] == shown, name
    assert other_fields["fields"][1]["value"] == "a\ufffdb"
    assert other_fields["title"] == "r\nx"


def test_https_with_a_trusted_ca_file(notifier, tls_receiver, certificate):
    plugins, webhook = notifier([tls_receiver.url()], ca_file=str(certificate))
    plugins.broadcast("mozdef_notify_alert", alert=make_alert())
    settle(webhook)

    [request] = tls_receiver.requests
    assert request.json()["attachments"][0]["text"] == make_alert()["summary"]
    assert webhook.destinations[0].tally.delivered == 1


def test_https_refuses_an_untrusted_certificate(notifier, tls_receiver, caplog):
    plugins, webhook = notifier([tls_receiver.url()], max_attempts=2)
    plugins.broadcast("mozdef_notify_alert", alert=make_alert())
    settle(webhook)

    assert tls_receiver.requests == []
    assert webhook.destinations[0].tally.failed == 1
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text


def test_retry_after_forms():
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(" 0 ") == 0.0
    in_a_minute = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    assert 58 <= retry_after_seconds(in_a_minute) <= 60
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("-5") is None
    assert retry_after_seconds(None) is None


def test_disabled_by_default(config_file):
    plugins = Plugins(config_file(""), [Candidate("webhook", "built-in", Webhook())])
    assert plugins.enabled == []


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ("enabled = true", "plugins.webhook.urls: give at least one webhook URL"),
        (
            'enabled = true\nurls = ["ftp://files.example.com/x"]',
            "plugins.webhook.urls: ftp://files.example.com/… is not an http:// or https:// URL",
        ),
        ('icon_url = "icon.png"', "plugins.webhook.icon_url: not an http:// or https:// URL"),
        ('icon_emoji = "siren"', "plugins.webhook.icon_emoji: an emoji is named between colons"),
        ("backoff_longest = 0.5", "plugins.webhook.backoff_longest: must be at least"),
        ("timeout = 0", "plugins.webhook.timeout: Input should be greater than 0"),
        ('ca_file = "/nonexistent/ca.pem"', "plugins.webhook.ca_file: no such file"),
        (f"ca_file = {json.dumps(__file__)}", "plugins.webhook.ca_file: not a PEM file of"),
    ],
)
def test_bad_settings_name_the_key(config_file, table, problem):
    with pytest.raises(ConfigError, match=re.escape(problem)):
        Plugins(
            config_file(f"[plugins.webhook]\n{table}\n"),
            [Candidate("webhook", "built-in", Webhook())],
        )


def test_urls_from_the_environment(config_file):
    url = "https://hooks.slack.com" + SECRET_PATH
    environ = {"MOZDEF_PLUGINS_WEBHOOK_URLS": json.dumps([url])}
    config = config_file("[plugins.webhook]\nenabled = true\n", environ)
    plugins = Plugins(config, [Candidate("webhook", "built-in", Webhook())])
    [settings] = [info.settings for info in plugins.enabled]
    assert settings.urls == [url]
