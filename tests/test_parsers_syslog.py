"""The parser plugins (sshd, su, kernel_promisc, squid, filterlog, auditd, windows_logon),
registered and run for real through the event chain, on real log line formats."""

import copy
import itertools
from pathlib import Path

import orjson
import pytest

from mozdef.core import EventMeta
from mozdef.core.chain import Chain
from mozdef.core.config import ConfigError, load_config
from mozdef.core.normalize import Normalizer, NormalizeSettings
from mozdef.core.parsing import ip_address, pam_auth_failure, pam_session, port
from mozdef.core.pluginmanager import Candidate, Plugins
from mozdef.plugins import (
    auditd,
    filterlog,
    kernel_promisc,
    squid,
    sshd,
    su,
    windows_logon,
)

PARSERS = {
    "auditd": auditd,
    "filterlog": filterlog.plugin,
    "kernel_promisc": kernel_promisc.plugin,
    "squid": squid.plugin,
    "sshd": sshd.plugin,
    "su": su.plugin,
    "windows_logon": windows_logon,
}
SAMPLES = Path(__file__).parent / "samples"
PROVIDER = "Microsoft-Windows-Security-Auditing"


def build_chain(config) -> Chain:
    found = Plugins(config, [Candidate(name, "built-in", p) for name, p in PARSERS.items()])
    found.start()
    return found.event_chain()


@pytest.fixture(scope="module")
def chain(tmp_path_factory) -> Chain:
    """Every parser on its defaults."""
    path = tmp_path_factory.mktemp("config") / "mozdef.toml"
    path.write_text("", encoding="utf-8")
    return build_chain(load_config(path, {}))


def normalised(processname: str = "UNKNOWN", summary: str = "", **fields: object) -> dict:
    """An event as normalisation hands it to the chain."""
    event = {
        "category": "UNKNOWN",
        "details": {},
        "hostname": "host1.example.com",
        "mozdefhostname": "mozdef.example.com",
        "processid": "2231",
        "processname": processname,
        "receivedtimestamp": "2024-05-14T09:12:02.000000+00:00",
        "severity": "INFO",
        "source": "authpriv",
        "summary": summary,
        "tags": [],
        "timestamp": "2024-05-14T09:12:01.000000+00:00",
        "utctimestamp": "2024-05-14T09:12:01.000000+00:00",
    }
    event.update(fields)
    return event


def syslog(processname: str, line: str) -> dict:
    """An rsyslog event: the message keeps the space syslog puts before it."""
    return normalised(processname, " " + line)


def run(chain: Chain, event: dict) -> dict:
    result = chain.run(event, EventMeta())
    assert "errors" not in result["mozdef"]
    return result


def assert_unchanged(chain: Chain, event: dict) -> None:
    before = copy.deepcopy(event)
    after = run(chain, event)
    del after["mozdef"]
    assert after == before


# --- sshd ------------------------------------------------------------------------------

FP = "SHA256:K9gGyX8OAK8aH8Myj6djqSaXI8jbj6xPk69x2xhtbpA"
SSHD_LINES = [
    (
        f"Accepted publickey for alice from 198.51.100.23 port 50122 ssh2: ED25519 {FP}",
        "authentication",
        {
            "eventname": "accepted",
            "success": True,
            "username": "alice",
            "authmethod": "publickey",
            "sourceipaddress": "198.51.100.23",
            "sourceport": 50122,
            "keytype": "ED25519",
            "keyfingerprint": FP,
        },
    ),
    (
        "Accepted password for root from 2001:db8:4f2a::17 port 61022 ssh2",
        "authentication",
        {
            "eventname": "accepted",
            "success": True,
            "username": "root",
            "authmethod": "password",
            "sourceipaddress": "2001:db8:4f2a::17",
            "sourceport": 61022,
        },
    ),
    (
        "Accepted keyboard-interactive/pam for bob from ::ffff:192.0.2.45 port 52210 ssh2",
        "authentication",
        {
            "eventname": "accepted",
            "success": True,
            "username": "bob",
            "authmethod": "keyboard-interactive/pam",
            "sourceipaddress": "192.0.2.45",
            "sourceport": 52210,
        },
    ),
    (
        f"Accepted publickey for carol from 198.51.100.40 port 50934 ssh2: ED25519-CERT {FP} "
        "ID carol@corp.example.com (serial 1138) CA ED25519 SHA256:Zm9vYmFy",
        "authentication",
        {
            "eventname": "accepted",
            "success": True,
            "username": "carol",
            "authmethod": "publickey",
            "sourceipaddress": "198.51.100.40",
            "sourceport": 50934,
            "keytype": "ED25519-CERT",
            "keyfingerprint": FP,
        },
    ),
    (  # sshd with UseDNS logs the client's name
        "Accepted gssapi-with-mic for dave from ws-0231.corp.example.com port 40022 ssh2",
        "authentication",
        {
            "eventname": "accepted",
            "success": True,
            "username": "dave",
            "authmethod": "gssapi-with-mic",
            "sourcehostname": "ws-0231.corp.example.com",
            "sourceport": 40022,
        },
    ),
    (
        "Failed password for invalid user admin from 203.0.113.77 port 41886 ssh2",
        "authentication",
        {
            "eventname": "failed",
            "success": False,
            "username": "admin",
            "authmethod": "password",
            "invaliduser": True,
            "sourceipaddress": "203.0.113.77",
            "sourceport": 41886,
        },
    ),
    (
        f"Failed publickey for alice from 198.51.100.23 port 50201 ssh2: RSA {FP}",
        "authentication",
        {
            "eventname": "failed",
            "success": False,
            "username": "alice",
            "authmethod": "publickey",
            "sourceipaddress": "198.51.100.23",
            "sourceport": 50201,
            "keytype": "RSA",
            "keyfingerprint": FP,
        },
    ),
    (  # a user literally named "invalid"
        "Failed password for invalid from 203.0.113.77 port 41890 ssh2",
        "authentication",
        {
            "eventname": "failed",
            "success": False,
            "username": "invalid",
            "authmethod": "password",
            "sourceipaddress": "203.0.113.77",
            "sourceport": 41890,
        },
    ),
    (
        "Invalid user oracle from 203.0.113.9 port 33022",
        "authentication",
        {
            "eventname": "invalid_user",
            "success": False,
            "username": "oracle",
            "invaliduser": True,
            "sourceipaddress": "203.0.113.9",
            "sourceport": 33022,
        },
    ),
    (  # before OpenSSH 7.5: no port
        "Invalid user ubnt from 203.0.113.9",
        "authentication",
        {
            "eventname": "invalid_user",
            "success": False,
            "username": "ubnt",
            "invaliduser": True,
            "sourceipaddress": "203.0.113.9",
        },
    ),
    (  # an empty user name
        "Invalid user  from 203.0.113.9 port 33100",
        "authentication",
        {
            "eventname": "invalid_user",
            "success": False,
            "username": "",
            "invaliduser": True,
            "sourceipaddress": "203.0.113.9",
            "sourceport": 33100,
        },
    ),
    (
        "pam_unix(sshd:session): session opened for user alice(uid=1001) by (uid=0)",
        "session",
        {"eventname": "session_opened", "success": True, "username": "alice"},
    ),
    (  # before systemd 250-ish PAM: no uid after the user
        "pam_unix(sshd:session): session opened for user deploy by (uid=0)",
        "session",
        {"eventname": "session_opened", "success": True, "username": "deploy"},
    ),
    (
        "pam_unix(sshd:session): session closed for user deploy",
        "session",
        {"eventname": "session_closed", "username": "deploy"},
    ),
    (
        "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= "
        "rhost=203.0.113.77  user=root",
        "authentication",
        {
            "eventname": "auth_failure",
            "success": False,
            "username": "root",
            "sourceipaddress": "203.0.113.77",
        },
    ),
    (  # PAM names no user when the account does not exist
        "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= "
        "rhost=scanner.example.net",
        "authentication",
        {"eventname": "auth_failure", "success": False, "sourcehostname": "scanner.example.net"},
    ),
    (
        "Disconnected from user deploy 10.20.0.14 port 39044",
        "session",
        {
            "eventname": "disconnected",
            "username": "deploy",
            "sourceipaddress": "10.20.0.14",
            "sourceport": 39044,
        },
    ),
    (
        "Disconnected from authenticating user root 203.0.113.77 port 41902 [preauth]",
        "authentication",
        {
            "eventname": "disconnected",
            "username": "root",
            "sourceipaddress": "203.0.113.77",
            "sourceport": 41902,
        },
    ),
    (
        "Connection closed by invalid user admin 203.0.113.77 port 41886 [preauth]",
        "authentication",
        {
            "eventname": "disconnected",
            "username": "admin",
            "invaliduser": True,
            "sourceipaddress": "203.0.113.77",
            "sourceport": 41886,
        },
    ),
    (
        "Connection closed by 192.0.2.200 port 60218 [preauth]",
        "authentication",
        {"eventname": "disconnected", "sourceipaddress": "192.0.2.200", "sourceport": 60218},
    ),
]


@pytest.mark.parametrize(("line", "category", "details"), SSHD_LINES)
def test_sshd_lines(chain, line, category, details) -> None:
    event = run(chain, syslog("sshd", line))
    assert event["details"] == details
    assert event["category"] == category
    assert event["tags"] == ["sshd"]
    assert event["summary"] == " " + line  # sshd's own line is the best summary


@pytest.mark.parametrize(
    ("line", "username", "source"),
    [
        (
            "Invalid user x from 6.6.6.6 port 1 from 203.0.113.5 port 4242",
            "x from 6.6.6.6 port 1",
            "203.0.113.5",
        ),
        (
            "Failed password for invalid user a from 6.6.6.6 port 1 ssh2: RSA SHA256:x "
            "from 203.0.113.5 port 4242 ssh2",
            "a from 6.6.6.6 port 1 ssh2: RSA SHA256:x",
            "203.0.113.5",
        ),
        (
            "Disconnected from invalid user b 6.6.6.6 port 1 203.0.113.5 port 4242 [preauth]",
            "b 6.6.6.6 port 1",
            "203.0.113.5",
        ),
    ],
)
def test_sshd_a_user_name_cannot_forge_the_source(chain, line, username, source) -> None:
    details = run(chain, syslog("sshd", line))["details"]
    assert (details["username"], details["sourceipaddress"]) == (username, source)


@pytest.mark.parametrize(
    "line",
    [
        "Received disconnect from 10.20.0.14 port 39044:11: disconnected by user",
        "Server listening on 0.0.0.0 port 22.",
        "error: kex_exchange_identification: Connection closed by remote host",
        'Connection from 203.0.113.9 port 4242 on 10.0.0.1 port 22 rdomain ""',
        "pam_unix(su:session): session opened for user root by bob(uid=1000)",
        "Accepted publickey for bob from 198.51.100.23 port twenty ssh2",
        "Accepted",
        "",
    ],
)
def test_sshd_other_lines_pass_unchanged(chain, line) -> None:
    assert_unchanged(chain, syslog("sshd", line))


def test_sshd_lines_of_other_programs_are_not_read(chain) -> None:
    line = "Accepted publickey for bob from 198.51.100.23 port 50122 ssh2"
    assert_unchanged(chain, syslog("cron", line))
    assert run(chain, syslog("sshd-session", line))["details"]["username"] == "bob"


def test_sshd_tags_once(chain) -> None:
    event = syslog("sshd", "Invalid user x from 203.0.113.9 port 1")
    event["tags"] = ["sshd", "bastion"]
    assert run(chain, event)["tags"] == ["sshd", "bastion"]


def test_sshd_process_names_are_configurable(config_file) -> None:
    chain = build_chain(config_file('[plugins.sshd]\nprocessnames = ["openssh"]\n'))
    line = "Invalid user x from 203.0.113.9 port 1"
    assert run(chain, syslog("openssh", line))["details"]["username"] == "x"
    assert_unchanged(chain, syslog("sshd", line))


def test_an_empty_process_name_list_is_refused(config_file) -> None:
    with pytest.raises(ConfigError, match=r"plugins\.su\.processnames"):
        build_chain(config_file("[plugins.su]\nprocessnames = []\n"))


# --- su --------------------------------------------------------------------------------

SU_LINES = [
    (
        "(to root) bob on pts/1",
        "authentication",
        {"username": "root", "originaluser": "bob", "tty": "pts/1", "success": True},
    ),
    (
        "FAILED SU (to root) bob on pts/0",
        "authentication",
        {"username": "root", "originaluser": "bob", "tty": "pts/0", "success": False},
    ),
    (
        "Successful su for root by carol",
        "authentication",
        {"username": "root", "originaluser": "carol", "success": True},
    ),
    (
        "FAILED su for root by mallory",
        "authentication",
        {"username": "root", "originaluser": "mallory", "success": False},
    ),
    (
        "+ /dev/pts/3 carol:root",
        "authentication",
        {"username": "root", "originaluser": "carol", "tty": "pts/3", "success": True},
    ),
    (
        "- /dev/pts/4 mallory:root",
        "authentication",
        {"username": "root", "originaluser": "mallory", "tty": "pts/4", "success": False},
    ),
    (
        "pam_unix(su:session): session opened for user root by bob(uid=1000)",
        "session",
        {"username": "root", "originaluser": "bob", "success": True},
    ),
    (
        "pam_unix(su-l:session): session opened for user postgres(uid=114) by alice(uid=1001)",
        "session",
        {"username": "postgres", "originaluser": "alice", "success": True},
    ),
    (
        "pam_unix(su:session): session opened for user nobody(uid=65534) by (uid=0)",
        "session",
        {"username": "nobody", "success": True},
    ),
    ("pam_unix(su:session): session closed for user root", "session", {"username": "root"}),
    (
        "pam_unix(su:auth): authentication failure; logname=bob uid=1000 euid=0 tty=pts/0 "
        "ruser=bob rhost=  user=root",
        "authentication",
        {"username": "root", "originaluser": "bob", "tty": "pts/0", "success": False},
    ),
    (  # no ruser: the login name says who
        "pam_unix(su-l:auth): authentication failure; logname=eve uid=1005 euid=0 tty=/dev/pts/5 "
        "ruser= rhost=  user=root",
        "authentication",
        {"username": "root", "originaluser": "eve", "tty": "pts/5", "success": False},
    ),
]


@pytest.mark.parametrize(("line", "category", "details"), SU_LINES)
def test_su_lines(chain, line, category, details) -> None:
    event = run(chain, syslog("su", line))
    assert event["details"] == details
    assert event["category"] == category
    assert event["tags"] == ["su"]


@pytest.mark.parametrize(
    "line",
    [
        "pam_authenticate: Authentication failure",
        "pam_unix(sshd:session): session opened for user root by (uid=0)",
        "pam_unix(su:auth): authentication failure; logname=bob uid=1000 euid=0 tty=pts/0",
        "(to root) bob",
        "Successful su for root",
        "+ pts/3 carol",
    ],
)
def test_su_other_lines_pass_unchanged(chain, line) -> None:
    assert_unchanged(chain, syslog("su", line))


# --- kernel_promisc ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "device", "state"),
    [
        ("device eth0 entered promiscuous mode", "eth0", "on"),
        ("device eth0 left promiscuous mode", "eth0", "off"),
        ("[ 8123.401772] device vnet3 entered promiscuous mode", "vnet3", "on"),
        ("veth5c1e2a7: entered promiscuous mode", "veth5c1e2a7", "on"),
        ("e1000e 0000:00:1f.6 eno1: left promiscuous mode", "eno1", "off"),
        (
            "audit: type=1700 audit(1715678121.512:812): dev=eno1 prom=256 old_prom=0 "
            "auid=1000 uid=0 gid=0 ses=3",
            "eno1",
            "on",
        ),
        (
            "audit: type=1700 audit(1715678190.004:815): dev=eno1 prom=0 old_prom=256 "
            "auid=1000 uid=0 gid=0 ses=3",
            "eno1",
            "off",
        ),
    ],
)
def test_kernel_promiscuous_mode(chain, line, device, state) -> None:
    event = run(chain, syslog("kernel", line))
    assert event["details"] == {"device": device, "promiscuous": state}
    assert event["category"] == "promiscuous"
    assert event["tags"] == ["promiscuous"]


@pytest.mark.parametrize(
    "line",
    [
        "br0: port 4(vnet3) entered forwarding state",
        "e1000e: eth0 NIC Link is Up 1000 Mbps Full Duplex",
        "eth0: failed to set promiscuous mode",
        "audit: type=1300 audit(1715678121.512:813): arch=c000003e syscall=54 success=yes",
    ],
)
def test_kernel_other_lines_pass_unchanged(chain, line) -> None:
    assert_unchanged(chain, syslog("kernel", line))


def test_kernel_lines_from_elsewhere_are_not_read(chain) -> None:
    assert_unchanged(chain, syslog("logger", "device eth0 entered promiscuous mode"))


# --- squid -----------------------------------------------------------------------------

SQUID_LINES = [
    (
        "1432830463.123    250 10.0.0.5 TCP_MISS/200 1234 GET http://example.com/path - "
        "HIER_DIRECT/93.184.216.34 text/html",
        {
            "sourceipaddress": "10.0.0.5",
            "proxyaction": "TCP_MISS",
            "status": 200,
            "bytes": 1234,
            "duration": 250,
            "method": "GET",
            "destination": "http://example.com/path",
            "host": "example.com",
            "destinationport": 80,
            "destinationipaddress": "93.184.216.34",
            "hierarchy": "HIER_DIRECT",
            "mimetype": "text/html",
        },
        "squid TCP_MISS/200 GET http://example.com/path from 10.0.0.5",
    ),
    (
        "1715677808.024  60012 10.20.4.17 TCP_TUNNEL/200 452311 CONNECT www.mozilla.org:443 - "
        "HIER_DIRECT/2600:9000:2490:2c00:1e:4a5c:6b40:93a1 -",
        {
            "sourceipaddress": "10.20.4.17",
            "proxyaction": "TCP_TUNNEL",
            "status": 200,
            "bytes": 452311,
            "duration": 60012,
            "method": "CONNECT",
            "destination": "www.mozilla.org:443",
            "host": "www.mozilla.org",
            "destinationport": 443,
            "destinationipaddress": "2600:9000:2490:2c00:1e:4a5c:6b40:93a1",
            "hierarchy": "HIER_DIRECT",
        },
        "squid TCP_TUNNEL/200 CONNECT www.mozilla.org:443 from 10.20.4.17",
    ),
    (
        "1715677810.290      0 10.20.4.22 TCP_DENIED/403 3964 GET "
        "http://Updates.BadCDN.example/payload/setup.exe - HIER_NONE/- text/html",
        {
            "sourceipaddress": "10.20.4.22",
            "proxyaction": "TCP_DENIED",
            "status": 403,
            "bytes": 3964,
            "duration": 0,
            "method": "GET",
            "destination": "http://Updates.BadCDN.example/payload/setup.exe",
            "host": "updates.badcdn.example",
            "destinationport": 80,
            "hierarchy": "HIER_NONE",
            "mimetype": "text/html",
        },
        "squid TCP_DENIED/403 GET http://Updates.BadCDN.example/payload/setup.exe from 10.20.4.22",
    ),
    (  # through a parent proxy, as an authenticated user, to an explicit port
        "1715677840.511     37 10.20.4.40 TCP_MISS/201 512 POST "
        "https://user:pw@api.internal.example:8443/v1/jobs?x=1 alice FIRSTUP_PARENT/10.20.1.2 "
        "application/json",
        {
            "sourceipaddress": "10.20.4.40",
            "proxyaction": "TCP_MISS",
            "status": 201,
            "bytes": 512,
            "duration": 37,
            "method": "POST",
            "destination": "https://user:pw@api.internal.example:8443/v1/jobs?x=1",
            "host": "api.internal.example",
            "destinationport": 8443,
            "hierarchy": "FIRSTUP_PARENT",
            "peerhost": "10.20.1.2",
            "username": "alice",
            "mimetype": "application/json",
        },
        "squid TCP_MISS/201 POST https://user:pw@api.internal.example:8443/v1/jobs?x=1 "
        "from 10.20.4.40",
    ),
    (
        "1715677850.001   5021 10.20.4.61 TCP_TUNNEL/200 8812 CONNECT [2001:db8:cafe::12]:443 - "
        "HIER_DIRECT/2001:db8:cafe::12 -",
        {
            "sourceipaddress": "10.20.4.61",
            "proxyaction": "TCP_TUNNEL",
            "status": 200,
            "bytes": 8812,
            "duration": 5021,
            "method": "CONNECT",
            "destination": "[2001:db8:cafe::12]:443",
            "host": "2001:db8:cafe::12",
            "destinationport": 443,
            "destinationipaddress": "2001:db8:cafe::12",
            "hierarchy": "HIER_DIRECT",
        },
        "squid TCP_TUNNEL/200 CONNECT [2001:db8:cafe::12]:443 from 10.20.4.61",
    ),
    (  # squid's pseudo-URL for a request it could not parse: no host
        "1715677860.772      0 10.20.4.52 NONE_NONE/400 3866 NONE error:invalid-request - "
        "HIER_NONE/- text/html",
        {
            "sourceipaddress": "10.20.4.52",
            "proxyaction": "NONE_NONE",
            "status": 400,
            "bytes": 3866,
            "duration": 0,
            "method": "NONE",
            "destination": "error:invalid-request",
            "hierarchy": "HIER_NONE",
            "mimetype": "text/html",
        },
        "squid NONE_NONE/400 NONE error:invalid-request from 10.20.4.52",
    ),
]


@pytest.mark.parametrize(("line", "details", "summary"), SQUID_LINES)
def test_squid_access_log_lines(chain, line, details, summary) -> None:
    event = run(chain, syslog("squid", line))
    assert event["details"] == details
    assert event["summary"] == summary
    assert event["category"] == "proxy"
    assert event["tags"] == ["squid"]


def test_squid_shortens_long_urls_in_the_summary_only(chain) -> None:
    url = "http://example.com/" + "a" * 500
    line = f"1715677860.772 10 10.0.0.5 TCP_MISS/200 10 GET {url} - HIER_DIRECT/192.0.2.1 -"
    event = run(chain, syslog("squid", line))
    assert event["details"]["destination"] == url
    assert len(event["summary"]) < 250
    assert "…" in event["summary"]


@pytest.mark.parametrize(
    "line",
    [
        "Starting Squid Cache version 5.7 for x86_64-pc-linux-gnu...",
        "1715677860.772 10 10.0.0.5 TCP_MISS/200 10 GET http://example.com/ - HIER_DIRECT/1.2.3.4",
        "1715677860.772 10 10.0.0.5 TCP_MISS 10 GET http://example.com/ - HIER_DIRECT/1.2.3.4 -",
        "1715677860.772 10 10.0.0.5 TCP_MISS/abc 10 GET http://example.com/ - HIER_NONE/- -",
        "yesterday 10 10.0.0.5 TCP_MISS/200 10 GET http://example.com/ - HIER_NONE/- -",
    ],
)
def test_squid_other_lines_pass_unchanged(chain, line) -> None:
    assert_unchanged(chain, syslog("squid", line))


# --- filterlog -------------------------------------------------------------------------

FILTERLOG_LINES = [
    (
        "5,,,1000000103,igb0,match,block,in,4,0x0,,51,48211,0,DF,6,tcp,60,203.0.113.9,"
        "192.0.2.10,44213,22,0,S,3218823201,,64240,,mss;sackOK;TS;nop;wscale",
        {
            "action": "block",
            "direction": "in",
            "interface": "igb0",
            "reason": "match",
            "rulenumber": "5",
            "tracker": "1000000103",
            "ipversion": 4,
            "protocol": "tcp",
            "sourceipaddress": "203.0.113.9",
            "sourceport": 44213,
            "destinationipaddress": "192.0.2.10",
            "destinationport": 22,
            "tcpflags": "S",
        },
        "filterlog block in on igb0: tcp 203.0.113.9:44213 -> 192.0.2.10:22",
    ),
    (
        "62,,,1000007203,igb1,match,pass,out,4,0x0,,63,0,0,DF,17,udp,72,10.20.0.8,9.9.9.9,"
        "39511,53,52",
        {
            "action": "pass",
            "direction": "out",
            "interface": "igb1",
            "reason": "match",
            "rulenumber": "62",
            "tracker": "1000007203",
            "ipversion": 4,
            "protocol": "udp",
            "sourceipaddress": "10.20.0.8",
            "sourceport": 39511,
            "destinationipaddress": "9.9.9.9",
            "destinationport": 53,
        },
        "filterlog pass out on igb1: udp 10.20.0.8:39511 -> 9.9.9.9:53",
    ),
    (
        "5,,,1000000103,igb0,match,block,in,4,0x0,,247,0,0,none,1,icmp,28,203.0.113.200,"
        "192.0.2.10,request,35112,1",
        {
            "action": "block",
            "direction": "in",
            "interface": "igb0",
            "reason": "match",
            "rulenumber": "5",
            "tracker": "1000000103",
            "ipversion": 4,
            "protocol": "icmp",
            "sourceipaddress": "203.0.113.200",
            "destinationipaddress": "192.0.2.10",
        },
        "filterlog block in on igb0: icmp 203.0.113.200 -> 192.0.2.10",
    ),
    (
        "201,,,1000000101,igb0,match,block,in,6,0x00,0x00000,1,UDP,17,111,"
        "fe80::2a0:c9ff:fe12:3456,ff02::1:2,546,547,111",
        {
            "action": "block",
            "direction": "in",
            "interface": "igb0",
            "reason": "match",
            "rulenumber": "201",
            "tracker": "1000000101",
            "ipversion": 6,
            "protocol": "udp",
            "sourceipaddress": "fe80::2a0:c9ff:fe12:3456",
            "sourceport": 546,
            "destinationipaddress": "ff02::1:2",
            "destinationport": 547,
        },
        "filterlog block in on igb0: udp [fe80::2a0:c9ff:fe12:3456]:546 -> [ff02::1:2]:547",
    ),
    (  # OPNsense: the tracker is the rule's id
        "95,,,fae559338f65e11c53669fc3642c93c2,vtnet0,match,pass,in,6,0x00,0x8a3f1,64,tcp,6,40,"
        "2001:db8:10::8,2001:db8:20::14,51022,22,0,SA,1849201922,1,64800,,",
        {
            "action": "pass",
            "direction": "in",
            "interface": "vtnet0",
            "reason": "match",
            "rulenumber": "95",
            "tracker": "fae559338f65e11c53669fc3642c93c2",
            "ipversion": 6,
            "protocol": "tcp",
            "sourceipaddress": "2001:db8:10::8",
            "sourceport": 51022,
            "destinationipaddress": "2001:db8:20::14",
            "destinationport": 22,
            "tcpflags": "SA",
        },
        "filterlog pass in on vtnet0: tcp [2001:db8:10::8]:51022 -> [2001:db8:20::14]:22",
    ),
]


@pytest.mark.parametrize(("line", "details", "summary"), FILTERLOG_LINES)
def test_filterlog_lines(chain, line, details, summary) -> None:
    event = run(chain, syslog("filterlog", line))
    assert event["details"] == details
    assert event["summary"] == summary
    assert event["category"] == "firewall"
    assert event["tags"] == ["filterlog"]


def test_filterlog_without_ports_when_the_line_ends_early(chain) -> None:
    line = "5,,,1000000103,igb0,match,block,in,4,0x0,,51,48211,0,DF,6,tcp,60,203.0.113.9,192.0.2.10"
    details = run(chain, syslog("filterlog", line))["details"]
    assert (details["protocol"], "sourceport" in details, "destinationport" in details) == (
        "tcp",
        False,
        False,
    )


@pytest.mark.parametrize(
    "line",
    [
        "5,,,1000000103,igb0,match,block,in,4,0x0,,51,48211,0,DF,6,tcp,60,203.0.113.9",
        "5,,,1000000103,igb0,match,block,in,5,0x0,,51,48211,0,DF,6,tcp,60,1.2.3.4,5.6.7.8,1,2",
        "5,,,1000000103,igb0,match,allow,in,4,0x0,,51,48211,0,DF,6,tcp,60,1.2.3.4,5.6.7.8,1,2",
        "5,,,1000000103,igb0,match,block,up,4,0x0,,51,48211,0,DF,6,tcp,60,1.2.3.4,5.6.7.8,1,2",
        "5,,,1000000103,igb0,match,block,in,4,0x0,,51,48211,0,DF,6,tcp,60,1.2.3,5.6.7.8,1,2",
        "5,,,1000000103,igb0,match,block,in",
        "filterlog starting",
    ],
)
def test_filterlog_other_lines_pass_unchanged(chain, line) -> None:
    assert_unchanged(chain, syslog("filterlog", line))


# --- auditd ----------------------------------------------------------------------------


def audit(category: str, **details: object) -> dict:
    return normalised("audisp-json", "Execve: ...", category=category, details=details)


def test_auditd_audisp_json_execve(chain) -> None:
    event = audit(
        "execve",
        command="cat /etc/shadow",
        originaluid="1004",
        originaluser="dave",
        session="415",
        uid="0",
        euid="0",
        pid="30244",
        tty="pts2",
        process="/usr/bin/cat",
    )
    result = run(chain, event)
    assert result["summary"] == "Execve: cat /etc/shadow by dave on host1.example.com"
    assert result["details"] == {
        "command": "cat /etc/shadow",
        "originaluid": 1004,
        "originaluser": "dave",
        "session": 415,
        "uid": 0,
        "euid": 0,
        "pid": 30244,
        "tty": "pts2",
        "process": "/usr/bin/cat",
    }
    assert (result["category"], result["tags"]) == ("execve", ["auditd"])


def test_auditd_raw_execve_record_gets_its_command_and_unset_ids(chain) -> None:
    event = audit(
        "EXECVE",
        auid="4294967295",
        ses=4294967295,
        uid="0",
        success="yes",
        exe="/usr/bin/curl",
        argc="3",
        a0="curl",
        a1="-fsSL",
        a2="http://198.51.100.66/x.sh",
        a3="left over from the SYSCALL record",
    )
    result = run(chain, event)
    details = result["details"]
    assert (details["auid"], details["ses"], details["uid"]) == (-1, -1, 0)
    assert details["success"] is True
    assert details["command"] == "curl -fsSL http://198.51.100.66/x.sh"
    assert result["category"] == "execve"
    assert result["summary"] == (
        "Execve: curl -fsSL http://198.51.100.66/x.sh by uid 0 on host1.example.com"
    )


def test_auditd_execve_without_argc_takes_the_arguments_in_order(chain) -> None:
    result = run(chain, audit("execve", auid="1002", a0="git", a1="push", a3="gap"))
    assert result["details"]["command"] == "git push"
    assert result["summary"] == "Execve: git push by auid 1002 on host1.example.com"


def test_auditd_only_login_ids_can_be_unset(chain) -> None:
    details = run(chain, audit("execve", auid="unset", uid="4294967295", a0="id"))["details"]
    assert (details["auid"], details["uid"]) == (-1, 4294967295)


def test_auditd_syscall_registers_are_not_a_command(chain) -> None:
    event = audit(
        "syscall",
        syscall="connect",
        success="no",
        exe="/usr/bin/nc.openbsd",
        auid="1002",
        ses="19",
        user="bob",
        a0="3",
        a1="7ffd5b8e2f20",
    )
    result = run(chain, event)
    assert "command" not in result["details"]
    assert result["details"]["success"] is False
    assert result["summary"] == (
        "Syscall connect: /usr/bin/nc.openbsd by auid 1002 on host1.example.com (failed)"
    )


@pytest.mark.parametrize(
    ("details", "actor"),
    [
        ({"originaluser": "alice", "auid": "1001", "user": "root"}, "alice"),
        ({"auid": "1001", "user": "root", "uid": "0"}, "auid 1001"),
        ({"auid": "4294967295", "user": "www-data", "uid": "33"}, "www-data"),
        ({"auid": "4294967295", "uid": "33"}, "uid 33"),
        ({}, "an unknown user"),
    ],
)
def test_auditd_summary_names_the_answerable_user(chain, details, actor) -> None:
    result = run(chain, audit("execve", command="id", **details))
    assert result["summary"] == f"Execve: id by {actor} on host1.example.com"


def test_auditd_summary_command_length_is_a_setting(config_file) -> None:
    chain = build_chain(config_file("[plugins.auditd]\nsummary_command_length = 20\n"))
    result = run(chain, audit("execve", command="x" * 100, user="root"))
    assert result["summary"] == "Execve: " + "x" * 19 + "… by root on host1.example.com"
    assert result["details"]["command"] == "x" * 100


def test_auditd_categories_are_a_setting(config_file) -> None:
    chain = build_chain(config_file('[plugins.auditd]\ncategories = ["auditd"]\n'))
    assert run(chain, audit("AUDITD", syscall="ptrace", exe="/usr/bin/gdb"))["summary"] == (
        "Syscall ptrace: /usr/bin/gdb by an unknown user on host1.example.com"
    )
    assert_unchanged(chain, audit("execve", command="id"))


def test_auditd_other_categories_pass_unchanged(chain) -> None:
    assert_unchanged(chain, audit("write", path="/etc/hosts", originaluid="4294967295"))


# --- windows_logon ---------------------------------------------------------------------


def windows(eventid: object, **data: object) -> dict:
    """An nxlog Security event after normalisation: SourceName is the processname and
    the event's data is under details, keys lowercased."""
    details = {"eventid": eventid, "channel": "Security", "eventtype": "AUDIT_SUCCESS", **data}
    return normalised(PROVIDER, "An account was ...", category="Logon", details=details)


LOGON = {
    "targetusername": "bob",
    "targetdomainname": "CORP",
    "logontype": "3",
    "workstationname": "WS-0231",
    "ipaddress": "10.20.3.41",
    "ipport": "49822",
}


def test_windows_logon_success(chain) -> None:
    result = run(chain, windows(4624, **LOGON))
    assert result["summary"] == "Windows logon success for CORP\\bob from 10.20.3.41 (network)"
    details = result["details"]
    expected = {"username": "bob", "sourceipaddress": "10.20.3.41", "sourceport": 49822}
    assert {key: details[key] for key in expected} == expected
    assert (details["logontype"], details["logontypename"], details["success"]) == (
        3,
        "network",
        True,
    )
    assert (result["category"], result["tags"]) == ("authentication", ["windows"])


@pytest.mark.parametrize(
    ("status", "substatus", "reason"),
    [
        ("0xc000006d", "0xc000006a", "bad password"),
        ("0xC000006D", "0xC0000064", "unknown user name"),
        ("0xc0000234", "0x0", "account locked out"),
        ("0xc000006e", "0xc0000072", "account disabled"),
    ],
)
def test_windows_logon_failure_says_why(chain, status, substatus, reason) -> None:
    event = windows(4625, **LOGON, status=status, substatus=substatus, failurereason="%%2313")
    result = run(chain, event)
    assert result["summary"] == (
        f"Windows logon failure for CORP\\bob from 10.20.3.41 (network): {reason}"
    )
    assert (result["details"]["success"], result["details"]["reason"]) == (False, reason)
    assert result["details"]["failurereason"] == "%%2313"  # the shipper's field is kept


def test_windows_logon_failure_with_an_unknown_status(chain) -> None:
    result = run(chain, windows(4625, **LOGON, status="0xc0000999", substatus="0x0"))
    assert result["summary"] == "Windows logon failure for CORP\\bob from 10.20.3.41 (network)"
    assert "reason" not in result["details"]


@pytest.mark.parametrize(
    ("address", "port", "expected", "expected_port"),
    [
        ("::ffff:10.20.3.41", "50112", "10.20.3.41", 50112),
        ("fe80::5d2a:1c3b:9e41:7f02", "0", "fe80::5d2a:1c3b:9e41:7f02", None),
        ("-", "-", None, None),
        ("", "0", None, None),
    ],
)
def test_windows_source_address_only_when_real(chain, address, port, expected, expected_port):
    details = run(chain, windows(4624, **{**LOGON, "ipaddress": address, "ipport": port}))[
        "details"
    ]
    assert details.get("sourceipaddress", "absent") == (expected or "absent")
    assert details.get("sourceport", "absent") == (expected_port or "absent")


def test_windows_local_logon_names_the_workstation(chain) -> None:
    event = windows(4624, **{**LOGON, "ipaddress": "-", "logontype": 2, "targetdomainname": "-"})
    summary = run(chain, event)["summary"]
    assert summary == "Windows logon success for bob from WS-0231 (interactive)"


@pytest.mark.parametrize(
    ("eventid", "data", "category", "summary"),
    [
        (
            4634,
            {"targetusername": "alice", "targetdomainname": "CORP", "logontype": "10"},
            "session",
            "Windows logoff for CORP\\alice (remote interactive)",
        ),
        (
            "4647",
            {"targetusername": "bob", "targetdomainname": "CORP"},
            "session",
            "Windows logoff for CORP\\bob",
        ),
        (
            4648,
            {
                "subjectusername": "bob",
                "subjectdomainname": "CORP",
                "targetusername": "adm-bob",
                "targetdomainname": "CORP",
                "targetservername": "FS02.corp.example.com",
                "ipaddress": "-",
            },
            "authentication",
            "Windows explicit credentials of CORP\\adm-bob used by CORP\\bob "
            "for FS02.corp.example.com",
        ),
        (
            4672,
            {"subjectusername": "adm-bob", "subjectdomainname": "CORP"},
            "authentication",
            "Windows special privileges assigned to CORP\\adm-bob",
        ),
    ],
)
def test_windows_logoff_explicit_and_privileged(chain, eventid, data, category, summary) -> None:
    result = run(chain, windows(eventid, **data))
    assert (result["category"], result["summary"]) == (category, summary)
    expected_user = data.get("targetusername", data.get("subjectusername"))
    assert result["details"]["username"] == expected_user
    assert "success" not in result["details"]


@pytest.mark.parametrize(
    "event",
    [
        windows(4688, subjectusername="bob", newprocessname="C:\\Windows\\explorer.exe"),
        windows(4768, targetusername="bob", ipaddress="10.20.3.41"),
        normalised("SomeApp", "x", details={"eventid": 4624, "channel": "Application"}),
    ],
    ids=["process-creation", "kerberos-tgt", "another-provider"],
)
def test_windows_other_events_pass_unchanged(chain, event) -> None:
    assert_unchanged(chain, event)


# --- robustness ------------------------------------------------------------------------

JUNK = [None, 4294967295, -1, 3.5, True, [], ["x"], {}, {"a": 1}, "", "-", "\u0663", "x" * 300]


@pytest.mark.parametrize("name", ["auditd", "windows_logon"])
def test_record_parsers_survive_values_of_any_type(chain, name) -> None:
    keys = (
        *("auid", "ses", "uid", "argc", "a0", "a1", "success", "command", "syscall", "exe"),
        *("originaluser", "user", "targetusername", "targetdomainname", "logontype"),
        *("ipaddress", "ipport", "status", "substatus", "workstationname", "targetservername"),
    )
    make = audit if name == "auditd" else windows
    first = "execve" if name == "auditd" else 4625
    for junk in JUNK:
        result = run(chain, make(first, **dict.fromkeys(keys, junk)))
        assert name in result["mozdef"]["plugins"]


def sample_lines() -> list[tuple[str, str]]:
    """(processname, message) of every syslog sample."""
    lines = []
    for path in sorted(SAMPLES.glob("*.ndjson")):
        for raw in map(orjson.loads, path.read_bytes().splitlines()):
            if "message" in raw:
                lines.append((raw.get("processname") or raw.get("program"), raw["message"]))
    return lines


def test_line_parsers_never_raise_on_cut_or_mangled_lines(chain) -> None:
    """Every prefix of every sample line, and each with its separators swapped, reaches
    its parser without an error."""
    count = 0
    for processname, line in sample_lines():
        variants = itertools.chain(
            (line[:end] for end in range(len(line))),
            (line.replace(" ", ","), line.replace(",", " "), line.replace(" ", "  ")),
        )
        for variant in variants:
            run(chain, syslog(processname, variant))
            count += 1
    assert count > 5000


# --- the sample corpora, through normalisation ----------------------------------------

# Sample file -> (the parser its events are for, how many of them it recognises).
CORPORA = {
    "sshd": ("sshd", 22),
    "su": ("su", 15),
    "kernel": ("kernel_promisc", 10),
    "squid": ("squid", 16),
    "filterlog": ("filterlog", 15),
    "auditd": ("auditd", 14),
    "windows": ("windows_logon", 16),
}


@pytest.mark.parametrize("name", sorted(CORPORA))
def test_sample_corpus_reaches_its_parser_only(chain, name) -> None:
    plugin, recognised = CORPORA[name]
    normalizer = Normalizer(NormalizeSettings(), mozdefhostname="mozdef.example.com")
    lines = (SAMPLES / f"{name}.ndjson").read_bytes().splitlines()
    assert 10 <= len(lines) <= 30
    parsed = 0
    for line in lines:
        event = normalizer.normalize(orjson.loads(line))
        before = copy.deepcopy(event)
        result = run(chain, event)
        assert result["mozdef"]["plugins"] in ([plugin], [])
        result.pop("mozdef")
        parsed += result != before
    assert parsed == recognised


# --- the shared readers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:DB8::1", "2001:db8::1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("192.0.2", None),
        ("host.example.com", None),
        ("-", None),
        (None, None),
        (["192.0.2.1"], None),
    ],
)
def test_ip_address(text, expected) -> None:
    assert ip_address(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("22", 22), (443, 443), ("0", None), ("65536", None), ("-", None), ("+22", None), ("²", None)],
)
def test_port(text, expected) -> None:
    assert port(text) == expected


def test_pam_readers() -> None:
    opened = pam_session("pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)")
    assert opened == ("cron", True, "root", None)
    assert pam_session("pam_unix(cron:session): session opened") is None
    failure = pam_auth_failure("pam_unix(sudo:auth): authentication failure; logname=bob uid=1000")
    assert failure == ("sudo", {"logname": "bob", "uid": "1000"})
