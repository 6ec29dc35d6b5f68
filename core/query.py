"""One query model for everything that searches: alerts, the CLI, later the REST API.

A search is written once, as these values, and each store compiles it to its own
language: SQL for the embedded SQLite store, query DSL for Elasticsearch and OpenSearch.
Fields are dotted paths into the event as stored (``details.sourceipaddress``).
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Scalar = str | int | float | bool


@dataclass(frozen=True, slots=True)
class Term:
    """The field equals the value exactly (a list field: one of its elements does)."""

    field: str
    value: Scalar


@dataclass(frozen=True, slots=True)
class Terms:
    """The field equals one of the values."""

    field: str
    values: tuple[Scalar, ...]


@dataclass(frozen=True, slots=True)
class Phrase:
    """The words of `text` appear in the field in this order (full-text on `summary`)."""

    field: str
    text: str


@dataclass(frozen=True, slots=True)
class QueryString:
    """A Lucene query string, as typed into Kibana: ``category:bruteforce AND NOT
    details.username:root``; parsed into the other forms of this module."""

    text: str


@dataclass(frozen=True, slots=True)
class Wildcard:
    """The field matches a pattern where ``*`` is any run of characters and ``?`` one."""

    field: str
    pattern: str


@dataclass(frozen=True, slots=True)
class Exists:
    """The field is present and not null."""

    field: str


@dataclass(frozen=True, slots=True)
class Range:
    """The field lies within the bounds given (numbers, or ISO 8601 strings for times)."""

    field: str
    gte: Scalar | None = None
    gt: Scalar | None = None
    lte: Scalar | None = None
    lt: Scalar | None = None


@dataclass(frozen=True, slots=True)
class Subnet:
    """The field holds an IP address inside `cidr` (IPv4 or IPv6), tested as a range."""

    field: str
    cidr: str


@dataclass(frozen=True, slots=True)
class Bool:
    """All of `must`, none of `must_not`, and at least `minimum_should_match` of
    `should` (default: 1 if there are `should` clauses and no `must`, else 0)."""

    must: tuple["Query", ...] = ()
    must_not: tuple["Query", ...] = ()
    should: tuple["Query", ...] = ()
    minimum_should_match: int | None = None


Query = Term | Terms | Phrase | QueryString | Wildcard | Exists | Range | Subnet | Bool


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Events whose `field` lies in [since, until); either end may be open."""

    since: datetime | None = None
    until: datetime | None = None
    field: Literal["utctimestamp", "receivedtimestamp"] = "utctimestamp"


@dataclass(frozen=True, slots=True)
class TermsAggregation:
    """Group matching events by a field's value: the `size` commonest values, each with
    its count and up to `samples` of its events (newest first)."""

    field: str
    size: int = 10
    samples: int = 0


@dataclass(frozen=True, slots=True)
class Search:
    """What to look for, where in time, and what to return."""

    query: Query | None = None
    window: TimeWindow | None = None
    size: int = 100  # hits returned, newest first by `window.field` (utctimestamp)
    aggregation: TermsAggregation | None = None
    indices: tuple[str, ...] = ("events",)


@dataclass(frozen=True, slots=True)
class Hit:
    """One stored event and where it lies."""

    index: str
    doc_id: str
    event: dict


@dataclass(frozen=True, slots=True)
class Bucket:
    """One value of an aggregated field: how many events had it, and some of them."""

    key: Scalar
    count: int
    samples: tuple[Hit, ...] = ()


@dataclass(frozen=True, slots=True)
class Results:
    """What a search found: `total` matching events, the first `size` of them, and the
    aggregation's buckets (commonest first) if one was asked for."""

    total: int
    hits: tuple[Hit, ...] = ()
    buckets: tuple[Bucket, ...] = field(default=())
