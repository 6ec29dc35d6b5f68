"""Spans of time as people write them: 90s, 15m, 1h, 2d, 1w.

Used wherever mozdef.toml or the command line takes a duration (alert windows and
schedules, `mozdef search --since`), so that all of them read the same way.
"""

from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: object) -> timedelta:
    """A timedelta from text such as "15m"; ValueError naming the value otherwise."""
    if isinstance(value, timedelta):
        return value
    text = str(value).strip().lower()
    number, unit = text[:-1], text[-1:]
    if unit not in UNITS or not number.isdigit() or int(number) == 0:
        raise ValueError(f"{value!r} is not a duration such as 90s, 15m, 1h, 2d or 1w")
    return timedelta(seconds=int(number) * UNITS[unit])


def format_duration(span: timedelta) -> str:
    """The shortest exact text for a span, the inverse of `parse_duration`."""
    seconds = int(span.total_seconds())
    for unit, size in sorted(UNITS.items(), key=lambda item: -item[1]):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    raise AssertionError("every whole number of seconds has a unit")


# A settings field holding a duration: written "15m" in TOML, a timedelta in Python.
Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string"}),
]
