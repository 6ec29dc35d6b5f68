"""The condition language of rule_tags and drop_rules, and its address ranges."""

import random

import pytest
from netaddr import IPAddress, IPNetwork, IPSet
from pydantic import ValidationError

from mozdef.core.addresses import AddressMap
from mozdef.core.conditions import ConditionError, MatchRule, compile_match
from mozdef.core.normalize import Normalizer, NormalizeSettings

NORMALIZER = Normalizer(NormalizeSettings(), mozdefhostname="mozdef1.example.com")

# sshd's line as rsyslog ships it, with what the sshd parser adds.
SSH_LOGIN = NORMALIZER.normalize(
    {
        "timestamp": "2024-05-14T09:00:42.993908+00:00",
        "host": "bastion1.corp.example.com",
        "processname": "sshd",
        "pid": "21311",
        "severity": "info",
        "facility": "authpriv",
        "message": "Accepted publickey for alice from 198.51.100.23 port 50122 ssh2: "
        "ED25519 SHA256:K9gGyX8OAK8aH8Myj6djqSaXI8jbj6xPk69x2xhtbpA",
        "tags": ["sshd", "authentication"],
        "details": {
            "eventname": "accepted",
            "success": True,
            "username": "alice",
            "authmethod": "publickey",
            "sourceipaddress": "198.51.100.23",
            "sourceport": 50122,
            "destinationipaddress": "10.1.2.3",
            "destinationport": "22",
            "session": {"tty": "pts/0"},
        },
    }
)
# An AWS ELB health check in an nginx access log.
HEALTH_CHECK = NORMALIZER.normalize(
    {
        "timestamp": "2024-05-14T09:10:00+00:00",
        "host": "web3.corp.example.com",
        "program": "nginx",
        "message": '10.0.4.17 - - [14/May/2024:09:10:00 +0000] "GET /__heartbeat__ HTTP/1.1" '
        '200 2 "-" "ELB-HealthChecker/2.0"',
        "details": {
            "sourceipaddress": "2001:db8:4::17",
            "useragent": "ELB-HealthChecker/2.0",
            "request": "/__heartbeat__",
            "status": 200,
        },
    }
)


@pytest.mark.parametrize(
    ("match", "event", "expected"),
    [
        ({"processname": "sshd"}, SSH_LOGIN, True),
        ({"processname": "sshd"}, HEALTH_CHECK, False),
        ({"details.success": True}, SSH_LOGIN, True),
        ({"details.status": 200}, HEALTH_CHECK, True),
        ({"details.status": "200"}, HEALTH_CHECK, False),  # types must agree
        ({"details.status": 200.0}, HEALTH_CHECK, True),
        ({"details.success": 1}, SSH_LOGIN, False),  # a boolean is not a number
        ({"details.success": [1, "yes"]}, SSH_LOGIN, False),
        ({"details.success": [False, True]}, SSH_LOGIN, True),
        ({"details.username": ["root", "alice"]}, SSH_LOGIN, True),
        ({"details.username": ["root", "admin"]}, SSH_LOGIN, False),
        ({"details.username": {"in": ["alice"]}}, SSH_LOGIN, True),
        ({"details.username": {"exists": True}}, SSH_LOGIN, True),
        ({"details.username": {"exists": True}}, HEALTH_CHECK, False),
        ({"details.username": {"exists": False}}, HEALTH_CHECK, True),
        ({"summary": {"regex": "^Accepted (publickey|password) for"}}, SSH_LOGIN, True),
        ({"summary": {"regex": "^Failed"}}, SSH_LOGIN, False),
        ({"summary": {"regex": "(?i)accepted PUBLICKEY"}}, SSH_LOGIN, True),
        ({"details.useragent": {"prefix": "ELB-HealthChecker"}}, HEALTH_CHECK, True),
        ({"details.useragent": {"prefix": ["kube-probe", "ELB-"]}}, HEALTH_CHECK, True),
        ({"details.useragent": {"prefix": "Mozilla"}}, HEALTH_CHECK, False),
        ({"hostname": {"suffix": ".corp.example.com"}}, SSH_LOGIN, True),
        ({"hostname": {"suffix": ".example.org"}}, SSH_LOGIN, False),
        ({"details.request": {"contains": ["heartbeat", "status"]}}, HEALTH_CHECK, True),
        ({"details.request": {"contains": "admin"}}, HEALTH_CHECK, False),
        ({"details.sourceipaddress": {"cidr": "198.51.100.0/24"}}, SSH_LOGIN, True),
        (
            {"details.sourceipaddress": {"cidr": ["10.0.0.0/8", "2001:db8::/32"]}},
            HEALTH_CHECK,
            True,
        ),
        ({"details.sourceipaddress": {"cidr": "10.0.0.0/8"}}, SSH_LOGIN, False),
        ({"details.username": {"cidr": "0.0.0.0/0"}}, SSH_LOGIN, False),  # not an address
        ({"details.sourceport": {"gt": 1024}}, SSH_LOGIN, True),
        ({"details.sourceport": {"le": 1024}}, SSH_LOGIN, False),
        ({"details.destinationport": {"lt": 1024}}, SSH_LOGIN, True),  # "22" read as 22
        ({"details.destinationport": {"ge": 22, "lt": 23}}, SSH_LOGIN, True),  # all must hold
        ({"details.destinationport": {"ge": 22, "lt": 22}}, SSH_LOGIN, False),
        ({"details.success": {"gt": 0}}, SSH_LOGIN, False),  # booleans are not numbers
        ({"details.username": {"not": "root"}}, SSH_LOGIN, True),
        ({"details.username": {"not": ["alice", "bob"]}}, SSH_LOGIN, False),
        ({"details.username": {"not": {"exists": True}}}, HEALTH_CHECK, True),
        ({"details.username": {"not": "root"}}, HEALTH_CHECK, True),  # absent: not root
        ({"tags": "authentication"}, SSH_LOGIN, True),  # a list holds if an element does
        ({"tags": {"prefix": "auth"}}, SSH_LOGIN, True),
        ({"tags": {"not": "sshd"}}, SSH_LOGIN, False),  # for none of them
        ({"details.session.tty": {"prefix": "pts/"}}, SSH_LOGIN, True),
        ({"details.session.tty.name": "pts/0"}, SSH_LOGIN, False),  # through a string
        ({"processname": "sshd", "details.username": "alice"}, SSH_LOGIN, True),
        ({"processname": "sshd", "details.username": "root"}, SSH_LOGIN, False),
        ({"details.sourceipaddress": "198.51.100.23"}, {"details": "flat"}, False),
    ],
)
def test_conditions_on_realistic_events(match: dict, event: dict, expected: bool) -> None:
    assert compile_match(match, "rule")(event) is expected


@pytest.mark.parametrize(
    ("match", "message"),
    [
        (
            {"summary": {"regex": "Accepted (publickey"}},
            "rule 'r1': summary: regex: invalid regular expression 'Accepted (publickey': "
            "missing ), unterminated subpattern",
        ),
        (
            {"details.sourceipaddress": {"cidr": ["10.0.0.0/8", "10.0.0.0/33"]}},
            "rule 'r1': details.sourceipaddress: cidr: '10.0.0.0/33' is not a CIDR",
        ),
        (
            {"details.useragent": {"prefx": "ELB-HealthChecker"}},
            "rule 'r1': details.useragent: unknown operator 'prefx'; did you mean 'prefix'?",
        ),
        (
            {"details": {"useragent": "curl/8.5.0"}},
            "rule 'r1': details: unknown operator 'useragent'; a field path must be one "
            'quoted key, e.g. "details.useragent" = ...',
        ),
        ({}, "rule 'r1': match must be a non-empty table of field conditions"),
        ({"details..username": "root"}, "rule 'r1': details..username: "),
        ({"details.sourceport": {"gt": "1024"}}, "details.sourceport: gt: expected a number"),
        ({"details.success": {"lt": True}}, "details.success: lt: expected a number"),
        ({"details.username": []}, "details.username: expected a non-empty list of values"),
        ({"details.username": {"in": "root"}}, "details.username: in: expected a non-empty"),
        ({"details.username": [{"name": "root"}]}, "may hold only strings, numbers and booleans"),
        ({"details.username": {"exists": "yes"}}, "details.username: exists: expected true or"),
        ({"details.username": {}}, "details.username: an empty table is not a condition"),
        ({"details.useragent": {"prefix": []}}, "prefix: expected a string or a non-empty list"),
        ({"details.username": {"not": {"regex": "["}}}, "not: regex: invalid regular expression"),
    ],
)
def test_a_bad_condition_names_the_rule_and_the_field(match: dict, message: str) -> None:
    with pytest.raises(ConditionError) as caught:
        compile_match(match, "r1")
    assert message in str(caught.value)


def test_a_rule_is_checked_when_the_settings_are_validated() -> None:
    rule = MatchRule(name="lb", match={"details.useragent": {"prefix": "ELB"}})
    assert rule.matcher()(HEALTH_CHECK) is True
    with pytest.raises(ValidationError) as caught:
        MatchRule.model_validate({"name": "lb", "match": {"details.useragent": {"prefx": "E"}}})
    assert "rule 'lb': details.useragent: unknown operator 'prefx'" in str(caught.value)


def test_nested_ranges_give_the_most_specific_label() -> None:
    ranges = AddressMap(
        [
            ("10.0.0.0/8", "corp"),
            ("10.1.0.0/16", "paris"),
            ("10.1.2.0/24", "paris-dmz"),
            ("10.1.0.0/16", "duplicate, ignored"),
            ("10.2.0.0/16", "london"),
            ("2001:db8::/32", "v6"),
            ("::ffff:192.0.2.0/120", "mapped"),
            ("203.0.113.7", "one host"),
        ]
    )
    expected = {
        "10.0.0.1": "corp",
        "10.1.0.1": "paris",
        "10.1.2.200": "paris-dmz",
        "10.1.3.0": "paris",
        "10.1.255.255": "paris",
        "10.2.0.0": "london",
        "10.3.0.0": "corp",
        "10.255.255.255": "corp",
        "11.0.0.0": None,
        "9.255.255.255": None,
        "2001:db8:1::5": "v6",
        "2001:db9::": None,
        "192.0.2.10": "mapped",
        "::ffff:10.1.2.3": "paris-dmz",  # an IPv4-mapped address is its IPv4 address
        "203.0.113.7": "one host",
        "203.0.113.8": None,
        "not-an-ip": None,
        "10.1.2": None,
    }
    assert {address: ranges.get(address) for address in expected} == expected


def test_lookups_agree_with_netaddr() -> None:
    generator = random.Random(20240514)
    cidrs = [
        f"{generator.randrange(1, 224)}.{generator.randrange(256)}.0.0/"
        f"{generator.choice([8, 12, 16, 20, 24, 28])}"
        for _ in range(300)
    ]
    ranges = AddressMap((cidr, True) for cidr in cidrs)
    reference = IPSet(IPNetwork(cidr) for cidr in cidrs)
    probes = [str(IPAddress(generator.getrandbits(32))) for _ in range(2000)]
    probes += [str(IPNetwork(cidr).network) for cidr in cidrs]
    probes += [str(IPNetwork(cidr).broadcast or IPNetwork(cidr).network) for cidr in cidrs]
    assert [ranges.get(p) is not None for p in probes] == [p in reference for p in probes]
