"""The query model (`mozdef.core.query`) as a Python predicate over one event.

Real-time alerting tests every stored event against each real-time rule's query, so a
query is compiled once into closures specialised per node: the query string is parsed,
patterns become regular expressions, networks become ranges of address keys, dotted
paths are split, and a `Bool` runs its cheapest clauses first (every clause is a pure
test of the event, so the order changes nothing but the cost).

The meaning is the SQLite store's (`mozdef.core.querysql`), form by form, over the event
as that store keeps it: the fields it copies into columns (`COLUMNS`) hold text only,
the time columns the stored form of a time, and any other field is read element by
element out of the JSON (a list matches when one of its scalar elements does):

- `Term`/`Terms`: text equals text, a number any number or decimal text of the same
  value, ``True`` also ``"true"``; on an address column, addresses compare as addresses.
- `Phrase` on `summary`: the words of FTS5's unicode61 tokenizer, in order and adjacent;
  elsewhere, the words in order anywhere in the value, ignoring ASCII case (LIKE).
- `Wildcard`: GLOB over the whole value, case-sensitive; numbers and booleans as
  SQLite's text of them.
- `Exists`: anything but null (a list or an object: one member that is not null).
- `Range`: numbers with numbers, text with text, times in their stored form.
- `Subnet`: the value is an address (IPv4 maps into IPv6) within the network.

One deliberate difference: a `Range` with a number for bound never matches a text
column here, as the store's documentation says, where the store itself compares the
two with SQLite's type order or as text depending on the statement.
"""

import fnmatch
import operator
import re
import sqlite3
import threading
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from mozdef.core.query import (
    Bool,
    Exists,
    Phrase,
    Query,
    QueryString,
    Range,
    Scalar,
    Subnet,
    Term,
    Terms,
    Wildcard,
)
from mozdef.core.querysql import (
    COLUMNS,
    FULL_TEXT,
    INT64,
    IP_COLUMNS,
    TIME_COLUMNS,
    WORD,
    glob_pattern,
    ip_key,
    json_path,
    network_keys,
    stored_time,
    time_bound,
)
from mozdef.core.querystring import number_or_text, parse_query
from mozdef.core.registration import Matcher, at_path, everything, nothing, present, split_path

Test = Callable[[Any], bool]  # on one value as SQLite compares it, MISSING included

# Rough cost of each form's test, in dict lookups: a Bool runs its clauses cheapest first.
EQUALS_COST = 1
RANGE_COST = 2
ADDRESS_COST = 3
PATTERN_COST = 3
FULL_TEXT_COST = 4
TIME_COST = 2  # reading a time column's value into its stored form
ASCII_TOKEN = "0-9a-z"  # what unicode61 keeps of ASCII (lowercased); the rest separates
PROBE_SCHEMA = """
CREATE VIRTUAL TABLE probe USING fts5 (text);
CREATE VIRTUAL TABLE probe_words USING fts5vocab (probe, 'instance');
"""


class Compiled(NamedTuple):
    test: Matcher
    cost: int


by_cost = operator.attrgetter("cost")
ALWAYS = Compiled(everything, 0)
NEVER = Compiled(nothing, 0)


def compile_query(query: Query) -> Matcher:
    """A predicate that holds for exactly the events the SQLite store finds for `query`.
    Raises what searching the store would: ValueError for a bad field name, network or
    bound, `QuerySyntaxError` for a bad query string, TypeError for what is no query."""
    return compiled(query).test


def compiled(query: Query) -> Compiled:
    match query:
        case Term(field, value):
            return equals(field, (value,))
        case Terms(field, values):
            return equals(field, values) if values else NEVER
        case Phrase(field, text):
            return phrase(field, text)
        case QueryString(text):
            return compiled(parse_query(text))
        case Wildcard(field, pattern):
            matches = re.compile(fnmatch.translate(glob_pattern(pattern))).match
            return on_values(field, lambda value: matches_text(matches, value), PATTERN_COST)
        case Exists(field):
            return exists(field)
        case Range():
            return within(query)
        case Subnet(field, cidr):
            return subnet(field, cidr)
        case Bool():
            return boolean(query)
    raise TypeError(f"not a query: {query!r}")


def json_parts(field: str) -> tuple[str, ...]:
    """The path of a field read from the JSON; ValueError for a name the store refuses."""
    json_path(field)
    return split_path(field)


def on_values(field: str, test: Test, cost: int, whole: Test | None = None) -> Compiled:
    """`test` on the field's value as the store compares it: a column's text (a time
    column's in stored form), else each element of the JSON value (a scalar is a list of
    one), or `whole` on the JSON value if given. `test` must be false for None, MISSING,
    lists and objects."""
    if field in TIME_COLUMNS:
        return Compiled(at_path((field,), lambda value: test(stored_time(value))), cost + TIME_COST)
    if field in COLUMNS:  # the store copies strings only into its columns
        return Compiled(at_path((field,), lambda value: type(value) is str and test(value)), cost)
    return Compiled(at_path(json_parts(field), whole or any_element(test)), cost)


def any_element(test: Test) -> Test:
    def each(value: Any) -> bool:
        if type(value) is list:
            for element in value:  # noqa: SIM110 - cheaper than any() over a generator
                if test(element):
                    return True
            return False
        return test(value)

    return each


def sql_number(number: int | float) -> int | float:
    """A number as SQLite holds it: an integer beyond 64 bits is a float."""
    return float(number) if type(number) is int and number not in INT64 else number


def sql_text(value: Any) -> str | None:
    """The text SQLite's LIKE and GLOB see for a JSON scalar; None for anything else."""
    kind = type(value)
    if kind is str:
        return value
    if kind is bool:
        return "1" if value else "0"
    if kind is int and value in INT64:
        return str(value)
    if kind is int or kind is float:
        text = "%.15g" % (value + 0.0)  # SQLite's "%!.15g"; + 0.0 makes -0.0 plain 0.0
        mantissa, e, exponent = text.partition("e")
        if "." not in mantissa and mantissa[-1].isdigit():  # not inf or nan
            mantissa += ".0"
        return mantissa + e + exponent
    return None


def matches_text(matches: Callable[[str], object], value: Any) -> bool:
    text = sql_text(value)
    return text is not None and matches(text) is not None


def equals(field: str, values: Sequence[Scalar]) -> Compiled:
    if field in IP_COLUMNS:
        keys = frozenset(ip_key(value) for value in values)
        if None not in keys:  # addresses all: the store compares its address column
            return Compiled(
                at_path(split_path(field), lambda value: ip_key(value) in keys), ADDRESS_COST
            )
    texts, numbers, truths = set(), set(), set()
    for value in values:
        if type(value) is bool:
            texts.add("true" if value else "false")
            truths.add(value)
            continue
        text = str(value) if isinstance(value, int | float) else value
        texts.add(text)
        number = number_or_text(text)
        if isinstance(number, int | float):
            numbers.add(sql_number(number))
        elif text in ("true", "false"):
            truths.add(text == "true")
    if not numbers and not truths:  # the commonest: words
        if len(texts) > 1:
            return on_values(
                field, lambda value: type(value) is str and value in texts, EQUALS_COST
            )
        (only,) = texts
        return on_values(
            field,
            lambda value: value == only,
            EQUALS_COST,
            whole=lambda value: value == only or (type(value) is list and only in value),
        )

    def one_of(value: Any) -> bool:
        kind = type(value)
        if kind is str:
            return value in texts
        if kind is bool:
            return value in truths
        if kind is int or kind is float:
            return sql_number(value) in numbers
        return False

    return on_values(field, one_of, EQUALS_COST)


def phrase(field: str, text: str) -> Compiled:
    words = WORD.findall(text)
    if not words:
        return NEVER
    if field == FULL_TEXT:
        return full_text(words)
    like = "%".join(map(re.escape, words))  # LIKE '%w1%w2%': in order, ASCII case ignored
    search = re.compile(like.replace("%", ".*?"), re.ASCII | re.IGNORECASE | re.DOTALL).search
    return on_values(field, lambda value: matches_text(search, value), PATTERN_COST)


def full_text(words: list[str]) -> Compiled:
    """FTS5's phrase query over `summary`. An ASCII summary (nearly all) is tested with a
    regular expression over its lower case, after a cheap look for the longest word;
    any other is folded word by word as SQLite does (see `UnicodeFolding`)."""
    tokens = fold_words(" ".join(words))
    if not tokens:
        return NEVER
    longest = max(tokens, key=len)
    first = re.escape(tokens[0])
    gap = f"[^{ASCII_TOKEN}]+"
    search = re.compile(
        f"{first}(?<![{ASCII_TOKEN}]{first})"  # the literal first lets re skip ahead fast
        + "".join(gap + re.escape(token) for token in tokens[1:])
        + f"(?![{ASCII_TOKEN}])"
    ).search
    needle = f" {' '.join(tokens)} "

    def in_summary(summary: str) -> bool:
        if summary.isascii():
            lowered = summary.lower()
            return longest in lowered and search(lowered) is not None
        return needle in f" {' '.join(fold_words(summary))} "

    return on_values(FULL_TEXT, in_summary, FULL_TEXT_COST)


def exists(field: str) -> Compiled:
    if field in TIME_COLUMNS:
        return Compiled(at_path((field,), lambda value: stored_time(value) is not None), TIME_COST)
    if field in COLUMNS:
        return Compiled(at_path((field,), lambda value: type(value) is str), EQUALS_COST)

    def holds_something(value: Any) -> bool:
        if type(value) is list:
            return any(element is not None for element in value)
        if type(value) is dict:
            return any(member is not None for member in value.values())
        return present(value)

    return Compiled(at_path(json_parts(field), holds_something), EQUALS_COST)


def within(query: Range) -> Compiled:
    field = query.field
    bounds = [
        (compare, bound)
        for compare, bound in (
            (operator.ge, query.gte),
            (operator.gt, query.gt),
            (operator.le, query.lte),
            (operator.lt, query.lt),
        )
        if bound is not None
    ]
    if not bounds:
        return exists(field)
    if any(type(bound) is bool for _, bound in bounds):
        raise ValueError(f"a range on {field!r} has a true/false bound")
    if field in TIME_COLUMNS:
        bounds = [(compare, time_bound(field, bound)) for compare, bound in bounds]
    numeric = [isinstance(bound, int | float) for _, bound in bounds]
    if any(numeric) and not all(numeric):  # a value is a number or a text, never both
        if field not in COLUMNS:
            json_parts(field)  # a bad name is still refused, as the store refuses it
        return NEVER
    bounds = [(compare, sql_number(bound)) for compare, bound in bounds]

    def in_bounds(value: Any) -> bool:
        for compare, bound in bounds:  # noqa: SIM110 - cheaper than all() over a generator
            if not compare(value, bound):
                return False
        return True

    if numeric[0]:
        return on_values(
            field,
            lambda value: (
                (type(value) is int or type(value) is float) and in_bounds(sql_number(value))
            ),
            RANGE_COST,
        )
    return on_values(field, lambda value: type(value) is str and in_bounds(value), RANGE_COST)


def subnet(field: str, cidr: str) -> Compiled:
    first, last = network_keys(cidr)  # 16-byte big-endian keys: their order is the numbers'

    def inside(value: Any) -> bool:
        key = ip_key(value)
        return key is not None and first <= key <= last

    if field in IP_COLUMNS:  # the store's column holds one address, never a list's
        return Compiled(at_path(split_path(field), inside), ADDRESS_COST)
    return on_values(field, inside, ADDRESS_COST)


def boolean(query: Bool) -> Compiled:
    """Elasticsearch's bool, with the store's default for `minimum_should_match`."""
    checks = [compiled(clause) for clause in query.must]
    checks += [negation(compiled(clause)) for clause in query.must_not]
    should = query.should
    needed = query.minimum_should_match
    if needed is None:
        needed = 0 if query.must or not should else 1
    elif needed < 0:  # as Elasticsearch: all but that many
        needed = max(len(should) + needed, 0)
    if needed > len(should):
        return NEVER
    if needed:
        checks.append(at_least(needed, [compiled(clause) for clause in should]))
    return every(checks)


def negation(clause: Compiled) -> Compiled:
    if clause is ALWAYS:
        return NEVER
    if clause is NEVER:
        return ALWAYS
    test = clause.test
    return Compiled(lambda event: not test(event), clause.cost)


def every(checks: list[Compiled]) -> Compiled:
    if any(check is NEVER for check in checks):
        return NEVER
    checks = sorted((check for check in checks if check is not ALWAYS), key=by_cost)
    if not checks:
        return ALWAYS
    return Compiled(chain(both, checks), sum(check.cost for check in checks))


def at_least(needed: int, clauses: list[Compiled]) -> Compiled:
    needed -= sum(clause is ALWAYS for clause in clauses)
    clauses = sorted(
        (clause for clause in clauses if clause is not ALWAYS and clause is not NEVER),
        key=by_cost,
    )
    if needed <= 0:
        return ALWAYS
    if needed > len(clauses):
        return NEVER
    cost = sum(clause.cost for clause in clauses)
    if needed == 1:
        return Compiled(chain(either, clauses), cost)
    tests = [clause.test for clause in clauses]
    spare = len(tests) - needed  # clauses that may fail before enough cannot hold

    def enough_hold(event: dict) -> bool:
        found = failed = 0
        for test in tests:
            if test(event):
                found += 1
                if found == needed:
                    return True
            else:
                failed += 1
                if failed > spare:
                    return False
        return False

    return Compiled(enough_hold, cost)


def chain(join: Callable[[Matcher, Matcher], Matcher], clauses: list[Compiled]) -> Matcher:
    """The clauses' tests joined pairwise, first to last: ``a and (b and c)``. A pair
    costs less than a loop, and the first test that decides is the last one run."""
    test = clauses[-1].test
    for clause in reversed(clauses[:-1]):
        test = join(clause.test, test)
    return test


def both(first: Matcher, second: Matcher) -> Matcher:
    return lambda event: first(event) and second(event)


def either(first: Matcher, second: Matcher) -> Matcher:
    return lambda event: first(event) or second(event)


class UnicodeFolding(dict):
    """FTS5's unicode61 tokenizer, which indexes the store's summaries, as a
    `str.translate` table: a character that separates words maps to a space, one that
    only continues a word (a combining accent) to nothing, any other to its folded form
    (lower case, a single accent removed). The tokenizer decides character by character,
    from Unicode tables inside SQLite; rather than copy them, each character is learnt
    from SQLite itself the first time one is seen, so the two always agree."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.connection: sqlite3.Connection | None = None

    def __missing__(self, code: int) -> str:
        with self.lock:
            folded = self.get(code)  # another thread may have learnt it meanwhile
            if folded is None:
                folded = self[code] = self.learn(chr(code))
        return folded

    def learn(self, char: str) -> str:
        """How the tokenizer reads `char` between two letters, and before one."""
        if self.connection is None:
            self.connection = sqlite3.connect(":memory:", check_same_thread=False)
            self.connection.executescript(PROBE_SCHEMA)
        words: dict[int, list[str]] = {1: [], 2: []}
        try:
            with self.connection as connection:
                connection.execute("DELETE FROM probe")
                connection.executemany(
                    "INSERT INTO probe (rowid, text) VALUES (?, ?)",
                    ((1, f"x{char}y"), (2, f" {char}y")),
                )
                for row, word in connection.execute(
                    "SELECT doc, term FROM probe_words ORDER BY doc, offset"
                ):
                    words[row].append(word)
        except UnicodeEncodeError:  # a lone surrogate: no event holding one can be stored
            return " "
        if words[1] == ["x", "y"]:
            return " "
        if words[2] == ["y"]:
            return ""
        return words[2][0][:-1]


UNICODE_FOLDING = UnicodeFolding()


def fold_words(text: str) -> list[str]:
    """The words FTS5's unicode61 tokenizer finds in `text`, folded as it indexes them."""
    return [word for word in text.translate(UNICODE_FOLDING).split(" ") if word]
