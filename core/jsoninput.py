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
    """Yield every item of the input, in order; each line or document is parsed once."""
    lines = enumerate(stream, 1)
    first = next(((number, line) for number, line in lines if line.strip()), None)
    if first is None:
        return
    number, line = first
    text = line.strip()
    if text.startswith(b"["):
        yield from read_document(line + stream.read())
        return
    value, error = loads(text)
    if error is not None and text.startswith(b"{"):
        # Pretty-printed (a CloudTrail file, say), or a bad first line of NDJSON.
        data = line + stream.read()
        document, document_error = loads(data)
        if document_error is None:
            yield from document_records(document)
            return
        lines = enumerate(data.splitlines(), number)
    else:
        yield from line_records(number, value, error)
    for number, line in lines:
        if line.strip():
            yield from line_records(number, *loads(line))


def loads(data: bytes) -> tuple[object, str | None]:
    """(the parsed value, None), or (None, why it is not JSON)."""
    try:
        return orjson.loads(data), None
    except orjson.JSONDecodeError as exc:
        return None, f"not valid JSON: {exc}"


def line_records(number: int, value: object, error: str | None) -> Iterator[Record]:
    where = f"line {number}"
    if error is not None:
        yield Record(where, error=error)
    else:
        yield from expand(value, where)


def read_document(data: bytes) -> Iterator[Record]:
    """A whole-input JSON document: an array of events, or a CloudTrail log file."""
    value, error = loads(data)
    if error is not None:
        yield Record("input", error=error)
        return
    yield from document_records(value)


def document_records(value: object) -> Iterator[Record]:
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
