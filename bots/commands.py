"""The commands responders type to the bots (`!help`, `!ipinfo 1.2.3.4`, ...), whatever
the chat platform.

Commands come from plugins, through the `mozdef_bot_commands` hook; MozDef's own are
offered by `BotCommands`, a plugin like any other, so a plugin package adds commands
exactly as MozDef does. A bot hands each line that `is_command` to its `Dispatcher`,
together with who typed it and where the reply goes, and shows the lines it gets back.
Commands run in a greenlet of the bot: they use the store given in their context,
which runs on a thread of its own, and must not block the process in other ways.
"""

import inspect
import ipaddress
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import gevent
import pika
import pika.exceptions

from mozdef.bots.formatting import clean, local_time, shorten
from mozdef.core.config import Config
from mozdef.core.hookspecs import hookimpl
from mozdef.core.pluginmanager import Plugins, call
from mozdef.core.query import Search, Term, TimeWindow
from mozdef.core.queue.link import describe
from mozdef.core.queue.settings import RabbitSettings
from mozdef.core.store import Document, Store
from mozdef.core.stores import open_store
from mozdef.core.storethread import StoreThread
from mozdef.core.timestamps import isoformat
from mozdef.plugins.geoip import Found, GeoIP, public_address
from mozdef.plugins.network_tags import NetworkTags

logger = logging.getLogger(__name__)

PREFIX = "!"
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
COMMAND_TIMEOUT = 30.0  # seconds a command may take before the bot answers for it
MAX_REPLY_LINES = 25
ALERTS_SHOWN, MAX_ALERTS_SHOWN = 5, 20
LISTED_SUMMARY = 120  # characters of a summary in !alerts and !ack replies
QUEUE_TIMEOUT = 5.0  # seconds !status waits for RabbitMQ

Command = Callable[[list[str], "CommandContext"], str | list[str]]
PluginType = TypeVar("PluginType")


@dataclass(frozen=True)
class CommandContext:
    """What a command is given besides its arguments."""

    store: Store  # runs on its own thread: calling it does not block the bot
    config: Config
    plugins: Plugins
    sender: str  # who typed the command: an IRC nick, a Matrix user id
    target: str  # where the reply goes: the channel, or the sender for a private message
    zone: ZoneInfo  # the time zone in which to show times there
    commands: Mapping[str, Command]  # every command, by name

    def plugin(self, kind: type[PluginType]) -> PluginType | None:
        """The enabled plugin of that class, started as configured, or None."""
        for info in self.plugins.enabled:
            if isinstance(info.plugin, kind):
                return info.plugin
        return None


class CommandTimedOut(Exception):
    """A command ran longer than COMMAND_TIMEOUT."""


def is_command(text: str) -> bool:
    return len(text) > 1 and text.startswith(PREFIX) and not text[1].isspace()


def collect(plugins: Plugins) -> dict[str, Command]:
    """Every enabled plugin's commands; for a name offered twice, the plugin earlier in
    chain order wins."""
    commands: dict[str, Command] = {}
    offered_by: dict[str, str] = {}
    for info, impl in plugins.implementations("mozdef_bot_commands"):
        try:
            offered = call(impl) or {}
        except Exception:
            info.log.exception("plugin %s failed in mozdef_bot_commands", info.name)
            continue
        for name, command in offered.items():
            key = str(name).lower()
            if not NAME.match(key):
                logger.error(
                    "plugin %s offers a bot command named %r: names are one word of "
                    "letters, digits, - and _; ignored",
                    info.name,
                    name,
                )
            elif key in offered_by:
                logger.warning(
                    "bot command %s%s of plugin %s is hidden by the one of plugin %s, "
                    "which comes earlier in chain order",
                    PREFIX,
                    key,
                    info.name,
                    offered_by[key],
                )
            else:
                commands[key] = command
                offered_by[key] = info.name
    return commands


class Dispatcher:
    """Every plugin's commands, collected once when a bot starts, and a store for them."""

    def __init__(self, plugins: Plugins, store: Store | None = None) -> None:
        """`store` defaults to the configured store, opened on a thread of its own."""
        self.plugins = plugins
        self.config = plugins.config
        self.commands = collect(plugins)
        self.store = store or StoreThread(lambda: open_store(self.config.settings.store))

    def run(self, text: str, sender: str, target: str, zone: ZoneInfo) -> list[str]:
        """The reply to a line that `is_command`, as lines of text (a platform cleans
        them as it shows them). The line is cleaned first: an address pasted with its
        colours is still an address."""
        words = clean(text).removeprefix(PREFIX).split()
        if not words:
            return []
        name, args = words[0].lower(), words[1:]
        command = self.commands.get(name)
        if command is None:
            return [f"no command {PREFIX}{shorten(name, 30)}; {PREFIX}help lists them"]
        context = CommandContext(
            self.store, self.config, self.plugins, sender, target, zone, self.commands
        )
        try:
            with gevent.Timeout(COMMAND_TIMEOUT, CommandTimedOut):
                reply = command(args, context)
        except CommandTimedOut:
            return [f"{PREFIX}{name} gave no answer within {COMMAND_TIMEOUT:.0f} s"]
        except Exception as exc:
            logger.exception("bot command %s%s failed, asked by %s", PREFIX, name, sender)
            return [f"{PREFIX}{name} failed ({type(exc).__name__}); the MozDef log has more"]
        return reply_lines(reply)

    def close(self) -> None:
        self.store.close()


def reply_lines(reply: str | list[str] | None) -> list[str]:
    """A command's answer as lines, at most MAX_REPLY_LINES of them."""
    items = [reply] if isinstance(reply, str) else list(reply or [])
    lines = [line for item in items for line in str(item).splitlines()]
    if len(lines) > MAX_REPLY_LINES:
        more = len(lines) - MAX_REPLY_LINES + 1
        lines = [*lines[: MAX_REPLY_LINES - 1], f"... and {more} more lines"]
    return lines


class BotCommands:
    """MozDef's own commands; MozDef instantiates this once."""

    @hookimpl
    def mozdef_bot_commands(self) -> dict[str, Command]:
        return {
            "help": self.help,
            "ipinfo": self.ipinfo,
            "alerts": self.alerts,
            "ack": self.ack,
            "status": self.status,
        }

    def help(self, args: list[str], context: CommandContext) -> list[str]:
        """The commands and what they do: !help."""
        return [
            f"{PREFIX}{name}: {summary_line(command)}"
            for name, command in sorted(context.commands.items())
        ]

    def ipinfo(self, args: list[str], context: CommandContext) -> str:
        """Where an address is, who announces it, which of our networks has it: !ipinfo <ip>."""
        if len(args) != 1:
            return f"usage: {PREFIX}ipinfo <ip>"
        text = args[0]
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return f"{shorten(text, 60)} is not an IP address"
        if public_address(text) is None:
            facts = [f"Sorry, {address} is {address_kind(address)}: no database can place it"]
        else:
            facts = [f"{address}: {'; '.join(geolocate(text, context.plugin(GeoIP)))}"]
        network_tags = context.plugin(NetworkTags)
        placed = network_tags.place(text) if network_tags is not None else None
        if placed is not None:
            internal, network = placed
            if network is not None:
                site = f" at {network.site}" if network.site else ""
                facts.append(f"our network {network.name}{site}")
            facts.append("internal" if internal else "external")
        return "; ".join(facts)

    def alerts(self, args: list[str], context: CommandContext) -> list[str]:
        """The latest alerts, newest first: !alerts [N]."""
        if not args:
            count = ALERTS_SHOWN
        elif len(args) == 1 and args[0].isdecimal():
            count = int(args[0])
        else:
            count = 0
        if not 1 <= count <= MAX_ALERTS_SHOWN:
            return [f"usage: {PREFIX}alerts [N], N from 1 to {MAX_ALERTS_SHOWN}"]
        found = context.store.search(Search(indices=("alerts",), size=count))
        if not found.hits:
            return ["no alerts stored"]
        return [alert_line(hit.event, context.zone) for hit in found.hits]

    def ack(self, args: list[str], context: CommandContext) -> str:
        """Acknowledge an alert, recording who and when: !ack <alert id>."""
        if len(args) != 1:
            return f"usage: {PREFIX}ack <alert id>"
        found = context.store.search(Search(Term("id", args[0]), indices=("alerts",), size=1))
        if not found.hits:
            return f"no alert has the id {shorten(args[0], 40)}"
        hit = found.hits[0]
        alert = dict(hit.event)
        if alert.get("status") == "ACKED":
            when = local_time(alert.get("acknowledged"), context.zone)
            return f"already acked by {alert.get('acknowledgedby')} at {when}: {brief(alert)}"
        now = datetime.now(UTC)
        alert.update(status="ACKED", acknowledged=isoformat(now), acknowledgedby=context.sender)
        (outcome,) = context.store.write([Document("alerts", hit.doc_id, alert)])
        if not outcome.stored:
            return f"the store refused the change: {outcome.error}"
        return f"acked by {context.sender} at {local_time(now, context.zone)}: {brief(alert)}"

    def status(self, args: list[str], context: CommandContext) -> list[str]:
        """Events received lately, the store's health, the queue's depth: !status."""
        backend = context.config.settings.store.backend
        now = datetime.now(UTC)
        try:
            started = time.perf_counter()
            minute = received_since(context.store, now - timedelta(minutes=1))
            answered = time.perf_counter() - started
            hour = received_since(context.store, now - timedelta(hours=1))
        except Exception as exc:
            lines = [f"store ({backend}): no answer ({type(exc).__name__}: {exc})"]
        else:
            lines = [
                f"events received: {minute} in the last minute, {hour} in the last hour",
                f"store ({backend}): healthy, a search answered in {answered * 1000:.0f} ms",
            ]
        if queue_mode(context.config):
            lines.append(queue_depth(context.config.settings.rabbitmq))
        return lines


def summary_line(command: Command) -> str:
    """The first line of a command's docstring, as !help shows it."""
    return (inspect.getdoc(command) or "(no description)").splitlines()[0]


def address_kind(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """Why an address is not public, in words."""
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    for test, words in (
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_unspecified", "the unspecified address"),
        ("is_reserved", "a reserved address"),
        ("is_private", "a private address"),
    ):
        if getattr(address, test):
            return words
    return "not a public address"


def geolocate(text: str, geoip: GeoIP | None) -> list[str]:
    """What the GeoIP plugin, as configured, knows about a public address."""
    if geoip is None or geoip.lookup is None:
        return ["no GeoIP database is configured ([plugins.geoip])"]
    found = geoip.lookup(text)
    if found is None:
        return ["not in the GeoIP databases"]
    return describe_found(found)


def describe_found(found: Found) -> list[str]:
    place = dict(found.location)
    country = place.get("country_name")
    if country and place.get("country_code"):
        country = f"{country} ({place['country_code']})"
    names = [place.get("city"), place.get("region"), country, place.get("continent")]
    facts = [", ".join(name for name in names if name)] if any(names) else []
    if found.asn is not None:
        facts.append(" ".join(filter(None, (f"AS{found.asn}", found.organization))))
    elif found.organization:
        facts.append(found.organization)
    return facts


def brief(alert: Mapping[str, Any]) -> str:
    summary = shorten(clean(str(alert.get("summary", ""))), LISTED_SUMMARY)
    return f"{alert.get('severity')}: {alert.get('category')} {summary}"


def alert_line(alert: Mapping[str, Any], zone: ZoneInfo) -> str:
    """One alert as !alerts lists it."""
    status = str(alert.get("status", ""))
    if alert.get("acknowledgedby"):
        status += f" by {alert['acknowledgedby']}"
    when = local_time(alert.get("utctimestamp"), zone)
    return f"{alert.get('id')} {when} {brief(alert)} [{status}]"


def received_since(store: Store, since: datetime) -> int:
    window = TimeWindow(since=since, field="receivedtimestamp")
    return store.search(Search(window=window, size=0)).total


def queue_mode(config: Config) -> bool:
    """Whether MozDef runs with RabbitMQ: the [rabbitmq] table (or the environment)
    sets at least one of its keys."""
    return bool(config.settings.rabbitmq.model_fields_set)


def queue_depth(settings: RabbitSettings) -> str:
    """How many raw-event messages wait for the workers. pika's blocking client runs on
    a thread of the hub's pool, so that the bot's greenlets go on meanwhile."""
    try:
        ready, consumers = gevent.get_hub().threadpool.apply(declare_passively, (settings,))
    except pika.exceptions.ChannelClosedByBroker as exc:
        return f"queue {settings.queue}: {exc.reply_text}"
    except Exception as exc:
        return f"queue {settings.queue}: RabbitMQ did not answer ({describe(exc)})"
    return f"queue {settings.queue}: {ready} messages waiting, {consumers} consumers"


def declare_passively(settings: RabbitSettings) -> tuple[int, int]:
    """The queue's ready messages and consumers, as a passive declaration reports them."""
    parameters = pika.URLParameters(settings.url)
    parameters.connection_attempts = 1
    parameters.socket_timeout = QUEUE_TIMEOUT
    parameters.stack_timeout = QUEUE_TIMEOUT
    connection = pika.BlockingConnection(parameters)
    try:
        method = connection.channel().queue_declare(settings.queue, passive=True).method
        return method.message_count, method.consumer_count
    finally:
        if connection.is_open:
            connection.close()
