"""drop_rules and suppress_duplicates, run through the real plugin chain."""

import pytest
from plugin_chain import NORMALIZER, TIME, chain

from mozdef.core import EventMeta
from mozdef.core.chain import Chain
from mozdef.core.config import ConfigError
from mozdef.plugins.drop_rules import DropRules, RuleCount
from mozdef.plugins.suppress_duplicates import SuppressDuplicates

FIRST_TIME = "2024-05-14T09:00:00.000000+00:00"


def access_log(useragent: str, path: str = "/__heartbeat__", source: str = "10.0.4.17") -> dict:
    """An nginx access-log line as the shipper parsed it."""
    return NORMALIZER.normalize(
        {
            "timestamp": TIME,
            "host": "web3.corp.example.com",
            "program": "nginx",
            "category": "weblog",
            "message": f'{source} - - [14/May/2024:09:10:01 +0000] "GET {path} HTTP/1.1" 200 2 '
            f'"-" "{useragent}"',
            "details": {"sourceipaddress": source, "useragent": useragent, "request": path},
        }
    )


def execve(command: str, user: str = "root") -> dict:
    """An auditd EXECVE record as the auditd plugin leaves it."""
    return NORMALIZER.normalize(
        {
            "timestamp": TIME,
            "host": "db1.corp.example.com",
            "program": "audisp-json",
            "category": "auditd",
            "message": f"Execve: {command}",
            "details": {"processname": command.split()[0], "command": command, "user": user},
        }
    )


# ---- drop_rules ------------------------------------------------------------------------

DROP_RULES = """
[[plugins.drop_rules.rules]]
name = "lb-health-checks"
match = { "details.useragent" = { prefix = ["ELB-HealthChecker", "kube-probe/"] } }

[[plugins.drop_rules.rules]]
name = "auditd-noise"
match = { category = "auditd", "details.processname" = ["/usr/bin/ps", "/usr/bin/id"] }
keep_one_in = 3

[[plugins.drop_rules.rules]]
name = "count-root-commands"
match = { category = "auditd", "details.user" = "root" }
keep_one_in = 1
"""


def drop_rules(config_file, toml: str = DROP_RULES) -> tuple[Chain, DropRules]:
    plugin = DropRules()
    return chain(config_file, toml, drop_rules=plugin), plugin


def test_matching_events_are_dropped_and_counted(config_file) -> None:
    dropper, plugin = drop_rules(config_file)
    assert dropper.run(access_log("ELB-HealthChecker/2.0"), EventMeta()) is None
    assert dropper.run(access_log("kube-probe/1.29"), EventMeta()) is None
    kept = dropper.run(access_log("Mozilla/5.0 (X11; Linux x86_64)", "/login"), EventMeta())
    assert kept["details"]["request"] == "/login"
    assert "sampled" not in kept["tags"]
    assert plugin.counts["lb-health-checks"] == RuleCount(matched=2, dropped=2)
    assert dropper.stats()["drop_rules"].dropped == 2


def test_sampling_keeps_one_in_n_marked(config_file) -> None:
    dropper, plugin = drop_rules(config_file)
    results = [dropper.run(execve("/usr/bin/ps -ef"), EventMeta()) for _ in range(7)]
    kept = [event for event in results if event is not None]
    assert [event is not None for event in results] == [True, False, False] * 2 + [True]
    for event in kept:
        assert "sampled" in event["tags"]
        assert event["details"]["sampleratio"] == 3
    assert plugin.counts["auditd-noise"] == RuleCount(matched=7, dropped=4)


def test_the_first_matching_rule_decides(config_file) -> None:
    dropper, plugin = drop_rules(config_file)
    event = dropper.run(execve("/usr/sbin/useradd mallory"), EventMeta())
    assert event["details"]["sampleratio"] == 1  # keep_one_in = 1: counted, never dropped
    assert plugin.counts == {
        "lb-health-checks": RuleCount(),
        "auditd-noise": RuleCount(),
        "count-root-commands": RuleCount(matched=1, dropped=0),
    }
    assert dropper.run(execve("/usr/bin/ps -ef"), EventMeta()) is not None  # 1st of 3
    assert dropper.run(execve("/usr/bin/ps -ef"), EventMeta()) is None
    assert plugin.counts["count-root-commands"].matched == 1  # auditd-noise decided


def test_no_rules_drop_nothing(config_file) -> None:
    dropper, plugin = drop_rules(config_file, "")
    assert dropper.run(access_log("ELB-HealthChecker/2.0"), EventMeta()) is not None
    assert plugin.counts == {}
    assert dropper.links == []  # nothing to do: not in the chain at all


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            'match = { "details.useragent" = { prefx = "ELB" } }\n',
            "plugins.drop_rules.rules.0.match: rule 'bad': details.useragent: unknown operator "
            "'prefx'; did you mean 'prefix'?",
        ),
        (
            'match = { "details.command" = { regex = "ps (-ef" } }\n',
            "plugins.drop_rules.rules.0.match: rule 'bad': details.command: regex: invalid "
            "regular expression 'ps (-ef'",
        ),
        (
            'match = { "details.sourceipaddress" = { cidr = ["10.0.0.0/8", "10.0.0.300"] } }\n',
            "plugins.drop_rules.rules.0.match: rule 'bad': details.sourceipaddress: cidr: "
            "'10.0.0.300' is not a CIDR",
        ),
        ("match = {}\n", "plugins.drop_rules.rules.0.match: rule 'bad': match must be"),
        (
            'match = { category = "auditd" }\nkeep_one_in = -2\n',
            "plugins.drop_rules.rules.0.keep_one_in: Input should be greater than or equal to 0",
        ),
        ("keep_one_in = 2\n", "plugins.drop_rules.rules.0.match: Field required"),
    ],
)
def test_bad_drop_rules_name_the_rule_and_key(config_file, toml: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        drop_rules(config_file, f'[[plugins.drop_rules.rules]]\nname = "bad"\n{toml}')
    assert message in str(caught.value)


# ---- suppress_duplicates ---------------------------------------------------------------


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def suppressor(config_file, keys: str = "") -> tuple[Chain, Clock, SuppressDuplicates]:
    """The plugin switched on, with more keys of its table if given."""
    clock = Clock()
    plugin = SuppressDuplicates(clock)
    toml = f"[plugins.suppress_duplicates]\nenabled = true\n{keys}"
    return chain(config_file, toml, suppress_duplicates=plugin), clock, plugin


def failed_login(source: str = "203.0.113.77", at: str = TIME) -> dict:
    return NORMALIZER.normalize(
        {
            "timestamp": at,
            "host": "bastion1.corp.example.com",
            "program": "sshd",
            "category": "authentication",
            "message": f"Failed password for invalid user admin from {source} port 41886 ssh2",
            "details": {"sourceipaddress": source, "username": "admin"},
        }
    )


def test_repeats_within_the_window_are_dropped_and_counted_on_the_next_kept(
    config_file,
) -> None:
    suppress, clock, _ = suppressor(config_file)
    first = suppress.run(failed_login(at="2024-05-14T09:00:00+00:00"), EventMeta())
    assert "suppressedcount" not in first["details"]
    for _ in range(4):
        clock.now += 10
        assert suppress.run(failed_login(), EventMeta()) is None
    clock.now += 20.5  # 60.5 s after the first: its window has closed
    after = suppress.run(failed_login(), EventMeta())
    assert after["details"]["suppressedcount"] == 4
    assert after["details"]["suppressedsince"] == first["utctimestamp"] == FIRST_TIME
    clock.now += 1  # a new window opened with `after`
    assert suppress.run(failed_login(), EventMeta()) is None
    assert suppress.stats()["suppress_duplicates"].dropped == 5


def test_it_is_off_unless_switched_on(config_file) -> None:
    plugin = SuppressDuplicates(Clock())
    off = chain(config_file, suppress_duplicates=plugin)
    assert [off.run(failed_login(), EventMeta()) is not None for _ in range(3)] == [True] * 3
    assert off.links == []


def test_different_events_are_not_duplicates(config_file) -> None:
    suppress, _, _ = suppressor(config_file)
    assert suppress.run(failed_login("203.0.113.77"), EventMeta()) is not None
    assert suppress.run(failed_login("203.0.113.78"), EventMeta()) is not None
    other_host = failed_login("203.0.113.77")
    other_host["hostname"] = "bastion2.corp.example.com"
    assert suppress.run(other_host, EventMeta()) is not None


def test_a_window_without_repeats_adds_no_count(config_file) -> None:
    suppress, clock, _ = suppressor(config_file)
    suppress.run(failed_login(), EventMeta())
    clock.now += 61
    assert "suppressedcount" not in suppress.run(failed_login(), EventMeta())["details"]


def test_max_suppressed_reports_a_storm_while_it_lasts(config_file) -> None:
    keys = "max_suppressed = 3\nwindow_seconds = 3600\n"
    suppress, clock, _ = suppressor(config_file, keys)
    kept = []
    for _ in range(9):
        clock.now += 1
        event = suppress.run(failed_login(), EventMeta())
        kept.append(None if event is None else event["details"].get("suppressedcount", 0))
    assert kept == [0, None, None, None, 3, None, None, None, 3]


def test_key_fields_decide_what_is_identical(config_file) -> None:
    keys = 'key_fields = ["hostname", "details.username"]\n'
    suppress, _, _ = suppressor(config_file, keys)
    assert suppress.run(failed_login("203.0.113.77"), EventMeta()) is not None
    assert suppress.run(failed_login("198.51.100.4"), EventMeta()) is None  # same user, host
    listed = failed_login()
    listed["details"]["username"] = ["admin", "root"]  # unhashable values work too
    assert suppress.run(listed, EventMeta()) is not None
    assert suppress.run(failed_login() | {"details": listed["details"]}, EventMeta()) is None


def test_memory_is_bounded(config_file) -> None:
    suppress, clock, plugin = suppressor(config_file, "max_tracked_keys = 2\n")
    for source in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        suppress.run(failed_login(source), EventMeta())
    assert list(plugin.windows) == [key(failed_login("192.0.2.2")), key(failed_login("192.0.2.3"))]
    assert plugin.forgotten == 1  # 192.0.2.1's window was still open
    assert suppress.run(failed_login("192.0.2.1"), EventMeta()) is not None  # forgotten
    assert suppress.run(failed_login("192.0.2.3"), EventMeta()) is None  # still tracked
    assert plugin.forgotten == 2
    clock.now += 61
    suppress.run(failed_login("192.0.2.9"), EventMeta())  # full: closed windows go first
    assert (len(plugin.windows), plugin.forgotten) == (1, 2)


def key(event: dict) -> tuple:
    details = event["details"]
    fields = ("hostname", "processname", "summary", "category")
    return (*(event[field] for field in fields), details["sourceipaddress"])


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("window_seconds = 0\n", "plugins.suppress_duplicates.window_seconds: Input should be"),
        ("key_fields = []\n", "plugins.suppress_duplicates.key_fields: List should have at"),
        (
            'key_fields = ["details..user"]\n',
            "plugins.suppress_duplicates.key_fields: 'details..user' is not a dotted field path",
        ),
        ("max_tracked_keys = 0\n", "plugins.suppress_duplicates.max_tracked_keys: Input should"),
    ],
)
def test_bad_suppression_settings_name_the_key(config_file, toml: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        suppressor(config_file, toml)
    assert message in str(caught.value)
