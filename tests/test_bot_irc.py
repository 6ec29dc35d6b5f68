"""The IRC bot against a real ngircd: alerts as people in the channels see them,
routing, cutting, hostile text, keys, the server password, TLS, flood control, a server
restart, and commands typed in channels and in private."""

import logging
import signal
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from test_geoip import LONDON, write_database
from test_queue_support import sqlite_store, wait_until

from mozdef.bots.commands import MAX_ALERTS_SHOWN
from mozdef.core import hookimpl
from mozdef.core.query import Search, Term
from mozdef.core.store import Document
from mozdef.core.timestamps import isoformat
from mozdef.plugins.geoip import GeoIP
from mozdef.plugins.network_tags import NetworkTags

# irc_support is a plugin of this module (its fixtures) and is imported from as well:
# its asserts are rewritten only if pytest is told before the import.
pytest.register_assert_rewrite("irc_support")
from irc_support import BOT, KEY, KEYED, WAIT, Bots, IRCServer, alert, notify  # noqa: E402

pytest_plugins = ["irc_support"]

BOLD, RESET = "\x02", "\x0f"
WATCHED = {"#alerts": "", "#ops": "", "#urgent": "", KEYED: KEY}

SHARED_BOT = """
channels = [
    {{ name = "#alerts" }},
    {{ name = "#ops", time_zone = "Europe/Paris" }},
    {{ name = "#urgent" }},
    {{ name = "#keyed", key = "sekrit" }},
]

[[plugins.irc.routes]]
channel = "#urgent"
min_severity = "CRITICAL"

[[plugins.irc.routes]]
channel = "#ops"
categories = ["malware"]

[plugins.geoip]
city_database = "{city}"
asn_database = "{asn}"

[plugins.network_tags]
networks = [{{ name = "corp", cidrs = ["10.0.0.0/8"], site = "paris" }}]
"""


class Greetings:
    """A plugin package's own command."""

    @hookimpl
    def mozdef_bot_commands(self) -> dict:
        return {"hello": self.hello}

    def hello(self, args: list[str], context) -> str:
        """Says hello back: !hello."""
        return f"hello {context.sender}, from {context.target}"


@dataclass(frozen=True)
class SharedBot:
    plugins: object
    store: object


@pytest.fixture(scope="module")
def shared(ircd: IRCServer, tmp_path_factory) -> SharedBot:
    """One bot in #alerts, #ops (Paris time), #urgent and #keyed, for the tests that do
    not change its settings; and its store."""
    folder = tmp_path_factory.mktemp("shared-bot")
    city = write_database(folder / "city.mmdb", "GeoLite2-City", {"81.2.69.0/24": LONDON})
    network = {"autonomous_system_number": 20712, "autonomous_system_organization": "A&A"}
    asn = write_database(folder / "asn.mmdb", "GeoLite2-ASN", {"81.2.69.0/24": network})
    started = Bots(folder)
    plugins = started.start(
        ircd,
        SHARED_BOT.format(city=city, asn=asn),
        geoip=GeoIP(),
        network_tags=NetworkTags(),
        greetings=Greetings(),
    )
    store = sqlite_store(folder / BOT / "mozdef.sqlite3")
    yield SharedBot(plugins, store)
    store.close()
    started.stop_all()


def in_channels(chat, nick: str = "watcher") -> object:
    """A person in the shared bot's channels, once the bot is there too."""
    person = chat(nick, WATCHED)
    wait_until(lambda: set(WATCHED) <= (person.whois(BOT) or set()), WAIT, "the bot to join")
    return person


def plain(text: str) -> str:
    """A line without its mIRC codes (the bot uses bold, colour with two digits, reset)."""
    for code in (BOLD, RESET):
        text = text.replace(code, "")
    while "\x03" in text:
        start = text.index("\x03")
        text = text[:start] + text[start + 3 :]
    return text


def test_an_alert_is_one_line_severity_in_its_colour(shared, chat):
    person = in_channels(chat)
    notify(shared.plugins, alert("10 ssh bruteforce attempts by 1.2.3.4 host1 (10 hits)"))
    notify(shared.plugins, alert("disk full", severity="ERROR", category="health"))
    assert person.heard("#alerts", 2) == [
        f"{BOLD}\x0307WARNING{RESET}: bruteforce 10 ssh bruteforce attempts by 1.2.3.4 "
        "host1 (10 hits)",
        f"{BOLD}\x0304ERROR{RESET}: health disk full",
    ]


def test_alerts_go_to_their_channel_a_route_or_the_default(shared, chat):
    person = in_channels(chat)
    notify(
        shared.plugins,
        alert("asked for ops", channel="#OPS", severity="INFO"),
        alert("asked for ops, critical", channel="#ops", severity="CRITICAL"),
        alert("asked for a channel the bot is not in", channel="#elsewhere", severity="INFO"),
        alert("critical", severity="CRITICAL", category="other"),
        alert("emergency", severity="EMERGENCY", category="other"),
        alert("malware found", severity="INFO", category="malware"),
        alert("anything else", severity="WARNING", category="other"),
        alert("for the keyed channel", channel=KEYED),
    )
    expected = {
        "#ops": ["asked for ops", "asked for ops, critical", "malware found"],
        "#alerts": ["asked for a channel the bot is not in", "anything else"],
        "#urgent": ["critical", "emergency"],
        KEYED: ["for the keyed channel"],
    }
    for channel, summaries in expected.items():
        heard = person.heard(channel, len(summaries))
        assert [plain(line).split(" ", 2)[2] for line in heard] == summaries
    assert len(person.said()) == 8


def test_a_long_summary_is_cut_at_450_characters_and_wrapped(shared, chat):
    person = in_channels(chat)
    summary = " ".join(f"word{number:03}" for number in range(120))
    notify(shared.plugins, alert(summary, severity="INFO", category="cat"))
    lines = person.heard("#alerts", 2)
    assert lines[0].startswith(f"{BOLD}\x0312INFO{RESET}: cat word000 word001 ")
    assert summary[:450].endswith(" word055 wo")
    assert " ".join(plain(line) for line in lines) == f"INFO: cat {summary[:450]} truncated..."
    raw = [line for line in person.lines if "PRIVMSG #alerts" in line]
    assert all(len(line.encode()) + 2 <= 512 for line in raw)


def test_hostile_summaries_stay_one_harmless_line(shared, chat):
    person = in_channels(chat)
    hostile = {
        "a\r\nJOIN #evil": "a JOIN #evil",
        "b\rJOIN #evil": "b JOIN #evil",
        "c\nPRIVMSG #alerts :spoofed": "c PRIVMSG #alerts :spoofed",
        "d\x00e": "de",
        "\x02f\x0304,01red\x0f\x1d\x1f\x16\x11\x1e": "fred",
        "g\u2028h\x85i\u202ej": "g h ij",
        "\x01ACTION k\x01": "ACTION k",
    }
    notify(shared.plugins, *(alert(text, severity="NOTICE", category="x") for text in hostile))
    heard = person.heard("#alerts", len(hostile))
    assert heard == [f"{BOLD}\x0303NOTICE{RESET}: x {text}" for text in hostile.values()]
    assert "#evil" not in person.whois(BOT)
    assert len(person.said()) == len(hostile)


def test_commands_in_a_channel_answer_there_in_its_time_zone(shared, chat):
    now = isoformat(datetime.now(UTC))
    shared.store.write(
        [
            Document("alerts", "a1", alert("first", id="a1", utctimestamp="2026-01-15T12:00:00Z")),
            Document("alerts", "a2", alert("second", id="a2", utctimestamp="2026-01-15T13:00:00Z")),
            Document("events", "e1", {"utctimestamp": now, "receivedtimestamp": now}),
        ]
    )
    person = in_channels(chat)
    replies = []

    def ask(text: str, lines: int = 1) -> list[str]:
        person.say("#ops", text)
        heard = person.heard("#ops", lines, after=len(replies))
        replies.extend(heard)
        return heard

    assert ask("!hello") == ["hello watcher, from #ops"]
    assert ask("!help", 6) == [
        "!ack: Acknowledge an alert, recording who and when: !ack <alert id>.",
        "!alerts: The latest alerts, newest first: !alerts [N].",
        "!hello: Says hello back: !hello.",
        "!help: The commands and what they do: !help.",
        "!ipinfo: Where an address is, who announces it, which of our networks has it: "
        "!ipinfo <ip>.",
        "!status: Events received lately, the store's health, the queue's depth: !status.",
    ]
    assert ask("!alerts 2", 2) == [
        "a2 2026-01-15 14:00:00 CET WARNING: bruteforce second [NEW]",
        "a1 2026-01-15 13:00:00 CET WARNING: bruteforce first [NEW]",
    ]
    (acked,) = ask("!ack a1")
    assert acked.startswith("acked by watcher at ") and " CET: " in acked
    assert acked.endswith(": WARNING: bruteforce first")
    stored = shared.store.search(Search(Term("id", "a1"), indices=("alerts",))).hits[0].event
    assert stored["status"] == "ACKED" and stored["acknowledgedby"] == "watcher"
    assert ask("!ipinfo 81.2.69.142") == [
        "81.2.69.142: London, England, United Kingdom (GB), EU; AS20712 A&A; external"
    ]
    assert ask("!ipinfo 10.1.2.3") == [
        "Sorry, 10.1.2.3 is a private address: no database can place it; "
        "our network corp at paris; internal"
    ]
    events, health = ask("!status", 2)
    assert events == "events received: 1 in the last minute, 1 in the last hour"
    assert health.startswith("store (sqlite): healthy, a search answered in ")


def test_private_commands_are_answered_in_private_in_the_bot_time_zone(shared, chat):
    old = alert("old", id="p1", utctimestamp="2020-01-01T00:00:00Z")
    shared.store.write([Document("alerts", "p1", old)])
    person = chat("asker", {})
    person.say(BOT, "!hello")
    assert person.heard("asker", 1) == ["hello asker, from asker"]
    person.say(BOT, f"!alerts {MAX_ALERTS_SHOWN}")
    expected = "p1 2020-01-01 00:00:00 UTC WARNING: bruteforce old [NEW]"
    wait_until(lambda: expected in [said.text for said in person.said()], WAIT, "p1 listed")
    assert {said.target for said in person.said()} == {"asker"}


def test_hostile_command_arguments_are_echoed_harmlessly(shared, chat):
    person = in_channels(chat)
    person.say("#alerts", "!ipinfo \x1b[31mred\x0304,01x\x1fy")
    person.say("#alerts", "!\x02No\x0304Such")
    assert person.heard("#alerts", 2) == [
        "[31mredxy is not an IP address",
        "no command !nosuch; !help lists them",
    ]


def joined(person, nick: str, channel: str) -> None:
    wait_until(lambda: channel in (person.whois(nick) or set()), WAIT, f"{nick} in {channel}")


def test_a_wrong_server_password_is_reported_and_retried(ircd, bots, chat, caplog):
    caplog.set_level(logging.INFO, "mozdef.bots.irc")
    bots.start(ircd, 'channels = [{ name = "#alerts" }]', "badpass", {"password": "wrong"})

    def retried() -> int:
        refused = "the server closed the link: Access denied: Bad password?"
        return sum(refused in record.getMessage() for record in caplog.records)

    wait_until(lambda: retried() >= 2, WAIT, "two refused attempts")
    assert chat("checker", {}).whois("badpass") is None


def test_tls_with_a_certificate_it_trusts_and_one_it_does_not(ircd, bots, chat, caplog):
    person = chat("tlswatcher", {"#tls": ""})
    tls = {"tls": True, "port": ircd.tls_port}
    channels = 'channels = [{ name = "#tls" }]'
    trusting = bots.start(ircd, channels, "tlsbot", tls | {"tls_ca_file": str(ircd.certificate)})
    bots.start(ircd, channels, "sceptic", tls)
    blind = bots.start(ircd, channels, "blindbot", tls | {"tls_verify": False})
    joined(person, "tlsbot", "#tls")
    joined(person, "blindbot", "#tls")
    notify(trusting, alert("over TLS"))
    notify(blind, alert("over TLS, unverified"))
    assert person.heard("#tls", 1, sender="tlsbot") == [
        f"{BOLD}\x0307WARNING{RESET}: bruteforce over TLS"
    ]
    assert plain(person.heard("#tls", 1, sender="blindbot")[0]).endswith("unverified")
    wait_until(lambda: "CERTIFICATE_VERIFY_FAILED" in caplog.text, WAIT, "verification to fail")
    assert person.whois("sceptic") is None


def test_a_burst_of_alerts_is_paced_and_the_excess_summarised(ircd, bots, chat):
    person = chat("floodwatch", {"#flood": ""})
    settings = {"flood_burst": 2, "flood_rate": 20.0, "backlog": 5}
    plugins = bots.start(ircd, 'channels = [{ name = "#flood" }]', "floodbot", settings)
    joined(person, "floodbot", "#flood")
    severities = ["CRITICAL" if number % 3 == 0 else "WARNING" for number in range(30)]
    notify(plugins, *(alert(f"burst {n}", severity=s) for n, s in enumerate(severities)))
    heard = [plain(line) for line in person.heard("#flood", 6, sender="floodbot")]
    assert heard == [
        "CRITICAL: bruteforce burst 0",
        "WARNING: bruteforce burst 1",
        "WARNING: bruteforce burst 2",
        "CRITICAL: bruteforce burst 3",
        "WARNING: bruteforce burst 4",
        "25 more alerts held back by flood control (8 CRITICAL, 17 WARNING); "
        "!alerts lists the latest",
    ]
    # Once the backlog has drained, alerts go one by one again; the bot is still there.
    notify(plugins, alert("after the burst"))
    (after,) = person.heard("#flood", 1, after=6, sender="floodbot")
    assert plain(after) == "WARNING: bruteforce after the burst"
    assert "#flood" in person.whois("floodbot")
    assert not [line for line in person.lines if " KICK " in line or " QUIT " in line]


def test_the_bot_reconnects_and_rejoins_after_the_server_restarts(bots, chat, tmp_path, caplog):
    caplog.set_level(logging.INFO, "mozdef.bots.irc")
    folder = tmp_path / "restarted"
    folder.mkdir()
    server = IRCServer(folder)
    server.start()
    try:
        person = chat("before", {"#restart": ""}, server=server)
        channels = 'channels = [{ name = "#restart" }, { name = "#keyed", key = "sekrit" }]'
        backoff = {"reconnect_min": 0.1, "reconnect_max": 1.5}
        plugins = bots.start(server, channels, "phoenix", backoff)
        joined(person, "phoenix", "#restart")
        notify(plugins, alert("before the restart"))
        assert plain(person.heard("#restart", 1, sender="phoenix")[0]).endswith("restart")

        server.stop()
        notify(plugins, alert("while the server was down"))

        # Start the server as the bot begins its longest wait, so that someone is back
        # in the channel before the bot returns with what it held.
        def longest_waits() -> int:
            return sum("reconnecting in 1.5 s" in r.getMessage() for r in caplog.records)

        wait_until(lambda: longest_waits() >= 1, WAIT, "the backoff to reach its longest")
        server.start()
        person = chat("after", {"#restart": ""}, server=server)
        held = person.heard("#restart", 1, sender="phoenix")
        assert plain(held[0]) == "WARNING: bruteforce while the server was down"
        assert {"#restart", KEYED} <= person.whois("phoenix")
        assert "irc: joined #restart" in caplog.text
    finally:
        server.stop()


def test_a_kicked_bot_rejoins_and_delivers_what_waited(ircd, bots, chat, caplog):
    caplog.set_level(logging.INFO, "mozdef.bots.irc")
    person = chat("op", {"#kick": ""})  # the first in a channel is its operator
    plugins = bots.start(ircd, 'channels = [{ name = "#kick" }]', "kicked")
    joined(person, "kicked", "#kick")
    person.send("KICK #kick kicked :out you go")
    wait_until(lambda: "irc: kicked from #kick by op (out you go)" in caplog.text, WAIT, "kick")
    notify(plugins, alert("while kicked"))
    (held,) = person.heard("#kick", 1, sender="kicked")
    assert plain(held) == "WARNING: bruteforce while kicked"
    assert "#kick" in person.whois("kicked")


def test_a_bot_whose_nick_is_taken_takes_another(ircd, bots, chat):
    person = chat("taken", {"#nick": ""})
    plugins = bots.start(ircd, 'channels = [{ name = "#nick" }]', "taken")
    joined(person, "taken_", "#nick")
    notify(plugins, alert("from the understudy"))
    (line,) = person.heard("#nick", 1, sender="taken_")
    assert plain(line) == "WARNING: bruteforce from the understudy"


def test_a_silent_server_is_given_up_and_connected_to_again(bots, chat, tmp_path, caplog):
    caplog.set_level(logging.INFO, "mozdef.bots.irc")
    folder = tmp_path / "silent"
    folder.mkdir()
    server = IRCServer(folder)
    server.start()
    try:
        person = chat("listener", {"#quiet": ""}, server=server)
        settings = {"keepalive": 0.2, "reconnect_max": 0.2}
        plugins = bots.start(server, 'channels = [{ name = "#quiet" }]', "patient", settings)
        joined(person, "patient", "#quiet")
        server.process.send_signal(signal.SIGSTOP)  # the connection stays open, silent
        try:
            wait_until(lambda: "no word from the server for" in caplog.text, WAIT, "a timeout")
        finally:
            server.process.send_signal(signal.SIGCONT)
        wait_until(lambda: caplog.text.count("irc: joined #quiet") >= 2, WAIT, "a rejoin")
        notify(plugins, alert("after the silence"))
        (line,) = person.heard("#quiet", 1, sender="patient")
        assert plain(line) == "WARNING: bruteforce after the silence"
    finally:
        server.stop()
