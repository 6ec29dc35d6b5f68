"""Suricata's EVE JSON records (eve.json): endpoints spelled out, alert severities in
MozDef's terms, and a summary for alerts, flows and the other event types.

Fields that MozDef names alike for every network source take those names (Zeek's conn
and http names where MozDef has none of its own); the rest keep Suricata's, under
`details`. A record is read when it has Suricata's `event_type` and a source address,
and either came as a Suricata event (`category` "suricata", or `source` "eve-log" as
MozDef's nsm shipper sent it) or carries Suricata's `flow_id`.
"""

import re

from pydantic import Field, field_validator

from mozdef.core import hookimpl
from mozdef.core.parsing import (
    PARSER_PRIORITY,
    add_tag,
    connection,
    move,
    set_event_time,
    severity_names,
)
from mozdef.core.schema import PluginSettings

# EVE event types that describe one connection, and so have endpoints to spell out.
EVENT_TYPES = (
    "alert",
    "anomaly",
    "dcerpc",
    "dhcp",
    "dns",
    "drop",
    "fileinfo",
    "flow",
    "ftp",
    "http",
    "http2",
    "ike",
    "krb5",
    "mqtt",
    "netflow",
    "nfs",
    "quic",
    "rdp",
    "rfb",
    "sip",
    "smb",
    "smtp",
    "snmp",
    "ssh",
    "tftp",
    "tls",
)
SHIPPED_SOURCES = ("eve-log", "suricata")

RECORD_FIELDS = {
    "src_ip": "sourceipaddress",
    "src_port": "sourceport",
    "dest_ip": "destinationipaddress",
    "dest_port": "destinationport",
    "flow_id": "flowid",
    "in_iface": "interface",
    "app_proto": "service",
}
FLOW_COUNTERS = {
    "bytes_toserver": "originipbytes",
    "bytes_toclient": "responseipbytes",
    "pkts_toserver": "orig_pkts",
    "pkts_toclient": "resp_pkts",
}
HTTP_FIELDS = {
    "hostname": "host",
    "url": "uri",
    "http_method": "method",
    "http_user_agent": "user_agent",
    "status": "status_code",
}
CAPTURES = ("payload", "payload_printable", "packet")
WHITESPACE = re.compile(r"\s")


class SuricataSettings(PluginSettings):
    """The `[plugins.suricata]` table."""

    priority: int = PARSER_PRIORITY
    severities: dict[str, str] = Field(
        {"1": "CRITICAL", "2": "WARNING", "3": "NOTICE"},
        description="MozDef severity of an alert, by the rule's severity (1 is the "
        "highest); alerts of a severity not listed keep the event's.",
    )
    max_capture_length: int = Field(
        4096,
        ge=1,
        description="Characters kept of an alert's captured `payload`, "
        "`payload_printable` and `packet`; the rest is cut.",
    )

    @field_validator("severities")
    @classmethod
    def known_severities(cls, mapping: dict[str, str]) -> dict[str, str]:
        return severity_names(mapping)


@hookimpl
def mozdef_plugin_settings() -> type[SuricataSettings]:
    return SuricataSettings


@hookimpl
def mozdef_event_registration() -> list:
    return [
        {"category": "suricata"},
        {"source": list(SHIPPED_SOURCES)},
        {"details.event_type": list(EVENT_TYPES)},
    ]


@hookimpl
def mozdef_process_event(event: dict, settings: SuricataSettings) -> dict | None:
    details = event.get("details")
    if not isinstance(details, dict):
        return None
    kind = details.get("event_type")
    if not isinstance(kind, str) or not ("src_ip" in details or "sourceipaddress" in details):
        return None
    shipped = event.get("category") == "suricata" or event.get("source") in SHIPPED_SOURCES
    if not (shipped or "flow_id" in details or "flowid" in details):
        return None
    if kind == "alert":
        recover_payload(event, details)
    move(details, details, RECORD_FIELDS)
    if isinstance(details.get("proto"), str):
        details["proto"] = details["proto"].lower()
    if "timestamp" in details:  # the record came inside a shipper's event
        set_event_time(event, details["timestamp"])
    for section, names in (("flow", FLOW_COUNTERS), ("http", HTTP_FIELDS)):
        if isinstance(details.get(section), dict):
            move(details[section], details, names)
    cut_captures(details, settings.max_capture_length)
    if kind == "alert":
        rule = details["alert"] if isinstance(details.get("alert"), dict) else {}
        severity = settings.severities.get(str(rule.get("severity")))
        if severity is not None:
            event["severity"] = severity
        event["summary"] = alert(details, rule)
    elif kind == "flow":
        event["summary"] = flow(details)
    else:
        event["summary"] = f"Suricata {kind}: {connection_and_protocol(details)}"
    event["category"] = "suricata"
    event["source"] = kind
    add_tag(event, "nsm")
    add_tag(event, f"suricata_{kind}")
    return event


def recover_payload(event: dict, details: dict) -> None:
    """Normalisation takes a bare alert's `payload` (base64, so without spaces) for the
    summary, which this parser rewrites: keep it as `details.payload` first."""
    summary = event.get("summary")
    if "payload" in details or not isinstance(summary, str):
        return
    if summary and WHITESPACE.search(summary) is None:
        details["payload"] = summary


def cut_captures(details: dict, limit: int) -> None:
    for name in CAPTURES:
        value = details.get(name)
        if isinstance(value, str) and len(value) > limit:
            details[name] = value[:limit]


def connection_and_protocol(details: dict) -> str:
    """`10.0.0.5:51514 -> 93.184.216.34:443 tcp (tls)`"""
    parts = [connection(details)]
    if details.get("proto"):
        parts.append(str(details["proto"]))
    if details.get("service"):
        parts.append(f"({details['service']})")
    return " ".join(parts)


def alert(details: dict, rule: dict) -> str:
    """`Suricata alert: ET SCAN Nmap (sid 2000001) 1.2.3.4:5555 -> 10.0.0.1:22`"""
    summary = (
        f"Suricata alert: {rule.get('signature', '?')} (sid {rule.get('signature_id', '?')}) "
        f"{connection(details)}"
    )
    return f"{summary} (blocked)" if rule.get("action") == "blocked" else summary


def flow(details: dict) -> str:
    """`Suricata flow: 10.0.0.5:51514 -> 93.184.216.34:443 tcp (tls) 12/10 packets
    1820/9400 bytes, closed (timeout)`"""
    parts = [f"Suricata flow: {connection_and_protocol(details)}"]
    if "orig_pkts" in details or "resp_pkts" in details:
        parts.append(f"{details.get('orig_pkts', 0)}/{details.get('resp_pkts', 0)} packets")
    if "originipbytes" in details or "responseipbytes" in details:
        sent, received = details.get("originipbytes", 0), details.get("responseipbytes", 0)
        parts.append(f"{sent}/{received} bytes")
    summary = " ".join(parts)
    state = details["flow"] if isinstance(details.get("flow"), dict) else {}
    if state.get("state"):
        summary += f", {state['state']}"
        if state.get("reason"):
            summary += f" ({state['reason']})"
    return summary
