"""Alerts posted to chat rooms through Slack-compatible incoming webhooks: Slack, Mattermost,
Rocket.Chat.

Each alert becomes one message with one attachment: a colour bar for its severity, its
summary as text, Severity and Category fields, and its rule as a title linking to the
alert's url. `mozdef_notify_alert` never waits on the network: it formats the message once
and queues it for every configured URL; one greenlet per URL posts its queue in order.

The HTTP client is geventhttpclient: it is built on gevent's own sockets, so it yields to
the hub without monkey-patching the process, and a greenlet blocked in it can be killed when
the shutdown deadline passes (a blocking client on gevent's thread pool could not be
stopped: its thread would run on). Failed posts are retried with the shared backoff; a 429
waits exactly the Retry-After the server asked for. A webhook URL carries its secret in the
path, so logs name a URL by scheme and host only.
"""

import logging
import re
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.client import HTTPException
from typing import Any
from urllib.parse import urlsplit

import gevent
import gevent.queue
import orjson
from geventhttpclient import HTTPClient
from geventhttpclient.url import URL
from pydantic import Field, ValidationInfo, field_validator

from mozdef.core import PluginSettings, __version__, hookimpl
from mozdef.core.backoff import backoff_delay
from mozdef.core.logs import RateLimitedLog

logger = logging.getLogger(__name__)

RED, YELLOW, BLUE, GREY = "#d50000", "#ffc400", "#2962ff", "#9e9e9e"
COLOURS = {
    "EMERGENCY": RED,
    "ALERT": RED,
    "CRITICAL": RED,
    "ERROR": RED,
    "WARNING": YELLOW,
    "NOTICE": BLUE,
    "INFO": GREY,
    "DEBUG": GREY,
}
HEADERS = {"Content-Type": "application/json", "User-Agent": f"MozDef/{__version__}"}
FIELD_LENGTH = 200  # severity, category and title: short by nature; cut if a rule says more
RESPONSE_SHOWN = 500  # characters of an error response quoted in the log

# Control characters would garble the chat client's rendering; newline and tab are kept,
# carriage returns dropped (CRLF lines become LF lines), the rest shown as U+FFFD.
CONTROLS: dict[int, str | None] = {
    code: "\ufffd" for code in [*range(0x20), 0x7F, *range(0x80, 0xA0)] if chr(code) not in "\n\t"
}
CONTROLS[ord("\r")] = None
# Slack reads <...> as links and mentions (<!channel> pings a whole channel, Mattermost
# translates it alike) and & as the start of an escape: alert text, which attackers can
# influence through the events, is sent escaped as Slack's formatting rules ask.
SLACK_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
# Mattermost notifies on a plain @name, @all or @here in attachment text, and other servers
# may; a word joiner after the @ looks the same and notifies no one.
MENTION = re.compile(r"(?<![\w.])@(?=\w)")
DEFUSED_MENTION = "@\u2060"


def is_web_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def redact(url: str) -> str:
    """A webhook URL fit for the log: its path is the secret that lets anyone post, and
    credentials may precede the host."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}/…"


class WebhookSettings(PluginSettings):
    """The `[plugins.webhook]` table."""

    enabled: bool = Field(False, description="Post alerts to the webhooks in urls.")
    urls: list[str] = Field(
        [],
        validate_default=True,
        description="Incoming-webhook URLs (Slack, Mattermost or Rocket.Chat); every alert is "
        "posted to each. Secrets: keep them out of the file with MOZDEF_PLUGINS_WEBHOOK_URLS.",
    )
    timeout: float = Field(
        10.0, gt=0, description="Seconds one post may take, connecting included, before it fails."
    )
    max_attempts: int = Field(
        5, ge=1, description="Posts of one alert to one URL, the first included, before giving up."
    )
    backoff_first: float = Field(
        1.0,
        gt=0,
        description="Seconds before the first retry; each next retry waits twice as long.",
    )
    backoff_longest: float = Field(
        60.0, gt=0, description="Longest wait between two retries, in seconds."
    )
    ca_file: str = Field(
        "",
        description="PEM file of the certificate authorities trusted for https:// URLs, e.g. "
        "the internal CA of a self-hosted Mattermost; empty: the public ones (certifi's).",
    )
    max_queue: int = Field(
        1000,
        ge=1,
        description="Alerts waiting per URL; beyond this new alerts are dropped (logged).",
    )
    shutdown_timeout: float = Field(
        10.0,
        ge=0,
        description="Seconds shutdown waits for queued alerts to be posted; the rest are dropped "
        "(logged).",
    )
    max_text_length: int = Field(
        3000, ge=10, description="Characters of the alert's summary shown; longer ones are cut."
    )
    channel: str = Field(
        "", description="Post to this channel instead of the webhook's own; empty: the webhook's."
    )
    username: str = Field("", description="Name shown as the sender; empty: the webhook's.")
    icon_url: str = Field("", description="URL of the sender's picture; empty: the webhook's.")
    icon_emoji: str = Field(
        "",
        description="Emoji as the sender's picture, e.g. ':rotating_light:'; empty: the webhook's.",
    )

    @field_validator("urls")
    @classmethod
    def must_be_webhooks(cls, urls: list[str], info: ValidationInfo) -> list[str]:
        if info.data.get("enabled") and not urls:
            raise ValueError("give at least one webhook URL, or set enabled = false")
        for url in urls:
            if not is_web_url(url):
                raise ValueError(f"{redact(url)} is not an http:// or https:// URL")
        return urls

    @field_validator("ca_file")
    @classmethod
    def must_be_certificates(cls, path: str) -> str:
        if path:
            try:
                ssl.create_default_context(cafile=path)
            except FileNotFoundError:
                raise ValueError("no such file") from None
            except ssl.SSLError as exc:
                raise ValueError(f"not a PEM file of certificates ({exc.reason})") from None
            except OSError as exc:
                raise ValueError(f"cannot read it: {exc.strerror}") from None
        return path

    @field_validator("icon_url")
    @classmethod
    def must_be_web_url(cls, url: str) -> str:
        if url and not is_web_url(url):
            raise ValueError("not an http:// or https:// URL")
        return url

    @field_validator("icon_emoji")
    @classmethod
    def must_be_emoji(cls, emoji: str) -> str:
        if emoji and not (len(emoji) > 2 and emoji.startswith(":") and emoji.endswith(":")):
            raise ValueError("an emoji is named between colons, e.g. ':rotating_light:'")
        return emoji

    @field_validator("backoff_longest")
    @classmethod
    def must_not_be_shorter(cls, longest: float, info: ValidationInfo) -> float:
        first = info.data.get("backoff_first")
        if first is not None and longest < first:
            raise ValueError(f"must be at least backoff_first ({first})")
        return longest


def chat_text(value: Any, limit: int) -> str:
    """Alert text as the chat should show it: cut to `limit` characters, no control
    characters, no lone surrogates (which are not UTF-8), Slack-escaped, mentions defused."""
    text = str(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = text.translate(CONTROLS).encode("utf-8", "replace").decode("utf-8")
    return MENTION.sub(DEFUSED_MENTION, text.translate(SLACK_ESCAPES))


class MessageFormat:
    """Turns an alert into the JSON body of a post; what the settings fix is prepared once."""

    def __init__(self, settings: WebhookSettings) -> None:
        overrides = {
            "channel": settings.channel,
            "username": settings.username,
            "icon_url": settings.icon_url,
            "icon_emoji": settings.icon_emoji,
        }
        self.envelope = {key: value for key, value in overrides.items() if value}
        self.text_length = settings.max_text_length

    def attachment(self, alert: dict) -> dict[str, Any]:
        severity = str(alert.get("severity", ""))
        summary = chat_text(alert.get("summary", ""), self.text_length)
        attachment = {
            "fallback": summary,
            "color": COLOURS.get(severity.upper(), GREY),
            "title": chat_text(alert.get("rule") or "MozDef alert", FIELD_LENGTH),
            "text": summary,
            "fields": [
                {"title": "Severity", "value": chat_text(severity, FIELD_LENGTH), "short": True},
                {
                    "title": "Category",
                    "value": chat_text(alert.get("category", ""), FIELD_LENGTH),
                    "short": True,
                },
            ],
        }
        url = alert.get("url")
        if isinstance(url, str) and is_web_url(url):
            attachment["title_link"] = url
        return attachment

    def encode(self, alert: dict) -> bytes:
        return orjson.dumps({**self.envelope, "attachments": [self.attachment(alert)]})


def retry_after_seconds(value: str | None) -> float | None:
    """The wait a Retry-After header asks for: delay-seconds or an HTTP-date (RFC 9110);
    None if absent or unreadable, and the usual backoff applies."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP-date is always GMT; parsedate sees "-0000" as naive
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def wait_at_least(seconds: float) -> None:
    """Sleep cooperatively for no less than `seconds`: the hub's timers run on a clock read at
    the start of a loop iteration, so one timer alone can fire a little early."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        gevent.sleep(left)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What became of one post: delivered, worth retrying (after `wait` seconds if the server
    said), or refused for good."""

    delivered: bool = False
    retry: bool = False
    wait: float | None = None
    problem: str = ""


DELIVERED = Verdict(delivered=True)


def judge(status: int, retry_after: str | None, body: bytes) -> Verdict:
    if 200 <= status < 300:
        return DELIVERED
    answer = body[:RESPONSE_SHOWN].decode("utf-8", "replace")
    problem = f"HTTP {status}: {answer!r}"
    if status == 429:
        return Verdict(retry=True, wait=retry_after_seconds(retry_after), problem=problem)
    return Verdict(retry=status >= 500, problem=problem)


@dataclass
class Tally:
    """What one destination did with the alerts it was given, for the shutdown log."""

    delivered: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0


class Destination:
    """One webhook URL: its queue, its connection and the greenlet that posts in order."""

    def __init__(self, url: str, number: int, settings: WebhookSettings) -> None:
        """`number`: the URL's place in `urls`, which tells apart URLs on one host in logs."""
        self.name = f"urls[{number}] {redact(url)}"
        self.path = URL(url).request_uri
        self.client = HTTPClient.from_url(
            url,
            headers=HEADERS,
            connection_timeout=settings.timeout,
            network_timeout=settings.timeout,
            ssl_options={"ca_certs": settings.ca_file} if settings.ca_file else None,
        )
        self.settings = settings
        self.queue: gevent.queue.JoinableQueue[bytes] = gevent.queue.JoinableQueue(
            settings.max_queue
        )
        self.tally = Tally()
        self.log = RateLimitedLog(logger)
        self.overflow = 0  # alerts dropped since the queue last took one
        self.closed = False
        self.worker = gevent.spawn(self.post_forever)

    def offer(self, body: bytes) -> None:
        """Queue a message without waiting. A full queue is logged when it starts dropping
        and when it takes alerts again, with the count, not once per alert."""
        if self.closed:
            self.tally.dropped += 1
            logger.warning("webhook %s: alert dropped, MozDef is shutting down", self.name)
            return
        try:
            self.queue.put_nowait(body)
        except gevent.queue.Full:
            if not self.overflow:
                logger.warning(
                    "webhook %s: %d alerts wait already (max_queue): dropping new ones",
                    self.name,
                    self.settings.max_queue,
                )
            self.overflow += 1
            self.tally.dropped += 1
            return
        self.report_overflow()

    def report_overflow(self) -> None:
        if self.overflow:
            logger.warning(
                "webhook %s: %d alerts were dropped while the queue was full",
                self.name,
                self.overflow,
            )
            self.overflow = 0

    def post_forever(self) -> None:
        while True:
            body = self.queue.get()
            try:
                self.deliver(body)
            except Exception:
                self.tally.failed += 1
                self.log.exception("webhook %s: alert lost to an unexpected error", self.name)
            finally:
                self.queue.task_done()

    def deliver(self, body: bytes) -> None:
        """Post one message, retrying what may succeed later, until delivered or given up."""
        settings = self.settings
        for attempt in range(1, settings.max_attempts + 1):
            verdict = self.post(body)
            if verdict.delivered:
                self.tally.delivered += 1
                return
            if not verdict.retry:
                self.tally.failed += 1
                logger.error(
                    "webhook %s refused the alert, not retried: %s", self.name, verdict.problem
                )
                return
            if attempt == settings.max_attempts:
                break
            wait = verdict.wait
            if wait is None:
                wait = backoff_delay(attempt, settings.backoff_first, settings.backoff_longest)
            self.tally.retried += 1
            logger.warning(
                "webhook %s: %s; retry %d of %d in %.3g s",
                self.name,
                verdict.problem,
                attempt,
                settings.max_attempts - 1,
                wait,
            )
            wait_at_least(wait)
        self.tally.failed += 1
        logger.error(
            "webhook %s: alert given up after %d attempts: %s",
            self.name,
            settings.max_attempts,
            verdict.problem,
        )

    def post(self, body: bytes) -> Verdict:
        timeout = self.settings.timeout
        try:
            with gevent.Timeout(timeout, TimeoutError(f"no answer within {timeout:g} s")):
                response = self.client.request("POST", self.path, body=body)
                answer = response.read()
        except (OSError, HTTPException) as exc:
            return Verdict(retry=True, problem=f"{type(exc).__name__}: {exc}")
        retry_after = response.get("retry-after")  # a list if the header came twice: ignored
        if not isinstance(retry_after, str):
            retry_after = None
        return judge(response.status_code, retry_after, answer)

    def close(self, deadline: float) -> None:
        """Stop taking alerts, post what is queued until `deadline` (monotonic), then stop."""
        self.closed = True
        self.report_overflow()
        if not self.queue.join(timeout=max(0.0, deadline - time.monotonic())):
            left = self.queue.unfinished_tasks
            self.tally.dropped += left
            logger.error(
                "webhook %s: %d alerts not delivered by the shutdown deadline (shutdown_timeout)",
                self.name,
                left,
            )
        self.worker.kill()
        self.client.close()
        logger.info(
            "webhook %s: %d delivered, %d retries, %d failed, %d dropped",
            self.name,
            self.tally.delivered,
            self.tally.retried,
            self.tally.failed,
            self.tally.dropped,
        )


class Webhook:
    """MozDef instantiates this once; `mozdef_notifier_start` opens the destinations."""

    def __init__(self) -> None:
        self.destinations: list[Destination] = []
        self.format: MessageFormat | None = None
        self.shutdown_timeout = 0.0

    @hookimpl
    def mozdef_plugin_settings(self) -> type[WebhookSettings]:
        return WebhookSettings

    @hookimpl
    def mozdef_notifier_start(self, settings: WebhookSettings) -> None:
        self.format = MessageFormat(settings)
        self.shutdown_timeout = settings.shutdown_timeout
        self.destinations = [
            Destination(url, number, settings) for number, url in enumerate(settings.urls)
        ]
        logger.info("webhook: posting alerts to %s", ", ".join(d.name for d in self.destinations))

    @hookimpl
    def mozdef_notify_alert(self, alert: dict) -> None:
        if self.format is None:
            raise RuntimeError("webhook: an alert came before mozdef_notifier_start")
        body = self.format.encode(alert)
        for destination in self.destinations:
            destination.offer(body)

    @hookimpl
    def mozdef_shutdown(self) -> None:
        deadline = time.monotonic() + self.shutdown_timeout
        for destination in self.destinations:
            destination.close(deadline)
