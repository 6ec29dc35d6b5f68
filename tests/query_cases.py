"""The table of query cases every store must agree on.

The SQLite store runs each case for real against `EVENTS`; the Elasticsearch and
OpenSearch tests check the query DSL each case compiles to (and run the cases against
a real cluster when one is configured). A case names the events it must find.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from mozdef.core.query import (
    Bool,
    Exists,
    Phrase,
    Query,
    QueryString,
    Range,
    Subnet,
    Term,
    Terms,
    TimeWindow,
    Wildcard,
)


def event(utc: str, **fields: object) -> dict:
    details = fields.pop("details", {})
    return {
        "utctimestamp": utc,
        "timestamp": utc,
        "receivedtimestamp": utc,
        "category": fields.pop("category", "syslog"),
        "hostname": fields.pop("hostname", "host1.example.com"),
        "processname": fields.pop("processname", "sshd"),
        "processid": 100,
        "severity": fields.pop("severity", "INFO"),
        "source": "test",
        "summary": fields.pop("summary", ""),
        "tags": fields.pop("tags", []),
        "details": details,
        **fields,
    }


# id -> event; times on 2026-11-20 between 10:00 and 10:09 UTC.
EVENTS: dict[str, dict] = {
    "ssh-fail-1": event(
        "2026-11-20T10:00:00+00:00",
        category="authentication",
        summary="Failed password for root from 203.0.113.9 port 4242 ssh2",
        tags=["sshd", "failure"],
        details={"username": "root", "sourceipaddress": "203.0.113.9", "sourceport": 4242},
    ),
    "ssh-fail-2": event(
        "2026-11-20T10:01:00+00:00",
        category="authentication",
        summary="Failed password for invalid user admin from 203.0.113.9 port 4243 ssh2",
        tags=["sshd", "failure"],
        details={"username": "admin", "sourceipaddress": "203.0.113.9", "sourceport": 4243},
    ),
    "ssh-ok": event(
        "2026-11-20T10:02:00+00:00",
        category="authentication",
        hostname="bastion.example.com",
        summary="Accepted publickey for alice from 10.1.2.3 port 5022 ssh2",
        tags=["sshd"],
        details={"username": "alice", "sourceipaddress": "10.1.2.3", "success": True},
    ),
    "v6-login": event(
        "2026-11-20T10:03:00+00:00",
        category="authentication",
        summary="Accepted password for bob from 2001:db8::17 port 6000 ssh2",
        tags=["sshd"],
        details={"username": "bob", "sourceipaddress": "2001:db8::17", "success": True},
    ),
    "netflow": event(
        "2026-11-20T10:04:00+00:00",
        category="netflow",
        processname="nfcapd",
        summary="10.247.28.2:60469 --> 2.192.38.177:6824",
        tags=["netflow", "network"],
        details={
            "sourceipaddress": "10.247.28.2",
            "destinationipaddress": "2.192.38.177",
            "destinationport": 6824,
            "octets": 1656,
        },
    ),
    "proxy-deny": event(
        "2026-11-20T10:05:00+00:00",
        category="proxy",
        processname="squid",
        severity="WARNING",
        summary="TCP_DENIED/403 GET http://evil.example.net:8443/payload.exe",
        details={
            "sourceipaddress": "10.1.2.99",
            "destination": "http://evil.example.net:8443/payload.exe",
            "host": "evil.example.net",
            "destinationport": 8443,
            "proxyaction": "TCP_DENIED",
        },
    ),
    "audit": event(
        "2026-11-20T10:06:00+00:00",
        category="execve",
        processname="audisp-json",
        severity="NOTICE",
        summary="Execve: /usr/bin/curl http://example.com by alice on host1",
        details={"auid": 1000, "command": "/usr/bin/curl http://example.com", "ses": -1},
    ),
    "kernel": event(
        "2026-11-20T10:07:00+00:00",
        category="promiscuous",
        processname="kernel",
        severity="CRITICAL",
        summary="device eth0 entered promiscuous mode",
        details={"device": "eth0", "promiscuous": "on"},
    ),
    "late": event(
        "2026-11-20T10:09:00+00:00",
        category="authentication",
        summary="Failed password for root from 198.51.100.4 port 1111 ssh2",
        tags=["sshd", "failure"],
        details={"username": "root", "sourceipaddress": "198.51.100.4"},
    ),
}


@dataclass(frozen=True)
class Case:
    id: str
    query: Query | None
    expected: frozenset[str]
    window: TimeWindow | None = None


def case(id: str, query: Query | None, *expected: str, window: TimeWindow | None = None) -> Case:
    return Case(id, query, frozenset(expected), window)


AUTH = ("ssh-fail-1", "ssh-fail-2", "ssh-ok", "v6-login", "late")
CASES: list[Case] = [
    case("term-top-level", Term("category", "authentication"), *AUTH),
    case("term-nested", Term("details.username", "root"), "ssh-fail-1", "late"),
    case("term-number", Term("details.destinationport", 8443), "proxy-deny"),
    case("term-bool", Term("details.success", True), "ssh-ok", "v6-login"),
    case("term-list-element", Term("tags", "failure"), "ssh-fail-1", "ssh-fail-2", "late"),
    case("term-no-match", Term("category", "Authentication")),  # exact: case matters
    case("terms", Terms("processname", ("squid", "kernel")), "proxy-deny", "kernel"),
    case(
        "phrase-summary", Phrase("summary", "failed password"), "ssh-fail-1", "ssh-fail-2", "late"
    ),
    case("phrase-order-matters", Phrase("summary", "password failed")),
    case("wildcard", Wildcard("hostname", "bastion*"), "ssh-ok"),
    case("wildcard-single", Wildcard("details.device", "eth?"), "kernel"),
    case("exists", Exists("details.destinationport"), "netflow", "proxy-deny"),
    case("range-number", Range("details.octets", gte=1000, lt=2000), "netflow"),
    case("range-open", Range("details.sourceport", gt=4242), "ssh-fail-2"),
    case(
        "range-time",
        Range("utctimestamp", gte="2026-11-20T10:05:00+00:00", lt="2026-11-20T10:07:00+00:00"),
        "proxy-deny",
        "audit",
    ),
    case(
        "subnet-v4",
        Subnet("details.sourceipaddress", "10.0.0.0/8"),
        "ssh-ok",
        "netflow",
        "proxy-deny",
    ),
    case(
        "subnet-v4-narrow",
        Subnet("details.sourceipaddress", "203.0.113.0/24"),
        "ssh-fail-1",
        "ssh-fail-2",
    ),
    case("subnet-v6", Subnet("details.sourceipaddress", "2001:db8::/32"), "v6-login"),
    case("subnet-other-field", Subnet("details.destinationipaddress", "2.192.0.0/16"), "netflow"),
    case(
        "bool-must-not",
        Bool(
            must=(Term("category", "authentication"),), must_not=(Term("details.username", "root"),)
        ),
        "ssh-fail-2",
        "ssh-ok",
        "v6-login",
    ),
    case(
        "bool-should",
        Bool(should=(Term("severity", "CRITICAL"), Term("severity", "WARNING"))),
        "kernel",
        "proxy-deny",
    ),
    case(
        "bool-nested",
        Bool(
            must=(Term("tags", "sshd"),),
            should=(
                Subnet("details.sourceipaddress", "10.0.0.0/8"),
                Term("details.username", "bob"),
            ),
            minimum_should_match=1,
        ),
        "ssh-ok",
        "v6-login",
    ),
    case("query-string-field", QueryString("category:netflow"), "netflow"),
    case(
        "query-string-boolean",
        QueryString("category:authentication AND NOT details.username:root"),
        "ssh-fail-2",
        "ssh-ok",
        "v6-login",
    ),
    case("query-string-phrase", QueryString('summary:"promiscuous mode"'), "kernel"),
    case("query-string-wildcard", QueryString("hostname:bastion*"), "ssh-ok"),
    case("query-string-or", QueryString("processname:(squid OR kernel)"), "proxy-deny", "kernel"),
    case("query-string-range", QueryString("details.octets:[1000 TO 2000]"), "netflow"),
    case("query-string-exists", QueryString("_exists_:details.auid"), "audit"),
    case(
        "window",
        Term("category", "authentication"),
        "v6-login",
        window=TimeWindow(
            since=datetime(2026, 11, 20, 10, 3, tzinfo=UTC),
            until=datetime(2026, 11, 20, 10, 9, tzinfo=UTC),
        ),
    ),
    case(
        "window-only",
        None,
        "kernel",
        "late",
        window=TimeWindow(since=datetime(2026, 11, 20, 10, 7, tzinfo=UTC)),
    ),
]
