"""Reading events from files and pipes: NDJSON, or one JSON array.

The form is told by the first non-blank line. NDJSON is read a line at a time, so input
of any size streams; a bad line is reported with its number and does not stop the lines
after it. A JSON array has to be read whole.
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
    lines = ((number, line) for number, line in enumerate(stream, 1) if line.strip())
    first = next(lines, None)
    if first is None:
        return
    if first[1].lstrip().startswith(b"["):
        yield from read_array(first[1] + stream.read())
        return
    yield parse_line(*first)
    for number, line in lines:
        yield parse_line(number, line)


def parse_line(number: int, line: bytes) -> Record:
    try:
        return Record(f"line {number}", orjson.loads(line))
    except orjson.JSONDecodeError as exc:
        return Record(f"line {number}", error=f"not valid JSON: {exc}")


def read_array(data: bytes) -> Iterator[Record]:
    try:
        items = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        yield Record("input", error=f"not a valid JSON array: {exc}")
        return
    for number, item in enumerate(items, 1):
        yield Record(f"item {number}", item)
