"""Zeek (formerly Bro) JSON logs: endpoints spelled out and a summary for each log type.

Zeek writes one JSON object per log line; shippers send it either bare (its keys then
land under `details`) or inside an event of their own. The log type is told by the
first of these that applies:

1. `category` or `source` is `zeek_<type>` or `bro_<type>` (Logstash's `type`, which
   normalisation turns into `category`; the `SOURCE` of MozDef's old nsm shipper);
2. `category` is `zeek` or `bro` and `source` names the type, or is the log's file path
   (`/opt/zeek/logs/current/conn.log`);
3. the record's own `_path`, or a `path` (normalisation makes it `eventsource`), names a
   standard Zeek log and the record has Zeek's `ts` or `uid`.

Zeek writes `id.orig_h` as a dotted key; some shippers nest it as `id: {orig_h}`. Both
are read.
"""

from typing import Literal, NamedTuple

from pydantic import Field, field_validator

from mozdef.core import hookimpl
from mozdef.core.parsing import (
    PARSER_PRIORITY,
    add_tag,
    connection,
    endpoint,
    move,
    set_event_time,
    severity_names,
    shorten,
)
from mozdef.core.schema import PluginSettings

# Zeek's standard logs: the values of `_path` this plugin trusts without shipper help.
LOG_TYPES = frozenset(
    {
        "conn",
        "dce_rpc",
        "dhcp",
        "dnp3",
        "dns",
        "dpd",
        "files",
        "ftp",
        "http",
        "intel",
        "irc",
        "kerberos",
        "known_certs",
        "known_hosts",
        "known_services",
        "ldap",
        "modbus",
        "mqtt",
        "mysql",
        "notice",
        "ntlm",
        "ntp",
        "ocsp",
        "pe",
        "quic",
        "radius",
        "rdp",
        "rfb",
        "signatures",
        "sip",
        "smb_files",
        "smb_mapping",
        "smtp",
        "snmp",
        "socks",
        "software",
        "ssh",
        "ssl",
        "syslog",
        "tunnel",
        "weird",
        "x509",
    }
)
SHIPPER_NAMES = ("zeek", "bro")
PREFIXED = sorted(f"{name}_{kind}" for name in SHIPPER_NAMES for kind in LOG_TYPES)
UNSET = "UNKNOWN"  # what normalisation puts in category and source when none came


class Group(NamedTuple):
    """Fields Zeek writes as `prefix.key`: their new names, by nested and dotted key."""

    prefix: str
    nested: dict[str, str]
    dotted: dict[str, str]


def group(prefix: str, names: dict[str, str]) -> Group:
    return Group(prefix, names, {f"{prefix}.{key}": new for key, new in names.items()})


ENDPOINTS = group(
    "id",
    {
        "orig_h": "sourceipaddress",
        "orig_p": "sourceport",
        "resp_h": "destinationipaddress",
        "resp_p": "destinationport",
    },
)
SEEN = group(
    "seen",
    {
        "indicator": "seenindicator",
        "indicator_type": "seenindicator_type",
        "where": "seenwhere",
        "node": "seennode",
    },
)
# Named as MozDef names them for every network source (Suricata's flows too).
CONN_COUNTERS = {"orig_ip_bytes": "originipbytes", "resp_ip_bytes": "responseipbytes"}
NOTICE_ENDPOINTS = {"src": "sourceipaddress", "dst": "destinationipaddress", "p": "destinationport"}
SUMMARY_ANSWERS = 3
SUMMARY_URI = 200
SUMMARY_USER_AGENT = 100


class ZeekSettings(PluginSettings):
    """The `[plugins.zeek]` table."""

    priority: int = PARSER_PRIORITY
    category: Literal["zeek", "bro"] = Field(
        "zeek",
        description="Category given to Zeek events; 'bro' keeps the name older MozDef "
        "alerts and dashboards query. Each event is also tagged `<category>_<log type>`.",
    )
    severities: dict[str, str] = Field(
        {"notice": "WARNING", "intel": "WARNING"},
        description="Severity given to events of a log type (e.g. notice = 'WARNING'); "
        "other log types keep theirs.",
    )

    @field_validator("severities")
    @classmethod
    def known_severities(cls, mapping: dict[str, str]) -> dict[str, str]:
        return severity_names(mapping)


@hookimpl
def mozdef_plugin_settings() -> type[ZeekSettings]:
    return ZeekSettings


@hookimpl
def mozdef_event_registration() -> list:
    return [
        {"category": [*SHIPPER_NAMES, *PREFIXED]},
        {"source": PREFIXED},
        {"details._path": sorted(LOG_TYPES)},
        {"eventsource": sorted(LOG_TYPES)},
    ]


@hookimpl
def mozdef_process_event(event: dict, settings: ZeekSettings) -> dict | None:
    details = event.get("details")
    if not isinstance(details, dict):
        return None
    found = identify(event, details)
    if found is None:
        return None
    kind, bare = found
    unnest(details, ENDPOINTS)
    if bare:
        reclaim_record_fields(event, details, kind)
    if "ts" in details:
        set_event_time(event, details["ts"])
    describe = DESCRIBERS.get(kind)
    event["summary"] = describe(details) if describe else other(details, kind)
    event["category"] = settings.category
    event["source"] = kind
    add_tag(event, "nsm")
    add_tag(event, f"{settings.category}_{kind}")
    severity = settings.severities.get(kind)
    if severity is not None:
        event["severity"] = severity
    return event


def identify(event: dict, details: dict) -> tuple[str, bool] | None:
    """(log type, whether the record came bare: with no category from a shipper), or None."""
    category, source = event.get("category"), event.get("source")
    for value in (category, source):
        if isinstance(value, str):
            prefix, underscore, kind = value.partition("_")
            if underscore and kind and prefix in SHIPPER_NAMES:
                return kind, False
    if category in SHIPPER_NAMES and isinstance(source, str):
        kind = log_name(source)
        if kind and kind != UNSET:
            return kind, False
    if "ts" in details or "uid" in details:
        for value in (details.get("_path"), event.get("eventsource")):
            kind = log_name(value) if isinstance(value, str) else None
            if kind in LOG_TYPES:
                return kind, category == UNSET
    return None


def log_name(value: str) -> str:
    """`conn`, from `conn` or from a log file's path such as `/logs/current/conn.log`."""
    return value.rpartition("/")[2].partition(".")[0] if "/" in value or "." in value else value


def unnest(details: dict, fields: Group) -> None:
    """Move each of the group's fields to its new name, whether dotted or nested."""
    move(details, details, fields.dotted)
    nested = details.get(fields.prefix)
    if isinstance(nested, dict):
        move(nested, details, fields.nested)
        if not nested:
            del details[fields.prefix]


def reclaim_record_fields(event: dict, details: dict, kind: str) -> None:
    """Normalisation reads a bare record's top-level `source` (files.log, weird.log),
    `host` (http.log: the request's Host header) and `msg` (notice.log) as the event's
    own `source`, `hostname` and `summary`; put them back under `details`, where the
    rest of the record is."""
    source = event.get("source")
    if source not in (None, UNSET) and "source" not in details:
        details["source"] = source
    hostname = event.get("hostname")
    if kind == "http" and hostname not in (None, UNSET) and "host" not in details:
        details["host"] = hostname
        event["hostname"] = UNSET
    if kind == "notice" and event.get("summary") and "msg" not in details:
        details["msg"] = event["summary"]


def seconds(value: object) -> str:
    """`1.2s`, `0.000412s`: tenths from a second up, three significant digits below."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:.1f}s" if value >= 1 else f"{value:.3g}s"
    return f"{value}s"


def conn(details: dict) -> str:
    """`10.0.0.1:52341 -> 93.184.216.34:443 tcp (ssl) 1.2s 512/8192 bytes`"""
    move(details, details, CONN_COUNTERS)
    parts = [connection(details)]
    if details.get("proto"):
        parts.append(str(details["proto"]))
    if details.get("service"):
        parts.append(f"({details['service']})")
    if details.get("duration") is not None:
        parts.append(seconds(details["duration"]))
    sent, received = details.get("orig_bytes"), details.get("resp_bytes")
    if sent is not None or received is not None:
        parts.append(f"{sent or 0}/{received or 0} bytes")
    return " ".join(parts)


def dns(details: dict) -> str:
    """`DNS A www.example.com -> 93.184.216.34`, or the response code if nothing came back."""
    qtype = details.get("qtype_name") or details.get("qtype") or "?"
    answers = details.get("answers")
    if isinstance(answers, list) and answers:
        shown = ", ".join(str(answer) for answer in answers[:SUMMARY_ANSWERS])
        extra = len(answers) - SUMMARY_ANSWERS
        answer = f"{shown} (+{extra} more)" if extra > 0 else shown
    else:
        answer = answers or details.get("rcode_name") or "no answer"
    return f"DNS {qtype} {details.get('query') or '?'} -> {answer}"


def http(details: dict) -> str:
    """`GET example.com/index.html 200 (Mozilla/5.0 ...)`"""
    host = details.get("host") or details.get("destinationipaddress") or "?"
    uri = shorten(str(details.get("uri") or ""), SUMMARY_URI)
    parts = [str(details.get("method") or "-"), f"{host}{uri}"]
    if details.get("status_code") is not None:
        parts.append(str(details["status_code"]))
    if details.get("user_agent"):
        parts.append(f"({shorten(str(details['user_agent']), SUMMARY_USER_AGENT)})")
    return " ".join(parts)


def ssl(details: dict) -> str:
    """`SSL: 10.0.0.1 -> example.com TLSv13 established`"""
    target = details.get("server_name") or endpoint(
        details.get("destinationipaddress", "?"), details.get("destinationport")
    )
    parts = [f"SSL: {details.get('sourceipaddress', '?')} -> {target}"]
    if details.get("version"):
        parts.append(str(details["version"]))
    established = details.get("established")
    if isinstance(established, bool):
        parts.append("established" if established else "not established")
    return " ".join(parts)


def notice(details: dict) -> str:
    """`Scan::Port_Scan: 10.0.0.5 scanned at least 15 unique ports ...`"""
    unset = {old: new for old, new in NOTICE_ENDPOINTS.items() if new not in details}
    move(details, details, unset)
    note = details.get("note") or "Notice"
    return f"{note}: {details['msg']}" if details.get("msg") else str(note)


def intel(details: dict) -> str:
    """`Intel hit on evil.example.com (Intel::DOMAIN) seen in DNS::IN_REQUEST`"""
    unnest(details, SEEN)
    return (
        f"Intel hit on {details.get('seenindicator', '?')} "
        f"({details.get('seenindicator_type', '?')}) seen in {details.get('seenwhere', '?')}"
    )


def other(details: dict, kind: str) -> str:
    """`Zeek weird: 10.0.0.1:4242 -> 10.0.0.2:80`, for logs without a summary of their own."""
    if "sourceipaddress" in details or "destinationipaddress" in details:
        return f"Zeek {kind}: {connection(details)}"
    return f"Zeek {kind}"


# Per log type: spell out that type's own fields, and return its summary.
DESCRIBERS = {"conn": conn, "dns": dns, "http": http, "ssl": ssl, "notice": notice, "intel": intel}
