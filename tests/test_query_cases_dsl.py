"""The query DSL each shared query case compiles to, and the search request and response
around it. The same cases run for real against the SQLite store and, when a cluster is
configured, against Elasticsearch/OpenSearch (tests/test_cluster_store.py)."""

from datetime import datetime, timedelta, timezone

import pytest
from query_cases import CASES

from mozdef.core.query import (
    Bool,
    Bucket,
    Hit,
    Phrase,
    Range,
    Results,
    Search,
    Subnet,
    Term,
    Terms,
    TermsAggregation,
    TimeWindow,
    Wildcard,
)
from mozdef.core.querydsl import compile_query, compile_search, read_results


def only(*clauses: dict) -> dict:
    """The request's query when every clause must hold."""
    return {"bool": {"filter": list(clauses)}}


def term(field: str, value: object) -> dict:
    return {"term": {field: {"value": value}}}


def query_string(text: str) -> dict:
    return {"query_string": {"query": text, "default_field": "summary", "analyze_wildcard": True}}


# case id (tests/query_cases.py) -> the `query` of the search request it compiles to
EXPECTED_DSL: dict[str, dict] = {
    "term-top-level": only(term("category", "authentication")),
    "term-nested": only(term("details.username", "root")),
    "term-number": only(term("details.destinationport", 8443)),
    "term-bool": only(term("details.success", True)),
    "term-list-element": only(term("tags", "failure")),
    "term-no-match": only(term("category", "Authentication")),
    "terms": only({"terms": {"processname": ["squid", "kernel"]}}),
    "phrase-summary": only({"match_phrase": {"summary": {"query": "failed password"}}}),
    "phrase-order-matters": only({"match_phrase": {"summary": {"query": "password failed"}}}),
    "wildcard": only({"wildcard": {"hostname": {"value": "bastion*"}}}),
    "wildcard-single": only({"wildcard": {"details.device": {"value": "eth?"}}}),
    "exists": only({"exists": {"field": "details.destinationport"}}),
    "range-number": only({"range": {"details.octets": {"gte": 1000, "lt": 2000}}}),
    "range-open": only({"range": {"details.sourceport": {"gt": 4242}}}),
    "range-time": only(
        {
            "range": {
                "utctimestamp": {
                    "gte": "2026-11-20T10:05:00+00:00",
                    "lt": "2026-11-20T10:07:00+00:00",
                }
            }
        }
    ),
    "subnet-v4": only(term("details.sourceipaddress", "10.0.0.0/8")),
    "subnet-v4-narrow": only(term("details.sourceipaddress", "203.0.113.0/24")),
    "subnet-v6": only(term("details.sourceipaddress", "2001:db8::/32")),
    "subnet-other-field": only(term("details.destinationipaddress", "2.192.0.0/16")),
    "bool-must-not": only(
        {
            "bool": {
                "must": [term("category", "authentication")],
                "must_not": [term("details.username", "root")],
            }
        }
    ),
    "bool-should": only(
        {
            "bool": {
                "should": [term("severity", "CRITICAL"), term("severity", "WARNING")],
                "minimum_should_match": 1,
            }
        }
    ),
    "bool-nested": only(
        {
            "bool": {
                "must": [term("tags", "sshd")],
                "should": [
                    term("details.sourceipaddress", "10.0.0.0/8"),
                    term("details.username", "bob"),
                ],
                "minimum_should_match": 1,
            }
        }
    ),
    "query-string-field": only(query_string("category:netflow")),
    "query-string-boolean": only(
        query_string("category:authentication AND NOT details.username:root")
    ),
    "query-string-phrase": only(query_string('summary:"promiscuous mode"')),
    "query-string-wildcard": only(query_string("hostname:bastion*")),
    "query-string-or": only(query_string("processname:(squid OR kernel)")),
    "query-string-range": only(query_string("details.octets:[1000 TO 2000]")),
    "query-string-exists": only(query_string("_exists_:details.auid")),
    "window": only(
        term("category", "authentication"),
        {
            "range": {
                "utctimestamp": {
                    "gte": "2026-11-20T10:03:00.000000+00:00",
                    "lt": "2026-11-20T10:09:00.000000+00:00",
                }
            }
        },
    ),
    "window-only": only({"range": {"utctimestamp": {"gte": "2026-11-20T10:07:00.000000+00:00"}}}),
}


def test_every_case_has_its_dsl():
    assert set(EXPECTED_DSL) == {case.id for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_case_compiles_to_dsl(case):
    body = compile_search(Search(query=case.query, window=case.window))
    assert body["query"] == EXPECTED_DSL[case.id]


def test_request_body_sorts_newest_first_and_counts_exactly():
    body = compile_search(Search(Term("category", "proxy"), size=25))
    assert body == {
        "query": only(term("category", "proxy")),
        "size": 25,
        "sort": [{"utctimestamp": {"order": "desc"}}],
        "track_total_hits": True,
    }


def test_no_query_and_no_window_matches_everything():
    assert compile_search(Search())["query"] == {"match_all": {}}


def test_window_on_receipt_time_filters_and_sorts_by_it():
    since = datetime(2026, 11, 20, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    body = compile_search(Search(window=TimeWindow(since=since, field="receivedtimestamp")))
    assert body["query"] == only(
        {"range": {"receivedtimestamp": {"gte": "2026-11-20T10:00:00.000000+00:00"}}}
    )
    assert body["sort"] == [{"receivedtimestamp": {"order": "desc"}}]


def test_naive_window_times_are_taken_as_utc():
    body = compile_search(Search(window=TimeWindow(until=datetime(2026, 11, 20, 10, 0))))
    assert body["query"] == only(
        {"range": {"utctimestamp": {"lt": "2026-11-20T10:00:00.000000+00:00"}}}
    )


def test_terms_aggregation_with_newest_samples():
    search = Search(
        Term("category", "authentication"),
        size=0,
        aggregation=TermsAggregation("details.sourceipaddress", size=5, samples=2),
    )
    assert compile_search(search)["aggs"] == {
        "values": {
            "terms": {"field": "details.sourceipaddress", "size": 5},
            "aggs": {
                "samples": {"top_hits": {"size": 2, "sort": [{"utctimestamp": {"order": "desc"}}]}}
            },
        }
    }


def test_aggregation_without_samples_asks_for_none():
    search = Search(aggregation=TermsAggregation("hostname"))
    assert compile_search(search)["aggs"] == {
        "values": {"terms": {"field": "hostname", "size": 10}}
    }


@pytest.mark.parametrize(
    ("query", "dsl"),
    [
        (
            Term("summary", "device eth0 entered promiscuous mode"),
            term("summary.keyword", "device eth0 entered promiscuous mode"),
        ),
        (Terms("summary", ("a", "b")), {"terms": {"summary.keyword": ["a", "b"]}}),
        (Wildcard("summary", "device *"), {"wildcard": {"summary.keyword": {"value": "device *"}}}),
        (Range("summary", gte="a"), {"range": {"summary.keyword": {"gte": "a"}}}),
        (
            Phrase("summary", "eth0 entered"),
            {"match_phrase": {"summary": {"query": "eth0 entered"}}},
        ),
    ],
    ids=["term", "terms", "wildcard", "range", "phrase-stays-analysed"],
)
def test_exact_forms_on_summary_use_its_keyword_subfield(query, dsl):
    assert compile_query(query) == dsl


def test_summary_aggregation_uses_its_keyword_subfield():
    body = compile_search(Search(aggregation=TermsAggregation("summary")))
    assert body["aggs"]["values"]["terms"]["field"] == "summary.keyword"


@pytest.mark.parametrize(
    ("cidr", "sent"),
    [
        ("10.1.2.3/8", "10.0.0.0/8"),
        ("192.0.2.7", "192.0.2.7/32"),
        ("2001:DB8:0:0::1/48", "2001:db8::/48"),
    ],
)
def test_subnets_are_sent_in_canonical_cidr_form(cidr, sent):
    assert compile_query(Subnet("details.sourceipaddress", cidr)) == term(
        "details.sourceipaddress", sent
    )


def test_a_bad_subnet_fails_before_reaching_the_cluster():
    with pytest.raises(ValueError, match=r"10\.0\.0\.0/33"):
        compile_query(Subnet("details.sourceipaddress", "10.0.0.0/33"))


@pytest.mark.parametrize(
    ("query", "clauses"),
    [
        (Bool(), {}),
        (
            Bool(must_not=(Term("a", 1),), should=(Term("b", 2),)),
            {"must_not": [term("a", 1)], "should": [term("b", 2)], "minimum_should_match": 1},
        ),
        (
            Bool(must=(Term("a", 1),), should=(Term("b", 2),)),
            {"must": [term("a", 1)], "should": [term("b", 2)], "minimum_should_match": 0},
        ),
        (
            Bool(should=(Term("a", 1), Term("b", 2)), minimum_should_match=2),
            {"should": [term("a", 1), term("b", 2)], "minimum_should_match": 2},
        ),
    ],
    ids=["empty-matches-all", "should-alone-needs-one", "should-beside-must-optional", "explicit"],
)
def test_minimum_should_match_is_always_spelt_out(query, clauses):
    assert compile_query(query) == {"bool": clauses}


def test_unknown_query_type_is_refused():
    with pytest.raises(TypeError, match="not a query"):
        compile_query("category:netflow")  # a string, not QueryString


def test_response_read_back_into_results():
    response = {
        "took": 3,
        "timed_out": False,
        "hits": {
            "total": {"value": 42, "relation": "eq"},
            "hits": [
                {
                    "_index": "events-20261120",
                    "_id": "kernel",
                    "_score": None,
                    "_source": {"category": "promiscuous"},
                    "sort": [1795168020000],
                },
            ],
        },
        "aggregations": {
            "values": {
                "doc_count_error_upper_bound": 0,
                "sum_other_doc_count": 0,
                "buckets": [
                    {
                        "key": "203.0.113.9",
                        "doc_count": 2,
                        "samples": {
                            "hits": {
                                "total": {"value": 2, "relation": "eq"},
                                "hits": [
                                    {
                                        "_index": "events-20261120",
                                        "_id": "ssh-fail-2",
                                        "_source": {"summary": "Failed password"},
                                    }
                                ],
                            }
                        },
                    },
                    {"key": 1, "key_as_string": "true", "doc_count": 1},
                    {
                        "key": 1795168020000,
                        "key_as_string": "2026-11-20T10:07:00.000Z",
                        "doc_count": 1,
                    },
                    {"key": 8443, "doc_count": 1},
                ],
            }
        },
    }
    assert read_results(response) == Results(
        total=42,
        hits=(Hit("events-20261120", "kernel", {"category": "promiscuous"}),),
        buckets=(
            Bucket(
                "203.0.113.9",
                2,
                (Hit("events-20261120", "ssh-fail-2", {"summary": "Failed password"}),),
            ),
            Bucket(True, 1),
            Bucket("2026-11-20T10:07:00.000Z", 1),
            Bucket(8443, 1),
        ),
    )


def test_response_without_aggregation_has_no_buckets():
    response = {"hits": {"total": {"value": 0, "relation": "eq"}, "hits": []}}
    assert read_results(response) == Results(total=0)
