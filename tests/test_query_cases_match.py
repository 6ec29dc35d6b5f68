"""Queries compiled into Python predicates (`mozdef.core.querymatch`) find what the SQLite
store finds: every case of the shared table, then events of every odd shape the store
can hold, run in a real store and through the predicate alike."""

import pytest
from query_cases import CASES, EVENTS, Case, case, event

from mozdef.core.query import (
    Bool,
    Exists,
    Phrase,
    Query,
    QueryString,
    Range,
    Search,
    Subnet,
    Term,
    Terms,
    Wildcard,
)
from mozdef.core.querymatch import UNICODE_FOLDING, compile_query
from mozdef.core.querystring import QuerySyntaxError
from mozdef.core.store import Document
from mozdef.core.stores.sqlite import SqliteSettings, SqliteStore
from mozdef.core.timestamps import isoformat


def as_query(case: Case) -> Query:
    """The case's query with its time window as what the store makes of it: a range on
    the window's time field, from `since` (included) to `until` (excluded). So every
    case of the table is a predicate; none is left out."""
    clauses = [] if case.query is None else [case.query]
    window = case.window
    if window is not None:
        since = None if window.since is None else isoformat(window.since)
        until = None if window.until is None else isoformat(window.until)
        clauses.append(Range(window.field, gte=since, lt=until))
    return Bool(must=tuple(clauses))


def found(query: Query, events: dict[str, dict]) -> set[str]:
    matches = compile_query(query)
    return {doc_id for doc_id, event in events.items() if matches(event)}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_table_case(case):
    assert found(as_query(case), EVENTS) == case.expected


ODD_EVENTS: dict[str, dict] = {
    "types": event(
        "2026-11-20T11:00:00Z",
        category=5,  # not text: the store's column stays empty
        hostname=["a", "b"],
        summary="Échec de connexion pour l'utilisateur ÉLODIE",
        details={
            "program": ["sshd", "cron"],
            "port": "8443",
            "flag": "true",
            "success": False,
            "ratio": 1.5,
            "big": 12345678901234567890,  # beyond 64 bits: SQLite reads it as a float
            "negzero": -0.0,
            "score": 100.0,
            "tiny": 1e-5,
            "huge": 1e20,
            "nested": {"a": {"b": {"c": "deep"}}},
            "maybe": None,
            "listnull": [None],
            "listmixed": [None, 1],
            "emptylist": [],
            "emptydict": {},
            "dictnull": {"k": None},
            "dictval": {"k": 1},
            "listofdicts": [{"x": 1}],
            "listoflists": [["a"]],
            "note": "50% off *today* [sale]",
            "reason": "échec",
            "sourceipaddress": ["10.0.0.1"],
            "destinationipaddress": "::ffff:10.0.0.2",
            "other": ["10.9.9.9", "2001:db8::1"],
        },
    ),
    "spellings": event(
        "2026-11-20 11:30:00",
        summary="Straße gesperrt; ΆΛΦΑ test İstanbul login e\u0301lan vital café crème",
        details={
            "sourceipaddress": "2001:DB8:0:0::17",
            "program": "SSHD-x",
            "success": "false",
            "port": 8443.0,
        },
    ),
    "cjk": event(
        1795168800,
        summary="日本語のログ 失敗 user_name=root FAILED-password x\u19b0y",
        hostname="Host1.EXAMPLE.com",
        details={"sourceipaddress": "unknown", "success": 0, "ratio": "1.5"},
    ),
    "nulls": event("yesterday", summary=None, category="authentication", details=None),
    "bare": {"summary": "failed login", "details": {"program": "sshd"}},
}
EVERY_ODD = tuple(ODD_EVENTS)
# Each case runs in the store and through the predicate; both must find exactly these.
ODD_CASES: list[Case] = [
    case("term-list-element", Term("details.program", "sshd"), "types", "bare"),
    case("term-number-finds-text", Term("details.port", 8443), "types", "spellings"),
    case("term-text-finds-number", Term("details.port", "8443"), "types", "spellings"),
    case("term-true-finds-text", Term("details.flag", True), "types"),
    case("term-false", Term("details.success", False), "types", "spellings"),
    case("term-zero-is-not-false", Term("details.success", 0), "cjk"),
    case("term-decimal", Term("details.ratio", 1.5), "types", "cjk"),
    case("term-beyond-64-bits-as-float", Term("details.big", 12345678901234567891), "types"),
    case("term-integer-finds-float", Term("details.score", 100), "types"),
    case("term-negative-zero", Term("details.negzero", 0), "types"),
    case("term-exponent-text", Term("details.tiny", "1e-5"), "types"),
    case("term-column-holds-text-only", Term("category", "5")),
    case("term-column-list-not-held", Term("hostname", "a")),
    case("term-address-column-list-not-held", Term("details.sourceipaddress", "10.0.0.1")),
    case("term-address-mapped", Term("details.destinationipaddress", "10.0.0.2"), "types"),
    case("term-address-spelling", Term("details.sourceipaddress", "2001:db8::17"), "spellings"),
    case("term-address-field-text", Term("details.sourceipaddress", "unknown"), "cjk"),
    case(
        "term-time-stored-form", Term("utctimestamp", "2026-11-20T11:00:00.000000+00:00"), "types"
    ),
    case("term-time-other-form", Term("utctimestamp", "2026-11-20T11:00:00Z")),
    case("term-deep-path", Term("details.nested.a.b.c", "deep"), "types"),
    case("term-list-in-list", Term("details.listoflists", "a")),
    case("term-path-through-list", Term("details.listofdicts.x", 1)),
    case("terms-mixed", Terms("details.success", (False, "0")), "types", "spellings", "cjk"),
    case("exists-null", Exists("details.maybe")),
    case("exists-list-of-null", Exists("details.listnull")),
    case("exists-list-with-value", Exists("details.listmixed"), "types"),
    case("exists-empty-list", Exists("details.emptylist")),
    case("exists-empty-object", Exists("details.emptydict")),
    case("exists-object-of-null", Exists("details.dictnull")),
    case("exists-object", Exists("details.dictval"), "types"),
    case("exists-list-of-objects", Exists("details.listofdicts"), "types"),
    case("exists-time-unreadable", Exists("utctimestamp"), "types", "spellings", "cjk"),
    case("exists-column-not-text", Exists("category"), "spellings", "cjk", "nulls"),
    case("range-number-skips-text", Range("details.port", gte=8000), "spellings"),
    case("range-text-skips-number", Range("details.port", gte="8000"), "types"),
    case("range-text-column", Range("hostname", gte="b"), "spellings", "nulls"),
    case("range-beyond-64-bits", Range("details.big", gt=1e19), "types"),
    case("range-time-epoch", Range("utctimestamp", gte=1795168800), "types", "spellings", "cjk"),
    case(
        "range-time-naive", Range("utctimestamp", gte="2026-11-20T10:30:00"), "types", "spellings"
    ),
    case("range-between", Range("details.ratio", gt=1, lt=2), "types"),
    case("range-number-and-text-bounds", Range("details.ratio", gt=1, lt="2")),
    case("range-false-is-not-zero", Range("details.success", gte=0), "cjk"),
    case("wildcard-decimal", Wildcard("details.ratio", "1.*"), "types", "cjk"),
    case("wildcard-false-as-0", Wildcard("details.success", "0"), "types", "cjk"),
    case("wildcard-float-text", Wildcard("details.score", "100.0"), "types"),
    case("wildcard-exponent-text", Wildcard("details.huge", "1.0e+20"), "types"),
    case("wildcard-negative-zero", Wildcard("details.negzero", "0.0"), "types"),
    case("wildcard-case-matters", Wildcard("hostname", "Host1*"), "cjk"),
    case("wildcard-non-ascii", Wildcard("summary", "*Stra?e*"), "spellings"),
    case("wildcard-escapes", Wildcard("details.note", r"*\*today\* [sale]"), "types"),
    case("wildcard-time", Wildcard("utctimestamp", "2026-11-20T11:*"), "types", "spellings"),
    case("like-ascii-case", Phrase("details.program", "SSHD"), "types", "spellings", "bare"),
    case("like-number", Phrase("details.port", "84"), "types", "spellings"),
    case("like-false-as-0", Phrase("details.success", "0"), "types", "cjk"),
    case("like-words-in-order", Phrase("hostname", "EXAMPLE com"), "spellings", "cjk", "nulls"),
    case("like-non-ascii-case-matters", Phrase("details.reason", "ÉCHEC")),
    case("like-non-ascii", Phrase("details.reason", "échec"), "types"),
    case("fts-accent-folded", Phrase("summary", "echec"), "types"),
    case("fts-capital-accent", Phrase("summary", "ÉCHEC de"), "types"),
    case("fts-sharp-s", Phrase("summary", "STRAßE"), "spellings"),
    case("fts-sharp-s-kept", Phrase("summary", "strasse")),
    case("fts-greek-tonos", Phrase("summary", "άλφα"), "spellings"),
    case("fts-greek-tonos-kept", Phrase("summary", "αλφα")),
    case("fts-dotted-capital-i", Phrase("summary", "istanbul"), "spellings"),
    case("fts-combining-accent", Phrase("summary", "elan vital"), "spellings"),
    case("fts-cjk", Phrase("summary", "日本語のログ"), "cjk"),
    case("fts-underscore-separates", Phrase("summary", "name root"), "cjk"),
    case("fts-punctuation-separates", Phrase("summary", "root failed password"), "cjk"),
    case("fts-not-adjacent", Phrase("summary", "root password")),
    case("fts-unicode-separator", Phrase("summary", "x y"), "cjk"),
    case("subnet-address-column-list", Subnet("details.sourceipaddress", "::/0"), "spellings"),
    case("subnet-mapped", Subnet("details.destinationipaddress", "10.0.0.0/8"), "types"),
    case("subnet-list-field", Subnet("details.other", "10.0.0.0/8"), "types"),
    case("subnet-ipv6-holds-ipv4", Subnet("details.other", "::/0"), "types"),
    case(
        "bool-two-of-three",
        Bool(
            should=(
                Term("details.port", 8443),
                Exists("details.dictval"),
                Phrase("summary", "failed"),
            ),
            minimum_should_match=2,
        ),
        "types",
    ),
    case(
        "bool-all-but-two",
        Bool(
            should=(Phrase("summary", "failed"), Exists("details.dictval"), Term("category", "x")),
            minimum_should_match=-2,
        ),
        "types",
        "cjk",
        "bare",
    ),
    case(
        "bool-must-not-present",
        Bool(must_not=(Term("details.program", "sshd"),)),
        "spellings",
        "cjk",
        "nulls",
    ),
    case("bool-must-not-missing", Bool(must_not=(Term("details.username", "root"),)), *EVERY_ODD),
    case(
        "bool-should-beside-must-not",
        Bool(
            must_not=(Term("details.program", "sshd"),),
            should=(Term("category", "authentication"),),
        ),
        "nulls",
    ),
    case(
        "bool-should-match-all", Bool(should=(QueryString("*"), Term("category", "x"))), *EVERY_ODD
    ),
    case("bool-empty", Bool(), *EVERY_ODD),
    case("bool-not-everything", Bool(must_not=(Bool(),))),
    case("bool-should-too-few", Bool(minimum_should_match=1)),
    case("query-string-word", QueryString("failed"), "cjk", "bare"),
    case("query-string-wildcard-case", QueryString("FAIL*"), "cjk"),
    case(
        "query-string-not",
        QueryString("-category:authentication"),
        "types",
        "spellings",
        "cjk",
        "bare",
    ),
    case("query-string-range", QueryString("details.ratio:[1 TO 2}"), "types"),
    case("query-string-blank", QueryString(""), *EVERY_ODD),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("match") / "mozdef.sqlite3"
    store = SqliteStore(SqliteSettings(path=str(path)))
    documents = [Document("events", doc_id, body) for doc_id, body in ODD_EVENTS.items()]
    assert all(outcome.stored for outcome in store.write(documents))
    yield store
    store.close()


@pytest.mark.parametrize("case", ODD_CASES, ids=[case.id for case in ODD_CASES])
def test_odd_case_matches_the_store(store, case):
    hits = store.search(Search(query=case.query, size=len(ODD_EVENTS))).hits
    assert {hit.doc_id for hit in hits} == case.expected
    assert found(case.query, ODD_EVENTS) == case.expected


def test_a_number_never_bounds_a_text_column():
    """The store's documented meaning: numbers compare with numbers, text with text.
    (Its SQL compares a text column with a number by SQLite's type order in windowed
    searches, as text in the others: the one place where the two part.)"""
    query = Bool(should=(Range("hostname", gte=5), Range("category", lt=5)))
    assert found(query, {**EVENTS, **ODD_EVENTS}) == set()


def test_ascii_is_tokenised_as_sqlite_does():
    """Summaries in ASCII take a shortcut that assumes unicode61's ASCII rules: letters
    and digits make words, lowercased, and everything else separates them."""
    for code in range(128):
        char = chr(code)
        assert UNICODE_FOLDING[code] == (char.lower() if char.isalnum() else " "), repr(char)


@pytest.mark.parametrize(
    "query",
    [
        QueryString("details.username:roo~2"),
        QueryString("category:(authentication OR"),
        QueryString('summary:"unclosed'),
        Term("Details.Username", "root"),
        Bool(must=(Exists("details..auid"),)),
        Subnet("details.sourceipaddress", "10.0.0.0/33"),
        Range("details.destinationport", gte=True),
        Range("utctimestamp", gte="last tuesday"),
        "category:netflow",
    ],
    ids=[
        "fuzzy",
        "unclosed-parenthesis",
        "unclosed-quote",
        "field-name",
        "nested-field-name",
        "network",
        "true-bound",
        "time-bound",
        "not-a-query",
    ],
)
def test_a_bad_query_fails_to_compile_as_the_store_refuses_it(store, query):
    with pytest.raises((ValueError, TypeError)) as refused:
        store.search(Search(query=query))
    with pytest.raises(refused.type) as failed:
        compile_query(query)
    assert str(failed.value) == str(refused.value)
    if isinstance(refused.value, QuerySyntaxError):
        assert failed.value.position == refused.value.position


class ReadLog(dict):
    """An event that notes which of its top-level fields a test reads."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.read: list[str] = []

    def get(self, key, default=None):
        self.read.append(key)
        return super().get(key, default)


def test_a_bool_tests_its_cheapest_clauses_first():
    matches = compile_query(
        Bool(
            must=(
                Phrase("summary", "failed"),
                Subnet("details.sourceipaddress", "10.0.0.0/8"),
                Term("details.program", "sshd"),
            )
        )
    )
    cron = ReadLog(
        {"summary": "Failed", "details": {"program": "cron", "sourceipaddress": "10.1.1.1"}}
    )
    assert not matches(cron)
    assert cron.read == ["details"]
    sshd = ReadLog(
        {"summary": "Failed", "details": {"program": "sshd", "sourceipaddress": "10.1.1.1"}}
    )
    assert matches(sshd)
    assert sshd.read == ["details", "details", "summary"]


def test_should_stops_at_the_first_clause_that_holds():
    matches = compile_query(QueryString("failed OR category:authentication"))
    login = ReadLog({"category": "authentication", "summary": "Failed"})
    assert matches(login)
    assert login.read == ["category"]
