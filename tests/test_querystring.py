"""Lucene query strings read into the query model, and the errors for those that can't be."""

import pytest

from mozdef.core.query import Bool, Exists, Phrase, Range, Subnet, Term, Wildcard
from mozdef.core.querystring import QuerySyntaxError, parse_query

PARSED = [
    # field:value is an exact term; quoted, the whole quoted value
    ("category:authentication", Term("category", "authentication")),
    ('details.username:"john smith"', Term("details.username", "john smith")),
    ("details.destinationport:8443", Term("details.destinationport", "8443")),
    (r"details.sourceipaddress:2001\:db8\:\:17", Term("details.sourceipaddress", "2001:db8::17")),
    # summary, and terms naming no field, are full text
    ("failed", Phrase("summary", "failed")),
    ('"failed password"', Phrase("summary", "failed password")),
    ('summary:"promiscuous mode"', Phrase("summary", "promiscuous mode")),
    ("summary:promiscuous", Phrase("summary", "promiscuous")),
    # wildcards; in the full text, anywhere in it
    ("hostname:bastion*", Wildcard("hostname", "bastion*")),
    ("details.device:eth?", Wildcard("details.device", "eth?")),
    ("pass*", Wildcard("summary", "*pass*")),
    ("*word", Wildcard("summary", "*word*")),
    # presence
    ("_exists_:details.auid", Exists("details.auid")),
    ("details.auid:*", Exists("details.auid")),
    ("*", Bool()),
    ("", Bool()),
    ("   ", Bool()),
    # networks
    ("details.sourceipaddress:10.0.0.0/8", Subnet("details.sourceipaddress", "10.0.0.0/8")),
    ('details.sourceipaddress:"2001:db8::/32"', Subnet("details.sourceipaddress", "2001:db8::/32")),
    ("details.url:a/b", Term("details.url", "a/b")),  # a slash alone is no network
    # ranges: numbers as numbers, open ends, both bracket kinds, comparison forms
    ("details.octets:[1000 TO 2000]", Range("details.octets", gte=1000, lte=2000)),
    ("details.octets:{1000 TO 2000]", Range("details.octets", gt=1000, lte=2000)),
    ("details.octets:[1000 TO *}", Range("details.octets", gte=1000)),
    ("details.octets:[-5 TO 2.5]", Range("details.octets", gte=-5, lte=2.5)),
    ("details.octets:>=5", Range("details.octets", gte=5)),
    ("details.octets:>5", Range("details.octets", gt=5)),
    ("details.octets:<5", Range("details.octets", lt=5)),
    ("details.octets:<=5.5", Range("details.octets", lte=5.5)),
    ("details.version:[1.2.3 TO 2]", Range("details.version", gte="1.2.3", lte=2)),
    (
        'utctimestamp:["2026-11-20T10:00:00+00:00" TO "2026-11-20T11:00:00+00:00"}',
        Range("utctimestamp", gte="2026-11-20T10:00:00+00:00", lt="2026-11-20T11:00:00+00:00"),
    ),
    # boolean operators
    (
        "category:authentication AND NOT details.username:root",
        Bool(
            must=(
                Term("category", "authentication"),
                Bool(must_not=(Term("details.username", "root"),)),
            )
        ),
    ),
    ("category:a OR category:b", Bool(should=(Term("category", "a"), Term("category", "b")))),
    ("NOT category:a", Bool(must_not=(Term("category", "a"),))),
    (
        "processname:(squid OR kernel)",
        Bool(should=(Term("processname", "squid"), Term("processname", "kernel"))),
    ),
    (
        "(category:a OR category:b) AND severity:INFO",
        Bool(
            must=(
                Bool(should=(Term("category", "a"), Term("category", "b"))),
                Term("severity", "INFO"),
            )
        ),
    ),
    # side by side: Lucene's +/- and an OR among the rest
    ("failed password", Bool(should=(Phrase("summary", "failed"), Phrase("summary", "password")))),
    (
        "+category:a -details.username:root tags:x",
        Bool(
            must=(Term("category", "a"),),
            must_not=(Term("details.username", "root"),),
            should=(Term("tags", "x"),),
        ),
    ),
    ("+category:a", Term("category", "a")),
    ("category:bruteforce^2", Term("category", "bruteforce")),  # boosts mean nothing here
]


@pytest.mark.parametrize(("text", "expected"), PARSED, ids=[text for text, _ in PARSED])
def test_parse(text, expected):
    assert parse_query(text) == expected


ERRORS = [
    ("category:", 9, "unexpected end"),
    ("(category:a OR category:b", 25, "unexpected end"),
    ('category:"unclosed', 9, "Illegal character"),
    ("category:a AND AND category:b", 15, "unexpected"),
    ("details.username:roo~", 17, "fuzzy"),
    ('"failed password"~2', 0, "proximity"),
    ("details.path:/usr.*/", 13, "regular expressions"),
    ("a AND [1 TO 2]", 6, "a range needs a field"),
    ("details:(username:root)", 9, "a field inside"),
    ("details.x:[a TO -b]", 16, "minus sign"),
]


@pytest.mark.parametrize(("text", "position", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_syntax_errors_name_the_position(text, position, message):
    with pytest.raises(QuerySyntaxError) as raised:
        parse_query(text)
    assert raised.value.position == position
    assert message in str(raised.value)
    assert isinstance(raised.value, ValueError)
