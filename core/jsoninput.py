"""Reading events from files and pipes: NDJSON, one JSON array, or CloudTrail log files.

The form is told by the first non-blank line. NDJSON is read a line at a time, so input
of any size streams; a bad line is reported with its number and does not stop the lines
after it. A JSON array has to be read whole, and so does a pretty-printed document. A
CloudTrail log file is one object whose only key is `Records`, a list of events: its
records are read as the events (on one line, or pretty-printed).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import orjson


@dataclass(frozen=True, slots=True)
class Record:
    """One input item: where it was, and either its parsed value or why it could not be."""

    where: str
    value: object = None
    error: str | None = None


def read_records(stream: BinaryIO) -> Iterator[Record]:
    """Yield every item of the input, in order."""
    lines = enumerate(stream, 1)
    first = next(((number, line) for number, line in lines if line.strip()), None)
    if first is None:
        return
    number, line = first
    text = line.strip()
    if text.startswith(b"["):
        yield from read_document(line + stream.read())
        return
    if text.startswith(b"{") and not parses(text):
        # Pretty-printed (a CloudTrail file, say), or a bad first line of NDJSON.
        data = line + stream.read()
        if parses(data):
            yield from read_document(data)
            return
        lines = enumerate(data.splitlines(), number)
    else:
        yield from parse_line(number, line)
    for number, line in lines:
        if line.strip():
            yield from parse_line(number, line)


def parses(text: bytes) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def parse_line(number: int, line: bytes) -> Iterator[Record]:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        yield Record(f"line {number}", error=f"not valid JSON: {exc}")
        return
    yield from expand(value, f"line {number}")


def read_document(data: bytes) -> Iterator[Record]:
    """A whole-input JSON document: an array of events, or a CloudTrail log file."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        yield Record("input", error=f"not valid JSON: {exc}")
        return
    if isinstance(value, list):
        for number, item in enumerate(value, 1):
            yield Record(f"item {number}", item)
        return
    yield from expand(value, "input")


def expand(value: object, where: str) -> Iterator[Record]:
    """A CloudTrail log file's records one by one; any other value as it is."""
    if (
        isinstance(value, dict)
        and value.keys() == {"Records"}
        and isinstance(value["Records"], list)
    ):
        for number, record in enumerate(value["Records"], 1):
            yield Record(f"{where}, record {number}", record)
    else:
        yield Record(where, value)
