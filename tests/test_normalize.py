"""Normalisation of raw events to the MozDef schema, against a fixed receipt time."""

import copy
import re
from datetime import UTC, datetime
from functools import partial

import pytest
from pydantic import ValidationError

from mozdef.core import normalize as normalize_module
from mozdef.core.normalize import MalformedEvent, Normalizer, NormalizeSettings

RECEIVED = datetime(2024, 3, 10, 12, 0, 0, 123456, tzinfo=UTC)
RECEIVED_TEXT = "2024-03-10T12:00:00.123456+00:00"
MOZDEF_HOST = "mozdef1.example.com"
NETFLOW_TIME = "2015-05-04T16:36:52.336527+00:00"
NO_TIMESTAMP = {"errors": ["no timestamp: the receipt time was used"]}


def normalizer(**settings) -> Normalizer:
    return Normalizer(
        NormalizeSettings(**settings), mozdefhostname=MOZDEF_HOST, clock=lambda: RECEIVED
    )


def normalize(raw: object, **settings) -> dict:
    return normalizer(**settings).normalize(raw)


def expected(*, timestamp: str = NETFLOW_TIME, **fields) -> dict:
    """A whole normalised event: every field at its default unless given."""
    event = {
        "timestamp": timestamp,
        "utctimestamp": timestamp,
        "receivedtimestamp": RECEIVED_TEXT,
        "mozdefhostname": MOZDEF_HOST,
        "hostname": "UNKNOWN",
        "processname": "UNKNOWN",
        "processid": "UNKNOWN",
        "severity": "INFO",
        "summary": "",
        "category": "UNKNOWN",
        "source": "UNKNOWN",
        "tags": [],
        "details": {},
    }
    event.update(fields)
    return event


# The two reference events.


def test_the_joe_login_failed_event() -> None:
    raw = {
        "timestamp": "2014-02-14T11:48:19.035762739-05:00",
        "hostname": "somemachine.in.your.company.com",
        "processname": "/path/to/your/program.exe",
        "processid": 3380,
        "severity": "INFO",
        "summary": "joe login failed",
        "category": "authentication",
        "source": "ldap",
        "tags": ["ldap", "adminAccess", "failure"],
        "details": {
            "user": "joe",
            "task": "access to admin page /admin_secret_radioactiv",
            "result": "10 authentication failures in a row",
        },
    }
    assert normalize(raw) == {
        "timestamp": "2014-02-14T16:48:19.035762+00:00",
        "utctimestamp": "2014-02-14T16:48:19.035762+00:00",
        "receivedtimestamp": RECEIVED_TEXT,
        "mozdefhostname": MOZDEF_HOST,
        "hostname": "somemachine.in.your.company.com",
        "processname": "/path/to/your/program.exe",
        "processid": 3380,
        "severity": "INFO",
        "summary": "joe login failed",
        "category": "authentication",
        "source": "ldap",
        "tags": ["ldap", "adminAccess", "failure"],
        "details": {
            "user": "joe",
            "task": "access to admin page /admin_secret_radioactiv",
            "result": "10 authentication failures in a row",
        },
    }


def test_the_netflow_event() -> None:
    details = {
        "protocol": 6,
        "sourceipaddress": "10.247.28.2",
        "destinationipaddress": "2.192.38.177",
        "sourceport": 60469,
        "destinationport": 6824,
        "destinationipgeolocation": {
            "city": "Beijing",
            "country_code": "CN",
            "latitude": 39.9289,
            "longitude": 116.3883,
        },
        "hostname": "fw1.site1.somewhere.net",
        "octets": 1656,
    }
    raw = {
        "category": "netflow",
        "tags": ["netflow", "network"],
        "timestamp": NETFLOW_TIME,
        "summary": "10.247.28.2:60469 --> 2.192.38.177:6824",
        "details": details,
    }
    assert normalize(raw) == expected(
        category="netflow",
        tags=["netflow", "network"],
        summary="10.247.28.2:60469 --> 2.192.38.177:6824",
        details=details,  # details.hostname is not the event's hostname
    )


# Events as shippers send them.

NXLOG_WINDOWS = {
    "EventTime": "2015-05-04 16:36:52",
    "EventReceivedTime": "2015-05-04 16:36:53",
    "SourceModuleName": "eventlog",
    "SourceModuleType": "im_msvistalog",
    "Hostname": "DC1.corp.example.com",
    "Keywords": "-9214364837600034816",
    "EventType": "AUDIT_FAILURE",
    "SeverityValue": 4,
    "Severity": "ERROR",
    "EventID": 4625,
    "SourceName": "Microsoft-Windows-Security-Auditing",
    "ProviderGuid": "{54849625-5478-4994-A5BA-3E3B0328C30D}",
    "Version": 0,
    "Task": 12544,
    "OpcodeValue": 0,
    "RecordNumber": 2785423,
    "ProcessID": 612,
    "ThreadID": 2168,
    "Channel": "Security",
    "Message": "An account failed to log on.",
    "Category": "Logon",
    "Opcode": "Info",
    "SubjectUserSid": "S-1-0-0",
    "TargetUserName": "joe",
    "TargetDomainName": "CORP",
    "Status": "0xc000006d",
    "SubStatus": "0xc000006a",
    "LogonType": "3",
    "LogonProcessName": "NtLmSsp ",
    "AuthenticationPackageName": "NTLM",
    "WorkstationName": "WS042",
    "IpAddress": "10.1.2.3",
    "IpPort": "51234",
}
NXLOG_WINDOWS_NORMALISED = expected(
    timestamp="2015-05-04T16:36:52.000000+00:00",
    hostname="DC1.corp.example.com",
    processname="Microsoft-Windows-Security-Auditing",
    processid=612,
    severity="ERROR",
    summary="An account failed to log on.",
    category="Logon",
    details={
        "eventreceivedtime": "2015-05-04 16:36:53",
        "sourcemodulename": "eventlog",
        "sourcemoduletype": "im_msvistalog",
        "keywords": "-9214364837600034816",
        "eventtype": "AUDIT_FAILURE",  # loses to Category
        "severityvalue": 4,  # loses to Severity
        "eventid": 4625,
        "providerguid": "{54849625-5478-4994-A5BA-3E3B0328C30D}",
        "version": 0,
        "task": 12544,
        "opcodevalue": 0,
        "recordnumber": 2785423,
        "threadid": 2168,
        "channel": "Security",
        "opcode": "Info",
        "subjectusersid": "S-1-0-0",
        "targetusername": "joe",
        "targetdomainname": "CORP",
        "status": "0xc000006d",
        "substatus": "0xc000006a",
        "logontype": "3",
        "logonprocessname": "NtLmSsp ",
        "authenticationpackagename": "NTLM",
        "workstationname": "WS042",
        "ipaddress": "10.1.2.3",
        "ipport": "51234",
    },
)

LOGSTASH = {
    "@timestamp": "2015-05-04T16:36:52.336Z",
    "@version": "1",
    "message": "Accepted publickey for joe from 10.1.2.3 port 51234 ssh2",
    "host": "bastion1.example.com",
    "type": "syslog",
    "path": "/var/log/auth.log",
    "tags": ["sshd", "_grokparsefailure"],
    "fields": {"environment": "prod", "Team": "infra"},
}
LOGSTASH_NORMALISED = expected(
    timestamp="2015-05-04T16:36:52.336000+00:00",
    summary="Accepted publickey for joe from 10.1.2.3 port 51234 ssh2",
    hostname="bastion1.example.com",
    category="syslog",
    eventsource="/var/log/auth.log",
    tags=["sshd", "_grokparsefailure"],
    details={"version": "1", "environment": "prod", "team": "infra"},
)

HEKA = {
    "Uuid": "e4b5a3a6-6e0a-4cdb-a1a3-3d2b8f0b0c11",
    "Timestamp": 1430757412336527000,
    "Type": "nginx.error",
    "Logger": "nginx_error_input",
    "Severity": 3,
    "Payload": "connect() failed (111: Connection refused) while connecting to upstream",
    "EnvVersion": "",
    "Pid": 1234,
    "Hostname": "web1.example.com",
    "Fields": {"Upstream": "http://127.0.0.1:8080/", "client": "10.1.2.3", "errno": 111},
}
HEKA_NORMALISED = expected(
    category="nginx.error",
    eventsource="nginx_error_input",
    severity="ERROR",
    summary="connect() failed (111: Connection refused) while connecting to upstream",
    processid=1234,
    hostname="web1.example.com",
    details={
        "uuid": "e4b5a3a6-6e0a-4cdb-a1a3-3d2b8f0b0c11",
        "envversion": "",
        "upstream": "http://127.0.0.1:8080/",
        "client": "10.1.2.3",
        "errno": 111,
    },
)

# heka's ESJsonEncoder writes message fields as top-level keys, here named for MozDef.
HEKA_FLATTENED = {
    "Timestamp": 1430757412336527000,
    "Type": "bro.conn",
    "Logger": "bro_conn_input",
    "Severity": 6,
    "Payload": "10.1.2.3:51234 -> 10.4.5.6:443",
    "Pid": 0,
    "Hostname": "nsm1.example.com",
    "details.sourceipaddress": "10.1.2.3",
    "details.destinationport_int": "443",
    "details.duration_float": "0.25",
    "details.resp_bytes_int": "-",
}
HEKA_FLATTENED_NORMALISED = expected(
    category="bro.conn",
    eventsource="bro_conn_input",
    summary="10.1.2.3:51234 -> 10.4.5.6:443",
    processid=0,
    hostname="nsm1.example.com",
    details={
        "sourceipaddress": "10.1.2.3",
        "destinationport": 443,
        "duration": 0.25,
        "resp_bytes_int": "-",  # not a number: kept as it came
    },
)

BEAVER = {
    "@timestamp": "2015-05-04T16:36:52.336527Z",
    "@message": "May  4 16:36:52 bastion1 sshd[4321]: Failed password for joe from 10.1.2.3",
    "@source": "file://bastion1.example.com/var/log/auth.log",
    "@source_host": "bastion1.example.com",
    "@source_path": "/var/log/auth.log",
    "@tags": ["auth", "beaver"],
    "@type": "syslog",
    "@fields": {"environment": "prod"},
}
BEAVER_NORMALISED = expected(
    summary="May  4 16:36:52 bastion1 sshd[4321]: Failed password for joe from 10.1.2.3",
    source="file://bastion1.example.com/var/log/auth.log",
    hostname="bastion1.example.com",
    tags=["auth", "beaver"],
    category="syslog",
    details={"source_path": "/var/log/auth.log", "environment": "prod"},
)

# An rsyslog template (type="list", format="jsonf") naming properties for MozDef.
RSYSLOG_TEMPLATE = {
    "timestamp": "2015-05-04T12:36:52.336527-04:00",
    "host": "bastion1",
    "severity": "notice",
    "facility": "authpriv",
    "program": "sshd",
    "pid": "4321",
    "message": " Accepted publickey for joe from 10.1.2.3 port 51234 ssh2",
}
RSYSLOG_TEMPLATE_NORMALISED = expected(
    hostname="bastion1",
    severity="NOTICE",
    source="authpriv",
    processname="sshd",
    processid="4321",
    summary="Accepted publickey for joe from 10.1.2.3 port 51234 ssh2",
)

# rsyslog's own property names: only syslogseverity is an alias; the rest are details.
RSYSLOG_PROPERTIES = {
    "timestamp": "2015-05-04T16:36:52.336527+00:00",
    "hostname": "bastion1",
    "syslogseverity": 3,
    "syslogseverity-text": "err",
    "syslogfacility-text": "auth",
    "programname": "sshd",
    "procid": "4321",
    "msg": "error: PAM: Authentication failure for joe",
}
RSYSLOG_PROPERTIES_NORMALISED = expected(
    hostname="bastion1",
    processname="sshd",
    processid="4321",
    summary="error: PAM: Authentication failure for joe",
    severity="ERROR",
    details={
        "syslogseverity": 3,  # the text form wins, the number is kept
        "syslogfacility-text": "auth",
    },
)


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        pytest.param(NXLOG_WINDOWS, NXLOG_WINDOWS_NORMALISED, id="nxlog-windows"),
        pytest.param(LOGSTASH, LOGSTASH_NORMALISED, id="logstash"),
        pytest.param(HEKA, HEKA_NORMALISED, id="heka"),
        pytest.param(HEKA_FLATTENED, HEKA_FLATTENED_NORMALISED, id="heka-es-json-encoder"),
        pytest.param(BEAVER, BEAVER_NORMALISED, id="beaver"),
        pytest.param(RSYSLOG_TEMPLATE, RSYSLOG_TEMPLATE_NORMALISED, id="rsyslog-template"),
        pytest.param(RSYSLOG_PROPERTIES, RSYSLOG_PROPERTIES_NORMALISED, id="rsyslog-properties"),
    ],
)
def test_shipper_events(raw, normalised) -> None:
    assert normalize(raw) == normalised


# Aliases and their precedence.


ALIAS_CASES = [
    ("summary", "summary", "joe login failed", "joe login failed"),
    ("message", "summary", "joe login failed", "joe login failed"),
    ("payload", "summary", "joe login failed", "joe login failed"),
    ("@message", "summary", "joe login failed", "joe login failed"),
    ("hostname", "hostname", "host1", "host1"),
    ("source_host", "hostname", "host1", "host1"),
    ("host", "hostname", "host1", "host1"),
    ("HostName", "hostname", "host1", "host1"),
    ("severity", "severity", "warn", "WARNING"),
    ("syslogseverity", "severity", "warn", "WARNING"),
    ("severityvalue", "severity", "warn", "WARNING"),
    ("level", "severity", "warn", "WARNING"),
    ("priority", "severity", "warn", "WARNING"),
    ("processid", "processid", 3380, 3380),
    ("pid", "processid", 3380, 3380),
    ("processname", "processname", "sshd", "sshd"),
    ("pname", "processname", "sshd", "sshd"),
    ("sourcename", "processname", "sshd", "sshd"),
    ("program", "processname", "sshd", "sshd"),
    ("eventsource", "eventsource", "/var/log/auth.log", "/var/log/auth.log"),
    ("path", "eventsource", "/var/log/auth.log", "/var/log/auth.log"),
    ("logger", "eventsource", "/var/log/auth.log", "/var/log/auth.log"),
    ("file", "eventsource", "/var/log/auth.log", "/var/log/auth.log"),
    ("category", "category", "authentication", "authentication"),
    ("type", "category", "authentication", "authentication"),
    ("eventtype", "category", "authentication", "authentication"),
    ("source", "source", "ldap", "ldap"),
    ("facility", "source", "ldap", "ldap"),
    ("timestamp", "timestamp", NETFLOW_TIME, NETFLOW_TIME),
    ("eventtime", "timestamp", NETFLOW_TIME, NETFLOW_TIME),
    ("utctimestamp", "timestamp", NETFLOW_TIME, NETFLOW_TIME),
    ("date", "timestamp", NETFLOW_TIME, NETFLOW_TIME),
    ("@timestamp", "timestamp", NETFLOW_TIME, NETFLOW_TIME),
    ("tags", "tags", ["a"], ["a"]),
    ("@Tags", "tags", ["a"], ["a"]),
]


@pytest.mark.parametrize(
    ("key", "field", "value", "result"),
    ALIAS_CASES,
    ids=[f"{key}->{field}" for key, field, *_ in ALIAS_CASES],
)
def test_an_alias_fills_its_field(key, field, value, result) -> None:
    event = normalize({key: value})
    assert event[field] == result
    if field == "timestamp":
        assert event["utctimestamp"] == result
    stripped = key.lower().removeprefix("@")
    assert stripped not in event["details"]
    if stripped not in (field, "utctimestamp"):  # utctimestamp is always there
        assert stripped not in event


@pytest.mark.parametrize(
    ("raw", "field", "winner", "losers"),
    [
        pytest.param(
            {"payload": "p", "message": "m", "summary": "s"},
            "summary",
            "s",
            {"payload": "p", "message": "m"},
            id="summary-over-message-over-payload",
        ),
        pytest.param(
            {"payload": "p", "message": "m"},
            "summary",
            "m",
            {"payload": "p"},
            id="payload-to-details-when-there-is-a-summary",
        ),
        pytest.param(
            {
                "date": "2001-01-01",
                "utctimestamp": "2002-01-01",
                "eventtime": "2003-01-01",
                "timestamp": NETFLOW_TIME,
            },
            "timestamp",
            NETFLOW_TIME,
            {"date": "2001-01-01", "utctimestamp": "2002-01-01", "eventtime": "2003-01-01"},
            id="timestamp-eventtime-utctimestamp-date",
        ),
        pytest.param(
            {"utctimestamp": "2002-01-01T00:00:00+00:00", "date": NETFLOW_TIME},
            "timestamp",
            "2002-01-01T00:00:00.000000+00:00",
            {"date": NETFLOW_TIME},
            id="utctimestamp-over-date",
        ),
        pytest.param(
            {"host": "c", "source_host": "b", "hostname": "a"},
            "hostname",
            "a",
            {"host": "c", "source_host": "b"},
            id="hostname-source_host-host",
        ),
        pytest.param(
            {"host": "c", "source_host": "b"},
            "hostname",
            "b",
            {"host": "c"},
            id="source_host-over-host",
        ),
        pytest.param(
            {"priority": 1, "level": "debug", "severityvalue": 2, "syslogseverity": 3},
            "severity",
            "ERROR",
            {"priority": 1, "level": "debug", "severityvalue": 2},
            id="syslogseverity-over-the-rest",
        ),
        pytest.param(
            {"priority": 1, "level": "debug"},
            "severity",
            "DEBUG",
            {"priority": 1},
            id="level-over-priority",
        ),
        pytest.param(
            {"pid": 1, "processid": 2}, "processid", 2, {"pid": 1}, id="processid-over-pid"
        ),
        pytest.param(
            {"program": "d", "sourcename": "c", "pname": "b", "processname": "a"},
            "processname",
            "a",
            {"program": "d", "sourcename": "c", "pname": "b"},
            id="processname-pname-sourcename-program",
        ),
        pytest.param(
            {"file": "d", "logger": "c", "path": "b"},
            "eventsource",
            "b",
            {"file": "d", "logger": "c"},
            id="path-logger-file",
        ),
        pytest.param(
            {"eventtype": "c", "type": "b", "category": "a"},
            "category",
            "a",
            {"eventtype": "c", "type": "b"},
            id="category-type-eventtype",
        ),
        pytest.param(
            {"facility": "b", "source": "a"},
            "source",
            "a",
            {"facility": "b"},
            id="source-over-facility",
        ),
        pytest.param(
            {"Host": "first", "host": "second"},
            "hostname",
            "first",
            {"host": "second"},
            id="same-key-twice-first-wins",
        ),
        pytest.param(
            {"@timestamp": NETFLOW_TIME, "timestamp": "2001-01-01"},
            "timestamp",
            NETFLOW_TIME,
            {"timestamp": "2001-01-01"},
            id="at-sign-and-plain-first-wins",
        ),
    ],
)
def test_precedence_keeps_the_losers_in_details(raw, field, winner, losers) -> None:
    event = normalize(raw)
    assert event[field] == winner
    assert event["details"] == losers


# Severity.


@pytest.mark.parametrize(
    ("value", "name"),
    [
        *[
            pytest.param(number, name, id=f"int-{number}")
            for number, name in enumerate(
                ["EMERGENCY", "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG"]
            )
        ],
        *[
            pytest.param(str(number), name, id=f"text-{number}")
            for number, name in enumerate(
                ["EMERGENCY", "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG"]
            )
        ],
        ("emerg", "EMERGENCY"),
        ("emergency", "EMERGENCY"),
        ("panic", "EMERGENCY"),
        ("alert", "ALERT"),
        ("crit", "CRITICAL"),
        ("critical", "CRITICAL"),
        ("fatal", "CRITICAL"),
        ("err", "ERROR"),
        ("error", "ERROR"),
        ("warn", "WARNING"),
        ("warning", "WARNING"),
        ("notice", "NOTICE"),
        ("info", "INFO"),
        ("informational", "INFO"),
        ("information", "INFO"),
        ("debug", "DEBUG"),
        ("trace", "DEBUG"),
        ("WARN", "WARNING"),
        ("Fatal", "CRITICAL"),
        ("  Notice ", "NOTICE"),
        ("DEBUG", "DEBUG"),
    ],
)
def test_severity_spellings(value, name) -> None:
    event = normalize({"severity": value})
    assert event["severity"] == name
    assert "originalseverity" not in event["details"]


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("loud", id="word"),
        pytest.param("", id="empty"),
        pytest.param(8, id="int-8"),
        pytest.param(-1, id="negative"),
        pytest.param("08", id="padded-number"),
        pytest.param(3.0, id="float"),
        pytest.param(True, id="boolean"),
        pytest.param(None, id="null"),
        pytest.param({"Level": 3}, id="object"),
    ],
)
def test_an_unreadable_severity_is_info_and_kept(value) -> None:
    event = normalize({"severity": value})
    assert event["severity"] == "INFO"
    original = {"level": 3} if isinstance(value, dict) else value
    assert event["details"]["originalseverity"] == original
    assert type(event["details"]["originalseverity"]) is type(original)


# Timestamps.


def test_a_naive_timestamp_is_in_the_configured_zone() -> None:
    event = normalize({"timestamp": "2015-05-04 12:36:52"}, syslog_timezone="America/New_York")
    assert event["timestamp"] == event["utctimestamp"] == "2015-05-04T16:36:52.000000+00:00"


def test_a_syslog_timestamp_takes_its_year_from_the_clock() -> None:
    event = normalize({"timestamp": "Nov 21 22:10:05"})  # received March 2024
    assert event["timestamp"] == "2023-11-21T22:10:05.000000+00:00"
    assert "mozdef" not in event


@pytest.mark.parametrize(
    ("raw", "key", "original"),
    [
        pytest.param({"timestamp": "yesterday"}, "timestamp", "yesterday", id="word"),
        pytest.param({"EventTime": "31/12/2015"}, "eventtime", "31/12/2015", id="dmy"),
        pytest.param({"@timestamp": None}, "timestamp", None, id="null"),
        pytest.param({"date": [2015, 5, 4]}, "date", [2015, 5, 4], id="array"),
    ],
)
def test_an_unreadable_timestamp_becomes_the_receipt_time(raw, key, original) -> None:
    event = normalize(raw)
    assert event["timestamp"] == event["utctimestamp"] == RECEIVED_TEXT
    assert event["details"] == {"originaltimestamp": original}
    assert event["mozdef"] == {
        "errors": [f"{key!r} could not be parsed as a timestamp: the receipt time was used"]
    }


def test_a_missing_timestamp_becomes_the_receipt_time() -> None:
    event = normalize({"summary": "x"})
    assert event["timestamp"] == event["utctimestamp"] == RECEIVED_TEXT
    assert event["details"] == {}
    assert event["mozdef"] == NO_TIMESTAMP


def test_an_empty_event_takes_every_default() -> None:
    assert normalize({}) == expected(timestamp=RECEIVED_TEXT, mozdef=NO_TIMESTAMP)


def test_receipt_fields_are_always_mozdefs_own() -> None:
    raw = {
        "timestamp": NETFLOW_TIME,
        "receivedtimestamp": "2001-01-01T00:00:00+00:00",
        "mozdefhostname": "elsewhere",
        "mozdef": {"errors": ["from upstream"]},
    }
    event = normalize(raw)
    assert event["receivedtimestamp"] == RECEIVED_TEXT
    assert event["mozdefhostname"] == MOZDEF_HOST
    assert "mozdef" not in event
    assert event["details"] == {
        "receivedtimestamp": "2001-01-01T00:00:00+00:00",
        "mozdefhostname": "elsewhere",
        "mozdef": {"errors": ["from upstream"]},
    }


# Tags.


@pytest.mark.parametrize(
    ("raw", "tags"),
    [
        pytest.param({"tags": ["ldap", "adminAccess"]}, ["ldap", "adminAccess"], id="list"),
        pytest.param(
            {"tags": "ldap, adminAccess ,,failure "},
            ["ldap", "adminAccess", "failure"],
            id="comma-separated",
        ),
        pytest.param({"tags": "ldap"}, ["ldap"], id="one-string"),
        pytest.param({"tags": ""}, [], id="empty-string"),
        pytest.param({"tags": 7}, [7], id="number"),
        pytest.param({"tags": None}, [], id="null"),
        pytest.param({}, [], id="missing"),
        pytest.param({"tags": [{"Name": "Team"}]}, [{"name": "Team"}], id="objects-lowercased"),
        pytest.param({"@tags": "a,b"}, ["a", "b"], id="at-sign"),
    ],
)
def test_tags_are_always_a_list(raw, tags) -> None:
    assert normalize(raw)["tags"] == tags


# Details: what goes in, and keys lowercased.


def test_unknown_top_level_keys_move_into_details() -> None:
    raw = {
        "timestamp": NETFLOW_TIME,
        "EventID": 4625,
        "@version": "1",
        "Nested": {"InnerKey": "Value", "List": [{"Deep": 1}]},
        "sourceip": "10.1.2.3",
    }
    event = normalize(raw)
    assert event["details"] == {
        "eventid": 4625,
        "version": "1",
        "nested": {"innerkey": "Value", "list": [{"deep": 1}]},
        "eventsourceipaddress": "10.1.2.3",
    }
    assert set(event) == set(expected())


def test_keys_are_lowercased_at_every_depth_and_values_are_not() -> None:
    raw = {"details": {"User": {"Name": "Joe", "IDs": [{"Key": "A"}, [{"Deeper": "B"}]]}}}
    assert normalize(raw)["details"] == {
        "user": {"name": "Joe", "ids": [{"key": "A"}, [{"deeper": "B"}]]}
    }


@pytest.mark.parametrize(
    ("raw", "details"),
    [
        pytest.param({"fields": {"A": 1}}, {"a": 1}, id="fields"),
        pytest.param({"@fields": {"A": 1}}, {"a": 1}, id="at-fields"),
        pytest.param({"details": {"A": 1}, "fields": {"B": 2}}, {"a": 1, "b": 2}, id="both"),
        pytest.param({"fields": "text"}, {"fields": "text"}, id="fields-not-an-object"),
        pytest.param({"details": "text"}, {"details": "text"}, id="details-not-an-object"),
        pytest.param({"details": None}, {"details": None}, id="details-null"),
    ],
)
def test_details_and_fields_objects_merge(raw, details) -> None:
    assert normalize(raw | {"timestamp": NETFLOW_TIME})["details"] == details


@pytest.mark.parametrize(
    ("key", "value", "details"),
    [
        pytest.param("details.user", "joe", {"user": "joe"}, id="details-prefix"),
        pytest.param("fields.User", "joe", {"user": "joe"}, id="fields-prefix-lowercased"),
        pytest.param("Details.User", "joe", {"user": "joe"}, id="prefix-any-case"),
        pytest.param("details.a.b", 1, {"a.b": 1}, id="further-dots-kept"),
        pytest.param("details.bytes_int", "12", {"bytes": 12}, id="int-from-text"),
        pytest.param("details.bytes_int", " -12 ", {"bytes": -12}, id="int-from-padded-text"),
        pytest.param("fields.bytes_int", 12, {"bytes": 12}, id="int-already"),
        pytest.param("details.ratio_float", "0.5", {"ratio": 0.5}, id="float-from-text"),
        pytest.param("details.ratio_float", 2, {"ratio": 2.0}, id="float-from-int"),
        pytest.param("details.ratio_float", "1e3", {"ratio": 1000.0}, id="float-exponent"),
        pytest.param("details.bytes_int", "twelve", {"bytes_int": "twelve"}, id="int-fails"),
        pytest.param("details.bytes_int", "1.5", {"bytes_int": "1.5"}, id="int-from-decimal"),
        pytest.param("details.bytes_int", 1.5, {"bytes_int": 1.5}, id="int-from-float"),
        pytest.param("details.bytes_int", True, {"bytes_int": True}, id="int-from-boolean"),
        pytest.param("details.bytes_int", None, {"bytes_int": None}, id="int-from-null"),
        pytest.param("details.bytes_int", [1], {"bytes_int": [1]}, id="int-from-array"),
        pytest.param("details.ratio_float", "half", {"ratio_float": "half"}, id="float-fails"),
        pytest.param("details.ratio_float", "nan", {"ratio_float": "nan"}, id="float-nan"),
        pytest.param("details.ratio_float", "inf", {"ratio_float": "inf"}, id="float-infinity"),
        pytest.param("details.ratio_float", False, {"ratio_float": False}, id="float-boolean"),
        pytest.param("bytes_int", "12", {"bytes_int": "12"}, id="undotted-not-cast"),
        pytest.param("details._int", "12", {"_empty": 12}, id="suffix-only"),
        pytest.param("details..bytes_int.", "12", {"bytes": 12}, id="fixed-then-cast"),
        pytest.param("details.a._int", "12", {"a": 12}, id="cast-then-fixed"),
    ],
)
def test_dotted_keys_move_into_details_with_casts(key, value, details) -> None:
    got = normalize({"timestamp": NETFLOW_TIME, key: value})["details"]
    assert got == details
    assert [type(item) for item in got.values()] == [type(item) for item in details.values()]


# Collisions lose nothing.


@pytest.mark.parametrize(
    ("raw", "details"),
    [
        pytest.param(
            {"details": {"User": "a", "user": "b"}},
            {"user": "a", "user_2": "b"},
            id="two-spellings",
        ),
        pytest.param(
            {"details": {"USER": 1, "User": 2, "user": 3}},
            {"user": 1, "user_2": 2, "user_3": 3},
            id="three-spellings",
        ),
        pytest.param(
            {"details": {"User": 1, "user_2": 2, "user": 3}},
            {"user": 1, "user_2": 2, "user_3": 3},
            id="suffix-already-taken",
        ),
        pytest.param(
            {"details": {"Nested": {"Key": 1, "key": 2}}},
            {"nested": {"key": 1, "key_2": 2}},
            id="nested",
        ),
        pytest.param(
            {"details": {"List": [{"A": 1, "a": 2}]}},
            {"list": [{"a": 1, "a_2": 2}]},
            id="inside-an-array",
        ),
        pytest.param({"Foo": 1, "foo": 2}, {"foo": 1, "foo_2": 2}, id="top-level-unknown"),
        pytest.param(
            {"user": "top", "details": {"user": "inner"}},
            {"user": "inner", "user_2": "top"},
            id="details-object-before-earlier-keys",
        ),
        pytest.param(
            {"fields": {"user": "fields"}, "details": {"user": "details"}},
            {"user": "details", "user_2": "fields"},
            id="details-object-before-fields",
        ),
        pytest.param(
            {"details": {"user": "details"}, "details.user": "dotted"},
            {"user": "details", "user_2": "dotted"},
            id="details-object-before-dotted",
        ),
        pytest.param(
            {"Details": {"a": 1}, "details": {"a": 2, "b": 3}},
            {"a": 1, "a_2": 2, "b": 3},
            id="two-details-objects",
        ),
        pytest.param(
            {"sourceip": "10.0.0.2", "details": {"eventsourceipaddress": "10.0.0.1"}},
            {"eventsourceipaddress": "10.0.0.1", "eventsourceipaddress_2": "10.0.0.2"},
            id="sourceip",
        ),
        pytest.param(
            {"host": "a", "hostname": "b", "details": {"host": "c"}},
            {"host": "c", "host_2": "a"},
            id="alias-loser",
        ),
        pytest.param(
            {"severity": "loud", "details": {"originalseverity": "x"}},
            {"originalseverity": "x", "originalseverity_2": "loud"},
            id="originalseverity",
        ),
    ],
)
def test_collisions_keep_every_value(raw, details) -> None:
    assert normalize({"timestamp": NETFLOW_TIME} | raw)["details"] == details


def test_an_unreadable_timestamp_collides_without_loss() -> None:
    event = normalize({"timestamp": "soon", "details": {"originaltimestamp": "x"}})
    assert event["details"] == {"originaltimestamp": "x", "originaltimestamp_2": "soon"}


# Keys and strings made indexable, in normalised and custom events alike.


def whole(event: dict) -> dict:
    """A custom event without the three fields accept_custom adds."""
    return {
        key: value
        for key, value in event.items()
        if key not in ("receivedtimestamp", "mozdefhostname", "customendpoint")
    }


def both_paths(raw: dict, **settings) -> tuple[dict, dict]:
    """What normalisation puts in details, and the custom event, for the same raw
    `details` object (sent at the top level of the custom event)."""
    made = normalizer(**settings)
    normalised = made.normalize({"timestamp": NETFLOW_TIME, "details": raw})
    return normalised["details"], whole(made.accept_custom(raw, "app"))


KEY_FIX_CASES = [
    # (raw details object, normalised details, custom event)
    pytest.param({".Hidden.": 1}, {"hidden": 1}, {"Hidden": 1}, id="dots-at-both-ends"),
    pytest.param({"A..B": 1}, {"a.b": 1}, {"A.B": 1}, id="dot-run"),
    pytest.param({"...a...b...": 1}, {"a.b": 1}, {"a.b": 1}, id="dots-everywhere"),
    pytest.param({"id.orig_h": "10.0.0.1"}, {"id.orig_h": "10.0.0.1"}, None, id="fine-dots-kept"),
    pytest.param({"": 1}, {"_empty": 1}, {"_empty": 1}, id="empty"),
    pytest.param({"  ": 1}, {"_empty": 1}, {"_empty": 1}, id="blank"),
    pytest.param({"...": 1}, {"_empty": 1}, {"_empty": 1}, id="only-dots"),
    pytest.param({". .": 1}, {"_empty": 1}, {"_empty": 1}, id="dots-and-blank"),
    pytest.param(
        {"Outer": {"X..Y": {"": "deep"}}},
        {"outer": {"x.y": {"_empty": "deep"}}},
        {"Outer": {"X.Y": {"_empty": "deep"}}},
        id="nested",
    ),
    pytest.param(
        {"Pods": [{".Name": "web"}, [{"": 2}], "not.an.object."]},
        {"pods": [{"name": "web"}, [{"_empty": 2}], "not.an.object."]},  # values untouched
        {"Pods": [{"Name": "web"}, [{"_empty": 2}], "not.an.object."]},
        id="inside-arrays",
    ),
    pytest.param(
        {"a.b": 1, "a..b": 2, ".a.b": 3},
        {"a.b": 1, "a.b_2": 2, "a.b_3": 3},
        None,
        id="collision-after-fixing",
    ),
    pytest.param(
        {"": 1, " ": 2, "_empty": 3},
        {"_empty": 1, "_empty_2": 2, "_empty_3": 3},
        None,
        id="collision-of-empty-keys",
    ),
    pytest.param(
        {"User.": 1, "user": 2},
        {"user": 1, "user_2": 2},
        {"User": 1, "user": 2},  # custom keys keep their case, so no collision
        id="collision-with-lowercasing",
    ),
]


@pytest.mark.parametrize(("raw", "normalised", "custom"), KEY_FIX_CASES)
def test_keys_are_made_indexable(raw, normalised, custom) -> None:
    got_normalised, got_custom = both_paths(raw)
    assert got_normalised == normalised
    assert got_custom == (normalised if custom is None else custom)


@pytest.mark.parametrize(
    ("raw", "details"),
    [
        pytest.param({".Odd.": 1}, {"odd": 1}, id="top-level-unknown"),
        pytest.param({"": 1, "@": 2}, {"_empty": 1, "_empty_2": 2}, id="top-level-empty"),
        pytest.param({"details..user": "joe"}, {"user": "joe"}, id="dotted"),
        pytest.param({"details.": "x"}, {"_empty": "x"}, id="dotted-empty"),
        # Routing reads the key as sent: '.message' is no alias of summary.
        pytest.param({".message": "m"}, {"message": "m"}, id="fixed-after-routing"),
        pytest.param({"x.": 1, "X": 2}, {"x": 1, "x_2": 2}, id="top-level-collision"),
        pytest.param(
            {"fields": {"a..b": 1}, "details.a.b": 2},
            {"a.b": 1, "a.b_2": 2},
            id="merged-collision",
        ),
    ],
)
def test_top_level_keys_are_made_indexable(raw, details) -> None:
    event = normalize({"timestamp": NETFLOW_TIME} | raw)
    assert event["details"] == details
    assert event["summary"] == ""


def test_key_fixes_follow_the_settings() -> None:
    raw = {".Hidden": 1, "a..b": 2, "": 3, "Big": "x" * 10}
    normalised, custom = both_paths(raw, strip_key_dots=False, empty_key_name="blank")
    assert normalised == {".hidden": 1, "a..b": 2, "blank": 3, "big": "x" * 10}
    assert custom == {".Hidden": 1, "a..b": 2, "blank": 3, "Big": "x" * 10}


def test_key_fixes_are_remembered_per_distinct_key() -> None:
    made = normalizer()
    for _ in range(2):  # the second time from the cache
        event = made.normalize({"A..B": 1, "details": {"C..D": {"": 2}}})
        assert event["details"] == {"c.d": {"_empty": 2}, "a.b": 1}
        custom = made.accept_custom({"A..B": 1, "C..D": {"": 2}}, "app")
        assert whole(custom) == {"A.B": 1, "C.D": {"_empty": 2}}


LONG = "type=EXECVE msg=audit(1715677801.098:4242): argc=3 a0=" + "41" * 3000
CUT = LONG[:3000] + " ..."


@pytest.mark.parametrize(
    ("raw", "normalised", "custom"),
    [
        pytest.param({"message": LONG}, {"summary": CUT}, {"message": CUT}, id="top-level-field"),
        pytest.param(
            {"Argv": LONG},
            {"details": {"argv": CUT}},
            {"Argv": CUT},
            id="top-level-detail",
        ),
        pytest.param(
            {"details": {"audit": {"raw": LONG}}},
            {"details": {"audit": {"raw": CUT}}},
            {"details": {"audit": {"raw": CUT}}},
            id="nested",
        ),
        pytest.param(
            {"details": {"argv": ["/bin/sh", "-c", LONG, [LONG]]}},
            {"details": {"argv": ["/bin/sh", "-c", CUT, [CUT]]}},
            {"details": {"argv": ["/bin/sh", "-c", CUT, [CUT]]}},
            id="inside-arrays",
        ),
        pytest.param({"tags": [LONG]}, {"tags": [CUT]}, {"tags": [CUT]}, id="tags"),
        pytest.param(
            {"details": {"exactly": LONG[:3000]}},
            {"details": {"exactly": LONG[:3000]}},
            {"details": {"exactly": LONG[:3000]}},
            id="at-the-limit-kept",
        ),
    ],
)
def test_long_strings_are_cut(raw, normalised, custom) -> None:
    before = copy.deepcopy(raw)
    made = normalizer()
    event = made.normalize({"timestamp": NETFLOW_TIME} | raw)
    assert {key: event[key] for key in normalised} == normalised
    assert whole(made.accept_custom(raw, "app")) == custom
    assert raw == before


@pytest.mark.parametrize(
    ("settings", "length", "result"),
    [
        pytest.param({"truncate_strings_at": 100}, 101, "x" * 100 + " ...", id="shorter-limit"),
        pytest.param({"truncate_strings_at": 100}, 100, "x" * 100, id="at-a-shorter-limit"),
        pytest.param({"truncate_strings_at": 0}, 5000, "x" * 5000, id="never"),
        pytest.param(
            {"truncate_strings_at": 100, "max_string_length": 200},
            200,
            "x" * 100 + " ...",
            id="cut-under-the-maximum",
        ),
        pytest.param(
            {"truncate_strings_at": 100, "max_string_length": 200},
            201,
            "a string of 201 characters, over max_string_length (200), at details.text",
            id="over-the-maximum-rejected",
        ),
        pytest.param(
            {"truncate_strings_at": 300, "max_string_length": 200},
            201,
            "a string of 201 characters, over max_string_length (200), at details.text",
            id="cut-above-the-maximum-rejected",
        ),
        pytest.param(
            {"truncate_strings_at": 300, "max_string_length": 200},
            200,
            "x" * 200,
            id="cut-above-the-maximum-kept",
        ),
    ],
)
def test_cutting_follows_the_settings(settings, length, result) -> None:
    raw = {"details": {"text": "x" * length}}
    made = normalizer(**settings)
    if result.startswith("a string of"):
        for accept in (made.normalize, partial(made.accept_custom, application="app")):
            with pytest.raises(MalformedEvent) as caught:
                accept(raw)
            assert str(caught.value) == result
        return
    assert made.normalize(raw)["details"]["text"] == result
    assert made.accept_custom(raw, "app")["details"]["text"] == result


# The raw event is left as it came.


def test_the_raw_event_is_not_changed_and_shares_nothing() -> None:
    raw = {
        "Timestamp": "Nov 21 22:10:05",
        "Severity": "loud",
        "Tags": ["a"],
        "Details": {"User": {"Name": "joe"}, "IDs": [1, {"X": 2}]},
        "Fields": {"Team": "infra"},
        "details.bytes_int": "12",
        "Other": [{"Y": 3}],
    }
    before = copy.deepcopy(raw)
    event = normalize(raw)
    assert raw == before
    event["tags"].append("b")
    event["details"]["user"]["name"] = "changed"
    event["details"]["ids"][1]["x"] = "changed"
    event["details"]["other"][0]["y"] = "changed"
    assert raw == before


# Malformed input.


@pytest.mark.parametrize(
    ("raw", "settings", "reason"),
    [
        pytest.param([], {}, "an event must be a JSON object, not an array", id="array"),
        pytest.param("{}", {}, "an event must be a JSON object, not a string", id="string"),
        pytest.param(42, {}, "an event must be a JSON object, not a number", id="number"),
        pytest.param(None, {}, "an event must be a JSON object, not null", id="null"),
        pytest.param(True, {}, "an event must be a JSON object, not a boolean", id="boolean"),
        pytest.param(
            {"details": {"a": {"b": 1}}},
            {"max_depth": 2},
            "nested deeper than max_depth (2), at details.a",
            id="too-deep",
        ),
        pytest.param(
            {"tags": [["x"]]},
            {"max_depth": 2},
            "nested deeper than max_depth (2), at tags[0]",
            id="too-deep-in-arrays",
        ),
        pytest.param(
            {"Toolong": 1},
            {"max_key_length": 5},
            "key 'Toolong' is 7 characters long, over max_key_length (5), at the top level",
            id="key-too-long",
        ),
        pytest.param(
            {"x": {"List": [{"Toolong": 1}]}},
            {"max_key_length": 5},
            "key 'Toolong' is 7 characters long, over max_key_length (5), at x.List[0]",
            id="nested-key-too-long",
        ),
        pytest.param(
            {"summary": "abcd"},
            {"max_string_length": 3},
            "a string of 4 characters, over max_string_length (3), at summary",
            id="string-too-long",
        ),
        pytest.param(
            {"details": {"Body": ["ok", "abcd"]}},
            {"max_string_length": 3},
            "a string of 4 characters, over max_string_length (3), at details.Body[1]",
            id="nested-string-too-long",
        ),
        pytest.param(
            {"a": 1, "b": 2, "c": 3, "d": 4},
            {"max_keys": 3},
            "more than max_keys (3) keys, at the top level",
            id="too-many-keys",
        ),
        pytest.param(
            {"a": {"b": 1, "c": 2}, "d": 1},
            {"max_keys": 3},
            "more than max_keys (3) keys, at a",
            id="too-many-keys-counting-nested",
        ),
        pytest.param(
            {"tags": [{"a": 1}, {"b": 2}], "x": 1},
            {"max_keys": 3},
            "more than max_keys (3) keys, at tags[1]",
            id="too-many-keys-counting-arrays",
        ),
        pytest.param(
            {"details": {1: "x"}},
            {},
            "a key that is not a string: 1, at details",
            id="key-not-a-string",
        ),
    ],
)
def test_malformed_events_are_rejected_with_a_reason(raw, settings, reason) -> None:
    with pytest.raises(MalformedEvent) as caught:
        normalize(raw, **settings)
    assert str(caught.value) == reason


def test_limits_are_inclusive() -> None:
    event = normalize(
        {"details": {"abcde": "abc"}},
        max_depth=2,
        max_key_length=7,
        max_string_length=3,
        max_keys=2,
    )
    assert event["details"] == {"abcde": "abc"}


def test_a_long_key_is_shortened_in_the_reason() -> None:
    key = "k" * 300
    with pytest.raises(MalformedEvent) as caught:
        normalize({key: 1})
    assert f"key '{'k' * 40}…' is 300 characters long" in str(caught.value)
    assert key not in str(caught.value)


def test_keys_past_the_remembered_ones_are_still_read_and_checked(monkeypatch) -> None:
    monkeypatch.setattr(normalize_module, "KEY_CACHE_SIZE", 2)
    normaliser = normalizer(max_key_length=9)
    event = normaliser.normalize({"a": 1, "B": 2, "c": 3, "D": 4, "timestamp": NETFLOW_TIME})
    assert event["details"] == {"a": 1, "b": 2, "c": 3, "d": 4}
    assert event["timestamp"] == NETFLOW_TIME
    assert len(normaliser.routes) == 2
    with pytest.raises(MalformedEvent, match="over max_key_length"):
        normaliser.normalize({"a": 1, "much_too_long": 2})


# The custom endpoint.


def test_a_custom_event_keeps_its_keys_and_gains_receipt_fields() -> None:
    raw = {
        "Message": "backup done",
        "timestamp": "whenever",
        "Stats": {"Files": 12, "Bytes_int": "3"},
        "receivedtimestamp": "earlier",
    }
    before = copy.deepcopy(raw)
    event = normalizer().accept_custom(raw, "backups")
    assert event == {
        "Message": "backup done",
        "timestamp": "whenever",
        "Stats": {"Files": 12, "Bytes_int": "3"},
        "receivedtimestamp": RECEIVED_TEXT,
        "mozdefhostname": MOZDEF_HOST,
        "customendpoint": "backups",
    }
    event["Stats"]["Files"] = 0
    assert raw == before


@pytest.mark.parametrize(
    ("raw", "settings", "reason"),
    [
        pytest.param([{}], {}, "an event must be a JSON object, not an array", id="array"),
        pytest.param({"A": {"B": {}}}, {"max_depth": 2}, "max_depth (2), at A.B", id="too-deep"),
        pytest.param({"A": "abcd"}, {"max_string_length": 3}, "max_string_length", id="string"),
        pytest.param({"Abcdef": 1}, {"max_key_length": 5}, "max_key_length", id="key"),
        pytest.param({"A": {"B": 1}}, {"max_keys": 1}, "max_keys (1)", id="keys"),
    ],
)
def test_a_custom_event_is_checked_against_the_limits(raw, settings, reason) -> None:
    with pytest.raises(MalformedEvent, match=re.escape(reason)):
        normalizer(**settings).accept_custom(raw, "backups")


# Settings.


def test_settings_defaults() -> None:
    settings = NormalizeSettings()
    assert settings.syslog_timezone == "UTC"
    assert settings.max_depth == 32
    assert settings.max_key_length == 256
    assert settings.max_string_length == 1_048_576
    assert settings.max_keys == 10_000
    assert settings.truncate_strings_at == 3000
    assert settings.strip_key_dots is True
    assert settings.empty_key_name == "_empty"


def test_every_setting_is_described_for_the_reference() -> None:
    for name, info in NormalizeSettings.model_fields.items():
        assert info.description, name


@pytest.mark.parametrize(
    ("values", "message"),
    [
        pytest.param(
            {"syslog_timezone": "Mars/Olympus_Mons"},
            "not a known IANA time zone name (such as 'UTC' or 'Europe/Paris')",
            id="unknown-zone",
        ),
        pytest.param({"syslog_timezone": "../etc"}, "not a known IANA time zone", id="path-zone"),
        pytest.param({"max_depth": 0}, "greater than or equal to 1", id="depth-zero"),
        pytest.param({"max_depth": 501}, "less than or equal to 500", id="depth-over-500"),
        pytest.param({"max_keys": 0}, "greater than or equal to 1", id="keys-zero"),
        pytest.param({"max_key_length": 0}, "greater than or equal to 1", id="key-length-zero"),
        pytest.param({"max_string_length": 0}, "greater than or equal to 1", id="string-zero"),
        pytest.param({"truncate_strings_at": -1}, "greater than or equal to 0", id="cut-negative"),
        pytest.param({"empty_key_name": ""}, "must not be blank", id="empty-name-empty"),
        pytest.param({"empty_key_name": "  "}, "must not be blank", id="empty-name-blank"),
        pytest.param({"empty_key_name": "_Empty"}, "must be lowercase", id="empty-name-case"),
        pytest.param({"empty_key_name": ".empty"}, "must not start or end with a dot", id="dot-1"),
        pytest.param({"empty_key_name": "empty."}, "must not start or end with a dot", id="dot-2"),
        pytest.param({"empty_key_name": "a..b"}, "or hold two dots in a row", id="dot-run"),
        pytest.param({"strip_key_dots": "yes"}, "Input should be a valid boolean", id="not-bool"),
        pytest.param({"max_depht": 3}, "Extra inputs are not permitted", id="unknown-key"),
    ],
)
def test_bad_settings_are_refused(values, message) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        NormalizeSettings(**values)


def test_the_configured_zone_is_used_for_syslog_stamps() -> None:
    event = normalize({"timestamp": "Mar  9 22:10:05"}, syslog_timezone="America/New_York")
    assert event["timestamp"] == "2024-03-10T03:10:05.000000+00:00"


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (1, "DEBUG"),
        (2, "INFO"),
        ("3", "WARNING"),
        (4, "ERROR"),
        (5, "CRITICAL"),
        ("warn", "WARNING"),
    ],
)
def test_nxlog_severityvalue_is_read_on_nxlogs_own_scale(value, name) -> None:
    assert normalize({"severityvalue": value})["severity"] == name


def test_an_out_of_scale_severityvalue_is_kept() -> None:
    event = normalize({"SeverityValue": 7})
    assert (event["severity"], event["details"]["originalseverity"]) == ("INFO", 7)


@pytest.mark.parametrize(
    ("raw", "field", "value"),
    [
        ({"msg": "m", "payload": "p"}, "summary", "m"),
        ({"message": "a", "msg": "m"}, "summary", "a"),
        ({"programname": "sshd"}, "processname", "sshd"),
        ({"program": "cron", "programname": "sshd"}, "processname", "cron"),
        ({"procid": "42"}, "processid", "42"),
        ({"syslogseverity-text": "notice", "syslogseverity": 3}, "severity", "NOTICE"),
    ],
)
def test_rsyslog_property_names_are_aliases(raw, field, value) -> None:
    assert normalize(raw)[field] == value


@pytest.mark.parametrize(
    ("message", "summary"),
    [(" Failed password for root", "Failed password for root"), ("two\nlines \n", "two\nlines")],
)
def test_the_summary_loses_surrounding_whitespace(message, summary) -> None:
    assert normalize({"msg": message})["summary"] == summary
