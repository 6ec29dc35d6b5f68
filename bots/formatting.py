"""What the bots say, as styled text that every chat platform can render.

An alert becomes a `Message`: spans of text, each with an optional colour and weight.
The IRC bot renders spans with mIRC codes and the Matrix bot as HTML, so what a line
says is decided once, here. Text from outside (summaries, categories, command
arguments, plugin replies) is made safe when a span is made: line breaks become a
space and every other control character, chat formatting codes included, is removed,
so that no line can smuggle in a second protocol command or restyle what follows.
"""

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator

from mozdef.alerts.rules import SEVERITIES

SUMMARY_LIMIT = 450
TRUNCATED = " truncated..."

# Line breaks of every kind (CR, LF, VT, FF, NEL, U+2028, U+2029) and tabs: one space.
BREAKS = re.compile(r"[\t\n\v\f\r\x85\u2028\u2029]+")
# mIRC colours with their numbers, hex colours with theirs, every other C0 and C1
# control (bold, italics, reset, NUL...) and the bidirectional overrides that can
# make a line read backwards: removed.
INVISIBLE = re.compile(
    r"\x03(?:\d{1,2}(?:,\d{1,2})?)?"
    r"|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?"
    r"|[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
)


def clean(text: str) -> str:
    """`text` on one line with no control characters or formatting codes."""
    return INVISIBLE.sub("", BREAKS.sub(" ", text))


def shorten(text: str, limit: int = SUMMARY_LIMIT) -> str:
    """`text`, or its first `limit` characters and " truncated..." if it is longer."""
    return text if len(text) <= limit else text[:limit] + TRUNCATED


class Colour(StrEnum):
    """The colours a bot may use; each platform maps them to its own codes."""

    GREY = "grey"
    BLUE = "blue"
    GREEN = "green"
    ORANGE = "orange"
    RED = "red"
    PURPLE = "purple"


SEVERITY_COLOURS = {
    "DEBUG": Colour.GREY,
    "INFO": Colour.BLUE,
    "NOTICE": Colour.GREEN,
    "WARNING": Colour.ORANGE,
    "ERROR": Colour.RED,
    "CRITICAL": Colour.PURPLE,
    "ALERT": Colour.PURPLE,
    "EMERGENCY": Colour.PURPLE,
}
SEVERITY_RANK = {severity: rank for rank, severity in enumerate(SEVERITIES)}


@dataclass(frozen=True, slots=True)
class Span:
    """A run of text in one style; its text is cleaned as the span is made."""

    text: str
    colour: Colour | None = None
    bold: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", clean(self.text))


@dataclass(frozen=True, slots=True)
class Message:
    """One message: what a platform sends as one chat line, however it renders it."""

    spans: tuple[Span, ...]

    @classmethod
    def plain(cls, text: str) -> "Message":
        return cls((Span(text),))

    @property
    def text(self) -> str:
        """The message without its styles."""
        return "".join(span.text for span in self.spans)


def alert_message(alert: Mapping) -> Message:
    """The alert's line, "SEVERITY: category summary": the severity bold in its colour,
    the summary cut after SUMMARY_LIMIT characters."""
    severity = str(alert.get("severity", ""))
    summary = shorten(clean(str(alert.get("summary", ""))))
    return Message(
        (
            Span(severity, SEVERITY_COLOURS.get(severity), bold=True),
            Span(f": {alert.get('category', '')} {summary}"),
        )
    )


def held_back_message(severities: Counter[str]) -> Message:
    """Stands for the alerts that flood control held back: how many, of what severity."""
    total = sum(severities.values())
    ranked = sorted(severities, key=lambda name: SEVERITY_RANK.get(name, -1), reverse=True)
    breakdown = ", ".join(f"{severities[name]} {name}" for name in ranked)
    noun = "alert" if total == 1 else "alerts"
    return Message(
        (
            Span(f"{total} more {noun}", bold=True),
            Span(f" held back by flood control ({breakdown}); !alerts lists the latest"),
        )
    )


def check_time_zone(name: str) -> str:
    """Validate an IANA time zone name; empty means the default."""
    if name:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                "not a time zone of the IANA database (e.g. UTC, Europe/Paris)"
            ) from None
    return name


TimeZoneName = Annotated[str, AfterValidator(check_time_zone)]


def zone(name: str) -> ZoneInfo:
    """The zone of a validated `TimeZoneName`; empty is UTC."""
    return ZoneInfo(name or "UTC")


def local_time(timestamp: object, where: ZoneInfo) -> str:
    """An ISO 8601 timestamp as the responders' clock shows it, e.g. "2026-11-22
    03:40:00 CET"; a naive one is taken as UTC, anything unreadable is shown as it is."""
    try:
        moment = datetime.fromisoformat(str(timestamp))
    except ValueError:
        return clean(str(timestamp))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(where).strftime("%Y-%m-%d %H:%M:%S %Z")
