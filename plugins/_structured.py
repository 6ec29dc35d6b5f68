"""What the parsers of structured records (Zeek, Suricata, CloudTrail) share.

These records arrive already split into fields, so parsing them is renaming: moving a
tool's own field names to MozDef's spelled-out ones, writing the endpoints into the
summary, and taking the event's time from the record's own clock field.
"""

from collections.abc import Mapping
from datetime import UTC, datetime

from mozdef.core.normalize import SYSLOG_SEVERITIES
from mozdef.core.timestamps import isoformat, parse_timestamp

# How the normaliser's note begins when an event came without a time and it used the
# receipt time; a parser that finds the time in the record withdraws that note.
NO_TIMESTAMP_NOTE = "no timestamp"


def move(source: dict, target: dict, names: Mapping[str, str]) -> None:
    """Move each key of `names` present in `source` to `target`, under its new name."""
    for old, new in names.items():
        if old in source:
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
        kept = [note for note in errors if not str(note).startswith(NO_TIMESTAMP_NOTE)]
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
