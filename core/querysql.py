"""The query model (`mozdef.core.query`) as SQL over the embedded store's tables.

The store keeps each event whole, as JSON text in `documents.doc`, and copies the fields
most searches filter on into indexed columns (`COLUMNS`, `IP_COLUMNS`). A field with a
column is compared there; any other field is read out of the JSON element by element,
so that a list field (`tags`) matches when one of its elements does, and a scalar field
is a list of one.

No value ever enters the SQL text: values and JSON paths are bound parameters, a field
name must pass `json_path` (dotted segments of ``[a-z0-9_@-]``) before it becomes a
path, and column names come only from the fixed tables below.

What each form means here (Elasticsearch's meaning over MozDef's index template, where
`summary` is full text and every other field an exact value):

- `Term`/`Terms`: the whole value is equal. A number and its decimal text are the
  same value (``8443`` finds ``"8443"`` and the reverse), as are ``True`` and ``"true"``.
- `Phrase` on `summary`: an FTS5 phrase query (words in this order, adjacent, any case).
  On any other field: the phrase's words appear in the value in this order (a
  substring test; ASCII case is ignored).
- `Wildcard`: SQLite's GLOB over the whole value, so case matters as in a keyword field;
  ``\\`` makes the next character literal.
- `Exists`: the field holds something other than null or an empty list.
- `Range`: numbers compare with numbers, text with text. On the time columns the bounds
  are read as timestamps and compared in the stored form (ISO 8601 UTC with
  microseconds, whose text order is time order).
- `Subnet`: addresses are 16-byte keys (IPv6, or IPv4 mapped into IPv6), so a network
  is a BETWEEN over an index on the IP columns, and over `ip_key` elsewhere.
- `Bool`: as Elasticsearch, with SQL's NULLs (a missing field) never making a
  `must_not` exclude an event.
- `Search.indices`: "events" means every index but "alerts" (plugins may route events
  to others, such as "audit"); any other name means that index alone.
"""

import re
import socket
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import NamedTuple

from mozdef.core.addresses import parse_cidr
from mozdef.core.query import (
    Bool,
    Exists,
    Phrase,
    Query,
    QueryString,
    Range,
    Scalar,
    Search,
    Subnet,
    Term,
    Terms,
    TermsAggregation,
    Wildcard,
)
from mozdef.core.querystring import number_or_text, parse_query
from mozdef.core.timestamps import from_epoch, isoformat

# Fields the store keeps in a column of the same name, as text.
COLUMNS = frozenset(
    {
        "utctimestamp",
        "receivedtimestamp",
        "category",
        "hostname",
        "severity",
        "processname",
        "summary",
    }
)
TIME_COLUMNS = frozenset({"utctimestamp", "receivedtimestamp"})
# Fields the store also keeps as 16-byte address keys (when they hold one address).
IP_COLUMNS = {
    "details.sourceipaddress": "source_ip",
    "details.destinationipaddress": "destination_ip",
}
FULL_TEXT = "summary"
FULL_TEXT_TABLE = "documents_fts"
IP_FUNCTION = "mozdef_ip"  # ip_key, registered on every connection under this name
EVENTS, ALERTS = "events", "alerts"

FIELD = re.compile(r"[a-z0-9_@-]+(\.[a-z0-9_@-]+)*\Z")
WORD = re.compile(r"[^\W_]+")  # what FTS5's unicode61 tokenizer calls a token
V4_MAPPED = 0xFFFF << 32
V4_PREFIX = (0xFFFF).to_bytes(12, "big")  # ::ffff:0:0/96, IPv4 mapped into IPv6
INT64 = range(-(2**63), 2**63)
TRUE, FALSE = "1", "0"


class Statement(NamedTuple):
    sql: str
    params: dict[str, object]


class CompiledSearch(NamedTuple):
    """The statements one search runs: its hits (None when `size` is 0), the count of
    all matches, and the aggregation's buckets with their samples (None if none)."""

    hits: Statement | None
    total: Statement
    buckets: Statement | None


def ip_key(text: object) -> bytes | None:
    """An address as 16 bytes (IPv4 mapped into IPv6) whose byte order is address
    order; None if `text` is not an address."""
    if type(text) is not str:
        return None
    try:
        return V4_PREFIX + socket.inet_pton(socket.AF_INET, text)
    except (OSError, ValueError):
        pass
    try:
        return socket.inet_pton(socket.AF_INET6, text)
    except (OSError, ValueError):
        return None


def network_keys(cidr: str) -> tuple[bytes, bytes]:
    """The first and last address keys of a network. Raises ValueError."""
    version, first, last = parse_cidr(cidr)
    if version == 4:
        first, last = first | V4_MAPPED, last | V4_MAPPED
    return first.to_bytes(16, "big"), last.to_bytes(16, "big")


def ip_text(key: bytes) -> str:
    """The address an `ip_key` holds, spelt canonically (IPv4 as a dotted quad)."""
    if key.startswith(V4_PREFIX):
        return socket.inet_ntop(socket.AF_INET, key[12:])
    return socket.inet_ntop(socket.AF_INET6, key)


def stored_time(value: object) -> str | None:
    """A timestamp in the form the time columns hold; None if it is not one.

    The normaliser already writes that form, so such strings pass untouched; other ISO
    8601 strings are converted (one with no offset is taken to be UTC) and numbers are
    epoch times.
    """
    if type(value) is str:
        if len(value) == 32 and value[19] == "." and value.endswith("+00:00"):
            return value
        try:
            moment = datetime.fromisoformat(value)
            return isoformat(moment)
        except (ValueError, OverflowError):  # not ISO 8601; within hours of year 1 or 9999
            return None
    if type(value) is int or type(value) is float:
        moment = from_epoch(value)
        return None if moment is None else isoformat(moment)
    return None


def json_path(field: str) -> str:
    """The JSON path of a field. Raises ValueError for anything but dotted segments of
    lowercase letters, digits and ``_@-``."""
    if type(field) is not str or not FIELD.match(field):
        raise ValueError(f"not a field name: {field!r} (dotted segments of [a-z0-9_@-])")
    return "$." + field


def glob_pattern(pattern: str) -> str:
    """A Lucene wildcard pattern (``*``, ``?``, ``\\`` escapes) as a GLOB pattern."""
    out = []
    escaped = False
    for char in pattern:
        if escaped or char not in "*?\\":
            out.append(f"[{char}]" if char in "*?[" else char)
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            out.append(char)
    if escaped:
        out.append("\\")
    return "".join(out)


def compile_search(search: Search) -> CompiledSearch:
    """The statements that answer `search`. Raises ValueError for a bad field name,
    network, size or bound, and `QuerySyntaxError` for a bad query string.

    Hits are always read newest first along the time index, stopping after `size`;
    the count and the aggregation too when there is a time window (see `Compiler`)."""
    if search.size < 0:
        raise ValueError(f"size must not be negative: {search.size}")
    order = search.window.field if search.window else "utctimestamp"
    if order not in TIME_COLUMNS:
        raise ValueError(f"not a time field: {order!r}")
    hits = None
    if search.size:
        sql = Compiler(by_time=True)
        hits = sql.statement(
            f"""SELECT d.index_name, d.doc_id, d.doc FROM documents AS d WHERE {sql.where(search)}
            ORDER BY d.{order} DESC, d.id DESC LIMIT {sql.bind(search.size)}"""
        )
    windowed = search.window is not None
    sql = Compiler(by_time=windowed)
    total = sql.statement(f"SELECT count(*) FROM documents AS d WHERE {sql.where(search)}")
    buckets = None
    if search.aggregation is not None:
        sql = Compiler(by_time=windowed)
        buckets = sql.statement(sql.aggregation(search.aggregation, sql.where(search), order))
    return CompiledSearch(hits, total, buckets)


class Compiler:
    """Builds the SQL of one statement, collecting its parameters by name.

    `by_time` makes the time index the only one the statement can use, by writing
    columns as ``+d.column`` (SQLite's way to keep a term off an index). Every
    promoted column is also in that index, so filtering a window's events there costs
    no table reads, whereas SQLite, left to itself, prefers an index on `category` (say)
    and then reads and sorts every event of that category ever stored.
    """

    def __init__(self, by_time: bool) -> None:
        self.params: dict[str, object] = {}
        self.prefix = "+d." if by_time else "d."

    def statement(self, sql: str) -> Statement:
        return Statement(sql, self.params)

    def column(self, name: str) -> str:
        return self.prefix + name

    def bind(self, value: object) -> str:
        """A placeholder for `value`; integers beyond SQLite's 64 bits become floats."""
        if type(value) is int and value not in INT64:
            value = float(value)
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def binds(self, values: Iterable[object]) -> str:
        return ", ".join(self.bind(value) for value in values)

    def where(self, search: Search) -> str:
        parts = [self.indices(search.indices)]
        if search.query is not None:
            parts.append(self.query(search.query))
        window = search.window
        if window is not None:  # its field is one of TIME_COLUMNS (see compile_search)
            if window.since is not None:
                parts.append(f"d.{window.field} >= {self.bind(isoformat(window.since))}")
            if window.until is not None:
                parts.append(f"d.{window.field} < {self.bind(isoformat(window.until))}")
        return " AND ".join(f"({part})" for part in parts)

    def indices(self, names: tuple[str, ...]) -> str:
        if EVENTS in names and ALERTS in names:
            return TRUE
        parts = []
        if EVENTS in names:
            parts.append(f"d.index_name != {self.bind(ALERTS)}")
        named = [name for name in names if name != EVENTS]
        if named:
            parts.append(f"d.index_name IN ({self.binds(named)})")
        return " OR ".join(parts) or FALSE

    def query(self, query: Query) -> str:
        match query:
            case Term(field, value):
                return self.equals(field, (value,))
            case Terms(field, values):
                return self.equals(field, values) if values else FALSE
            case Phrase(field, text):
                return self.phrase(field, text)
            case QueryString(text):
                return self.query(parse_query(text))
            case Wildcard(field, pattern):
                glob = self.bind(glob_pattern(pattern))
                return self.each_value(field, lambda value, _: f"{value} GLOB {glob}")
            case Exists(field):
                return self.exists(field)
            case Range():
                return self.range(query)
            case Subnet(field, cidr):
                return self.subnet(field, cidr)
            case Bool():
                return self.bool(query)
        raise TypeError(f"not a query: {query!r}")

    def each_value(self, field: str, test: Callable[[str, str | None], str]) -> str:
        """`test` applied to the field's value: the column's, or each scalar element of
        the JSON value (`test` gets the SQL of the value and of its JSON type)."""
        if field in COLUMNS:
            return test(self.column(field), None)
        path = self.bind(json_path(field))
        return (
            f"EXISTS (SELECT 1 FROM json_each(d.doc, {path}) "
            f"WHERE typeof(key) != 'text' AND {test('atom', 'type')})"
        )

    def equals(self, field: str, values: Iterable[Scalar]) -> str:
        values = tuple(values)
        keys = [ip_key(value) for value in values]
        if field in IP_COLUMNS and None not in keys:
            return f"{self.column(IP_COLUMNS[field])} IN ({self.binds(keys)})"
        texts, numbers, types = [], [], []
        for value in values:
            if type(value) is bool:
                texts.append("true" if value else "false")
                types.append(texts[-1])
                continue
            text = str(value) if isinstance(value, int | float) else value
            texts.append(text)
            number = number_or_text(text)
            if isinstance(number, int | float):
                numbers.append(number)
            elif text in ("true", "false"):
                types.append(text)

        def test(value: str, kind: str | None) -> str:
            if kind is None:
                return f"{value} IN ({self.binds(texts)})"
            tests = [f"({kind} = 'text' AND {value} IN ({self.binds(texts)}))"]
            if numbers:
                tests.append(
                    f"({kind} IN ('integer', 'real') AND {value} IN ({self.binds(numbers)}))"
                )
            if types:
                tests.append(f"{kind} IN ({self.binds(types)})")
            return "(" + " OR ".join(tests) + ")"

        return self.each_value(field, test)

    def phrase(self, field: str, text: str) -> str:
        words = WORD.findall(text)
        if not words:
            return FALSE
        if field == FULL_TEXT:
            phrase = self.bind('"' + " ".join(words) + '"')
            table = FULL_TEXT_TABLE
            return f"d.id IN (SELECT rowid FROM {table} WHERE {table} MATCH {phrase})"
        pattern = self.bind("%" + "%".join(words) + "%")  # words hold no LIKE wildcards
        return self.each_value(field, lambda value, _: f"{value} LIKE {pattern}")

    def exists(self, field: str) -> str:
        if field in COLUMNS:
            return f"{self.column(field)} IS NOT NULL"
        path = self.bind(json_path(field))
        return f"EXISTS (SELECT 1 FROM json_each(d.doc, {path}) WHERE type != 'null')"

    def range(self, query: Range) -> str:
        field = query.field
        bounds = [
            (operator, bound)
            for operator, bound in (
                (">=", query.gte),
                (">", query.gt),
                ("<=", query.lte),
                ("<", query.lt),
            )
            if bound is not None
        ]
        if not bounds:
            return self.exists(field)
        if any(type(bound) is bool for _, bound in bounds):
            raise ValueError(f"a range on {field!r} has a true/false bound")
        if field in TIME_COLUMNS:
            bounds = [(operator, time_bound(field, bound)) for operator, bound in bounds]

        def test(value: str, kind: str | None) -> str:
            tests = []
            for operator, bound in bounds:
                if kind is not None:
                    numeric = isinstance(bound, int | float)
                    tests.append(
                        f"{kind} IN ('integer', 'real')" if numeric else f"{kind} = 'text'"
                    )
                tests.append(f"{value} {operator} {self.bind(bound)}")
            return " AND ".join(tests)

        return self.each_value(field, test)

    def subnet(self, field: str, cidr: str) -> str:
        first, last = network_keys(cidr)
        if field in IP_COLUMNS:
            column = self.column(IP_COLUMNS[field])
            return f"{column} BETWEEN {self.bind(first)} AND {self.bind(last)}"
        low, high = self.bind(first), self.bind(last)
        return self.each_value(
            field, lambda value, _: f"{IP_FUNCTION}({value}) BETWEEN {low} AND {high}"
        )

    def bool(self, query: Bool) -> str:
        """NULL (a comparison with a missing value) is neither true nor false in SQL, so
        clauses are counted, and negated, as `coalesce(clause, 0)`."""
        parts = [self.query(clause) for clause in query.must]
        parts += [f"NOT coalesce(({self.query(clause)}), 0)" for clause in query.must_not]
        should = query.should
        needed = query.minimum_should_match
        if needed is None:
            needed = 0 if query.must or not should else 1
        elif needed < 0:  # as Elasticsearch: all but that many
            needed = max(len(should) + needed, 0)
        if needed > len(should):
            return FALSE
        if needed == 1:
            parts.append(" OR ".join(f"({self.query(clause)})" for clause in should))
        elif needed > 1:
            counted = " + ".join(f"coalesce(({self.query(clause)}), 0)" for clause in should)
            parts.append(f"{counted} >= {self.bind(needed)}")
        return " AND ".join(f"({part})" for part in parts) or TRUE

    def aggregation(self, aggregation: TermsAggregation, where: str, order: str) -> str:
        """Buckets commonest first (ties by value), each row a bucket's value, its kind
        (a JSON type, or "ip" for an address key), count and one of its samples (newest
        first; NULLs when `samples` is 0).

        A column is grouped as it is; an address field by its key (so the values come
        back in one canonical spelling, as from Elasticsearch's ip fields); any other
        field by its JSON elements. An event counts once in a bucket even if a list
        holds the value twice: `count(DISTINCT id)`, and `dense_rank`, which gives both
        elements one place, cost far less than making the matches distinct first."""
        if aggregation.size < 0 or aggregation.samples < 0:
            raise ValueError("an aggregation's size and samples must not be negative")
        field = aggregation.field
        if field in COLUMNS or field in IP_COLUMNS:
            value = self.column(IP_COLUMNS.get(field, field))
            kind = "'ip'" if field in IP_COLUMNS else "'text'"
            source = "documents AS d"
            where = f"{where} AND {value} IS NOT NULL"
        else:
            path = self.bind(json_path(field))
            # CROSS JOIN: SQLite must pick the events first, by the window's index
            source = f"documents AS d CROSS JOIN json_each(d.doc, {path}) AS j"
            value, kind = "j.atom", "j.type"
            where = f"{where} AND typeof(j.key) != 'text' AND j.atom IS NOT NULL"
        matched = f"""matched AS MATERIALIZED (
            SELECT d.id AS id, d.{order} AS moment, {value} AS value, {kind} AS kind
            FROM {source} WHERE {where})"""
        top = f"""top AS MATERIALIZED (
            SELECT value, kind, count(DISTINCT id) AS n FROM matched GROUP BY value, kind
            ORDER BY n DESC, value, kind LIMIT {self.bind(aggregation.size)})"""
        if not aggregation.samples:
            return f"""WITH {matched}, {top}
                SELECT value, kind, n, NULL, NULL, NULL FROM top ORDER BY n DESC, value, kind"""
        return f"""WITH {matched}, {top},
            ranked AS (
                SELECT m.id, m.value, m.kind, dense_rank() OVER (
                    PARTITION BY m.value, m.kind ORDER BY m.moment DESC, m.id DESC) AS place
                FROM matched AS m JOIN top USING (value, kind)),
            picked AS (
                SELECT DISTINCT id, value, kind, place FROM ranked
                WHERE place <= {self.bind(aggregation.samples)})
            SELECT top.value, top.kind, top.n, s.index_name, s.doc_id, s.doc
            FROM top
            LEFT JOIN picked AS p ON p.value = top.value AND p.kind = top.kind
            LEFT JOIN documents AS s ON s.id = p.id
            ORDER BY top.n DESC, top.value, top.kind, p.place"""


def time_bound(field: str, bound: Scalar) -> str:
    stored = stored_time(bound)
    if stored is None:
        raise ValueError(f"a range on {field} needs timestamps: {bound!r}")
    return stored
