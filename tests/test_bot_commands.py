"""Bot commands, whatever the chat: collected from every plugin, run against a real
SQLite store, real GeoIP databases and, for the queue's depth, a real RabbitMQ."""

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import gevent
import pytest
from test_geoip import LONDON, write_database
from test_queue_support import sqlite_store

from mozdef.bots import commands
from mozdef.bots.commands import BotCommands, Dispatcher, is_command, queue_mode
from mozdef.core import hookimpl
from mozdef.core.pluginmanager import Candidate, Plugins
from mozdef.core.query import Search, Term
from mozdef.core.store import Document
from mozdef.core.timestamps import isoformat
from mozdef.plugins.geoip import GeoIP
from mozdef.plugins.network_tags import NetworkTags

pytest_plugins = ["test_queue_support"]

PARIS = ZoneInfo("Europe/Paris")
UTC_ZONE = ZoneInfo("UTC")


class Greetings:
    @hookimpl
    def mozdef_bot_commands(self) -> dict:
        return {"hello": self.hello, "Shout": self.shout}

    def hello(self, args, context):
        """Says hello."""
        return f"hello {context.sender} in {context.target}"

    def shout(self, args, context):
        """Says it loud: !shout <words>."""
        return " ".join(args).upper()


class Early:
    """Comes first in chain order (priority 10), so its !hello wins."""

    @hookimpl
    def mozdef_bot_commands(self) -> dict:
        return {
            "hello": lambda args, context: "the early hello",
            "two words": lambda args, context: "never offered",
            "slow": self.slow,
            "broken": self.broken,
            "chatty": lambda args, context: "\n".join(f"line {n}" for n in range(40)),
        }

    def slow(self, args, context):
        """Takes its time."""
        gevent.sleep(5)

    def broken(self, args, context):
        """Fails."""
        raise RuntimeError("no luck")


@pytest.fixture(scope="module")
def databases(tmp_path_factory) -> tuple[str, str]:
    folder = tmp_path_factory.mktemp("bot-geoip")
    network = {"autonomous_system_number": 20712, "autonomous_system_organization": "A&A"}
    return (
        write_database(folder / "city.mmdb", "GeoLite2-City", {"81.2.69.0/24": LONDON}),
        write_database(folder / "asn.mmdb", "GeoLite2-ASN", {"81.2.69.0/24": network}),
    )


def start(
    config_file, tmp_path: Path, databases, extra: str = "", geoip: bool = True
) -> Dispatcher:
    """A dispatcher of these plugins' commands, `extra` added to their configuration."""
    city, asn = databases
    geoip_table = (
        f'city_database = "{city}"\nasn_database = "{asn}"' if geoip else "enabled = false"
    )
    config = config_file(
        f"""
[store.sqlite]
path = "{tmp_path / "mozdef.sqlite3"}"

[plugins.geoip]
{geoip_table}

[plugins.network_tags]
networks = [{{ name = "corp", cidrs = ["10.0.0.0/8"], site = "paris" }}]

[plugins.early]
priority = 10
{extra}"""
    )
    everything = {
        "bot_commands": BotCommands(),
        "geoip": GeoIP(),
        "network_tags": NetworkTags(),
        "greetings": Greetings(),
        "early": Early(),
    }
    plugins = Plugins(config, [Candidate(name, "x", p) for name, p in everything.items()])
    plugins.start()
    return Dispatcher(plugins)


@pytest.fixture
def bot(config_file, tmp_path, databases):
    """A dispatcher with its store on its own thread, as a bot has it; and a second
    connection to the same database for the test."""
    dispatcher = start(config_file, tmp_path, databases)
    store = sqlite_store(tmp_path / "mozdef.sqlite3")
    yield dispatcher, store
    store.close()
    dispatcher.close()


def ask(dispatcher: Dispatcher, text: str, zone: ZoneInfo = PARIS) -> list[str]:
    return dispatcher.run(text, "alice", "#ops", zone)


def stored_alert(alert_id: str, when: str, summary: str, **fields) -> Document:
    alert = {
        "id": alert_id,
        "utctimestamp": when,
        "rule": "test_rule",
        "severity": "WARNING",
        "category": "bruteforce",
        "summary": summary,
        "status": "NEW",
        **fields,
    }
    return Document("alerts", alert_id, alert)


def test_commands_come_from_every_plugin_the_earlier_winning_a_clash(bot, caplog):
    dispatcher, _ = bot
    assert set(dispatcher.commands) == {
        "ack",
        "alerts",
        "broken",
        "chatty",
        "hello",
        "help",
        "ipinfo",
        "shout",
        "slow",
        "status",
    }
    assert ask(dispatcher, "!hello") == ["the early hello"]
    assert ask(dispatcher, "!SHOUT it loud") == ["IT LOUD"]


def test_clashes_and_bad_names_are_logged(config_file, tmp_path, databases, caplog):
    caplog.set_level(logging.WARNING, "mozdef.bots.commands")
    start(config_file, tmp_path, databases).close()
    assert (
        "bot command !hello of plugin greetings is hidden by the one of plugin early, "
        "which comes earlier in chain order" in caplog.text
    )
    assert "plugin early offers a bot command named 'two words'" in caplog.text


def test_help_lists_every_command_with_its_docstring_first_line(bot):
    dispatcher, _ = bot
    listed = ask(dispatcher, "!help")
    assert listed[0] == "!ack: Acknowledge an alert, recording who and when: !ack <alert id>."
    assert "!shout: Says it loud: !shout <words>." in listed
    assert "!hello: (no description)" in listed  # the early one, a lambda
    assert len(listed) == len(dispatcher.commands)


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        (
            "!ipinfo 81.2.69.142",
            "81.2.69.142: London, England, United Kingdom (GB), EU; AS20712 A&A; external",
        ),
        ("!ipinfo 1.0.0.1", "1.0.0.1: not in the GeoIP databases; external"),
        (
            "!ipinfo 10.1.2.3",
            "Sorry, 10.1.2.3 is a private address: no database can place it; "
            "our network corp at paris; internal",
        ),
        (
            "!ipinfo 127.0.0.1",
            "Sorry, 127.0.0.1 is a loopback address: no database can place it; internal",
        ),
        (
            "!ipinfo fe80::1",
            "Sorry, fe80::1 is a link-local address: no database can place it; internal",
        ),
        (
            "!ipinfo 224.0.0.251",
            "Sorry, 224.0.0.251 is a multicast address: no database can place it; external",
        ),
        (
            "!ipinfo 240.0.0.1",
            "Sorry, 240.0.0.1 is a reserved address: no database can place it; external",
        ),
        (
            "!ipinfo 100.64.0.1",
            "Sorry, 100.64.0.1 is not a public address: no database can place it; external",
        ),
        ("!ipinfo host.example.com", "host.example.com is not an IP address"),
        ("!ipinfo", "usage: !ipinfo <ip>"),
        ("!ipinfo 1.2.3.4 5.6.7.8", "usage: !ipinfo <ip>"),
    ],
)
def test_ipinfo_uses_the_geoip_and_network_plugins(bot, text, reply):
    dispatcher, _ = bot
    assert ask(dispatcher, text) == [reply]


def test_ipinfo_says_when_no_geoip_database_is_configured(config_file, tmp_path, databases):
    dispatcher = start(config_file, tmp_path, databases, geoip=False)
    try:
        assert ask(dispatcher, "!ipinfo 81.2.69.142") == [
            "81.2.69.142: no GeoIP database is configured ([plugins.geoip]); external"
        ]
    finally:
        dispatcher.close()


def test_alerts_lists_the_latest_first_in_the_zone_of_the_reply(bot):
    dispatcher, store = bot
    store.write(
        [
            stored_alert("a1", "2026-01-15T12:00:00+00:00", "first"),
            stored_alert("a2", "2026-01-15T13:00:00+00:00", "second\r\nline", severity="ERROR"),
            stored_alert("a3", "2026-07-01T09:00:00+00:00", "x" * 300, category="malware"),
        ]
    )
    assert ask(dispatcher, "!alerts") == [
        f"a3 2026-07-01 11:00:00 CEST WARNING: malware {'x' * 120} truncated... [NEW]",
        "a2 2026-01-15 14:00:00 CET ERROR: bruteforce second line [NEW]",
        "a1 2026-01-15 13:00:00 CET WARNING: bruteforce first [NEW]",
    ]
    assert ask(dispatcher, "!alerts 1", UTC_ZONE) == [
        f"a3 2026-07-01 09:00:00 UTC WARNING: malware {'x' * 120} truncated... [NEW]"
    ]
    for bad in ("!alerts 0", "!alerts 21", "!alerts many", "!alerts 1 2"):
        assert ask(dispatcher, bad) == ["usage: !alerts [N], N from 1 to 20"]


def test_alerts_says_when_there_are_none(bot):
    dispatcher, _ = bot
    assert ask(dispatcher, "!alerts 3") == ["no alerts stored"]


def test_ack_records_who_and_when_and_writes_the_alert_back(bot):
    dispatcher, store = bot
    store.write([stored_alert("a1", "2026-01-15T12:00:00+00:00", "first")])
    before = datetime.now(UTC)
    (reply,) = ask(dispatcher, "!ack a1")
    (hit,) = store.search(Search(Term("id", "a1"), indices=("alerts",))).hits
    acked = hit.event
    assert acked["status"] == "ACKED" and acked["acknowledgedby"] == "alice"
    moment = datetime.fromisoformat(acked["acknowledged"])
    assert before - timedelta(seconds=1) <= moment <= datetime.now(UTC)
    shown = moment.astimezone(PARIS).strftime("%Y-%m-%d %H:%M:%S %Z")
    assert reply == f"acked by alice at {shown}: WARNING: bruteforce first"
    assert acked["summary"] == "first" and acked["utctimestamp"] == "2026-01-15T12:00:00+00:00"
    assert ask(dispatcher, "!ack a1") == [
        f"already acked by alice at {shown}: WARNING: bruteforce first"
    ]
    assert ask(dispatcher, "!alerts 1")[0].endswith("[ACKED by alice]")


def test_ack_needs_one_known_id(bot):
    dispatcher, _ = bot
    assert ask(dispatcher, "!ack nosuchid") == ["no alert has the id nosuchid"]
    assert ask(dispatcher, "!ack") == ["usage: !ack <alert id>"]


def test_status_counts_events_received_and_times_the_store(bot):
    dispatcher, store = bot
    now = datetime.now(UTC)
    events = [
        ("recent", now - timedelta(seconds=5)),
        ("this-hour", now - timedelta(minutes=30)),
        ("yesterday", now - timedelta(days=1)),
    ]
    store.write(
        [
            Document(
                "events",
                doc_id,
                {"utctimestamp": isoformat(when), "receivedtimestamp": isoformat(when)},
            )
            for doc_id, when in events
        ]
    )
    events_line, store_line = ask(dispatcher, "!status")
    assert events_line == "events received: 1 in the last minute, 2 in the last hour"
    assert store_line.startswith("store (sqlite): healthy, a search answered in ")
    assert store_line.endswith(" ms")


def test_status_shows_the_queue_depth_in_queue_mode(config_file, tmp_path, databases, scratch):
    queue = scratch.name("bot-status")
    scratch.queues.add(queue)
    connection, channel = scratch.channel()
    try:
        channel.queue_declare(queue, durable=True)
        for number in range(3):
            channel.basic_publish("", queue, f"message {number}".encode())
    finally:
        connection.close()
    table = f'[rabbitmq]\nurl = "{scratch.url}"\nqueue = "{queue}"\n'
    dispatcher = start(config_file, tmp_path, databases, table)
    try:
        assert queue_mode(dispatcher.config)
        assert ask(dispatcher, "!status")[-1] == f"queue {queue}: 3 messages waiting, 0 consumers"
    finally:
        dispatcher.close()
    missing = scratch.name("never-declared")
    table = f'[rabbitmq]\nurl = "{scratch.url}"\nqueue = "{missing}"\n'
    dispatcher = start(config_file, tmp_path, databases, table)
    try:
        assert ask(dispatcher, "!status")[-1] == (
            f"queue {missing}: NOT_FOUND - no queue '{missing}' in vhost '/'"
        )
    finally:
        dispatcher.close()


def test_status_leaves_the_queue_out_without_rabbitmq(bot):
    dispatcher, _ = bot
    assert not queue_mode(dispatcher.config)
    assert len(ask(dispatcher, "!status")) == 2


def test_unknown_failing_slow_and_long_commands_get_an_answer(bot, caplog, monkeypatch):
    dispatcher, _ = bot
    assert ask(dispatcher, "!nosuch thing") == ["no command !nosuch; !help lists them"]
    assert ask(dispatcher, "!broken") == ["!broken failed (RuntimeError); the MozDef log has more"]
    assert "bot command !broken failed, asked by alice" in caplog.text
    monkeypatch.setattr(commands, "COMMAND_TIMEOUT", 0.1)
    assert ask(dispatcher, "!slow") == ["!slow gave no answer within 0 s"]
    chatty = ask(dispatcher, "!chatty")
    assert len(chatty) == commands.MAX_REPLY_LINES
    assert chatty[-2:] == ["line 23", "... and 16 more lines"]


def test_a_command_is_the_prefix_then_a_word():
    assert is_command("!help")
    assert not is_command("! help") and not is_command("!") and not is_command("help")


def test_formatting_codes_around_a_command_or_its_arguments_are_ignored(bot):
    dispatcher, _ = bot
    assert ask(dispatcher, "!\x02ipinfo\x02 \x0304127.0.0.1\x03")[0].startswith("Sorry, 127.0.0.1")
    assert ask(dispatcher, "!\x02\x03") == []
