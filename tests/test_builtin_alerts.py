"""The built-in rules (MozDef's own alerts) on events that went through the real pipeline:
raw log lines and records as shippers send them, normalised and parsed by the installed
plugins, stored in SQLite, then searched by the rule engine."""

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from alert_support import NOW, open_store

from mozdef.alerts import builtin
from mozdef.alerts.catalog import Catalog
from mozdef.alerts.engine import Engine
from mozdef.alerts.rules import Rule
from mozdef.core.app import MozDef
from mozdef.core.config import ConfigError, load_config
from mozdef.core.ingest import Ingestor, RawEvent, Status
from mozdef.core.pluginmanager import Candidate, discover, summary
from mozdef.core.stores.sqlite import SqliteStore
from mozdef.core.timestamps import isoformat

MOZDEF_HOST = "mozdef1.example.com"
BASTION = "bastion1.corp.example.com"
PROXY = "proxy1.corp.example.com"
DB = "db01.corp.example.com"


def candidates() -> list[Candidate]:
    """Every installed built-in plugin, and the built-in rules' plugin."""
    installed = [found for found in discover(autoload=False) if found.plugin is not builtin]
    return [*installed, Candidate("builtin_alerts", "built-in", builtin, summary(builtin))]


@pytest.fixture(scope="module")
def pipeline_config(tmp_path_factory):
    path = tmp_path_factory.mktemp("pipeline") / "mozdef.toml"
    path.write_text(f'[mozdef]\nhostname = "{MOZDEF_HOST}"\n', encoding="utf-8")
    return load_config(path, {})


def start(config, received: datetime) -> MozDef:
    """A started MozDef whose every event is received at `received`."""
    return MozDef(config, candidates(), clock=lambda: received)


@pytest.fixture(scope="module")
def app(pipeline_config):
    with start(pipeline_config, NOW) as mozdef:
        yield mozdef


@pytest.fixture
def store(tmp_path):
    with open_store(tmp_path) as store:
        yield store


@pytest.fixture
def rule(app, config_file) -> Callable[..., Rule]:
    """A built-in rule as the catalog makes it from a mozdef.toml (`toml`)."""

    def make(name: str, toml: str = "") -> Rule:
        return Catalog(config_file(toml), app.plugins).get(name).rule

    return make


def send(app: MozDef, store: SqliteStore, *raws: object) -> None:
    results = Ingestor(app, store).ingest([RawEvent(raw, "test") for raw in raws])
    assert [result.status for result in results] == [Status.STORED] * len(raws)


def run(store: SqliteStore, rule: Rule, now: datetime = NOW) -> list[dict]:
    return Engine(store).run(rule, now)


def only(alerts: list[dict]) -> tuple:
    """What the one alert says: summary, severity, category and tags."""
    (alert,) = alerts
    return alert["summary"], alert["severity"], alert["category"], alert["tags"]


def at(ago: float, now: datetime = NOW) -> str:
    return isoformat(now - timedelta(seconds=ago))


def syslog(program: str, message: str, host: str, ago: float = 30, pid: str = "4242") -> dict:
    """A syslog line as rsyslog's JSON template sends it."""
    return {
        "timestamp": at(ago),
        "host": host,
        "processname": program,
        "pid": pid,
        "severity": "info",
        "facility": "authpriv",
        "message": f" {message}",
    }


def sshd(message: str, host: str = BASTION, ago: float = 30) -> dict:
    return syslog("sshd", message, host, ago)


def failed(source: str, host: str = BASTION, ago: float = 30) -> dict:
    return sshd(f"Failed password for root from {source} port 51234 ssh2", host, ago)


# The plugin and its settings


def test_the_plugin_offers_every_builtin_rule_with_settings_described(app, config_file):
    catalog = Catalog(config_file(), app.plugins)
    names = {
        entry.name
        for entry in catalog.entries.values()
        if entry.origin.endswith("'builtin_alerts'")
    }
    assert names == {
        "bruteforce_ssh",
        "cloudtrail_logging_disabled",
        "deadman_generic",
        "duo_fail_open",
        "ldap_bruteforce_user",
        "old_events",
        "promisc_kernel",
        "proxy_drop_non_standard_port",
        "proxy_exfil_domains",
        "session_opened_sensitive_user",
        "ssh_access",
        "trace_audit",
        "write_audit",
    }
    for name in names:
        entry = catalog.get(name)
        assert entry.description, name
        for key, info in type(entry.rule.settings).model_fields.items():
            assert info.description, f"{name}.{key} has no description"


def test_a_bad_setting_stops_start_up_naming_its_key(app, config_file):
    with pytest.raises(ConfigError) as caught:
        Catalog(
            config_file('[alerts.rules.bruteforce_ssh]\nskiphosts = ["10.0.0.300"]\n'), app.plugins
        )
    assert "alerts.rules.bruteforce_ssh.skiphosts" in str(caught.value)
    assert "'10.0.0.300' is not an IP address or network" in str(caught.value)


# bruteforce_ssh


def test_bruteforce_ssh_fires_at_ten_failures_naming_the_commonest_hosts(app, store, rule):
    attempts = [failed("203.0.113.77") for _ in range(7)]
    attempts += [failed("203.0.113.77", host="bastion2.corp.example.com") for _ in range(3)]
    send(app, store, *attempts)
    bruteforce = rule("bruteforce_ssh")
    assert only(run(store, bruteforce)) == (
        "10 ssh bruteforce attempts by 203.0.113.77 bastion1.corp.example.com (7 hits) "
        "bastion2.corp.example.com (3 hits)",
        "NOTICE",
        "bruteforce",
        ["ssh"],
    )
    assert run(store, bruteforce) == []


def test_bruteforce_ssh_does_not_fire_at_nine_and_counts_each_attempt_once(app, store, rule):
    for _ in range(9):  # what sshd logs for one rejected password of a real user
        send(
            app,
            store,
            sshd(
                "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh "
                "ruser= rhost=203.0.113.77  user=root"
            ),
            failed("203.0.113.77"),
        )
    send(app, store, sshd("Invalid user admin from 203.0.113.77 port 41886"))
    bruteforce = rule("bruteforce_ssh")
    assert run(store, bruteforce) == []
    send(app, store, failed("203.0.113.77"))
    assert only(run(store, bruteforce))[0] == (
        "10 ssh bruteforce attempts by 203.0.113.77 bastion1.corp.example.com (10 hits)"
    )


@pytest.mark.parametrize(("ago", "fires"), [(119, True), (121, False)])
def test_bruteforce_ssh_counts_two_minutes_back(app, store, rule, ago, fires):
    send(app, store, *(failed("203.0.113.77") for _ in range(9)), failed("203.0.113.77", ago=ago))
    assert len(run(store, rule("bruteforce_ssh"))) == (1 if fires else 0)


def test_bruteforce_ssh_lists_the_five_commonest_hosts_and_skips_the_skiphosts(app, store, rule):
    hosts = [f"host{n}.example.com" for n in range(6)]  # host{n} sees n + 1 attempts
    send(
        app,
        store,
        *(failed("198.51.100.7", host) for n, host in enumerate(hosts) for _ in range(n + 1)),
    )
    send(app, store, *(failed("10.1.2.3") for _ in range(10)))
    settings = '[alerts.rules.bruteforce_ssh]\nskiphosts = ["10.1.0.0/16"]\n'
    assert only(run(store, rule("bruteforce_ssh", settings)))[0] == (
        "21 ssh bruteforce attempts by 198.51.100.7 host5.example.com (6 hits) "
        "host4.example.com (5 hits) host3.example.com (4 hits) host2.example.com (3 hits) "
        "host1.example.com (2 hits)"
    )


# deadman_generic

DEADMAN = """
[[alerts.rules.deadman_generic.checks]]
description = "Sample Alert 1"
search = "ABC12345436"
window = "5m"

[[alerts.rules.deadman_generic.checks]]
description = "Sample Alert 2"
search = "anotherterm"
window = "20h"
tags = ["someothertag"]
"""


def heartbeat(word: str, ago: float) -> dict:
    return syslog("heartbeat", f"{word} beat from the monitor", "monitor1.example.com", ago)


def test_deadman_generic_fires_for_each_silent_check(app, store, rule):
    deadman = rule("deadman_generic", DEADMAN)
    assert {alert["summary"] for alert in run(store, deadman)} == {
        "Deadman check failed for 'Sample Alert 1' the past 5 minutes",
        "Deadman check failed for 'Sample Alert 2' the past 20 hours",
    }
    send(app, store, heartbeat("anotherterm", ago=60))
    assert only(run(store, deadman)) == (
        "Deadman check failed for 'Sample Alert 1' the past 5 minutes",
        "ERROR",
        "deadman",
        ["deadman", "generic_deadman"],
    )


@pytest.mark.parametrize(("ago", "silent"), [(299, False), (301, True)])
def test_deadman_generic_looks_back_over_each_checks_window(app, store, rule, ago, silent):
    send(app, store, heartbeat("anotherterm", ago=19 * 3600), heartbeat("ABC12345436", ago=ago))
    alerts = run(store, rule("deadman_generic", DEADMAN))
    assert [alert["summary"] for alert in alerts] == (
        ["Deadman check failed for 'Sample Alert 1' the past 5 minutes"] if silent else []
    )


def test_deadman_generic_is_quiet_with_no_checks_and_suppresses_repeats(app, store, rule):
    assert run(store, rule("deadman_generic")) == []
    settings = '[alerts.rules.deadman_generic]\nseverity = "CRITICAL"\nsuppress = "1h"\n'
    suppressing = rule("deadman_generic", settings + DEADMAN)
    first = run(store, suppressing)
    assert {alert["severity"] for alert in first} == {"CRITICAL"}
    assert {tuple(alert["tags"]) for alert in first} == {
        ("deadman", "generic_deadman"),
        ("deadman", "someothertag"),
    }
    assert run(store, suppressing, NOW + timedelta(minutes=1)) == []


def test_deadman_generic_refuses_a_search_that_does_not_parse(app, config_file):
    broken = '[[alerts.rules.deadman_generic.checks]]\ndescription = "x"\nsearch = "a AND ("\n'
    with pytest.raises(ConfigError) as caught:
        Catalog(config_file(broken), app.plugins)
    assert "alerts.rules.deadman_generic.checks" in str(caught.value)


# old_events: laid over the receipt time, on the alert clock


def test_old_events_fires_for_events_a_day_older_than_their_receipt(
    pipeline_config, tmp_path, rule
):
    received = NOW
    with start(pipeline_config, received) as late_app, open_store(tmp_path) as store:
        late = [syslog("cron", "late", "web1.example.com", ago=0) for _ in range(3)]
        for event in late:
            event["timestamp"] = at(25 * 3600, received)
        on_time = syslog("cron", "on time", "web1.example.com", ago=0)
        on_time["timestamp"] = at(23 * 3600, received)
        send(late_app, store, *late, on_time)
        old_events = rule("old_events")
        alerts = run(store, old_events, received)
        assert alerts[0]["key"] == MOZDEF_HOST  # grouped by the host that received them
        assert only(alerts) == (
            "Events have an outdated utctimestamp (3)",
            "ERROR",
            "maintenance",
            ["pipeline"],
        )
        assert run(store, old_events, received) == []


@pytest.mark.parametrize(("hours", "fires"), [(5.9, True), (6.1, False)])
def test_old_events_looks_at_events_received_in_the_last_six_hours(
    pipeline_config, tmp_path, rule, hours, fires
):
    now = NOW
    received = now - timedelta(hours=hours)
    with start(pipeline_config, received) as late_app, open_store(tmp_path) as store:
        event = syslog("cron", "late", "web1.example.com")
        event["timestamp"] = at(2 * 86400, now)
        send(late_app, store, event)
        assert len(run(store, rule("old_events"), now)) == (1 if fires else 0)


# promisc_kernel


def kernel(message: str, ago: float = 30) -> dict:
    return syslog("kernel", message, "kvm07.corp.example.com", ago)


def test_promisc_kernel_fires_per_host_for_interfaces_entering_promiscuous_mode(app, store, rule):
    send(
        app,
        store,
        kernel("device eth0 entered promiscuous mode"),
        kernel("[ 8123.401772] device eth1 entered promiscuous mode"),
        kernel("audit: type=1700 audit(1715678994.314:812): dev=eth0 prom=256 old_prom=0 auid=0"),
    )
    promisc = rule("promisc_kernel")
    assert only(run(store, promisc)) == (
        "Promiscuous mode enabled on kvm07.corp.example.com [3]",
        "WARNING",
        "promisc",
        ["promisc", "kernel"],
    )
    assert run(store, promisc) == []


def test_promisc_kernel_ignores_leaving_veth_interfaces_and_old_events(app, store, rule):
    send(
        app,
        store,
        kernel("device eth0 left promiscuous mode"),
        kernel("device vethc0c001e entered promiscuous mode"),
        kernel("device eth0 entered promiscuous mode", ago=121),
    )
    assert run(store, rule("promisc_kernel")) == []
    send(app, store, kernel("device eth0 entered promiscuous mode", ago=119))
    assert len(run(store, rule("promisc_kernel"))) == 1


# write_audit and trace_audit: audit records as audisp-json and go-audit send them


def audit_write(user: str = "dave", host: str = DB, ago: float = 30, **details: object) -> dict:
    return {
        "category": "write",
        "hostname": host,
        "processname": "audisp-json",
        "severity": "INFO",
        "summary": "Write: /etc/audit/auditd.conf",
        "tags": ["audisp-json", "2.2.4", "audit"],
        "timestamp": at(ago),
        "details": {
            "auditkey": "audit",
            "path": "/etc/audit/auditd.conf",
            "originaluid": "1004",
            "originaluser": user,
            "uid": "0",
            "user": "root",
            "processname": "vi",
            "process": "/usr/bin/vim.basic",
            **details,
        },
    }


def test_write_audit_fires_for_two_writes_by_one_login_user(app, store, rule):
    send(app, store, audit_write(), audit_write(path="/etc/audit/rules.d/audit.rules"))
    write = rule("write_audit")
    assert only(run(store, write)) == (
        "2 Filesystem write(s) to an auditd path (/etc/audit/auditd.conf, "
        "/etc/audit/rules.d/audit.rules) by root (dave)",
        "WARNING",
        "write",
        ["audit"],
    )
    assert run(store, write) == []


def test_write_audit_needs_two_writes_in_fifteen_minutes_with_the_audit_key(app, store, rule):
    send(app, store, audit_write(), audit_write(ago=901), audit_write(auditkey="etc_write"))
    send(app, store, audit_write(user="erin"), audit_write(user="erin", processname="puppet"))
    write = rule("write_audit", '[alerts.rules.write_audit]\nskipprocesses = ["puppet"]\n')
    assert run(store, write) == []
    send(app, store, audit_write(ago=899))
    assert only(run(store, write))[0].startswith("2 Filesystem write(s)")


def test_write_audit_lists_hosts_and_lowers_severity_for_expected_users(app, store, rule):
    web1, web2 = audit_write(host="web1.example.com"), audit_write(host="web2.example.com")
    send(app, store, web1, web1, web2)
    expected = rule("write_audit", '[alerts.rules.write_audit]\nexpectedusers = ["dave"]\n')
    assert only(run(store, expected))[:2] == (
        "3 Filesystem write(s) to an auditd path (/etc/audit/auditd.conf) by root (dave) "
        "on web1.example.com (2 hosts) on web2.example.com (1 hosts)",
        "NOTICE",
    )


def audisp_ptrace(user: str = "randomjoe", host: str = DB, ago: float = 30) -> dict:
    return {
        "category": "ptrace",
        "hostname": host,
        "processname": "audisp-json",
        "summary": "Ptrace",
        "tags": ["audisp-json", "2.2.4", "audit"],
        "timestamp": at(ago),
        "details": {"processname": "strace", "originaluser": user, "auditkey": "strace"},
    }


def raw_syscall(syscall: str, ago: float = 30) -> dict:
    """A SYSCALL record with its fields at the top level, as go-audit style shippers send."""
    return {
        "@timestamp": at(ago),
        "host": DB,
        "program": "auditd",
        "type": "SYSCALL",
        "syscall": syscall,
        "success": "no",
        "exit": "-1",
        "auid": "1001",
        "ses": "88",
        "uid": "1001",
        "euid": "1001",
        "exe": "/usr/bin/gdb",
        "comm": "gdb",
        "key": "tracing",
    }


def test_trace_audit_fires_for_audisp_ptrace_events_by_login_user(app, store, rule):
    send(app, store, audisp_ptrace(), audisp_ptrace(host="db02.corp.example.com"))
    trace = rule("trace_audit")
    assert only(run(store, trace)) == (
        "2 instances of Strace or Ptrace executed by randomjoe on "
        "db01.corp.example.com,db02.corp.example.com",
        "WARNING",
        "trace",
        ["audit"],
    )
    assert run(store, trace) == []


def test_trace_audit_reads_raw_ptrace_syscalls_grouped_by_login_uid(app, store, rule):
    send(app, store, raw_syscall("ptrace"), raw_syscall("connect"))
    assert run(store, rule("trace_audit")) == []  # raw records carry no originaluser
    by_uid = rule("trace_audit", '[alerts.rules.trace_audit]\nfield = "details.auid"\n')
    assert only(run(store, by_uid))[0] == (
        "1 instances of Strace or Ptrace executed by 1001 on db01.corp.example.com"
    )


def test_trace_audit_skips_hosts_and_looks_five_minutes_back(app, store, rule):
    send(app, store, audisp_ptrace(host="build1.example.com"), audisp_ptrace(ago=301))
    trace = rule("trace_audit", '[alerts.rules.trace_audit]\nskiphosts = ["build1.example.com"]\n')
    assert run(store, trace) == []
    send(app, store, audisp_ptrace(ago=299))
    assert only(run(store, trace))[0].startswith("1 instances of Strace or Ptrace executed by")


# ssh_access


def accepted(user: str, source: str, method: str = "publickey", ago: float = 30) -> dict:
    return sshd(f"Accepted {method} for {user} from {source} port 50122 ssh2", ago=ago)


def test_ssh_access_fires_for_each_publickey_login(app, store, rule):
    key = "ED25519 SHA256:K9gGyX8OAK8aH8Myj6djqSaXI8jbj6xPk69x2xhtbpA"
    send(
        app, store, sshd(f"Accepted publickey for alice from 198.51.100.23 port 50122 ssh2: {key}")
    )
    access = rule("ssh_access")
    assert only(run(store, access)) == (
        f"SSH login from 198.51.100.23 on {BASTION} as user alice",
        "CRITICAL",
        "access",
        ["ssh"],
    )
    assert run(store, access) == []


def test_ssh_access_ignores_other_methods_failures_and_old_logins(app, store, rule):
    send(
        app,
        store,
        accepted("alice", "198.51.100.23", method="password"),
        sshd("Failed publickey for alice from 198.51.100.23 port 50122 ssh2"),
        accepted("alice", "198.51.100.23", ago=901),
    )
    assert run(store, rule("ssh_access")) == []
    send(app, store, accepted("alice", "198.51.100.23", ago=899))
    assert len(run(store, rule("ssh_access"))) == 1


def test_ssh_access_leaves_out_exclusions_and_keeps_to_the_watchlist(app, store, rule):
    send(
        app,
        store,
        accepted("deploy", "10.8.1.2"),
        accepted("deploy", "203.0.113.9"),
        accepted("alice", "10.8.1.2"),
        accepted("bob", "192.0.2.1"),
    )
    settings = (
        "[alerts.rules.ssh_access]\n"
        'watchlist = ["10.8.0.0/16", "203.0.113.9"]\n'
        "[[alerts.rules.ssh_access.exclusions]]\n"
        'username = "deploy"\n'
        'sourceipaddress = "10.8.0.0/16"\n'
    )
    summaries = {alert["summary"] for alert in run(store, rule("ssh_access", settings))}
    assert summaries == {
        f"SSH login from 203.0.113.9 on {BASTION} as user deploy",
        f"SSH login from 10.8.1.2 on {BASTION} as user alice",
    }


# proxy_drop_non_standard_port and proxy_exfil_domains: squid's access.log lines


def squid(line: str, ago: float = 30) -> dict:
    stamp = (NOW - timedelta(seconds=ago)).timestamp()
    return syslog("squid", f"{stamp:.3f}      0 {line}", PROXY, ago, pid="1187")


def denied_connect(client: str, target: str, ago: float = 30) -> dict:
    return squid(f"{client} TCP_DENIED/403 3964 CONNECT {target} - HIER_NONE/- text/html", ago)


def test_proxy_drop_non_standard_port_lists_the_refused_destinations(app, store, rule):
    send(
        app,
        store,
        denied_connect("10.20.4.17", "evil.example.com:6667"),
        denied_connect("10.20.4.17", "evil.example.com:1337"),
        denied_connect("10.20.4.17", "evil.example.com:1337"),
    )
    drops = rule("proxy_drop_non_standard_port")
    assert only(run(store, drops)) == (
        "Suspicious Proxy DROP event(s) detected from 10.20.4.17 to the following non-std "
        "port destination(s): evil.example.com:1337,evil.example.com:6667",
        "WARNING",
        "squid",
        ["squid", "proxy"],
    )
    assert run(store, drops) == []


def test_proxy_drop_non_standard_port_ignores_standard_ports_and_allowed_requests(app, store, rule):
    send(
        app,
        store,
        denied_connect("10.20.4.17", "www.example.com:443"),
        denied_connect("10.20.4.17", "www.example.com:8443"),
        squid(
            "10.20.4.17 TCP_TUNNEL/200 4521 CONNECT irc.example.net:6697 - HIER_DIRECT/192.0.2.8 -"
        ),
        squid("10.20.4.17 TCP_DENIED/403 3964 GET http://evil.example.com:8080/x - HIER_NONE/- -"),
        denied_connect("10.20.4.17", "evil.example.com:1337", ago=1201),
    )
    drops = rule("proxy_drop_non_standard_port")
    assert run(store, drops) == []
    send(app, store, denied_connect("10.20.4.17", "evil.example.com:1337", ago=1199))
    assert len(run(store, drops)) == 1


def request(client: str, method: str, url: str, ago: float = 30) -> dict:
    return squid(
        f"{client} TCP_MISS/200 18342 {method} {url} - HIER_DIRECT/192.0.2.80 text/html", ago
    )


def test_proxy_exfil_domains_lists_the_domains_each_client_reached(app, store, rule):
    send(
        app,
        store,
        request("10.20.4.22", "GET", "http://Pastebin.com/raw/abc"),
        request("10.20.4.22", "CONNECT", "www.sendspace.com:443"),
        request("10.20.4.22", "GET", "http://example.com/index.html"),
        request("10.20.4.23", "GET", "http://example.com/index.html"),
    )
    exfil = rule("proxy_exfil_domains")
    assert only(run(store, exfil)) == (
        "Proxy drop events detected from 10.20.4.22 to the following domain(s) that are known "
        "for exfiltrating data: pastebin.com,www.sendspace.com",
        "WARNING",
        "squid",
        ["squid", "proxy"],
    )
    assert run(store, exfil) == []


def test_proxy_exfil_domains_takes_its_domains_from_the_settings(app, store, rule):
    send(app, store, request("10.20.4.22", "GET", "http://pastebin.com/raw/abc"))
    send(app, store, request("10.20.4.23", "GET", "http://files.example.org/u", ago=1201))
    custom = rule(
        "proxy_exfil_domains",
        '[alerts.rules.proxy_exfil_domains]\nexfil_domains = ["Files.Example.org"]\n',
    )
    assert run(store, custom) == []
    send(app, store, request("10.20.4.23", "GET", "http://files.example.org/u", ago=1199))
    assert only(run(store, custom))[0].endswith(": files.example.org")


# cloudtrail_logging_disabled: CloudTrail records as the service writes them


def cloudtrail(name: str, ago: float = 30, **extra: object) -> dict:
    return {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "arn": "arn:aws:iam::123456789012:user/mallory",
            "accountId": "123456789012",
            "userName": "mallory",
        },
        "eventTime": (NOW - timedelta(seconds=ago)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "cloudtrail.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.66",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"name": "arn:aws:cloudtrail:us-east-1:123456789012:trail/main"},
        "responseElements": None,
        "eventID": "5d3c1f8e-3d21-4b8e-a6d7-4a5b9d2e1c99",
        "eventType": "AwsApiCall",
        "recipientAccountId": "123456789012",
        **extra,
    }


def test_cloudtrail_logging_disabled_fires_for_stop_logging(app, store, rule):
    send(app, store, cloudtrail("StopLogging"))
    stopped = rule("cloudtrail_logging_disabled")
    assert only(run(store, stopped)) == (
        "Cloudtrail Logging Disabled: arn:aws:cloudtrail:us-east-1:123456789012:trail/main",
        "CRITICAL",
        "AWSCloudtrail",
        ["cloudtrail", "aws", "cloudtrail_logging_disabled"],
    )
    assert run(store, stopped) == []


def test_cloudtrail_logging_disabled_ignores_refused_calls_other_calls_and_old_ones(
    app, store, rule
):
    send(
        app,
        store,
        cloudtrail("StopLogging", errorCode="AccessDenied", errorMessage="User is not authorized"),
        cloudtrail("StartLogging"),
        cloudtrail("StopLogging", ago=1801),
    )
    stopped = rule("cloudtrail_logging_disabled")
    assert run(store, stopped) == []
    send(app, store, cloudtrail("StopLogging", ago=1799))
    assert len(run(store, stopped)) == 1


# duo_fail_open: no parser reads these lines; they arrive as syslog


def duo(message: str, ago: float = 30) -> dict:
    return syslog("openvpn", message, "vpn1.corp.example.com", ago)


def test_duo_fail_open_fires_per_vpn_server(app, store, rule):
    send(
        app,
        store,
        duo("Failsafe Duo login by 198.51.100.23"),
        duo("Failsafe Duo login by 10.1.1.1"),
    )
    fail_open = rule("duo_fail_open")
    assert only(run(store, fail_open)) == (
        "DuoSecurity contact failed, fail open triggered on vpn1.corp.example.com",
        "WARNING",
        "bypass",
        ["openvpn", "duosecurity"],
    )
    assert run(store, fail_open) == []


def test_duo_fail_open_ignores_other_lines_and_old_ones(app, store, rule):
    send(
        app,
        store,
        duo("Duo login for alice succeeded"),
        duo("Failsafe Duo login by 1.2.3.4", ago=901),
    )
    assert run(store, rule("duo_fail_open")) == []
    send(app, store, duo("Failsafe Duo login by 1.2.3.4", ago=899))
    assert len(run(store, rule("duo_fail_open"))) == 1


# session_opened_sensitive_user

SENSITIVE = '[alerts.rules.session_opened_sensitive_user]\nusers = ["root", "admin"]\n'


def session(user: str, host: str = BASTION, ago: float = 30, now: datetime = NOW) -> dict:
    event = sshd(f"pam_unix(sshd:session): session opened for user {user}(uid=0) by (uid=0)", host)
    event["timestamp"] = at(ago, now)
    return event


def test_session_opened_sensitive_user_fires_once_for_all_hosts(app, store, rule):
    send(app, store, session("root", "host2.example.com"), session("admin", "host1.example.com"))
    sensitive = rule("session_opened_sensitive_user", SENSITIVE)
    assert only(run(store, sensitive)) == (
        "Session opened by a sensitive user outside of the expected window - sample hosts: "
        "host1.example.com host2.example.com [total 2 hosts]",
        "WARNING",
        "session",
        ["pam", "syslog"],
    )
    assert run(store, sensitive) == []


def test_session_opened_sensitive_user_ignores_others_closed_sessions_and_su(app, store, rule):
    send(
        app,
        store,
        session("bob"),
        sshd("pam_unix(sshd:session): session closed for user root"),
        syslog(
            "su", "pam_unix(su:session): session opened for user root by bob(uid=1000)", BASTION
        ),
        session("root", ago=601),
    )
    sensitive = rule("session_opened_sensitive_user", SENSITIVE)
    assert run(store, sensitive) == []
    assert run(store, rule("session_opened_sensitive_user")) == []  # no users listed
    send(app, store, session("root", ago=599))
    assert len(run(store, sensitive)) == 1


def test_session_opened_sensitive_user_leaves_out_the_expected_times(app, store, rule):
    night = datetime.fromisoformat("2026-11-22T04:20:00+00:00")
    send(app, store, session("root", "scanner.example.com", ago=35 * 60, now=night))  # 03:45
    sensitive = rule("session_opened_sensitive_user", SENSITIVE + 'window = "1h"\n')
    assert run(store, sensitive, night) == []
    send(app, store, session("root", "late.example.com", ago=5 * 60, now=night))  # 04:15
    assert only(run(store, sensitive, night))[0].endswith(
        "sample hosts: late.example.com [total 1 hosts]"
    )


# ldap_bruteforce_user: no parser yet; the events' shape is MozDef's


def ldap(user: str, client: str, error: str = "LDAP_INVALID_CREDENTIALS", ago: float = 30) -> dict:
    return {
        "timestamp": at(ago),
        "hostname": "ldap1.example.com",
        "category": "ldap",
        "summary": f"BIND {user} from {client}: {error}",
        "details": {
            "client": client,
            "server": "ldap.example.com",
            "user": user,
            "requests": [{"verb": "BIND", "details": [f'dn="mail={user},o=com,dc=example"']}],
            "response": {"error": error},
        },
    }


def test_ldap_bruteforce_user_lists_the_clients_per_user(app, store, rule):
    send(app, store, ldap("jsmith@example.com", "5.6.7.8"), ldap("jsmith@example.com", "1.2.3.4"))
    bruteforce = rule("ldap_bruteforce_user")
    assert only(run(store, bruteforce)) == (
        "LDAP Bruteforce Attack in Progress against user (jsmith@example.com) from the "
        "following source ip(s): 1.2.3.4, 5.6.7.8",
        "WARNING",
        "bruteforce",
        ["ldap"],
    )
    assert run(store, bruteforce) == []


def test_ldap_bruteforce_user_ignores_successes_empty_users_and_old_binds(app, store, rule):
    send(
        app,
        store,
        ldap("jsmith@example.com", "1.2.3.4", error="LDAP_SUCCESS"),
        ldap("", "1.2.3.4"),
        ldap("jsmith@example.com", "1.2.3.4", ago=3601),
    )
    assert run(store, rule("ldap_bruteforce_user")) == []
    send(app, store, ldap("jsmith@example.com", "1.2.3.4", ago=3599))
    assert len(run(store, rule("ldap_bruteforce_user"))) == 1


def test_ldap_bruteforce_user_shows_ten_clients_at_most(app, store, rule):
    send(app, store, *(ldap("jsmith@example.com", f"10.0.0.{n}") for n in range(10, 21)))
    (summary, *_) = only(run(store, rule("ldap_bruteforce_user")))
    listed = ", ".join(f"10.0.0.{n}" for n in range(10, 20))
    assert summary.endswith(f"source ip(s): {listed}...")
