"""The IRC bot: alerts to channels, answers to commands typed in a channel or in private.

It runs inside `mozdef run`, on gevent without monkey-patching. jaraco's `irc` library
parses and builds the protocol: it is handed gevent sockets (TLS included) through its
connection factory, and a greenlet of the bot feeds it what the server sends, in place
of the library's own select loop. Alerts are routed (`mozdef.bots.routing`), turned
into lines (`mozdef.bots.formatting`) and paced by flood control
(`mozdef.bots.floodcontrol`); commands go to `mozdef.bots.commands`. What is here is
IRC's own: registration (server password, SASL PLAIN or NickServ), channels and keys,
mIRC colours, line lengths, and a connection kept up with backoff and rejoined.
"""

import base64
import logging
import ssl
import time
from collections import deque
from typing import Annotated

import gevent
import gevent.event
import gevent.pool
import gevent.socket
import gevent.ssl
import irc.client
from jaraco.stream.buffer import LenientDecodingLineBuffer
from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from mozdef.bots.commands import Dispatcher, is_command
from mozdef.bots.floodcontrol import Outbox, TokenBucket
from mozdef.bots.formatting import (
    Colour,
    Message,
    Span,
    TimeZoneName,
    alert_message,
    clean,
    zone,
)
from mozdef.bots.routing import Route, Router
from mozdef.core import PluginSettings, hookimpl
from mozdef.core.backoff import backoff_delay
from mozdef.core.pluginmanager import Plugins
from mozdef.core.schema import Section

logger = logging.getLogger(__name__)
# The library logs every line it sends at DEBUG, passwords included.
logging.getLogger("irc.client").setLevel(logging.INFO)

NICK = r"^[A-Za-z\[\]\\`_^{|}][A-Za-z0-9\[\]\\`_^{|}-]*$"
CHANNEL = r"^[#&+!][^\x00-\x20\x07,:]+$"
WORD = r"^[^\x00-\x20]*$"  # fits in one IRC parameter: no spaces, no control characters
TEXT = r"^[^\x00-\x1f]*$"  # fits in a trailing parameter: no control characters

CONNECT_TIMEOUT = 30.0
COMMANDS_AT_ONCE = 4
LINE_LIMIT = 510  # bytes of an IRC line, less its CR LF
# Until the server shows the bot its own prefix (":nick!user@host "), room is kept for
# the longest user and host names servers allow.
USER_HOST_ALLOWANCE = len(":!@ ") + 10 + 63
SASL_CHUNK = 400
CONFIRMATION = "mozdef-sent-"  # PING token asking the server to confirm what came before
CONFIRM_EVERY = 10  # messages sent in a row before the bot asks for a confirmation

MIRC_COLOURS = {
    Colour.GREY: "14",
    Colour.BLUE: "12",
    Colour.GREEN: "03",
    Colour.ORANGE: "07",
    Colour.RED: "04",
    Colour.PURPLE: "06",
}
BOLD, COLOUR, RESET = "\x02", "\x03", "\x0f"

JOIN_REFUSALS = (
    "badchannelkey",
    "bannedfromchan",
    "channelisfull",
    "inviteonlychan",
    "nochanmodes",  # 477: most servers mean "register your nick first"
    "nosuchchannel",
    "toomanychannels",
)
SASL_FAILURES = ("nicklocked", "saslfail", "sasltoolong", "saslaborted", "saslalready")


def check_ca_file(path: str) -> str:
    if path:
        try:
            ssl.create_default_context(cafile=path)
        except FileNotFoundError:
            raise ValueError("no such file") from None
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"not a readable PEM file of certificates: {exc}") from None
    return path


class Channel(Section):
    """One `[[plugins.irc.channels]]` entry."""

    name: str = Field(pattern=CHANNEL, description="The channel, e.g. #mozdef.")
    key: str = Field("", pattern=WORD, description="Its key (channel mode +k); empty: none.")
    time_zone: TimeZoneName = Field(
        "",
        description="IANA time zone of the times shown in this channel, e.g. Europe/Paris; "
        "empty: the bot's time_zone.",
    )


class IRCSettings(PluginSettings):
    """The `[plugins.irc]` table."""

    enabled: bool = Field(
        False, description="Run the IRC bot; off by default, since it needs a server."
    )
    server: str = Field("localhost", pattern=r"^\S+$", description="The IRC server's host name.")
    port: int = Field(6697, ge=1, le=65535, description="Its port: 6697 with TLS, 6667 without.")
    tls: bool = Field(True, description="Connect with TLS.")
    tls_verify: bool = Field(
        True,
        description="Check the server's certificate and host name; turn off only for a test "
        "server.",
    )
    tls_ca_file: Annotated[str, AfterValidator(check_ca_file)] = Field(
        "", description="PEM file of the certificates to trust; empty: the system's."
    )
    password: str = Field(
        "",
        pattern=WORD,
        description="Server password (PASS); empty: none. Best set in "
        "$MOZDEF_PLUGINS_IRC_PASSWORD.",
    )
    nick: str = Field(
        "mozdef",
        pattern=NICK,
        max_length=30,
        description="The bot's nickname; while it is taken, _ is added to it.",
    )
    username: str = Field(
        "mozdef", pattern=r"^[^\x00-\x20@]+$", description="User name (ident) it registers with."
    )
    realname: str = Field("MozDef alert bot", pattern=TEXT, description="Real name WHOIS shows.")
    sasl_username: str = Field(
        "",
        pattern=WORD,
        description="Account to log in to with SASL PLAIN while registering; empty: no SASL.",
    )
    sasl_password: str = Field(
        "",
        pattern=r"^[^\x00]*$",
        description="Its password; best set in $MOZDEF_PLUGINS_IRC_SASL_PASSWORD.",
    )
    nickserv_password: str = Field(
        "",
        pattern=WORD,
        description="Password to IDENTIFY to NickServ with once registered, where SASL is "
        "not offered; empty: no NickServ.",
    )
    nickserv_account: str = Field(
        "", pattern=WORD, description="Account to identify as to NickServ; empty: the nick."
    )
    channels: list[Channel] = Field(
        [],
        validate_default=True,  # an enabled bot with no channels must be an error
        description="Channels to join: [[plugins.irc.channels]] tables with name, key and "
        "time_zone.",
    )
    default_channel: str = Field(
        "",
        description="Where alerts go when neither their own channel nor a route decides; "
        "empty: the first channel.",
    )
    routes: list[Route] = Field(
        [],
        description="Routing rules, the first match wins: [[plugins.irc.routes]] tables "
        "with channel, min_severity and categories.",
    )
    time_zone: TimeZoneName = Field(
        "UTC",
        description="IANA time zone of the times shown in private messages and in channels "
        "without a time_zone of their own.",
    )
    flood_burst: int = Field(
        4, ge=1, description="Lines the bot may send at once before flood control paces it."
    )
    flood_rate: float = Field(1.0, gt=0, description="Lines a second it sends after a burst.")
    backlog: int = Field(
        20,
        ge=1,
        description="Messages that may wait for flood control, per channel; alerts beyond "
        'that are counted and sent as one "N more alerts" line.',
    )
    reconnect_min: float = Field(
        2.0, gt=0, description="Seconds before reconnecting (and before rejoining after a kick)."
    )
    reconnect_max: float = Field(
        300.0, gt=0, description="Longest wait between reconnection attempts (the wait doubles)."
    )
    keepalive: float = Field(
        60.0,
        gt=0,
        description="Seconds of silence from the server before the bot PINGs it; after "
        "twice that, it reconnects.",
    )

    @field_validator("channels")
    @classmethod
    def check_channels(cls, channels: list[Channel], info: ValidationInfo) -> list[Channel]:
        if info.data.get("enabled") and not channels:
            raise ValueError("list at least one channel for the bot to join")
        names = [channel.name.casefold() for channel in channels]
        if len(set(names)) != len(names):
            raise ValueError("a channel is listed twice")
        return channels

    @field_validator("default_channel")
    @classmethod
    def check_default(cls, default: str, info: ValidationInfo) -> str:
        names = channel_names(info)
        if default and names:
            Router(names, default, [])
        return default

    @field_validator("routes")
    @classmethod
    def check_routes(cls, routes: list[Route], info: ValidationInfo) -> list[Route]:
        names = channel_names(info)
        if names:
            Router(names, names[0], routes)
        return routes

    @field_validator("sasl_password")
    @classmethod
    def check_sasl(cls, password: str, info: ValidationInfo) -> str:
        if bool(password) != bool(info.data.get("sasl_username")):
            raise ValueError("set both sasl_username and sasl_password, or neither")
        return password

    @field_validator("reconnect_max")
    @classmethod
    def check_reconnect(cls, longest: float, info: ValidationInfo) -> float:
        if longest < info.data.get("reconnect_min", 0):
            raise ValueError("must not be less than reconnect_min")
        return longest


def channel_names(info: ValidationInfo) -> list[str]:
    """The names of the channels, once they have been validated."""
    return [channel.name for channel in info.data.get("channels", [])]


class Connection(irc.client.ServerConnection):
    """Reads what the server sends as UTF-8, falling back to Latin-1, instead of
    stopping at the first line that is not UTF-8."""

    buffer_class = LenientDecodingLineBuffer


class Reactor(irc.client.Reactor):
    connection_class = Connection


def render(span: Span, text: str) -> str:
    """`text` in the span's style, with mIRC codes."""
    colour = COLOUR + MIRC_COLOURS[span.colour] if span.colour else ""
    codes = (BOLD if span.bold else "") + colour
    return f"{codes}{text}{RESET}" if codes else text


def irc_lines(message: Message, budget: int) -> list[str]:
    """The message rendered for IRC, in as many lines as it takes to keep each within
    `budget` bytes; a line breaks at a space where it can."""
    lines: list[str] = []
    line, room = "", budget
    for span in message.spans:
        text, overhead = span.text, len(render(span, "").encode())
        while text:
            piece, rest = fit(text, room - overhead)
            if not piece and line:
                lines.append(line)
                line, room = "", budget
                continue
            if not piece:  # a budget too small for one character: go on anyway
                piece, rest = text[0], text[1:]
            rendered = render(span, piece)
            line += rendered
            room -= len(rendered.encode())
            text = rest
            if text:
                lines.append(line)
                line, room = "", budget
    if line:
        lines.append(line)
    return lines


def fit(text: str, room: int) -> tuple[str, str]:
    """`text` split into what fits in `room` bytes of UTF-8 and the rest. The cut falls
    on a space, which is dropped (servers strip a line's trailing spaces anyway), when
    that keeps at least half of what fits."""
    if room <= 0:
        return "", text
    encoded = text.encode()
    if len(encoded) <= room:
        return text, ""
    piece = encoded[:room].decode(errors="ignore")
    space = text.rfind(" ", 0, len(piece) + 1)
    if space >= len(piece) // 2:
        return text[:space], text[space + 1 :]
    return piece, text[len(piece) :]


def tls_context(settings: IRCSettings) -> gevent.ssl.SSLContext:
    """gevent's own context, whose sockets wait in the hub (`gevent.ssl`'s
    create_default_context hands out the standard library's, which would block it)."""
    context = gevent.ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if settings.tls_ca_file:
        context.load_verify_locations(cafile=settings.tls_ca_file)
    else:
        context.load_default_certs()
    if not settings.tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class IRCClient:
    """The bot's one connection to its server, kept up for as long as MozDef runs."""

    def __init__(self, settings: IRCSettings, dispatcher: Dispatcher) -> None:
        self.settings = settings
        self.dispatcher = dispatcher
        names = [channel.name for channel in settings.channels]
        self.router = Router(names, settings.default_channel or names[0], settings.routes)
        self.zone = zone(settings.time_zone)
        self.zones = {
            channel.name.casefold(): zone(channel.time_zone) if channel.time_zone else self.zone
            for channel in settings.channels
        }
        self.keys = {channel.name.casefold(): channel.key for channel in settings.channels}
        self.tls = tls_context(settings) if settings.tls else None
        self.bucket = TokenBucket(settings.flood_burst, settings.flood_rate)
        self.outbox = Outbox(settings.backlog)
        self.wakeup = gevent.event.Event()
        self.answering = gevent.pool.Pool(COMMANDS_AT_ONCE)
        self.reactor = Reactor()
        self.connection = self.reactor.server()
        self.registered = False
        self.joined: set[str] = set()
        self.prefix_length = len(settings.nick) + USER_HOST_ALLOWANCE
        self.offered: set[str] = set()  # capabilities the server offers
        # Messages sent but not yet confirmed (see `ask_confirmation`), numbered.
        self.unconfirmed: deque[tuple[int, str, Message]] = deque()
        self.sequence = 0  # messages sent
        self.asked = 0  # the last message a PING asked the server to confirm
        self.failures = 0
        self.last_heard = 0.0
        self.lost_reason = ""
        self.stopping = False
        self.greenlets: list[gevent.Greenlet] = []
        handlers = {
            "all_raw_messages": self.on_anything,
            "welcome": self.on_welcome,
            "join": self.on_join,
            "kick": self.on_kick,
            "cannotsendtochan": self.on_refused_message,
            "nicknameinuse": self.on_nick_taken,
            "passwdmismatch": self.on_password_refused,
            "error": self.on_error,
            "disconnect": self.on_disconnect,
            "pong": self.on_pong,
            "pubmsg": self.on_message,
            "privmsg": self.on_message,
            "privnotice": self.on_notice,
            "cap": self.on_cap,
            "authenticate": self.on_authenticate,
            "saslsuccess": self.on_sasl_success,
            **dict.fromkeys(JOIN_REFUSALS, self.on_join_refused),
            **dict.fromkeys(SASL_FAILURES, self.on_sasl_failure),
        }
        for event, handler in handlers.items():
            self.reactor.add_global_handler(event, handler)

    @property
    def where(self) -> str:
        return f"{self.settings.server}:{self.settings.port}"

    def start(self) -> None:
        self.greenlets = [gevent.spawn(self.stay_connected), gevent.spawn(self.deliver)]

    def stop(self) -> None:
        self.stopping = True
        if self.connection.is_connected():
            self.connection.disconnect("MozDef is shutting down")
        undelivered = self.outbox.undelivered()
        if undelivered:
            logger.warning(
                "irc: %d messages were still waiting to be sent; the alerts among them "
                "are in the store (!alerts lists them)",
                undelivered,
            )
        self.answering.kill()
        gevent.killall(self.greenlets)
        self.dispatcher.close()

    def post(self, alert: dict) -> None:
        """Queue an alert for its channel; returns at once."""
        target = self.router.channel_for(alert)
        self.outbox.add_alert(target, alert_message(alert), str(alert.get("severity")))
        self.wakeup.set()

    # The connection.

    def stay_connected(self) -> None:
        while not self.stopping:
            self.lost_reason = "the server closed the connection"
            try:
                self.session()
            except irc.client.ServerConnectionError as exc:
                self.lost_reason = str(exc)
            if self.stopping:
                return
            self.failures += 1
            delay = backoff_delay(
                self.failures, self.settings.reconnect_min, self.settings.reconnect_max
            )
            logger.warning(
                "irc: %s: %s; reconnecting in %.1f s", self.where, self.lost_reason, delay
            )
            gevent.sleep(delay)

    def session(self) -> None:
        """Connect, register, and read what the server sends until the connection ends."""
        settings = self.settings
        self.offered.clear()
        self.connection.connect(
            settings.server,
            settings.port,
            settings.nick,
            password=settings.password or None,
            username=settings.username,
            ircname=settings.realname,
            connect_factory=self.open_socket,
        )
        self.last_heard = time.monotonic()
        keepalive = gevent.spawn(self.keep_alive)
        try:
            while self.connection.is_connected():
                self.connection.process_data()
        except Exception:
            logger.exception("irc: failed to handle what %s sent", self.where)
            self.lost_reason = "an error in the bot"
            self.connection.disconnect("internal error")
        finally:
            keepalive.kill()

    def open_socket(self, address: tuple[str, int]) -> gevent.socket.socket:
        """The library's connection factory: a gevent socket, wrapped in TLS if set.
        With SASL, capability negotiation must start before the library registers."""
        sock = gevent.socket.create_connection(address, timeout=CONNECT_TIMEOUT)
        try:
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_hostname=self.settings.server)
            sock.settimeout(None)
            if self.settings.sasl_username:
                sock.sendall(b"CAP LS 302\r\n")
        except BaseException:
            sock.close()
            raise
        return sock

    def keep_alive(self) -> None:
        """PING a silent server; give up on one silent for twice the keepalive."""
        interval = self.settings.keepalive
        while self.connection.is_connected():
            gevent.sleep(interval)
            silent = time.monotonic() - self.last_heard
            if silent >= 2 * interval:
                self.lost_reason = f"no word from the server for {silent:.0f} s"
                self.connection.disconnect("ping timeout")
            elif silent >= interval:
                self.connection.ping(self.settings.server)

    def is_me(self, nick: str) -> bool:
        return nick.casefold() == self.connection.get_nickname().casefold()

    def on_anything(self, connection: Connection, event: irc.client.Event) -> None:
        self.last_heard = time.monotonic()

    def on_welcome(self, connection: Connection, event: irc.client.Event) -> None:
        settings = self.settings
        self.registered = True
        self.failures = 0
        self.prefix_length = len(connection.get_nickname()) + USER_HOST_ALLOWANCE
        logger.info("irc: registered at %s as %s", self.where, connection.get_nickname())
        if settings.nickserv_password:
            account = settings.nickserv_account or settings.nick
            connection.privmsg("NickServ", f"IDENTIFY {account} {settings.nickserv_password}")
        for channel in settings.channels:
            connection.join(channel.name, channel.key)
        self.wakeup.set()

    def on_join(self, connection: Connection, event: irc.client.Event) -> None:
        if not self.is_me(event.source.nick):
            return
        self.joined.add(event.target.casefold())
        # The server shows the bot's own prefix: now the room for text is known exactly.
        self.prefix_length = len(f":{event.source} ".encode())
        logger.info("irc: joined %s", event.target)
        self.wakeup.set()

    def on_kick(self, connection: Connection, event: irc.client.Event) -> None:
        kicked, *reason = event.arguments
        if not self.is_me(kicked):
            return
        channel = event.target
        self.joined.discard(channel.casefold())
        delay = self.settings.reconnect_min
        logger.warning(
            "irc: kicked from %s by %s (%s); rejoining in %.0f s",
            channel,
            event.source.nick,
            clean(" ".join(reason)),
            delay,
        )
        gevent.spawn_later(delay, self.rejoin, channel)

    def rejoin(self, channel: str) -> None:
        if self.registered:
            self.connection.join(channel, self.keys.get(channel.casefold(), ""))

    def on_join_refused(self, connection: Connection, event: irc.client.Event) -> None:
        channel, *reason = event.arguments
        logger.error(
            "irc: %s refused to let the bot join %s: %s; its messages wait until it can "
            "(check [plugins.irc] channels)",
            self.where,
            channel,
            clean(" ".join(reason)),
        )

    def on_refused_message(self, connection: Connection, event: irc.client.Event) -> None:
        channel, *reason = event.arguments
        logger.error(
            "irc: %s refused a message to %s: %s", self.where, channel, clean(" ".join(reason))
        )

    def on_nick_taken(self, connection: Connection, event: irc.client.Event) -> None:
        if not self.registered:
            connection.nick(event.arguments[0] + "_")

    def on_password_refused(self, connection: Connection, event: irc.client.Event) -> None:
        logger.error("irc: %s refused the server password ([plugins.irc] password)", self.where)

    def on_error(self, connection: Connection, event: irc.client.Event) -> None:
        self.lost_reason = f"the server closed the link: {clean(event.target or '')}"

    def on_disconnect(self, connection: Connection, event: irc.client.Event) -> None:
        self.registered = False
        self.joined.clear()
        if self.unconfirmed:
            logger.info(
                "irc: %d messages the server did not confirm will be sent again",
                len(self.unconfirmed),
            )
        for _number, target, message in reversed(self.unconfirmed):
            self.outbox.retry(target, message)
        self.unconfirmed.clear()
        self.asked = self.sequence

    # SASL PLAIN (IRCv3 capability negotiation); the library's own cannot be combined
    # with a server password.

    def on_cap(self, connection: Connection, event: irc.client.Event) -> None:
        subcommand, *rest = event.arguments
        if not (self.settings.sasl_username and rest):
            return
        if subcommand == "LS":
            self.offered.update(name.split("=", 1)[0] for name in rest[-1].split())
            if len(rest) > 1 and rest[0] == "*":
                return  # more capabilities follow on the next line
            if "sasl" in self.offered:
                connection.cap("REQ", "sasl")
            else:
                self.sasl_failed(connection, "the server does not offer SASL")
        elif subcommand == "ACK" and "sasl" in rest[-1].split():
            connection.send_items("AUTHENTICATE", "PLAIN")
        elif subcommand == "NAK":
            self.sasl_failed(connection, "the server refused the sasl capability")

    def on_authenticate(self, connection: Connection, event: irc.client.Event) -> None:
        settings = self.settings
        if event.target != "+" or not settings.sasl_username:
            return
        plain = f"\0{settings.sasl_username}\0{settings.sasl_password}".encode()
        payload = base64.b64encode(plain).decode()
        starts = range(0, len(payload), SASL_CHUNK)
        chunks = [payload[start : start + SASL_CHUNK] for start in starts]
        if len(payload) % SASL_CHUNK == 0:
            chunks.append("+")  # says that the last full chunk was the end
        for chunk in chunks:
            connection.send_items("AUTHENTICATE", chunk)

    def on_sasl_success(self, connection: Connection, event: irc.client.Event) -> None:
        logger.info("irc: logged in with SASL as %s", self.settings.sasl_username)
        connection.cap("END")

    def on_sasl_failure(self, connection: Connection, event: irc.client.Event) -> None:
        self.sasl_failed(connection, clean(" ".join(event.arguments)))

    def sasl_failed(self, connection: Connection, reason: str) -> None:
        logger.error(
            "irc: SASL login as %s failed: %s; going on without it",
            self.settings.sasl_username,
            reason,
        )
        connection.cap("END")

    def on_notice(self, connection: Connection, event: irc.client.Event) -> None:
        # What NickServ says about identification is worth a line in the log.
        if event.source and event.source.nick.casefold() == "nickserv":
            logger.info("irc: NickServ: %s", clean(event.arguments[0]))

    # Commands.

    def on_message(self, connection: Connection, event: irc.client.Event) -> None:
        text = event.arguments[0]
        if not is_command(text):
            return
        sender = event.source.nick
        target = event.target if event.type == "pubmsg" else sender
        if self.answering.full():
            self.reply(target, [f"{sender}: busy with other commands; try again in a moment"])
        else:
            self.answering.spawn(self.answer, text, sender, target)

    def answer(self, text: str, sender: str, target: str) -> None:
        where = self.zones.get(target.casefold(), self.zone)
        self.reply(target, self.dispatcher.run(text, sender, target, where))

    def reply(self, target: str, lines: list[str]) -> None:
        if not self.outbox.add_reply(target, [Message.plain(line) for line in lines]):
            logger.warning(
                "irc: a reply to %s was not sent: %d messages already wait for it",
                target,
                self.settings.backlog,
            )
        self.wakeup.set()

    # Sending, paced by flood control.

    def deliver(self) -> None:
        while True:
            popped = self.outbox.pop(self.can_send)
            if popped is None:
                self.ask_confirmation()
                self.wakeup.clear()
                self.wakeup.wait()
                continue
            target, message = popped
            try:
                sent = self.send(target, message)
            except Exception:  # a bug must cost one message, not every later one
                logger.exception("irc: failed to send to %s: %s", target, message.text)
                continue
            if not sent:
                self.outbox.retry(target, message)
                continue
            self.sequence += 1
            self.unconfirmed.append((self.sequence, target, message))
            if self.sequence - self.asked >= CONFIRM_EVERY:
                self.ask_confirmation()

    def ask_confirmation(self) -> None:
        """A line written to the socket may still be lost with the connection: the
        server's PONG to a PING sent after it shows that the server read it."""
        if self.asked < self.sequence and self.connection.is_connected():
            self.asked = self.sequence
            self.connection.ping(f"{CONFIRMATION}{self.sequence}")

    def on_pong(self, connection: Connection, event: irc.client.Event) -> None:
        token = (event.arguments or [event.target])[-1]
        number = token.removeprefix(CONFIRMATION)
        if token.startswith(CONFIRMATION) and number.isdigit():
            while self.unconfirmed and self.unconfirmed[0][0] <= int(number):
                self.unconfirmed.popleft()

    def can_send(self, target: str) -> bool:
        if not (self.registered and self.connection.is_connected()):
            return False
        return not irc.client.is_channel(target) or target.casefold() in self.joined

    def send(self, target: str, message: Message) -> bool:
        """Send one message, line by line as tokens allow; False if the connection or the
        channel was lost before it was all sent."""
        budget = LINE_LIMIT - self.prefix_length - len(f"PRIVMSG {target} :".encode())
        for line in irc_lines(message, budget):
            while (delay := self.bucket.delay()) > 0:
                gevent.sleep(delay)
            if not self.can_send(target):
                return False
            self.bucket.take()
            self.connection.privmsg(target, line)
        return self.connection.is_connected()


class IRCBot:
    """MozDef instantiates this once; `mozdef_notifier_start` connects."""

    def __init__(self) -> None:
        self.client: IRCClient | None = None

    @hookimpl
    def mozdef_plugin_settings(self) -> type[IRCSettings]:
        return IRCSettings

    @hookimpl
    def mozdef_notifier_start(self, settings: IRCSettings, plugins: Plugins) -> None:
        self.client = IRCClient(settings, Dispatcher(plugins))
        self.client.start()

    @hookimpl
    def mozdef_notify_alert(self, alert: dict) -> None:
        if self.client is not None:
            self.client.post(alert)

    @hookimpl
    def mozdef_shutdown(self) -> None:
        if self.client is not None:
            self.client.stop()
            self.client = None
