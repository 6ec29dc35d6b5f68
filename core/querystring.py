"""Lucene query strings, as typed into Kibana, read into the query model.

luqum parses the text; this module gives its tree the meaning Elasticsearch's
`query_string` has over MozDef's index template, where `summary` is full text and
every other field is an exact value, so a query string finds the same events in every
store:

- ``field:value`` is an exact `Term`; ``field:"two words"`` too (the whole value).
  On `summary`, and for terms that name no field, both are a full-text `Phrase`.
- ``field:pat*ern`` (``*`` any run, ``?`` one character, ``\\`` escapes) is a `Wildcard`
  on the whole value; on `summary`, and unqualified, the pattern may match anywhere
  in the summary. ``field:*`` and ``_exists_:field`` are `Exists`.
- A value in CIDR notation (``10.0.0.0/8``, ``"2001:db8::/32"``) is a `Subnet`.
- ``[a TO b]``, ``{a TO b}`` (mixed, ``*`` for open), ``>a``, ``>=a``, ``<a``, ``<=a``
  are a `Range`; bounds that read as numbers compare as numbers.
- AND, OR, NOT, parentheses and ``field:(a OR b)``. Terms side by side follow Lucene:
  ``+x`` must match, ``-x`` must not, and of the rest at least one must unless a
  ``+`` clause is present (Elasticsearch's default operator, OR).
- ``^`` boosts are ignored (hits are ordered by time); fuzzy (``~``), proximity and
  regular-expression queries are refused.
"""

import re
from collections.abc import Sequence

from luqum import tree
from luqum.exceptions import ParseError
from luqum.thread import parse

from mozdef.core.addresses import parse_cidr
from mozdef.core.query import (
    Bool,
    Exists,
    Phrase,
    Query,
    Range,
    Scalar,
    Subnet,
    Term,
    Wildcard,
)

FULL_TEXT = "summary"  # the field unqualified terms search, as in the index template
EXISTS_FIELD = "_exists_"
ESCAPED = re.compile(r"\\(.)")
INTEGER = re.compile(r"-?\d+\Z")
DECIMAL = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\Z")
LUQUM_POSITION = re.compile(r"position (\d+)")
MATCH_ALL = Bool()


class QuerySyntaxError(ValueError):
    """The query string cannot be read; `position` is the offset of the problem."""

    def __init__(self, message: str, text: str, position: int) -> None:
        super().__init__(f"{message} (at position {position} of {text!r})")
        self.text = text
        self.position = position


def parse_query(text: str) -> Query:
    """The query model for a Lucene query string; blank text matches every event.
    Raises `QuerySyntaxError` naming the position of the problem."""
    if not text.strip():
        return MATCH_ALL
    try:
        root = parse(text)
    except ParseError as exc:
        found = LUQUM_POSITION.search(str(exc))
        position = int(found.group(1)) if found else len(text)
        raise QuerySyntaxError(reason(exc), text, position) from None
    return Reader(text).read(root, None)


def reason(exc: ParseError) -> str:
    """luqum's message without its boilerplate."""
    message = str(exc).removeprefix("Syntax error in input : ")
    return LUQUM_POSITION.sub("", message).removesuffix("!").removesuffix(" at the end").strip()


class Reader:
    """Turns one parsed query string into the query model."""

    def __init__(self, text: str) -> None:
        self.text = text

    def fail(self, message: str, node: tree.Item) -> QuerySyntaxError:
        return QuerySyntaxError(message, self.text, node.pos or 0)

    def read(self, node: tree.Item, field: str | None) -> Query:
        """`node` as a query; `field` is the one named by an enclosing ``field:(...)``."""
        match node:
            case tree.SearchField():
                if field is not None:
                    raise self.fail("a field inside a field's parentheses", node)
                return self.read(node.expr, node.name)
            case tree.Group() | tree.FieldGroup():
                return self.read(node.expr, field)
            case tree.Word():
                return self.word(node, field)
            case tree.Phrase():
                return self.phrase(node, field)
            case tree.Range():
                return self.range(node, field)
            case tree.From() | tree.To():
                return self.open_range(node, field)
            case tree.AndOperation():
                return combine(must=[self.read(part, field) for part in node.operands])
            case tree.OrOperation():
                return combine(should=[self.read(part, field) for part in node.operands])
            case tree.UnknownOperation():
                return self.side_by_side(node, field)
            case tree.Not() | tree.Prohibit():
                return Bool(must_not=(self.read(node.a, field),))
            case tree.Plus():
                return self.read(node.a, field)
            case tree.Boost():
                return self.read(node.expr, field)
            case tree.Fuzzy():
                raise self.fail("fuzzy queries (~) are not supported", node)
            case tree.Proximity():
                raise self.fail("proximity queries (~) are not supported", node)
            case tree.Regex():
                raise self.fail("regular expressions are not supported", node)
        raise self.fail(f"unsupported query syntax: {node}", node)

    def side_by_side(self, node: tree.UnknownOperation, field: str | None) -> Query:
        """Lucene's reading of clauses with no operator between them."""
        must, must_not, should = [], [], []
        for part in node.operands:
            if isinstance(part, tree.Plus):
                must.append(self.read(part.a, field))
            elif isinstance(part, tree.Prohibit | tree.Not):
                must_not.append(self.read(part.a, field))
            else:
                should.append(self.read(part, field))
        return combine(must=must, must_not=must_not, should=should)

    def word(self, node: tree.Word, field: str | None) -> Query:
        value = unescape(node.value)
        if field == EXISTS_FIELD:
            return Exists(value)
        if field is None or field == FULL_TEXT:
            if node.value == "*":
                return MATCH_ALL if field is None else Exists(FULL_TEXT)
            if node.has_wildcard():
                return Wildcard(FULL_TEXT, anywhere(node.value))
            return Phrase(FULL_TEXT, value)
        if node.value == "*":
            return Exists(field)
        if node.has_wildcard():
            return Wildcard(field, node.value)
        return subnet(field, value) or Term(field, value)

    def phrase(self, node: tree.Phrase, field: str | None) -> Query:
        value = unescape(node.value[1:-1])
        if field is None or field == FULL_TEXT:
            return Phrase(FULL_TEXT, value)
        if field == EXISTS_FIELD:
            return Exists(value)
        return subnet(field, value) or Term(field, value)

    def range(self, node: tree.Range, field: str | None) -> Query:
        field = self.range_field(node, field)
        low, high = self.bound(node.low), self.bound(node.high)
        return Range(
            field,
            gte=low if node.include_low else None,
            gt=None if node.include_low else low,
            lte=high if node.include_high else None,
            lt=None if node.include_high else high,
        )

    def open_range(self, node: tree.From | tree.To, field: str | None) -> Query:
        field = self.range_field(node, field)
        bound = self.bound(node.a)
        if bound is None:
            return Exists(field)
        key = ("gt" if isinstance(node, tree.From) else "lt") + ("e" if node.include else "")
        return Range(field, **{key: bound})

    def range_field(self, node: tree.Item, field: str | None) -> str:
        if field is None or field == EXISTS_FIELD:
            raise self.fail("a range needs a field, as in field:[a TO b]", node)
        return field

    def bound(self, node: tree.Item) -> Scalar | None:
        """A range's bound: None for ``*``; a number if it reads as one."""
        if isinstance(node, tree.Prohibit):  # luqum reads a minus sign as negation
            inner = self.bound(node.a)
            if isinstance(inner, int | float):
                return -inner
            raise self.fail("a minus sign before a bound that is not a number", node)
        if isinstance(node, tree.Phrase):
            return number_or_text(unescape(node.value[1:-1]))
        if isinstance(node, tree.Word):
            return None if node.value == "*" else number_or_text(unescape(node.value))
        raise self.fail(f"unsupported range bound: {node}", node)


def combine(
    must: Sequence[Query] = (), must_not: Sequence[Query] = (), should: Sequence[Query] = ()
) -> Query:
    """A `Bool` of the clauses, or the one clause alone when that means the same."""
    if len(must) + len(should) == 1 and not must_not:
        return (*must, *should)[0]
    return Bool(must=tuple(must), must_not=tuple(must_not), should=tuple(should))


def anywhere(pattern: str) -> str:
    """A wildcard pattern that may match anywhere in a text: ``*`` before and after."""
    if not pattern.startswith("*"):
        pattern = "*" + pattern
    if not pattern.endswith("*") or pattern.endswith("\\*"):
        pattern += "*"
    return pattern


def unescape(text: str) -> str:
    return ESCAPED.sub(r"\1", text)


def number_or_text(text: str) -> Scalar:
    if INTEGER.match(text):
        return int(text)
    if DECIMAL.match(text):
        return float(text)
    return text


def subnet(field: str, value: str) -> Subnet | None:
    """`Subnet` for a value in CIDR notation (a prefix length after a slash)."""
    if "/" not in value:
        return None
    try:
        parse_cidr(value)
    except ValueError:
        return None
    return Subnet(field, value)
