"""What the bots share whatever the chat (formatting, routing, flood control), how the
IRC bot renders and wraps lines, and how its settings are checked."""

from collections import Counter
from zoneinfo import ZoneInfo

import pytest

from mozdef.bots.commands import BotCommands
from mozdef.bots.floodcontrol import Outbox, TokenBucket
from mozdef.bots.formatting import (
    Colour,
    Message,
    Span,
    alert_message,
    check_time_zone,
    clean,
    held_back_message,
    local_time,
    shorten,
)
from mozdef.bots.irc import IRCBot, irc_lines
from mozdef.bots.routing import Route, Router
from mozdef.core.config import ConfigError
from mozdef.core.pluginmanager import Candidate, Plugins

PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("line one\r\nJOIN #evil", "line one JOIN #evil"),
        ("cr\ralone", "cr alone"),
        ("tabs\t\tand\vfeeds\f", "tabs and feeds "),
        ("unicode\u2028line\u2029breaks\x85too", "unicode line breaks too"),
        ("nul\x00byte", "nulbyte"),
        ("\x02bold\x02 \x1ditalic\x1d \x1funder\x1f \x16rev\x16 \x11mono \x1estrike", None),
        ("\x0304red\x03 \x0304,01on black\x03 \x033,12x", "red on black x"),
        ("\x04ff0000hex\x04 \x04ff0000,00ff00hexes", "hex hexes"),
        ("\x01ACTION waves\x01", "ACTION waves"),
        ("bidi \u202eesrever\u202c", "bidi esrever"),
        ("\x1b[31mansi", "[31mansi"),
        ("déjà vu 🙂", "déjà vu 🙂"),
    ],
)
def test_clean_leaves_one_line_without_controls_or_codes(text, expected):
    assert clean(text) == (expected or "bold italic under rev mono strike")


def test_shorten_cuts_after_the_limit_and_says_so():
    assert shorten("x" * 450) == "x" * 450
    assert shorten("x" * 451) == "x" * 450 + " truncated..."
    assert shorten("abcdef", 3) == "abc truncated..."


def test_an_alert_is_severity_in_its_colour_then_category_and_summary():
    message = alert_message({"severity": "CRITICAL", "category": "malware", "summary": "x\r\ny"})
    assert message.spans == (Span("CRITICAL", Colour.PURPLE, bold=True), Span(": malware x y"))
    assert message.text == "CRITICAL: malware x y"
    long = alert_message({"severity": "INFO", "category": "c", "summary": "y" * 500})
    assert long.text == f"INFO: c {'y' * 450} truncated..."


def test_an_unknown_severity_is_shown_without_colour():
    message = alert_message({"severity": "BOGUS\x0304", "category": "c", "summary": "s"})
    assert message.spans[0] == Span("BOGUS", None, bold=True)


def test_every_span_is_cleaned_however_it_is_made():
    assert Span("a\r\nPRIVMSG #x :b").text == "a PRIVMSG #x :b"
    assert Message.plain("one\ntwo").text == "one two"


def test_held_back_alerts_are_counted_most_severe_first():
    counts = Counter({"WARNING": 2, "ODD": 1, "EMERGENCY": 1, "INFO": 3})
    assert held_back_message(counts).text == (
        "7 more alerts held back by flood control (1 EMERGENCY, 2 WARNING, 3 INFO, 1 ODD); "
        "!alerts lists the latest"
    )
    assert held_back_message(Counter({"INFO": 1})).text.startswith("1 more alert held back")


def test_times_are_shown_in_the_zone_asked_for():
    assert local_time("2026-11-22T02:40:00.000000+00:00", PARIS) == "2026-11-22 03:40:00 CET"
    assert local_time("2026-07-01T12:00:00Z", PARIS) == "2026-07-01 14:00:00 CEST"
    assert local_time("2026-07-01T12:00:00", ZoneInfo("UTC")) == "2026-07-01 12:00:00 UTC"
    assert local_time("yesterday\r\n", PARIS) == "yesterday "


def test_time_zone_names_are_checked():
    assert check_time_zone("Europe/Paris") == "Europe/Paris"
    assert check_time_zone("") == ""
    with pytest.raises(ValueError, match="not a time zone"):
        check_time_zone("Mars/Olympus_Mons")


def test_an_alert_goes_to_its_channel_then_the_first_matching_route_then_the_default():
    router = Router(
        ["#alerts", "#Ops", "#urgent"],
        "#alerts",
        [
            Route(channel="#urgent", min_severity="CRITICAL"),
            Route(channel="#ops", categories=["malware", "av"]),
            Route(channel="#urgent", min_severity="WARNING", categories=["bruteforce"]),
        ],
    )

    def channel(**alert) -> str:
        return router.channel_for({"severity": "INFO", "category": "other", **alert})

    assert channel(channel="#OPS", severity="EMERGENCY") == "#Ops"
    assert channel(channel="#unknown", severity="ALERT") == "#urgent"
    assert channel(severity="CRITICAL", category="malware") == "#urgent"
    assert channel(category="av") == "#Ops"
    assert channel(severity="WARNING", category="bruteforce") == "#urgent"
    assert channel(severity="NOTICE", category="bruteforce") == "#alerts"
    assert channel(severity="ODD") == "#alerts"
    assert channel(channel=None) == "#alerts"


def test_routes_must_name_the_bot_channels():
    with pytest.raises(ValueError, match=r"routes\[1\]\.channel '#nope' is not one of"):
        Router(["#a"], "#a", [Route(channel="#a"), Route(channel="#nope")])
    with pytest.raises(ValueError, match=r"^'#b' is not one of the channels \(#a\)$"):
        Router(["#a"], "#b", [])


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_bucket_allows_a_burst_then_the_rate():
    clock = Clock()
    bucket = TokenBucket(burst=3, rate=2.0, clock=clock)
    for _ in range(3):
        assert bucket.delay() == 0
        bucket.take()
    assert bucket.delay() == pytest.approx(0.5)
    clock.now += 0.25
    assert bucket.delay() == pytest.approx(0.25)
    clock.now += 0.25
    assert bucket.delay() == 0
    bucket.take()
    clock.now += 3600  # a long quiet spell refills the bucket to the burst, no more
    for _ in range(3):
        bucket.take()
    assert bucket.delay() == pytest.approx(0.5)


def texts(outbox: Outbox, ready=lambda target: True) -> list[tuple[str, str]]:
    popped = []
    while (item := outbox.pop(ready)) is not None:
        popped.append((item[0], item[1].text))
    return popped


def test_the_outbox_holds_a_backlog_and_counts_the_rest_in_its_place():
    outbox = Outbox(backlog=2)
    for number, severity in enumerate(["INFO", "INFO", "CRITICAL", "INFO", "CRITICAL"]):
        outbox.add_alert("#a", Message.plain(f"a{number}"), severity)
    outbox.add_alert("#b", Message.plain("b0"), "INFO")
    assert outbox.undelivered() == 6
    assert texts(outbox, ready=lambda target: target == "#b") == [("#b", "b0")]
    assert texts(outbox) == [
        ("#a", "a0"),
        ("#a", "a1"),
        (
            "#a",
            "3 more alerts held back by flood control (2 CRITICAL, 1 INFO); "
            "!alerts lists the latest",
        ),
    ]
    assert outbox.undelivered() == 0
    outbox.add_alert("#a", Message.plain("later"), "INFO")
    assert texts(outbox) == [("#a", "later")]


def test_the_outbox_takes_replies_whole_until_the_target_is_full_and_retries_first():
    outbox = Outbox(backlog=2)
    assert outbox.add_reply("nick", [Message.plain("one"), Message.plain("two")])
    assert not outbox.add_reply("nick", [Message.plain("three")])
    assert outbox.add_reply("#other", [Message.plain("elsewhere")])
    target, first = outbox.pop(lambda target: True)
    outbox.retry(target, first)
    assert texts(outbox) == [("nick", "one"), ("nick", "two"), ("#other", "elsewhere")]


def test_irc_lines_carry_mirc_codes_and_fit_the_byte_budget():
    message = alert_message({"severity": "WARNING", "category": "c", "summary": "s"})
    assert irc_lines(message, 400) == ["\x02\x0307WARNING\x0f: c s"]
    words = Message.plain(" ".join(f"word{number}" for number in range(40)))
    lines = irc_lines(words, 50)
    assert all(len(line.encode()) <= 50 for line in lines)
    assert " ".join(lines) == words.text  # broken at spaces, which are dropped
    accents = Message.plain("é" * 100)  # two bytes each, no space to break at
    lines = irc_lines(accents, 31)
    assert [len(line) for line in lines] == [15] * 6 + [10]
    assert "".join(lines) == accents.text


def irc_settings(config_file, table: str):
    plugins = Plugins(
        config_file(f"[plugins.irc]\n{table}"),
        [Candidate("irc", "built-in", IRCBot()), Candidate("bot_commands", "x", BotCommands())],
    )
    return plugins.all["irc"].settings


def test_the_irc_bot_is_off_until_configured(config_file):
    settings = irc_settings(config_file, "")
    assert not settings.enabled
    assert (settings.tls, settings.port, settings.time_zone) == (True, 6697, "UTC")


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ("enabled = true", "plugins.irc.channels: list at least one channel"),
        ('channels = [{ name = "#a" }, { name = "#A" }]', "a channel is listed twice"),
        ('channels = [{ name = "no hash" }]', "plugins.irc.channels.0.name: String should match"),
        ('channels = [{ name = "#a", key = "two words" }]', "plugins.irc.channels.0.key"),
        (
            'channels = [{ name = "#a", time_zone = "Europe/Nowhere" }]',
            "plugins.irc.channels.0.time_zone: not a time zone",
        ),
        (
            'channels = [{ name = "#a" }]\ndefault_channel = "#b"',
            "plugins.irc.default_channel: '#b' is not one of the channels (#a)",
        ),
        (
            'channels = [{ name = "#a" }]\nroutes = [{ channel = "#b" }]',
            "plugins.irc.routes: routes[0].channel '#b' is not one of the channels (#a)",
        ),
        ('routes = [{ channel = "#a", min_severity = "LOUD" }]', "routes.0.min_severity"),
        ('sasl_password = "secret"', "plugins.irc.sasl_password: set both sasl_username"),
        ('nick = "9lives"', "plugins.irc.nick: String should match"),
        ('password = "has space"', "plugins.irc.password"),
        ('tls_ca_file = "/nonexistent.pem"', "plugins.irc.tls_ca_file: no such file"),
        ("reconnect_min = 10.0\nreconnect_max = 5.0", "must not be less than reconnect_min"),
        ("flood_rate = 0.0", "plugins.irc.flood_rate"),
        ('chanels = ["#a"]', "did you mean 'channels'?"),
    ],
)
def test_bad_irc_settings_are_named(config_file, table, problem):
    with pytest.raises(ConfigError) as raised:
        irc_settings(config_file, table)
    assert problem in str(raised.value)
