"""Raw incoming events brought to the MozDef event schema, before the plugin chain.

Shippers (nxlog, Logstash, heka, beaver, rsyslog...) name the same things differently;
plugins and alerts can rely on one schema only if every event is brought to it first.
This runs on every event, so what a key means is worked out once per distinct key and
remembered, and each event is walked once: that walk checks the limits, lowercases and
fixes the keys, shortens long strings and copies the event, all together.

What `Normalizer.normalize` does:

- Keys are lowercased at every depth; a leading '@' is stripped from top-level keys.
- Keys are made indexable at every depth: dots stripped from both ends and runs of dots
  collapsed (an index reads dots as nesting), and empty or blank keys renamed.
- Strings longer than `truncate_strings_at` are cut there and marked with " ...".
- Top-level keys listed in `ALIASES` fill the schema field they are listed under. When
  several for one field are present, the field's own name wins, then the aliases in the
  order listed; the losers are kept under `details` by their own names.
- `details` and `fields` objects are merged into `details`; `details.x` and `fields.x`
  keys become `details.x`, and one ending `_int` or `_float` is cast and loses the
  suffix (if the cast fails it keeps both its name and its value; the suffix is read
  after the key is made indexable); `sourceip` becomes
  `details.eventsourceipaddress`; every other top-level key moves under `details`.
- Collisions lose nothing: the first key to claim a name keeps it and later ones are
  renamed `<name>_2`, `<name>_3`... Keys are taken in the event's order, except that the
  `details` object's own keys come before everything else merged into it.
- Missing fields default to 'UNKNOWN' (hostname, processname, processid, category,
  source), '' (summary), 'INFO' (severity), [] (tags) and {} (details); `eventsource`
  is set only when the event has one.
- `timestamp` and `utctimestamp` are both set to the event's time in UTC (see
  `mozdef.core.timestamps`). If that is missing or unreadable the receipt time is used,
  a note is added to `mozdef.errors`, and an unreadable value is kept as
  `details.originaltimestamp`.
- Severity becomes an RFC 5424 name in capitals; one that cannot be read becomes INFO
  and is kept as `details.originalseverity`.
- `receivedtimestamp` (the clock's time) and `mozdefhostname` are always set; values of
  those keys that came with the event move under `details`.

The raw event is never modified and the result shares no object or array with it, so
the caller can still dead-letter the original as it arrived. Events for the custom
endpoint (`Normalizer.accept_custom`) skip aliasing and keep their keys' case, but get
the same limits, key fixes and shortening, since they must be indexable too.
"""

import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from math import isfinite
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from mozdef.core.event import note_error
from mozdef.core.schema import Section
from mozdef.core.timestamps import isoformat, parse_timestamp

# Each schema field and the top-level keys that fill it, in order of precedence.
# rsyslog's own property names (msg, syslogseverity-text, procid, programname) are
# here too: its JSON templates usually send them as they are.
ALIASES: dict[str, tuple[str, ...]] = {
    "summary": ("summary", "message", "msg", "payload"),
    "timestamp": ("timestamp", "eventtime", "utctimestamp", "date"),
    "hostname": ("hostname", "source_host", "host"),
    "severity": (
        "severity",
        "syslogseverity-text",
        "syslogseverity",
        "severityvalue",
        "level",
        "priority",
    ),
    "processid": ("processid", "pid", "procid"),
    "processname": ("processname", "pname", "sourcename", "program", "programname"),
    "eventsource": ("eventsource", "path", "logger", "file"),
    "category": ("category", "type", "eventtype"),
    "source": ("source", "facility"),
    "tags": ("tags",),
}
# Alias -> (schema field, rank); the lowest rank present wins.
FIELD_RANKS = {
    alias: (name, rank) for name, aliases in ALIASES.items() for rank, alias in enumerate(aliases)
}
# What a field is when the event has none of its keys; timestamp and tags are set apart.
DEFAULTS = {
    "hostname": "UNKNOWN",
    "processname": "UNKNOWN",
    "processid": "UNKNOWN",
    "severity": "INFO",
    "summary": "",
    "category": "UNKNOWN",
    "source": "UNKNOWN",
}
MERGED_OBJECTS = frozenset(("details", "fields"))
DOTTED_PREFIXES = ("details.", "fields.")

# What becomes of a top-level key's value: see `route`.
FIELD, OBJECT, DOTTED, DETAIL = range(4)

# Syslog's numbers: 0 is EMERGENCY ... 7 is DEBUG.
SYSLOG_SEVERITIES = (
    "EMERGENCY",
    "ALERT",
    "CRITICAL",
    "ERROR",
    "WARNING",
    "NOTICE",
    "INFO",
    "DEBUG",
)
SEVERITIES: dict[str | int, str] = {
    **{name.lower(): name for name in SYSLOG_SEVERITIES},
    **{number: name for number, name in enumerate(SYSLOG_SEVERITIES)},
    **{str(number): name for number, name in enumerate(SYSLOG_SEVERITIES)},
    "emerg": "EMERGENCY",
    "panic": "EMERGENCY",
    "crit": "CRITICAL",
    "fatal": "CRITICAL",  # log4j's FATAL, and Python's logging.FATAL == CRITICAL
    "err": "ERROR",
    "warn": "WARNING",
    "info": "INFO",
    "informational": "INFO",
    "information": "INFO",
    "trace": "DEBUG",
}

# nxlog's SeverityValue has a scale of its own, not syslog's: 1 is DEBUG ... 5 CRITICAL.
NXLOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
NXLOG_SEVERITY_VALUES: dict[str | int, str] = {
    **{number: name for number, name in enumerate(NXLOG_LEVELS, 1)},
    **{str(number): name for number, name in enumerate(NXLOG_LEVELS, 1)},
}

JSON_TYPES = {
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
}
# Noted in `mozdef.errors` when an event has no time of its own; a parser that finds the
# time inside the record (Zeek's ts, say) sets it and withdraws this note.
NO_TIMESTAMP_NOTE = "no timestamp: the receipt time was used"
# Distinct keys remembered per table; past this, new keys are worked out every time.
KEY_CACHE_SIZE = 10_000
DOT_RUNS = re.compile(r"\.{2,}")
TRUNCATION_MARK = " ..."
UTC_NOW = partial(datetime.now, UTC)


class MalformedEvent(ValueError):
    """Input that cannot be an event; str(exc) is the reason, for the operator."""


class NormalizeSettings(Section):
    """How raw events are read into the MozDef schema and made indexable, and the limits
    past which an event is rejected as malformed instead."""

    syslog_timezone: str = Field(
        "UTC",
        description="IANA time zone (such as 'America/New_York') of timestamps that carry "
        "no offset: syslog's 'Nov 21 22:10:05' and naive ones such as nxlog's "
        "'2015-05-04 16:36:52'.",
    )
    max_depth: int = Field(
        32,
        ge=1,
        le=500,
        description="Deepest nesting of objects and arrays in an event, the event itself "
        "being level 1. At most 500, to stay clear of Python's recursion limit.",
    )
    max_key_length: int = Field(256, ge=1, description="Longest key, in characters, at any depth.")
    max_string_length: int = Field(
        1_048_576,
        ge=1,
        description="Longest string value, in characters (1 Mi by default). An event with "
        "a longer one is rejected; shorter ones may still be cut, see truncate_strings_at.",
    )
    max_keys: int = Field(
        10_000,
        ge=1,
        description="Most keys in one event, counted at every depth, including those of "
        "objects inside arrays.",
    )
    truncate_strings_at: int = Field(
        3000,
        ge=0,
        description='Cut strings longer than this many characters here and append " ..."; '
        "0: never. An index would refuse the event, or fill up, otherwise.",
    )
    strip_key_dots: bool = Field(
        True,
        description="Strip dots from both ends of every key and collapse runs of dots inside "
        "keys ('.a..b.' becomes 'a.b'): an index reads dots as nesting.",
    )
    empty_key_name: str = Field(
        "_empty",
        description="What an empty or blank key (which an index refuses) is renamed to. "
        "Lowercase, not blank, with no dot at either end and no two dots in a row.",
    )

    @field_validator("syslog_timezone")
    @classmethod
    def known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                "not a known IANA time zone name (such as 'UTC' or 'Europe/Paris')"
            ) from None
        return name

    @field_validator("empty_key_name")
    @classmethod
    def indexable_name(cls, name: str) -> str:
        if not name.strip():
            raise ValueError("must not be blank")
        if name != name.lower():
            raise ValueError("must be lowercase, as every other normalised key is")
        if name.startswith(".") or name.endswith(".") or ".." in name:
            raise ValueError("must not start or end with a dot, or hold two dots in a row")
        return name


class LimitExceeded(Exception):
    """A limit broken inside the event; each level of the walk adds its key to `path`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path: list[str | int] = []  # innermost first

    def malformed(self) -> MalformedEvent:
        parts = [f"[{key}]" if type(key) is int else f".{shorten(key)}" for key in self.path]
        where = "".join(reversed(parts)).removeprefix(".") or "the top level"
        return MalformedEvent(f"{self.reason}, at {where}")


class KeyNames(dict):
    """Raw key -> what it becomes, worked out on first sight and then remembered.

    A key is checked when first seen, so a key found here is known to be valid.
    """

    __slots__ = ("max_key_length", "rename")

    def __init__(self, rename: Callable[[str], object], max_key_length: int) -> None:
        super().__init__()
        self.rename = rename
        self.max_key_length = max_key_length

    def __missing__(self, key: object) -> object:
        if type(key) is not str:
            raise LimitExceeded(f"a key that is not a string: {key!r}")
        if len(key) > self.max_key_length:
            raise LimitExceeded(
                f"key {shorten(key)!r} is {len(key)} characters long, "
                f"over max_key_length ({self.max_key_length})"
            )
        name = self.rename(key)
        if len(self) < KEY_CACHE_SIZE:
            self[key] = name
        return name


class Normalizer:
    """Normalises raw events; built once from the `[normalize]` settings."""

    def __init__(
        self,
        settings: NormalizeSettings,
        *,
        mozdefhostname: str,
        clock: Callable[[], datetime] = UTC_NOW,
    ) -> None:
        """`clock` gives the receipt time (aware); tests pass a fixed one."""
        self.zone = ZoneInfo(settings.syslog_timezone)
        self.max_depth = settings.max_depth
        self.max_string_length = settings.max_string_length
        # Strings longer than this go to `shortened`: cut, or rejected if over the limit.
        self.cut_at = min(
            settings.truncate_strings_at or settings.max_string_length,
            settings.max_string_length,
        )
        self.max_keys = settings.max_keys
        self.mozdefhostname = mozdefhostname
        self.clock = clock
        fix = key_fixer(settings.strip_key_dots, settings.empty_key_name)
        self.routes = KeyNames(partial(route, fix=fix), settings.max_key_length)
        self.lowercased = KeyNames(lambda key: fix(key.lower()), settings.max_key_length)
        self.as_sent = KeyNames(fix, settings.max_key_length)

    def normalize(self, raw: object) -> dict:
        """A new event in the MozDef schema (see the module's docstring for the rules).

        Raises `MalformedEvent` if `raw` is not a JSON object or breaks a limit.
        """
        if type(raw) is not dict:
            raise not_an_object(raw)
        chosen: dict[str, object] = {}  # schema field -> value
        chosen_from: dict[str, str] = {}  # schema field -> the key its value came from
        try:
            details = self.sort_keys(raw, chosen, chosen_from)
        except LimitExceeded as exc:
            raise exc.malformed() from None

        received = self.clock()
        received_text = isoformat(received)
        timestamp = received_text
        error = None
        if "timestamp" not in chosen:
            error = NO_TIMESTAMP_NOTE
        else:
            moment = parse_timestamp(chosen["timestamp"], now=received, syslog_tz=self.zone)
            if moment is not None:
                timestamp = isoformat(moment)
            else:
                put(details, "originaltimestamp", chosen["timestamp"])
                key = chosen_from["timestamp"]
                error = f"{key!r} could not be parsed as a timestamp: the receipt time was used"

        event = {
            "timestamp": timestamp,
            "utctimestamp": timestamp,
            "receivedtimestamp": received_text,
            "mozdefhostname": self.mozdefhostname,
            **DEFAULTS,
        }
        event.update(chosen)
        event["timestamp"] = timestamp  # the update above copied the raw one
        if "severity" in chosen:
            scale = NXLOG_SEVERITY_VALUES if chosen_from["severity"] == "severityvalue" else None
            severity = severity_name(chosen["severity"], scale)
            if severity is None:
                severity = "INFO"
                put(details, "originalseverity", chosen["severity"])
            event["severity"] = severity
        summary = chosen.get("summary")
        if type(summary) is str:  # syslog's message starts with the space after "sshd[12]:"
            event["summary"] = summary.strip()
        event["tags"] = as_tags(chosen["tags"]) if "tags" in chosen else []
        event["details"] = details
        if error is not None:
            note_error(event, error)
        return event

    def sort_keys(self, raw: dict, chosen: dict[str, object], chosen_from: dict[str, str]) -> dict:
        """One walk of the event that checks it and copies it, keys lowercased and fixed
        and long strings cut. Fills `chosen` (schema field -> value) and `chosen_from`
        (schema field -> the key it came from), and returns everything else as the
        event's details."""
        budget = [self.max_keys - len(raw)]
        if budget[0] < 0:
            raise LimitExceeded(f"more than max_keys ({self.max_keys}) keys")
        routes = self.routes
        names = self.lowercased
        cut_at = self.cut_at
        details = {}
        details_object_seen = False
        for raw_key, value in raw.items():
            key, action, field = routes[raw_key]
            kind = type(value)
            try:
                if kind is str:
                    if len(value) > cut_at:
                        value = self.shortened(value)
                elif kind is dict:
                    value = self.copy_object(value, 2, budget, names)
                elif kind is list:
                    value = self.copy_array(value, 2, budget, names)
            except LimitExceeded as exc:
                exc.path.append(raw_key)
                raise
            if action == DETAIL:  # `put`, inlined: this is the commonest case
                if key in details:
                    key = free_name(details, key)
                details[key] = value
            elif action == FIELD:
                name, rank = field
                if name not in chosen:
                    chosen[name] = value
                    chosen_from[name] = key
                elif rank < FIELD_RANKS[chosen_from[name]][1]:
                    put(details, chosen_from[name], chosen[name])
                    chosen[name] = value
                    chosen_from[name] = key
                else:
                    put(details, key, value)
            elif action == OBJECT and kind is dict:
                if key == "details" and not details_object_seen:
                    details_object_seen = True
                    details, value = value, details  # its own keys come first
                for merged_key, merged_value in value.items():
                    put(details, merged_key, merged_value)
            elif action == DOTTED:
                put(details, *cast_or_keep(key, value, field))
            else:  # a 'details' or 'fields' that is not an object
                put(details, key, value)
        return details

    def accept_custom(self, raw: object, application: str) -> dict:
        """An event for the `/custom/<application>` endpoint: a copy of `raw` with no
        aliasing and keys in the case they came in, checked against the same limits and
        made indexable in the same way (keys fixed, long strings cut), with
        `receivedtimestamp`, `mozdefhostname` and `customendpoint` (= `application`)
        set at the top level, replacing any the event had.

        Raises `MalformedEvent` if `raw` is not a JSON object or breaks a limit.
        """
        if type(raw) is not dict:
            raise not_an_object(raw)
        try:
            event = self.copy_object(raw, 1, [self.max_keys], self.as_sent)
        except LimitExceeded as exc:
            raise exc.malformed() from None
        event["receivedtimestamp"] = isoformat(self.clock())
        event["mozdefhostname"] = self.mozdefhostname
        event["customendpoint"] = application
        return event

    def copy_object(self, source: dict, depth: int, budget: list[int], names: KeyNames) -> dict:
        """A checked copy with keys renamed by `names` and long strings cut; `budget` holds
        how many more keys the event may have."""
        if depth > self.max_depth:
            raise LimitExceeded(f"nested deeper than max_depth ({self.max_depth})")
        budget[0] -= len(source)
        if budget[0] < 0:
            raise LimitExceeded(f"more than max_keys ({self.max_keys}) keys")
        cut_at = self.cut_at
        copy = {}
        for key, value in source.items():
            name = names[key]
            kind = type(value)
            try:
                if kind is str:
                    if len(value) > cut_at:
                        value = self.shortened(value)
                elif kind is dict:
                    value = self.copy_object(value, depth + 1, budget, names)
                elif kind is list:
                    value = self.copy_array(value, depth + 1, budget, names)
            except LimitExceeded as exc:
                exc.path.append(key)
                raise
            if name in copy:
                name = free_name(copy, name)
            copy[name] = value
        return copy

    def copy_array(self, source: list, depth: int, budget: list[int], names: KeyNames) -> list:
        if depth > self.max_depth:
            raise LimitExceeded(f"nested deeper than max_depth ({self.max_depth})")
        cut_at = self.cut_at
        copy = source.copy()
        for index, item in enumerate(copy):
            kind = type(item)
            try:
                if kind is str:
                    if len(item) > cut_at:
                        copy[index] = self.shortened(item)
                elif kind is dict:
                    copy[index] = self.copy_object(item, depth + 1, budget, names)
                elif kind is list:
                    copy[index] = self.copy_array(item, depth + 1, budget, names)
            except LimitExceeded as exc:
                exc.path.append(index)
                raise
        return copy

    def shortened(self, text: str) -> str:
        """A string longer than `cut_at`, cut there and marked; raises `LimitExceeded`
        if it is over max_string_length."""
        if len(text) > self.max_string_length:
            raise string_too_long(text, self.max_string_length)
        return text[: self.cut_at] + TRUNCATION_MARK


def key_fixer(strip_dots: bool, empty_name: str) -> Callable[[str], str]:
    """The function that makes a key one an index accepts: dots stripped from its ends
    and runs of them collapsed (if `strip_dots`), and `empty_name` for an empty or
    blank key."""

    def fix(key: str) -> str:
        if strip_dots and "." in key:
            key = DOT_RUNS.sub(".", key).strip(".")
        return key if key.strip() else empty_name

    return fix


def route(raw_key: str, fix: Callable[[str], str]) -> tuple[str, int, tuple | None]:
    """What a top-level key becomes: (its name, FIELD, (field, rank)) for an alias,
    (its name in details, DOTTED, (its name without the suffix, cast)) for a dotted
    key with a cast suffix, else (its name in details, OBJECT | DETAIL, None). Names
    in details are fixed by `fix`."""
    key = raw_key.lower().removeprefix("@")
    if key in FIELD_RANKS:
        return key, FIELD, FIELD_RANKS[key]
    if key in MERGED_OBJECTS:
        return key, OBJECT, None
    if key == "sourceip":
        return "eventsourceipaddress", DETAIL, None
    if key.startswith(DOTTED_PREFIXES):
        name = fix(key.partition(".")[2])
        for suffix, cast in SUFFIX_CASTS:
            if name.endswith(suffix):
                return name, DOTTED, (fix(name.removesuffix(suffix)), cast)
        return name, DETAIL, None
    return fix(key), DETAIL, None


def not_an_object(raw: object) -> MalformedEvent:
    kind = JSON_TYPES.get(type(raw), type(raw).__name__)
    return MalformedEvent(f"an event must be a JSON object, not {kind}")


def string_too_long(value: str, max_length: int) -> LimitExceeded:
    return LimitExceeded(
        f"a string of {len(value)} characters, over max_string_length ({max_length})"
    )


def put(mapping: dict, key: str, value: object) -> None:
    """Add `key` without displacing one already there (see `free_name`)."""
    if key in mapping:
        key = free_name(mapping, key)
    mapping[key] = value


def free_name(mapping: dict, key: str) -> str:
    """The first of `key_2`, `key_3`... not yet in `mapping`."""
    number = 2
    while f"{key}_{number}" in mapping:
        number += 1
    return f"{key}_{number}"


def as_int(value: object) -> int:
    if type(value) not in (int, str):
        raise TypeError(value)
    return int(value)


def as_float(value: object) -> float:
    if type(value) not in (int, float, str):
        raise TypeError(value)
    number = float(value)
    if not isfinite(number):  # JSON has no NaN or infinity
        raise ValueError(value)
    return number


SUFFIX_CASTS = (("_int", as_int), ("_float", as_float))


def cast_or_keep(key: str, value: object, cast: tuple) -> tuple[str, object]:
    """('bytes_int', '12', ('bytes', as_int)) -> ('bytes', 12); a value that does not
    cast keeps its key."""
    name, function = cast
    try:
        return name, function(value)
    except (TypeError, ValueError):
        return key, value


def severity_name(value: object, numbers: dict | None = None) -> str | None:
    """The RFC 5424 name for a severity's name or number (on syslog's scale unless
    `numbers` gives another), or None."""
    kind = type(value)
    if kind is str:
        text = value.strip().lower()
        return (numbers or SEVERITIES).get(text) or SEVERITIES.get(text)
    if kind is int:
        return (numbers or SEVERITIES).get(value)
    return None


def as_tags(value: object) -> list:
    """A list as it is; 'a, b' -> ['a', 'b']; null -> []; anything else -> [value]."""
    if type(value) is list:
        return value
    if type(value) is str:
        return [tag for tag in (part.strip() for part in value.split(",")) if tag]
    if value is None:
        return []
    return [value]


def shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
