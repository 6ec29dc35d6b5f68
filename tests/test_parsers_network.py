"""The Zeek, Suricata and CloudTrail parsers, run as MozDef runs them: raw records as
shippers send them, through the real normaliser and the plugin chain."""

import copy
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mozdef.core import EventMeta
from mozdef.core.chain import Chain
from mozdef.core.config import ConfigError
from mozdef.core.normalize import Normalizer, NormalizeSettings
from mozdef.core.pluginmanager import Candidate, Plugins
from mozdef.plugins import suricata, zeek
from mozdef.plugins.cloudtrail import CloudTrail

SAMPLES = Path(__file__).parent / "samples"
RECEIVED = datetime(2024, 1, 15, 12, 0, tzinfo=UTC)
ACCOUNT = "123456789012"


@dataclass
class Pipeline:
    normalizer: Normalizer
    chain: Chain

    def normalize(self, raw: dict) -> dict:
        return self.normalizer.normalize(raw)

    def run(self, raw: dict) -> dict:
        return self.chain.run(self.normalize(raw), EventMeta())

    def unchanged(self, raw: dict) -> bool:
        """Whether the chain left the normalised event exactly as it was."""
        before = self.normalize(raw)
        after = self.chain.run(copy.deepcopy(before), EventMeta())
        del after["mozdef"]["plugins"]
        if not after["mozdef"]:
            del after["mozdef"]
        return after == before


@pytest.fixture
def build(config_file):
    def make(toml: str = "") -> Pipeline:
        found = Plugins(
            config_file(toml),
            [
                Candidate("zeek", "built-in", zeek),
                Candidate("suricata", "built-in", suricata),
                Candidate("cloudtrail", "built-in", CloudTrail()),
            ],
        )
        found.start()
        normalizer = Normalizer(
            NormalizeSettings(), mozdefhostname="mozdef.test", clock=lambda: RECEIVED
        )
        return Pipeline(normalizer, found.event_chain())

    return make


@pytest.fixture
def pipeline(build) -> Pipeline:
    return build()


# --- Zeek -----------------------------------------------------------------------------

CONN = {
    "ts": 1705312800.132871,
    "uid": "CHhAvVGS1DHFjwGM9",
    "id.orig_h": "10.0.0.1",
    "id.orig_p": 52341,
    "id.resp_h": "93.184.216.34",
    "id.resp_p": 443,
    "proto": "tcp",
    "service": "ssl",
    "duration": 1.204187,
    "orig_bytes": 512,
    "resp_bytes": 8192,
    "conn_state": "SF",
    "history": "ShADadFf",
    "orig_ip_bytes": 1252,
    "resp_ip_bytes": 8824,
}
CONN_SUMMARY = "10.0.0.1:52341 -> 93.184.216.34:443 tcp (ssl) 1.2s 512/8192 bytes"
NESTED_ID = {
    "id": {"orig_h": "10.0.0.1", "orig_p": 52341, "resp_h": "93.184.216.34", "resp_p": 443}
}
NESTED_CONN = {**{k: v for k, v in CONN.items() if not k.startswith("id.")}, **NESTED_ID}


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param({"_path": "conn", **CONN}, id="bare record with _path"),
        pytest.param({"path": "conn", **CONN}, id="bare record with path"),
        pytest.param(
            {"category": "bro", "source": "bro_conn", "hostname": "nsm1", "details": CONN},
            id="MozDef nsm shipper",
        ),
        pytest.param({"type": "zeek_conn", "hostname": "nsm1", **CONN}, id="Logstash type"),
        pytest.param(
            {"category": "zeek", "source": "/opt/zeek/logs/current/conn.log", "details": CONN},
            id="source is the log file",
        ),
        pytest.param({"category": "zeek", "source": "conn", "details": NESTED_CONN}, id="nested"),
    ],
)
def test_zeek_conn_from_every_shipper_shape(pipeline: Pipeline, raw: dict) -> None:
    event = pipeline.run(raw)
    details = event["details"]
    assert event["summary"] == CONN_SUMMARY
    assert (event["category"], event["source"]) == ("zeek", "conn")
    assert event["tags"] == ["nsm", "zeek_conn"]
    assert event["timestamp"] == event["utctimestamp"] == "2024-01-15T10:00:00.132871+00:00"
    assert "mozdef" not in event or "errors" not in event["mozdef"]
    assert (details["sourceipaddress"], details["sourceport"]) == ("10.0.0.1", 52341)
    assert (details["destinationipaddress"], details["destinationport"]) == ("93.184.216.34", 443)
    assert (details["originipbytes"], details["responseipbytes"]) == (1252, 8824)
    assert details["uid"] == "CHhAvVGS1DHFjwGM9"
    assert not any(key.startswith("id") or key.endswith("ip_bytes") for key in details)


DNS = {"_path": "dns", "ts": 1705312812.44, "uid": "C7fIlMZDuRiqjpYbb", "proto": "udp"}


@pytest.mark.parametrize(
    ("record", "summary"),
    [
        (
            {**DNS, "query": "www.example.com", "qtype_name": "A", "answers": ["93.184.216.34"]},
            "DNS A www.example.com -> 93.184.216.34",
        ),
        (
            {**DNS, "query": "a.example", "qtype_name": "AAAA", "answers": list("abcde")},
            "DNS AAAA a.example -> a, b, c (+2 more)",
        ),
        (
            {**DNS, "query": "x.example.net", "qtype_name": "A", "rcode_name": "NXDOMAIN"},
            "DNS A x.example.net -> NXDOMAIN",
        ),
        (
            {**DNS, "query": "4.3.2.1.in-addr.arpa", "qtype": 12},
            "DNS 12 4.3.2.1.in-addr.arpa -> no answer",
        ),
        (
            {
                "_path": "http",
                "ts": 1705312818.2,
                "method": "GET",
                "host": "example.com",
                "uri": "/index.html",
                "status_code": 200,
                "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:121.0)",
            },
            "GET example.com/index.html 200 (Mozilla/5.0 (X11; Linux x86_64; rv:121.0))",
        ),
        (
            {"_path": "http", "ts": 1.0, "id.resp_h": "10.0.0.80", "uri": "/"},
            "- 10.0.0.80/",
        ),
        (
            {
                "_path": "ssl",
                "ts": 1.0,
                "id.orig_h": "10.0.0.1",
                "server_name": "example.com",
                "version": "TLSv13",
                "established": True,
            },
            "SSL: 10.0.0.1 -> example.com TLSv13 established",
        ),
        (
            {
                "_path": "ssl",
                "ts": 1.0,
                "id.orig_h": "10.0.0.64",
                "id.resp_h": "192.0.2.200",
                "id.resp_p": 443,
                "version": "TLSv12",
                "established": False,
            },
            "SSL: 10.0.0.64 -> 192.0.2.200:443 TLSv12 not established",
        ),
        (
            {
                "_path": "notice",
                "ts": 1.0,
                "note": "Scan::Port_Scan",
                "msg": "198.51.100.77 scanned at least 15 unique ports of host 10.0.0.5 in 0m3s",
            },
            "Scan::Port_Scan: 198.51.100.77 scanned at least 15 unique ports of host 10.0.0.5 "
            "in 0m3s",
        ),
        (
            {
                "_path": "intel",
                "ts": 1.0,
                "seen.indicator": "198.51.100.77",
                "seen.indicator_type": "Intel::ADDR",
                "seen.where": "Conn::IN_ORIG",
            },
            "Intel hit on 198.51.100.77 (Intel::ADDR) seen in Conn::IN_ORIG",
        ),
        (
            {
                "_path": "weird",
                "ts": 1.0,
                "id.orig_h": "2001:db8::15",
                "id.orig_p": 33221,
                "id.resp_h": "10.0.0.80",
                "id.resp_p": 80,
                "name": "data_before_established",
            },
            "Zeek weird: [2001:db8::15]:33221 -> 10.0.0.80:80",
        ),
        ({"_path": "software", "ts": 1.0, "name": "OpenSSH"}, "Zeek software"),
    ],
)
def test_zeek_summaries(pipeline: Pipeline, record: dict, summary: str) -> None:
    event = pipeline.run(record)
    assert event["summary"] == summary
    assert event["source"] == record["_path"]
    assert f"zeek_{record['_path']}" in event["tags"]


def test_zeek_intel_fields_flat_or_nested(pipeline: Pipeline) -> None:
    seen = {
        "indicator": "dyn-c2.example.net",
        "indicator_type": "Intel::DOMAIN",
        "where": "DNS::IN_REQUEST",
        "node": "worker-1-2",
    }
    common = {"ts": 1.0, "uid": "CPbrpk1qSsw6ESzHV4", "sources": ["MISP event 4211"]}
    flat = {f"seen.{key}": value for key, value in seen.items()}
    for details in ({**common, **flat}, {**common, "seen": seen}):
        event = pipeline.run({"category": "zeek", "source": "intel", "details": details})
        assert {key: value for key, value in event["details"].items() if key != "ts"} == {
            "uid": "CPbrpk1qSsw6ESzHV4",
            "sources": ["MISP event 4211"],
            "seenindicator": "dyn-c2.example.net",
            "seenindicator_type": "Intel::DOMAIN",
            "seenwhere": "DNS::IN_REQUEST",
            "seennode": "worker-1-2",
        }
        assert event["severity"] == "WARNING"


def test_zeek_notice_endpoints_come_from_src_and_dst_when_there_is_no_id(
    pipeline: Pipeline,
) -> None:
    bare = {"_path": "notice", "ts": 1.0, "note": "Scan::Port_Scan", "src": "198.51.100.77"}
    details = pipeline.run({**bare, "dst": "10.0.0.5", "p": 22})["details"]
    assert (details["sourceipaddress"], details["destinationipaddress"]) == (
        "198.51.100.77",
        "10.0.0.5",
    )
    assert details["destinationport"] == 22
    with_id = pipeline.run({**bare, "id.orig_h": "10.0.0.64", "src": "10.9.9.9"})["details"]
    assert with_id["sourceipaddress"] == "10.0.0.64"


def test_zeek_bare_records_get_their_host_and_source_back(pipeline: Pipeline) -> None:
    """Normalisation reads a bare http record's `host` as the hostname, and a weird
    record's `source` as the event's source."""
    http = pipeline.run({"_path": "http", "ts": 1.0, "host": "example.com", "uri": "/"})
    assert (http["hostname"], http["details"]["host"]) == ("UNKNOWN", "example.com")
    assert http["summary"] == "- example.com/"
    weird = pipeline.run({"_path": "weird", "ts": 1.0, "name": "bad_TCP_checksum", "source": "TCP"})
    assert (weird["source"], weird["details"]["source"]) == ("weird", "TCP")


@pytest.mark.parametrize(
    "raw",
    [
        {"type": "zeek_http", "hostname": "nsm2", "ts": 1.0, "id.resp_h": "10.0.0.80", "uri": "/"},
        {"category": "zeek", "hostname": "nsm2", "details": {"_path": "http", "ts": 1.0}},
    ],
)
def test_zeek_a_shipper_hostname_is_not_mistaken_for_the_http_host(
    pipeline: Pipeline, raw: dict
) -> None:
    event = pipeline.run(raw)
    assert event["source"] == "http"
    assert event["hostname"] == "nsm2"
    assert "host" not in event["details"]


@pytest.mark.parametrize(
    ("ts", "timestamp"),
    [
        (1705312800.5, "2024-01-15T10:00:00.500000+00:00"),
        ("2024-01-15T10:00:27.440183Z", "2024-01-15T10:00:27.440183+00:00"),
    ],
)
def test_zeek_time_comes_from_ts_and_the_missing_time_note_goes(
    pipeline: Pipeline, ts: object, timestamp: str
) -> None:
    raw = {"_path": "conn", "ts": ts, **NESTED_ID}
    assert pipeline.normalize(raw)["mozdef"]["errors"] == [
        "no timestamp: the receipt time was used"
    ]
    event = pipeline.run(raw)
    assert event["timestamp"] == event["utctimestamp"] == timestamp
    assert "errors" not in event["mozdef"]


def test_zeek_an_unreadable_ts_leaves_the_receipt_time_and_its_note(pipeline: Pipeline) -> None:
    event = pipeline.run({"_path": "conn", "ts": "yesterday", **NESTED_ID})
    assert event["timestamp"] == "2024-01-15T12:00:00.000000+00:00"
    assert event["mozdef"]["errors"] == ["no timestamp: the receipt time was used"]
    assert event["summary"].startswith("10.0.0.1:52341 -> 93.184.216.34:443")


def test_zeek_settings_choose_category_and_severities(build) -> None:
    toml = '[plugins.zeek]\ncategory = "bro"\nseverities = { conn = "NOTICE" }\n'
    pipeline = build(toml)
    conn = pipeline.run({"_path": "conn", **CONN})
    assert (conn["category"], conn["tags"], conn["severity"]) == (
        "bro",
        ["nsm", "bro_conn"],
        "NOTICE",
    )
    assert pipeline.run({"_path": "notice", "ts": 1.0, "note": "X"})["severity"] == "INFO"


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('[plugins.zeek]\nseverities = { notice = "LOUD" }\n', "plugins.zeek.severities"),
        ('[plugins.zeek]\ncategory = "nsm"\n', "plugins.zeek.category"),
        ('[plugins.suricata]\nseverities = { "1" = "high" }\n', "plugins.suricata.severities"),
        ("[plugins.suricata]\nmax_capture_length = 0\n", "plugins.suricata.max_capture_length"),
        ('[plugins.cloudtrail]\nfreeform_policy = "drop"\n', "plugins.cloudtrail.freeform_policy"),
    ],
)
def test_bad_settings_stop_start_up_naming_the_key(build, toml: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        build(toml)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param({"_path": "conn", **NESTED_ID}, id="_path without ts or uid"),
        pytest.param({"logger": "dns", "message": "cache flushed"}, id="a logger named dns"),
        pytest.param({"category": "zeek", "details": {"uid": "C1"}}, id="no log type"),
        pytest.param({"_path": "not_a_zeek_log", "ts": 1.0}, id="unknown _path"),
        pytest.param(
            {"category": "syslog", "path": "/var/log/messages", "message": "x"}, id="syslog"
        ),
    ],
)
def test_zeek_leaves_other_events_alone(pipeline: Pipeline, raw: dict) -> None:
    assert pipeline.unchanged(raw)


ODD_VALUES = [None, "", [], {}, "x", 0, -1.5, True, ["a", {"b": 1}], {"nested": [None]}]


@pytest.mark.parametrize("value", ODD_VALUES)
def test_zeek_never_fails_on_odd_values(pipeline: Pipeline, value: object) -> None:
    for kind in ("conn", "dns", "http", "ssl", "notice", "intel", "files"):
        fields = ("id", "id.orig_h", "id.resp_p", "duration", "answers", "query", "uri")
        fields += ("user_agent", "established", "note", "msg", "seen", "seen.where", "host")
        raw = {"_path": kind, "ts": value, "uid": "C1", **dict.fromkeys(fields, value)}
        event = pipeline.run(raw)
        assert event["source"] == kind, event
        assert not any("zeek" in note for note in event.get("mozdef", {}).get("errors", []))


# --- Suricata -------------------------------------------------------------------------

ALERT = {
    "timestamp": "2024-01-15T10:00:02.482917+0000",
    "flow_id": 1284631027713312,
    "in_iface": "eth1",
    "event_type": "alert",
    "src_ip": "1.2.3.4",
    "src_port": 5555,
    "dest_ip": "10.0.0.1",
    "dest_port": 22,
    "proto": "TCP",
    "app_proto": "ssh",
    "alert": {
        "action": "allowed",
        "gid": 1,
        "signature_id": 2000001,
        "rev": 7,
        "signature": "ET SCAN Nmap",
        "category": "Attempted Information Leak",
        "severity": 2,
    },
    "flow": {
        "pkts_toserver": 3,
        "pkts_toclient": 2,
        "bytes_toserver": 210,
        "bytes_toclient": 140,
        "start": "2024-01-15T10:00:01.994121+0000",
    },
}


def with_rule(**changes: object) -> dict:
    return {**ALERT, "alert": {**ALERT["alert"], **changes}}


def test_suricata_alert(pipeline: Pipeline) -> None:
    event = pipeline.run(ALERT)
    assert (
        event["summary"] == "Suricata alert: ET SCAN Nmap (sid 2000001) 1.2.3.4:5555 -> 10.0.0.1:22"
    )
    assert (event["category"], event["source"], event["severity"]) == (
        "suricata",
        "alert",
        "WARNING",
    )
    assert event["tags"] == ["nsm", "suricata_alert"]
    assert event["timestamp"] == "2024-01-15T10:00:02.482917+00:00"
    details = event["details"]
    assert {key: details[key] for key in ("sourceipaddress", "sourceport", "flowid")} == {
        "sourceipaddress": "1.2.3.4",
        "sourceport": 5555,
        "flowid": 1284631027713312,
    }
    assert (details["destinationipaddress"], details["destinationport"]) == ("10.0.0.1", 22)
    assert (details["interface"], details["proto"], details["service"]) == ("eth1", "tcp", "ssh")
    assert (details["originipbytes"], details["responseipbytes"]) == (210, 140)
    assert (details["orig_pkts"], details["resp_pkts"]) == (3, 2)
    assert details["flow"] == {"start": "2024-01-15T10:00:01.994121+0000"}
    assert details["alert"]["signature"] == "ET SCAN Nmap"
    for name in ("src_ip", "src_port", "dest_ip", "dest_port", "flow_id", "in_iface", "app_proto"):
        assert name not in details


@pytest.mark.parametrize(
    ("rule", "severity", "ending"),
    [
        ({"severity": 1}, "CRITICAL", "10.0.0.1:22"),
        ({"severity": 2}, "WARNING", "10.0.0.1:22"),
        ({"severity": 3}, "NOTICE", "10.0.0.1:22"),
        ({"severity": 4}, "INFO", "10.0.0.1:22"),
        ({"severity": 1, "action": "blocked"}, "CRITICAL", "10.0.0.1:22 (blocked)"),
    ],
)
def test_suricata_alert_severity_and_action(
    pipeline: Pipeline, rule: dict, severity: str, ending: str
) -> None:
    event = pipeline.run(with_rule(**rule))
    assert event["severity"] == severity
    assert event["summary"].endswith(ending)


def test_suricata_severities_are_configurable(build) -> None:
    pipeline = build('[plugins.suricata]\nseverities = { "3" = "INFO", "4" = "DEBUG" }\n')
    assert pipeline.run(with_rule(severity=4))["severity"] == "DEBUG"
    assert pipeline.run(with_rule(severity=1))["severity"] == "INFO"  # not listed: kept


def test_suricata_icmp_and_ipv6_endpoints(pipeline: Pipeline) -> None:
    icmp = {k: v for k, v in ALERT.items() if not k.endswith("_port")}
    assert pipeline.run(icmp)["summary"].endswith("1.2.3.4 -> 10.0.0.1")
    ipv6 = pipeline.run({**ALERT, "src_ip": "2001:db8::15", "dest_ip": "2001:db8::53"})
    assert ipv6["summary"].endswith("[2001:db8::15]:5555 -> [2001:db8::53]:22")


def test_suricata_flow(pipeline: Pipeline) -> None:
    flow = {
        **{k: v for k, v in ALERT.items() if k != "alert"},
        "event_type": "flow",
        "flow": {**ALERT["flow"], "age": 17, "state": "closed", "reason": "timeout"},
    }
    event = pipeline.run(flow)
    assert event["summary"] == (
        "Suricata flow: 1.2.3.4:5555 -> 10.0.0.1:22 tcp (ssh) 3/2 packets 210/140 bytes, "
        "closed (timeout)"
    )
    assert (event["source"], event["severity"]) == ("flow", "INFO")
    assert event["details"]["flow"]["state"] == "closed"


def test_suricata_http_fields_take_zeek_names(pipeline: Pipeline) -> None:
    http = {
        "hostname": "example.com",
        "url": "/index.html",
        "http_user_agent": "curl/8.5.0",
        "http_method": "GET",
        "status": 200,
        "protocol": "HTTP/1.1",
    }
    event = pipeline.run({**ALERT, "event_type": "http", "http": http})
    details = event["details"]
    assert [details[k] for k in ("host", "uri", "user_agent", "method", "status_code")] == [
        "example.com",
        "/index.html",
        "curl/8.5.0",
        "GET",
        200,
    ]
    assert details["http"] == {"protocol": "HTTP/1.1"}
    assert event["summary"] == "Suricata http: 1.2.3.4:5555 -> 10.0.0.1:22 tcp (ssh)"


def test_suricata_payload_is_kept_and_captures_are_cut(build) -> None:
    """Normalisation takes a bare alert's `payload` for the summary."""
    pipeline = build("[plugins.suricata]\nmax_capture_length = 8\n")
    event = pipeline.run({**ALERT, "payload": "R0VUIC8gSFRUUC8xLjENCg==", "packet": "AAECAw=="})
    assert event["details"]["payload"] == "R0VUIC8g"
    assert event["details"]["packet"] == "AAECAw=="
    assert event["summary"].startswith("Suricata alert: ")


def test_suricata_a_shipper_summary_is_not_taken_for_a_payload(pipeline: Pipeline) -> None:
    wrapped = {"category": "suricata", "summary": "IDS alert from ids1", "details": ALERT}
    assert "payload" not in pipeline.run(wrapped)["details"]


def test_suricata_wrapped_record_takes_its_own_time(pipeline: Pipeline) -> None:
    wrapped = {
        "category": "suricata",
        "source": "eve-log",
        "hostname": "ids1",
        "timestamp": "2024-01-15T11:59:00Z",
        "details": ALERT,
    }
    event = pipeline.run(wrapped)
    assert event["timestamp"] == "2024-01-15T10:00:02.482917+00:00"
    assert (event["hostname"], event["category"], event["source"]) == ("ids1", "suricata", "alert")


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(
            {"timestamp": "2024-01-15T10:00:42+0000", "event_type": "stats", "stats": {}},
            id="stats",
        ),
        pytest.param(
            {"category": "suricata", "details": {"stats": {"uptime": 1}}}, id="no event_type"
        ),
        pytest.param(
            {"event_type": "alert", "src_ip": "10.0.0.1", "alert": {"signature": "disk full"}},
            id="another tool's alert",
        ),
        pytest.param({"event_type": "flow", "flow_id": 1}, id="no addresses"),
    ],
)
def test_suricata_leaves_other_events_alone(pipeline: Pipeline, raw: dict) -> None:
    assert pipeline.unchanged(raw)


@pytest.mark.parametrize("value", ODD_VALUES)
def test_suricata_never_fails_on_odd_values(pipeline: Pipeline, value: object) -> None:
    for kind in ("alert", "flow", "dns"):
        fields = ("src_port", "proto", "alert", "flow", "http", "payload", "app_proto")
        raw = {**ALERT, "event_type": kind, **dict.fromkeys(fields, value)}
        event = pipeline.run(raw)
        assert event["source"] == kind
        assert not any("suricata" in note for note in event.get("mozdef", {}).get("errors", []))


# --- CloudTrail -----------------------------------------------------------------------

IAM_USER = {
    "type": "IAMUser",
    "principalId": "AIDAJ45Q7YFFAREXAMPLE",
    "arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
    "accountId": ACCOUNT,
    "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
    "userName": "alice",
}
RECORD = {
    "eventVersion": "1.09",
    "userIdentity": IAM_USER,
    "eventTime": "2024-01-15T10:06:10Z",
    "eventSource": "iam.amazonaws.com",
    "eventName": "CreateUser",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "198.51.100.23",
    "userAgent": "aws-cli/2.15.10 Python/3.11.6 Linux/6.5.0",
    "requestParameters": {"userName": "svc-backup"},
    "responseElements": {"user": {"userName": "svc-backup", "userId": "AIDANEWUSEREXAMPLE01"}},
    "requestID": "8d7c6b5a-4f3e-4d2c-9b1a-0f9e8d7c6b07",
    "eventID": "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e107",
    "readOnly": False,
    "eventType": "AwsApiCall",
    "managementEvent": True,
    "recipientAccountId": ACCOUNT,
}


def record(**changes: object) -> dict:
    return {**RECORD, **changes}


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(RECORD, id="bare record"),
        pytest.param(
            {"category": "cloudtrail", "source": "cloudtrail", "details": RECORD}, id="wrapped"
        ),
    ],
)
def test_cloudtrail_record(pipeline: Pipeline, raw: dict) -> None:
    event = pipeline.run(raw)
    assert event["summary"] == "198.51.100.23 performed CreateUser in iam.amazonaws.com"
    assert (event["category"], event["source"]) == ("cloudtrail", "cloudtrail")
    assert event["hostname"] == "iam.amazonaws.com"
    assert event["tags"] == ["cloudtrail", "aws"]
    assert event["timestamp"] == "2024-01-15T10:06:10.000000+00:00"
    assert "eventsource" not in event
    details = event["details"]
    assert details["eventsource"] == "iam.amazonaws.com"
    assert details["eventtype"] == "AwsApiCall"
    assert details["sourceipaddress"] == "198.51.100.23"
    assert (details["username"], details["readonly"], details["success"]) == ("alice", False, True)
    assert details["requestparameters"] == {"username": "svc-backup"}


def test_cloudtrail_a_service_caller_is_not_an_address(pipeline: Pipeline) -> None:
    event = pipeline.run(record(sourceIPAddress="cloudtrail.amazonaws.com"))
    assert "sourceipaddress" not in event["details"]
    assert event["details"]["sourceservice"] == "cloudtrail.amazonaws.com"
    assert event["summary"] == "cloudtrail.amazonaws.com performed CreateUser in iam.amazonaws.com"
    ipv6 = pipeline.run(record(sourceIPAddress="2001:db8:4f2::23"))["details"]
    assert ipv6["sourceipaddress"] == "2001:db8:4f2::23"


@pytest.mark.parametrize(
    ("identity", "username"),
    [
        (IAM_USER, "alice"),
        (
            {
                "type": "AssumedRole",
                "principalId": "AROAZ6TCVQEXAMPLE1234:bob@example.com",
                "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/SSO_Admin_3f1b/bob@example.com",
                "sessionContext": {"sessionIssuer": {"userName": "AWSReservedSSO_Admin_3f1b"}},
            },
            "bob@example.com",
        ),
        ({"type": "Root", "principalId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:root"}, "root"),
        (
            {"type": "FederatedUser", "arn": f"arn:aws:sts::{ACCOUNT}:federated-user/carol"},
            "carol",
        ),
        ({"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}, "ec2.amazonaws.com"),
        ({"type": "SAMLUser", "userName": "dave@example.com"}, "dave@example.com"),
        ({"type": "AWSAccount", "principalId": "AIDAEXAMPLE", "accountId": "210987654321"}, None),
        ("not an identity", None),
    ],
)
def test_cloudtrail_username_by_identity_type(
    pipeline: Pipeline, identity: object, username: str | None
) -> None:
    assert pipeline.run(record(userIdentity=identity))["details"].get("username") == username


@pytest.mark.parametrize(
    ("name", "flag", "readonly"),
    [
        ("DescribeInstances", True, True),
        ("CreateUser", False, False),
        ("AssumeRole", "true", True),
        ("GetCallerIdentity", None, True),
        ("ListBuckets", None, True),
        ("LookupEvents", None, True),
        ("HeadObject", None, True),
        ("GetObject", False, False),  # the record's own flag wins over the name
        ("StopLogging", None, False),
        ("Decrypt", None, False),
    ],
)
def test_cloudtrail_readonly(pipeline: Pipeline, name: str, flag: object, readonly: bool) -> None:
    raw = {k: v for k, v in record(eventName=name).items() if k != "readOnly"}
    if flag is not None:
        raw["readOnly"] = flag
    event = pipeline.run(raw)
    assert event["details"]["readonly"] is readonly
    assert ("readonly" in event["tags"]) is readonly


def test_cloudtrail_readonly_prefixes_are_configurable(build) -> None:
    pipeline = build('[plugins.cloudtrail]\nreadonly_prefixes = ["Get", "Decrypt"]\n')
    decrypt = {k: v for k, v in record(eventName="Decrypt").items() if k != "readOnly"}
    assert pipeline.run(decrypt)["details"]["readonly"] is True


@pytest.mark.parametrize(
    "failure",
    [
        {"errorCode": "AccessDenied", "errorMessage": "User: ... is not authorized"},
        {"errorMessage": "Failed authentication"},
    ],
)
def test_cloudtrail_failed_calls(pipeline: Pipeline, failure: dict) -> None:
    event = pipeline.run(record(**failure))
    assert event["details"]["success"] is False
    assert event["summary"] == "198.51.100.23 performed CreateUser in iam.amazonaws.com"


RUN_INSTANCES = {
    "instancesSet": {"items": [{"imageId": "ami-0c7217cdde317cfec", "minCount": 1}]},
    "instanceType": "t3.medium",
    "ebsOptimized": True,
    "maxCount": 2,
    "userData": None,
}


def test_cloudtrail_free_form_fields_keep_scalars_as_text(pipeline: Pipeline) -> None:
    details = pipeline.run(record(requestParameters=RUN_INSTANCES))["details"]
    assert details["requestparameters"] == {
        "instancetype": "t3.medium",
        "ebsoptimized": "true",
        "maxcount": "2",
        "userdata": None,
    }
    assert json.loads(details["requestparameters_raw"]) == {
        "instancesset": {"items": [{"imageid": "ami-0c7217cdde317cfec", "mincount": 1}]},
        "instancetype": "t3.medium",
        "ebsoptimized": True,
        "maxcount": 2,
        "userdata": None,
    }
    assert details["responseelements_raw"].startswith('{"user":{')
    assert "responseelements" not in details  # nothing but a nested object


@pytest.mark.parametrize(
    ("toml", "parameters", "kept", "raw"),
    [
        ("", {"name": "org-trail"}, {"name": "org-trail"}, None),
        ("", "a string, not an object", None, "a string, not an object"),
        ("", None, None, None),
        ("max_scalar_keys = 1\n", {"a": 1, "b": 2}, None, '{"a":1,"b":2}'),
        ('freeform_policy = "raw"\n', {"name": "x"}, None, '{"name":"x"}'),
        ("max_raw_length = 5\n", {"a": [1, 2]}, None, '{"a"…'),
    ],
)
def test_cloudtrail_free_form_policy(
    build, toml: str, parameters: object, kept: object, raw: str | None
) -> None:
    pipeline = build("[plugins.cloudtrail]\n" + toml)
    details = pipeline.run(record(requestParameters=parameters))["details"]
    assert details.get("requestparameters") == kept
    assert details.get("requestparameters_raw") == raw


def test_cloudtrail_leaves_a_record_without_its_api_alone(pipeline: Pipeline) -> None:
    assert pipeline.unchanged({"awsRegion": "us-east-1", "message": "lambda cold start"})
    assert pipeline.unchanged({"category": "cloudtrail", "details": {"eventname": "X"}})
    assert pipeline.unchanged({"category": "syslog", "eventName": "X", "eventSource": "y"})


@pytest.mark.parametrize("value", ODD_VALUES)
def test_cloudtrail_never_fails_on_odd_values(pipeline: Pipeline, value: object) -> None:
    fields = ("userIdentity", "sourceIPAddress", "readOnly", "requestParameters", "errorCode")
    event = pipeline.run(record(**dict.fromkeys(fields, value)))
    assert event["category"] == "cloudtrail"
    assert not any("cloudtrail" in note for note in event.get("mozdef", {}).get("errors", []))


# --- Every parser, together ------------------------------------------------------------


def test_parsers_run_twice_give_the_same_event(pipeline: Pipeline) -> None:
    for raw in ({"_path": "conn", **CONN}, {**ALERT, "payload": "AAEC"}, RECORD):
        once = pipeline.run(raw)
        twice = pipeline.chain.run(copy.deepcopy(once), EventMeta())
        assert twice == once


@pytest.mark.parametrize(
    ("corpus", "parser", "skipped"),
    [("zeek", "zeek", 0), ("suricata", "suricata", 1), ("cloudtrail", "cloudtrail", 0)],
)
def test_every_sample_is_parsed_by_its_parser_alone(
    pipeline: Pipeline, corpus: str, parser: str, skipped: int
) -> None:
    """The benchmark's corpora: each record reaches only its own parser; Suricata's
    stats record has no endpoints and passes by."""
    lines = (SAMPLES / f"{corpus}.ndjson").read_text(encoding="utf-8").splitlines()
    assert 10 <= len(lines) <= 30
    parsed = 0
    for line in lines:
        event = pipeline.run(json.loads(line))
        assert "errors" not in event["mozdef"], event
        assert event["mozdef"]["plugins"] in ([parser], [])
        if event["category"] == corpus:
            parsed += 1
            assert event["summary"]
    assert parsed == len(lines) - skipped


def test_netflow_samples_reach_none_of_these_parsers(pipeline: Pipeline) -> None:
    lines = (SAMPLES / "netflow.ndjson").read_text(encoding="utf-8").splitlines()
    assert 10 <= len(lines) <= 30
    for line in lines:
        event = pipeline.run(json.loads(line))
        assert event["mozdef"]["plugins"] == []
        assert event["category"] == "netflow"
        assert event[
            "summary"
        ] == "{sourceipaddress}:{sourceport} --> {destinationipaddress}:{destinationport}".format(
            **event["details"]
        )
