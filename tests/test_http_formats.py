"""The formats the server reads and writes, case by case: CEF lines, the bulk format,
compressed bodies, tokens, and the Prometheus text format."""

import base64
import gzip
import zlib

import pytest

from mozdef.core.http.auth import TokenCheck
from mozdef.core.http.bodies import Inflater, media_type
from mozdef.core.http.bulk import parse_bulk
from mozdef.core.http.cef import CefError, cef_time, parse_cef, read_extension
from mozdef.core.http.metrics import Collected, Counter, Histogram, Registry
from mozdef.core.http.responses import HttpError

ASA = (
    "<134>Nov 21 22:10:05 asa01.example.com CEF:0|Cisco|ASA|9.8|106023|Deny tcp|5|"
    "src=203.0.113.9 spt=51234 dst=10.1.1.5 dpt=22 proto=TCP act=Deny "
    "deviceInboundInterface=outside cs1=outside_access_in cs1Label=ACL Name"
)
FORTINET = (
    "CEF:0|Fortinet|Fortigate|v6.4|00013|traffic:forward close|3|deviceExternalId=FG100E "
    "src=192.168.1.10 dst=8.8.8.8 in=1200 out=300 suser=alice msg=Close: TCP\\=ok "
    "requestClientApplication=Mozilla/5.0 (X11; Linux) end=1700000000000"
)
ESCAPES = (
    r"CEF:1|Ven\|dor|Back\\slash|1|id|Na\\me|Very-High|"
    r"filePath=C:\\Windows\\cmd.exe msg=first\nsecond\rthird equals\=sign"
)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            ASA,
            {
                "hostname": "asa01.example.com",
                "timestamp": "Nov 21 22:10:05",
                "processname": "ASA",
                "severity": "WARNING",
                "summary": "Deny tcp",
                "details.sourceipaddress": "203.0.113.9",
                "details.sourceport": 51234,
                "details.destinationport": 22,
                "details.transportprotocol": "TCP",
                "details.action": "Deny",
                "details.inboundinterface": "outside",
                "details.acl_name": "outside_access_in",
                "details.signatureid": "106023",
                "details.cefseverity": "5",
            },
        ),
        (
            FORTINET,
            {
                "summary": "Close: TCP=ok",
                "severity": "INFO",
                "timestamp": 1700000000000,
                "details.deviceexternalid": "FG100E",
                "details.bytesin": 1200,
                "details.bytesout": 300,
                "details.sourceusername": "alice",
                "details.useragent": "Mozilla/5.0 (X11; Linux)",
                "details.endtime": "1700000000000",
            },
        ),
        (
            ESCAPES,
            {
                "severity": "CRITICAL",
                "summary": "first\nsecond\rthird equals=sign",
                "details.devicevendor": "Ven|dor",
                "details.deviceproduct": "Back\\slash",
                "details.name": "Na\\me",
                "details.cefversion": "1",
                "details.filepath": "C:\\Windows\\cmd.exe",
            },
        ),
    ],
)
def test_cef_lines(line, expected):
    event = parse_cef(line)
    for path, value in expected.items():
        found = event
        for part in path.split("."):
            found = found[part]
        assert found == value, path


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("Nov 21 22:10:05 host sshd[1]: Accepted publickey for bob", "no 'CEF:'"),
        ("CEF:0|Vendor|Product|1.0|sig", "found 4"),
        ("CEF:0|a\\|b|c|d|e|f", "found 5"),  # an escaped pipe separates nothing
    ],
)
def test_lines_that_are_not_cef(line, problem):
    with pytest.raises(CefError, match=problem):
        parse_cef(line)


def test_an_extension_value_may_hold_spaces_and_unescaped_equals_inside_words():
    pairs = read_extension("request=http://x/?a=b&c=d msg=two words  cnt=3")
    assert pairs == {"request": "http://x/?a=b&c=d", "msg": "two words", "cnt": "3"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1539712345000", 1539712345000),
        ("Oct 16 2018 17:52:25", "2018-10-16T17:52:25"),
        ("Oct 16 2018 17:52:25.5 GMT", "2018-10-16T17:52:25.500+00:00"),
        ("Oct 16 2018 17:52:25 PST", "2018-10-16T17:52:25"),  # ambiguous zone: local time
        ("Oct 16 17:52:25", "Oct 16 17:52:25"),  # syslog's form: the normaliser reads it
        ("Foo 16 2018 17:52:25", "Foo 16 2018 17:52:25"),
    ],
)
def test_cef_times(text, expected):
    assert cef_time(text) == expected


def summary(items):
    return [
        (item.action, item.line, item.index, item.doc_id, item.event and item.event.value)
        if item.error is None
        else (item.action, item.line, item.error[0])
        for item in items
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b'{"index":{"_index":"a","_id":7}}\n{"m":1}\n{"create":{}}\n{"m":2}\n',
            [("index", 2, "a", "7", {"m": 1}), ("create", 4, "events", None, {"m": 2})],
        ),
        (  # bare NDJSON, blank and CRLF lines
            b'{"m":1}\r\n\n{"m":2}',
            [("index", 1, "events", None, {"m": 1}), ("index", 3, "events", None, {"m": 2})],
        ),
        (
            b'{"index":{}}\n{bad\n{"m":3}\n',
            [("index", 2, "json_parse_exception"), ("index", 3, "events", None, {"m": 3})],
        ),
        (
            b'{"delete":{"_id":"1"}}\n{"update":{"_id":"2"}}\n{"doc":{}}\n{"index":{}}\n',
            [
                ("delete", 1, "action_not_supported"),
                ("update", 2, "action_not_supported"),
                ("index", 4, "action_request_validation_exception"),
            ],
        ),
        (  # an object with one key that is not an action is a document
            b'{"index":"not metadata"}\n{"message":{"a":1}}\n',
            [
                ("index", 1, "events", None, {"index": "not metadata"}),
                ("index", 2, "events", None, {"message": {"a": 1}}),
            ],
        ),
    ],
)
def test_bulk_bodies(body, expected):
    assert summary(parse_bulk(body, "events", "/_bulk")) == expected


def inflate(encoding: str, data: bytes, limit: int = 1 << 20, piece: int = 1000) -> bytes:
    inflater = Inflater(encoding, limit)
    out = b"".join(inflater.feed(data[i : i + piece]) for i in range(0, len(data), piece))
    inflater.check_finished()
    return out


def test_gzip_members_one_after_another():
    assert inflate("gzip", gzip.compress(b"a" * 5000) + gzip.compress(b"b")) == b"a" * 5000 + b"b"


@pytest.mark.parametrize(
    ("encoding", "data", "status", "kind"),
    [
        ("gzip", gzip.compress(b"x" * 3_000_000), 413, "payload_too_large"),
        ("deflate", zlib.compress(b"x" * 3_000_000), 413, "payload_too_large"),
        ("gzip", gzip.compress(b"{}")[:-4], 400, "bad_content_encoding"),
        ("gzip", b"not gzip at all", 400, "bad_content_encoding"),
        ("gzip", b"", 400, "bad_content_encoding"),
        ("zstd", b"", 415, "unsupported_content_encoding"),
    ],
)
def test_compressed_bodies_that_are_refused(encoding, data, status, kind):
    with pytest.raises(HttpError) as refused:
        inflate(encoding, data)
    assert (refused.value.status, refused.value.kind) == (status, kind)


def test_media_types():
    accepted = ["", "application/json; charset=utf-8", "TEXT/PLAIN", "application/x-ndjson"]
    accepted.append("application/vnd.elasticsearch+x-ndjson; compatible-with=8")
    for value in accepted:
        assert media_type({"CONTENT_TYPE": value}) == value.split(";")[0].lower()
    for value in ("application/xml", "multipart/form-data; boundary=x", "image/png"):
        with pytest.raises(HttpError, match="cannot carry events"):
            media_type({"CONTENT_TYPE": value})


def test_tokens_are_taken_only_in_full():
    check = TokenCheck("s3cret")
    basic = base64.b64encode(b"user:s3cret").decode()
    assert check.allows("Bearer s3cret") and check.allows(f"basic {basic}")
    for offered in ("Bearer s3cre", "Bearer s3cret2", "Bearer", "", "s3cret"):
        assert not check.allows(offered), offered
    no_colon = base64.b64encode(b"s3cret").decode()
    assert not check.allows(f"ApiKey {no_colon}")


def test_prometheus_text_format():
    registry = Registry()
    counter = registry.add(Counter("mozdef_things_total", "Things.", ("kind",)))
    counter.inc('a "quoted"\\thing\n')
    counter.inc("plain", amount=2.5)
    histogram = registry.add(Histogram("mozdef_wait_seconds", "Waits.", (0.1, 1.0)))
    for value in (0.05, 0.5, 5):
        histogram.observe(value)
    registry.add(Collected("mozdef_depth", "gauge", "Depth.", (), lambda: [((), 3)]))
    assert registry.render().decode().splitlines() == [
        "# HELP mozdef_things_total Things.",
        "# TYPE mozdef_things_total counter",
        'mozdef_things_total{kind="a \\"quoted\\"\\\\thing\\n"} 1',
        'mozdef_things_total{kind="plain"} 2.5',
        "# HELP mozdef_wait_seconds Waits.",
        "# TYPE mozdef_wait_seconds histogram",
        'mozdef_wait_seconds_bucket{le="0.1"} 1',
        'mozdef_wait_seconds_bucket{le="1.0"} 2',
        'mozdef_wait_seconds_bucket{le="+Inf"} 3',
        "mozdef_wait_seconds_sum 5.55",
        "mozdef_wait_seconds_count 3",
        "# HELP mozdef_depth Depth.",
        "# TYPE mozdef_depth gauge",
        "mozdef_depth 3",
    ]
