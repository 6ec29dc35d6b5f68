"""CEF (ArcSight's Common Event Format) lines read into MozDef events.

A line is `CEF:Version|Device Vendor|Device Product|Device Version|Signature ID|Name|
Severity|Extension`, often behind a syslog header (`<134>Sep 19 08:26:10 host CEF:0|...`).
In the seven header fields a backslash escapes `|` and `\\`; in the extension, a list of
`key=value` pairs separated by spaces (values may hold spaces), it escapes `=` and `\\`,
and `\\n` and `\\r` stand for line breaks.

The standard extension keys become MozDef's spelled-out `details` fields (`src` is
`sourceipaddress`, `dpt` is `destinationport`...); `msg` becomes the summary (else the
Name does); custom fields given a label (`cs1=... cs1Label=Rule`) take the label as their
name; other keys are kept lowercased. The header's fields go to `details` too, and the
CEF severity (0-10, or Low/Medium/High/Very-High) becomes a MozDef severity.
"""

import re

from mozdef.core.timestamps import MONTHS

# Standard extension keys (lowercased) and the details field each becomes.
FIELD_NAMES = {
    "act": "action",
    "app": "applicationprotocol",
    "cat": "devicecategory",
    "cnt": "count",
    "dhost": "destinationhostname",
    "dmac": "destinationmacaddress",
    "dntdom": "destinationntdomain",
    "dpid": "destinationprocessid",
    "dpriv": "destinationuserprivileges",
    "dproc": "destinationprocessname",
    "dpt": "destinationport",
    "dst": "destinationipaddress",
    "duid": "destinationuserid",
    "duser": "destinationusername",
    "dvc": "deviceaddress",
    "dvchost": "devicehostname",
    "dvcpid": "deviceprocessid",
    "dtz": "devicetimezone",
    "end": "endtime",
    "fname": "filename",
    "fsize": "filesize",
    "in": "bytesin",
    "out": "bytesout",
    "proto": "transportprotocol",
    "request": "requesturl",
    "requestclientapplication": "useragent",
    "rt": "receipttime",
    "shost": "sourcehostname",
    "smac": "sourcemacaddress",
    "sntdom": "sourcentdomain",
    "spid": "sourceprocessid",
    "spriv": "sourceuserprivileges",
    "sproc": "sourceprocessname",
    "spt": "sourceport",
    "src": "sourceipaddress",
    "start": "starttime",
    "suid": "sourceuserid",
    "suser": "sourceusername",
    "sourcetranslatedaddress": "sourcenatipaddress",
    "sourcetranslatedport": "sourcenatport",
    "destinationtranslatedaddress": "destinationnatipaddress",
    "destinationtranslatedport": "destinationnatport",
    "deviceinboundinterface": "inboundinterface",
    "deviceoutboundinterface": "outboundinterface",
}
NUMBERS = frozenset(
    (
        "cnt",
        "dpid",
        "dpt",
        "dvcpid",
        "fsize",
        "in",
        "out",
        "spid",
        "spt",
        "sourcetranslatedport",
        "destinationtranslatedport",
    )
)
TIMES = ("rt", "end", "start")  # the event's time: the first of these present
SEVERITY_WORDS = {"low": "INFO", "medium": "WARNING", "high": "ERROR", "very-high": "CRITICAL"}
HEADER_NAMES = ("devicevendor", "deviceproduct", "deviceversion", "signatureid", "name")

HEADER_FIELD = re.compile(r"((?:\\.|[^\\|])*)\|")
# A key: word characters after a space (or at the start) and before an unescaped '='.
EXTENSION_KEY = re.compile(r"(?:^|(?<= ))([A-Za-z0-9_.\[\]-]+)=")
ESCAPE = re.compile(r"\\(.)")
UNESCAPED = {"\\": "\\", "=": "=", "|": "|", "n": "\n", "r": "\r"}
SYSLOG_HEADER = re.compile(
    r"(?:<\d{1,3}>)?(?P<time>[A-Z][a-z]{2} +\d{1,2}(?: \d{4})? \d\d:\d\d:\d\d) (?P<host>\S+)$"
)
CEF_TIME = re.compile(
    r"(?P<month>[A-Za-z]{3}) +(?P<day>\d{1,2}) (?P<year>\d{4}) (?P<clock>\d\d:\d\d:\d\d)"
    r"(?:\.(?P<fraction>\d{1,3}))?(?: (?P<zone>\S+))?$"
)
UTC_NAMES = frozenset(("utc", "gmt", "z"))


class CefError(ValueError):
    """A line that is not CEF; str(exc) says why."""


def parse_cef(line: str) -> dict:
    """A raw MozDef event (to be normalised) from one CEF line; raises `CefError`."""
    start = line.find("CEF:")
    if start < 0:
        raise CefError("not a CEF line: no 'CEF:' in it")
    fields, position = [], start + len("CEF:")
    for _ in range(7):
        match = HEADER_FIELD.match(line, position)
        if match is None:
            raise CefError(f"a CEF header has 7 fields separated by '|', found {len(fields)}")
        fields.append(unescape(match[1]))
        position = match.end()
    version, *named, severity = fields
    details: dict[str, object] = {
        "cefversion": version,
        **dict(zip(HEADER_NAMES, named, strict=True)),
    }
    details["cefseverity"] = severity
    event: dict[str, object] = {
        "category": "cef",
        "source": "cef",
        "processname": details["deviceproduct"],
        "summary": details["name"],
        "severity": severity_name(severity),
        "details": details,
    }
    read_syslog_header(line[:start].strip(), event, details)
    extension = read_extension(line[position:])
    if "msg" in extension:
        event["summary"] = extension.pop("msg")
    for key in TIMES:
        if key in extension:
            event["timestamp"] = cef_time(extension[key])
            break
    host = extension.get("dvchost") or extension.get("dvc")
    if host:
        event["hostname"] = host
    for key, text in extension.items():
        value = int(text) if key in NUMBERS and text.isdecimal() else text
        details.setdefault(FIELD_NAMES.get(key, key), value)
    return event


def read_extension(text: str) -> dict[str, str]:
    """{lowercased key: unescaped value}, with labelled custom fields named by their label."""
    matches = list(EXTENSION_KEY.finditer(text))
    pairs: dict[str, str] = {}
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        end = following.start() if following else len(text)
        pairs[match[1].lower()] = unescape(text[match.end() : end].rstrip())
    for key in [key for key in pairs if key.endswith("label")]:
        custom = key.removesuffix("label")
        label = "_".join(pairs.pop(key).lower().split())
        if custom in pairs and label and label not in pairs:
            pairs[label] = pairs.pop(custom)
    return pairs


def read_syslog_header(prefix: str, event: dict, details: dict) -> None:
    """The time and host of a syslog header before 'CEF:'; another prefix is kept as is."""
    if not prefix:
        return
    match = SYSLOG_HEADER.match(prefix)
    if match is None:
        details["prefix"] = prefix
        return
    event["timestamp"] = cef_time(match["time"])
    event["hostname"] = match["host"]


def unescape(text: str) -> str:
    if "\\" not in text:
        return text
    return ESCAPE.sub(lambda match: UNESCAPED.get(match[1], match[0]), text)


def severity_name(value: str) -> str:
    """CEF's 0-10 scale (0-3 low, 4-6 medium, 7-8 high, 9-10 very high) or its words."""
    text = value.strip().lower()
    if text.isdecimal():
        number = int(text)
        if number <= 3:
            return "INFO"
        if number <= 6:
            return "WARNING"
        return "ERROR" if number <= 8 else "CRITICAL"
    return SEVERITY_WORDS.get(text, "INFO")


def cef_time(text: str) -> object:
    """CEF's time forms, made readable by the normaliser: epoch milliseconds become a
    number and 'MMM dd yyyy HH:mm:ss[.SSS] [zone]' becomes ISO 8601 (a zone other than
    UTC/GMT is ambiguous and ignored, so syslog_timezone applies); others pass as they
    are ('MMM dd HH:mm:ss' is syslog's own form)."""
    if text.isdecimal():
        return int(text)
    match = CEF_TIME.match(text)
    month = MONTHS.get(match["month"].lower()) if match else None
    if match is None or month is None:
        return text
    fraction = f".{match['fraction']:0<3}" if match["fraction"] else ""
    zone = "+00:00" if (match["zone"] or "").lower() in UTC_NAMES else ""
    day = int(match["day"])
    return f"{match['year']}-{month:02d}-{day:02d}T{match['clock']}{fraction}{zone}"
