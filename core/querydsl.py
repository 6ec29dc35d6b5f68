"""The query model (`mozdef.core.query`) as Elasticsearch/OpenSearch query DSL, and the
search response read back into `Results`.

Pure functions over dicts, shared by both clusters: what is sent can be checked without
one. Every form is a filter (scores mean nothing here: hits come newest first), and each
relies on the mappings of the index templates in `conf/elasticsearch/`:

- Exact forms (term, terms, wildcard, range, aggregation) on a field mapped as `text`
  go to its `.keyword` subfield, so `Term("summary", ...)` compares the whole value, as
  it does in every other store; `Phrase` uses the analysed field itself.
- `Subnet` is a `term` query with the network in CIDR notation. On an `ip` field both
  Elasticsearch (5 and later, so 8 and 9) and OpenSearch (every version) turn it into
  a range over the addresses, for IPv4 and IPv6 alike. The templates map `*ipaddress`
  fields as `ip`; on a field that is not, it matches nothing rather than something wrong.
- `QueryString` goes through natively as `query_string`, with `summary` as the field for
  terms that name none, and wildcards analysed as Kibana does.
"""

import ipaddress
from collections.abc import Mapping
from typing import Any

from mozdef.core.query import (
    Bool,
    Bucket,
    Exists,
    Hit,
    Phrase,
    Query,
    QueryString,
    Range,
    Results,
    Search,
    Subnet,
    Term,
    Terms,
    TimeWindow,
    Wildcard,
)
from mozdef.core.timestamps import isoformat

TEXT_FIELDS = frozenset({"summary"})  # mapped as text with a `.keyword` subfield
DEFAULT_FIELD = "summary"  # where a query string's unqualified terms look
AGGREGATION = "values"
SAMPLES = "samples"


def exact(field: str) -> str:
    """The field to compare whole values on."""
    return f"{field}.keyword" if field in TEXT_FIELDS else field


def compile_query(query: Query) -> dict:
    """One query as DSL."""
    match query:
        case Term(field, value):
            return {"term": {exact(field): {"value": value}}}
        case Terms(field, values):
            return {"terms": {exact(field): list(values)}}
        case Phrase(field, text):
            return {"match_phrase": {field: {"query": text}}}
        case QueryString(text):
            return {
                "query_string": {
                    "query": text,
                    "default_field": DEFAULT_FIELD,
                    "analyze_wildcard": True,
                }
            }
        case Wildcard(field, pattern):
            return {"wildcard": {exact(field): {"value": pattern}}}
        case Exists(field):
            return {"exists": {"field": field}}
        case Range(field, gte, gt, lte, lt):
            bounds = {"gte": gte, "gt": gt, "lte": lte, "lt": lt}
            return {"range": {exact(field): {k: v for k, v in bounds.items() if v is not None}}}
        case Subnet(field, cidr):
            network = ipaddress.ip_network(cidr, strict=False)  # ValueError names the bad one
            return {"term": {field: {"value": network.with_prefixlen}}}
        case Bool():
            return compile_bool(query)
    raise TypeError(f"not a query: {query!r}")


def compile_bool(query: Bool) -> dict:
    """`minimum_should_match` is always spelt out, so the cluster's own default (which
    depends on the context the clause sits in) never decides."""
    clauses: dict[str, Any] = {}
    for occur in ("must", "must_not", "should"):
        parts = getattr(query, occur)
        if parts:
            clauses[occur] = [compile_query(part) for part in parts]
    if query.should:
        default = 0 if query.must else 1
        clauses["minimum_should_match"] = (
            default if query.minimum_should_match is None else query.minimum_should_match
        )
    return {"bool": clauses}


def compile_window(window: TimeWindow) -> dict:
    bounds = {}
    if window.since is not None:
        bounds["gte"] = isoformat(window.since)
    if window.until is not None:
        bounds["lt"] = isoformat(window.until)
    return {"range": {window.field: bounds}}


def compile_filter(search: Search) -> dict:
    """The `query` of the request: the search's query and time window, both required."""
    parts = []
    if search.query is not None:
        parts.append(compile_query(search.query))
    if search.window is not None:
        parts.append(compile_window(search.window))
    if not parts:
        return {"match_all": {}}
    return {"bool": {"filter": parts}}


def compile_search(search: Search) -> dict:
    """The whole request body: the filter, the newest `size` hits, an exact total, and
    the terms aggregation with its sample events."""
    newest_first = [{time_field(search): {"order": "desc"}}]
    body: dict[str, Any] = {
        "query": compile_filter(search),
        "size": search.size,
        "sort": newest_first,
        "track_total_hits": True,
    }
    aggregation = search.aggregation
    if aggregation is not None:
        terms: dict[str, Any] = {
            "terms": {"field": exact(aggregation.field), "size": aggregation.size}
        }
        if aggregation.samples:
            samples = {"size": aggregation.samples, "sort": newest_first}
            terms["aggs"] = {SAMPLES: {"top_hits": samples}}
        body["aggs"] = {AGGREGATION: terms}
    return body


def time_field(search: Search) -> str:
    return search.window.field if search.window is not None else "utctimestamp"


def read_hit(hit: Mapping[str, Any]) -> Hit:
    return Hit(index=hit["_index"], doc_id=hit["_id"], event=hit.get("_source", {}))


def bucket_key(bucket: Mapping[str, Any]) -> Any:
    """Booleans come back as 1/0 with "true"/"false" beside them, dates as epoch
    milliseconds with the formatted date beside them: keep the readable form."""
    shown = bucket.get("key_as_string")
    if shown is None:
        return bucket["key"]
    if shown in ("true", "false"):
        return shown == "true"
    return shown


def read_results(response: Mapping[str, Any]) -> Results:
    """A search response as `Results`."""
    hits = response["hits"]
    total = hits["total"]
    buckets = response.get("aggregations", {}).get(AGGREGATION, {}).get("buckets", [])
    return Results(
        total=total["value"] if isinstance(total, Mapping) else total,
        hits=tuple(read_hit(hit) for hit in hits["hits"]),
        buckets=tuple(
            Bucket(
                key=bucket_key(bucket),
                count=bucket["doc_count"],
                samples=tuple(
                    read_hit(hit) for hit in bucket.get(SAMPLES, {}).get("hits", {}).get("hits", [])
                ),
            )
            for bucket in buckets
        ),
    )
