"""What the parser plugins share: reading addresses and numbers out of log text, PAM's
lines (pam_unix logs them alike for sshd, su, sudo...), the settings of a parser that
picks its events by process name, and writing the parsed fields onto the event; for
records that arrive already split into fields (Zeek, Suricata, CloudTrail), renaming
those fields, writing endpoints and taking the event's time from the record.

Parsers run on untrusted text, so every reader here returns None for text it does not
recognise instead of raising.
"""

import functools
import ipaddress
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from pydantic import Field

from mozdef.core.hookspecs import hookimpl
from mozdef.core.normalize import NO_TIMESTAMP_NOTE, SYSLOG_SEVERITIES
from mozdef.core.schema import PluginSettings
from mozdef.core.timestamps import isoformat, parse_timestamp

PARSER_PRIORITY = 50


def processnames_field(*names: str) -> Any:
    """The `processnames` key of a parser's settings, defaulting to `names`."""
    return Field(
        list(names),
        min_length=1,
        description="Values of `processname` whose events this parser reads.",
    )


class ProgramParserSettings(PluginSettings):
    """A parser of one program's syslog lines; subclasses set the default process names
    with `processnames_field`."""

    priority: int = PARSER_PRIORITY
    processnames: list[str] = processnames_field()


class Parsed(NamedTuple):
    """One recognised line: the event's category, the details it adds and, when the raw
    line is not a good one, a new summary."""

    category: str
    fields: dict[str, Any]
    summary: str | None = None


class LineParser:
    """A plugin that reads one program's syslog lines: the events of its process names
    go to `parse`, and what that recognises is written onto the event and tagged.

    A parser module builds one and publishes it as its entry point, e.g.
    `plugin = LineParser(SshdSettings, parse, tag="sshd")`.
    """

    def __init__(
        self,
        settings: type[ProgramParserSettings],
        parse: Callable[[str], Parsed | None],
        tag: str,
    ) -> None:
        self.settings = settings
        self.parse = parse
        self.tag = tag

    @hookimpl
    def mozdef_plugin_settings(self) -> type[ProgramParserSettings]:
        return self.settings

    @hookimpl
    def mozdef_event_registration(self, settings: ProgramParserSettings) -> dict:
        return {"processname": list(settings.processnames)}

    @hookimpl
    def mozdef_process_event(self, event: dict) -> dict | None:
        line = message(event)
        parsed = self.parse(line) if line else None
        if parsed is None:
            return None
        apply(event, parsed)
        add_tag(event, self.tag)
        return event


def apply(event: dict, parsed: Parsed) -> None:
    """Set the parse's category, summary and fields, leaving out those that are None."""
    details = event["details"]
    for key, value in parsed.fields.items():
        if value is not None:
            details[key] = value
    event["category"] = parsed.category
    if parsed.summary is not None:
        event["summary"] = parsed.summary


def add_tag(event: dict, tag: str) -> None:
    tags = event["tags"]
    if tag not in tags:
        tags.append(tag)


def message(event: dict) -> str | None:
    """The raw log line, which normalisation leaves in `summary`, without the space that
    syslog puts in front of it."""
    summary = event.get("summary")
    return summary.strip() if isinstance(summary, str) else None


def ip_address(value: object) -> str | None:
    """`value` as an IP address in canonical form (an IPv4-mapped IPv6 address as the
    IPv4 address), or None if it is not one."""
    return canonical_ip(value) if isinstance(value, str) else None


@functools.lru_cache(maxsize=16384)
def canonical_ip(text: str) -> str | None:
    # Cached: the same few addresses fill most of any log.
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def source(text: str | None) -> dict[str, str]:
    """Where a connection came from: `sourceipaddress` if `text` is an address, else
    `sourcehostname` (daemons log names when they resolve their clients)."""
    if not text or text == "-":
        return {}
    address = ip_address(text)
    return {"sourceipaddress": address} if address else {"sourcehostname": text}


def number(value: object) -> int | None:
    """A non-negative integer written in ASCII digits (or given as an int), else None."""
    if type(value) is int:
        return value
    if type(value) is str and value.isascii() and value.isdigit():
        return int(value)
    return None


def port(value: object) -> int | None:
    """A TCP or UDP port, 1-65535; None for anything else, including the 0 and '-' that
    logs write when there is no port."""
    value = number(value)
    return value if value is not None and 0 < value < 65536 else None


def shorten(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, the cut marked with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


PAM_SESSION = re.compile(
    r"pam_unix\((?P<service>[^:()\s]+):session\): session (?P<state>opened|closed) "
    r"for user (?P<user>[^\s(]+)(?:\(uid=\d+\))?"
    r"(?: by (?P<by>[^\s(]*)(?:\(uid=\d+\))?)?$"
)
PAM_AUTH_FAILURE = re.compile(
    r"pam_unix\((?P<service>[^:()\s]+):auth\): authentication failure;(?P<pairs>.*)$"
)
PAM_PAIR = re.compile(r"(\w+)=(\S*)")


class PamSession(NamedTuple):
    """`session opened for user root(uid=0) by bob(uid=1000)`: who, and on whose behalf."""

    service: str
    opened: bool
    user: str
    by: str | None


def pam_session(line: str) -> PamSession | None:
    match = PAM_SESSION.match(line)
    if match is None:
        return None
    service, state, user, by = match.groups()
    return PamSession(service, state == "opened", user, by or None)


def pam_auth_failure(line: str) -> tuple[str, dict[str, str]] | None:
    """`authentication failure; logname= uid=0 ... rhost=1.2.3.4  user=root`: the PAM
    service and its non-empty key=value pairs."""
    match = PAM_AUTH_FAILURE.match(line)
    if match is None:
        return None
    pairs = {key: value for key, value in PAM_PAIR.findall(match["pairs"]) if value}
    return match["service"], pairs


def move(source: dict, target: dict, names: Mapping[str, str]) -> None:
    """Move each key of `names` present in `source` to `target`, under its new name,
    unless `target` already has that name (ipfixup may have filled it from another
    alias and checked it): then the value stays where it was, so nothing is lost."""
    for old, new in names.items():
        if old in source and target.get(new) is None:
            target[new] = source.pop(old)


def endpoint(address: object, port: object = None) -> str:
    """`10.0.0.1:443`, `[2001:db8::1]:443`, or the address alone when there is no port."""
    if port is None:
        return str(address)
    text = str(address)
    return f"[{text}]:{port}" if ":" in text else f"{text}:{port}"


def connection(details: dict) -> str:
    """`10.0.0.1:52341 -> 93.184.216.34:443`, from the spelled-out endpoint fields."""
    source = endpoint(details.get("sourceipaddress", "?"), details.get("sourceport"))
    target = endpoint(details.get("destinationipaddress", "?"), details.get("destinationport"))
    return f"{source} -> {target}"


def set_event_time(event: dict, value: object) -> bool:
    """Set `timestamp` and `utctimestamp` from a time field of the record (epoch number
    or ISO 8601); False, and nothing changed, if it cannot be read."""
    moment = parse_timestamp(value, now=datetime.now(UTC), syslog_tz=UTC)
    if moment is None:
        return False
    event["timestamp"] = event["utctimestamp"] = isoformat(moment)
    notes = event.get("mozdef")
    errors = notes.get("errors") if isinstance(notes, dict) else None
    if isinstance(errors, list):
        kept = [note for note in errors if note != NO_TIMESTAMP_NOTE]
        if kept:
            notes["errors"] = kept
        else:
            del notes["errors"]
            if not notes:
                del event["mozdef"]
    return True


def severity_names(mapping: dict[str, str]) -> dict[str, str]:
    """A settings validator's check: every value a MozDef severity, given in capitals."""
    unknown = sorted({value for value in mapping.values() if value not in SYSLOG_SEVERITIES})
    if unknown:
        raise ValueError(f"{', '.join(unknown)}: expected one of {', '.join(SYSLOG_SEVERITIES)}")
    return mapping
