"""Reading NDJSON, JSON arrays and CloudTrail log files: nothing good is lost to a bad line."""

import io

import pytest

from mozdef.core.jsoninput import read_records


def read(data: bytes) -> list[tuple[str, object, bool]]:
    stream = io.BufferedReader(io.BytesIO(data))
    return [(r.where, r.value, r.error is not None) for r in read_records(stream)]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(b"", [], id="empty"),
        pytest.param(b"\n  \n", [], id="blank"),
        pytest.param(
            b'{"a": 1}\n\n{"b": 2}\n',
            [("line 1", {"a": 1}, False), ("line 3", {"b": 2}, False)],
            id="ndjson-with-a-blank-line",
        ),
        pytest.param(
            b'{"a": 1}\n{"b": \n{"c": 3}\n',
            [("line 1", {"a": 1}, False), ("line 2", None, True), ("line 3", {"c": 3}, False)],
            id="bad-line-in-the-middle",
        ),
        pytest.param(
            b'{"b": \n{"c": 3}\n',
            [("line 1", None, True), ("line 2", {"c": 3}, False)],
            id="bad-first-line",
        ),
        pytest.param(
            b'[{"a": 1},\n {"b": 2}]\n',
            [("item 1", {"a": 1}, False), ("item 2", {"b": 2}, False)],
            id="json-array",
        ),
        pytest.param(b'[{"a": 1},\n', [("input", None, True)], id="truncated-array"),
        pytest.param(
            b'{\n  "Records": [\n    {"eventName": "StopLogging"},\n'
            b'    {"eventName": "GetObject"}\n  ]\n}\n',
            [
                ("input, record 1", {"eventName": "StopLogging"}, False),
                ("input, record 2", {"eventName": "GetObject"}, False),
            ],
            id="cloudtrail-pretty-printed",
        ),
        pytest.param(
            b'{"Records": [{"eventName": "A"}]}\n{"Records": [{"eventName": "B"}]}\n',
            [
                ("line 1, record 1", {"eventName": "A"}, False),
                ("line 2, record 1", {"eventName": "B"}, False),
            ],
            id="cloudtrail-one-file-per-line",
        ),
        pytest.param(
            b'{"Records": [], "summary": "an event with a Records field"}\n',
            [("line 1", {"Records": [], "summary": "an event with a Records field"}, False)],
            id="an-event-that-merely-has-records",
        ),
        pytest.param(
            b'"a string"\n', [("line 1", "a string", False)], id="not-an-object-is-passed-on"
        ),
    ],
)
def test_read_records(data: bytes, expected: list) -> None:
    assert read(data) == expected
