"""The Elasticsearch/OpenSearch store.

Three layers: the pure request builders and response readers; the store's loops (bulk
retry, dead-letter, layout, search) driven by the real client libraries against a small
HTTP server on 127.0.0.1 that speaks just enough of the REST API; and, when
MOZDEF_TEST_ELASTICSEARCH_URL or MOZDEF_TEST_OPENSEARCH_URL names a real cluster, the
shared query cases and the dead-letter path run against it.
"""

import base64
import contextlib
import fnmatch
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from query_cases import CASES, EVENTS

from mozdef.core.backoff import backoff_delay
from mozdef.core.query import Search, Term, TermsAggregation
from mozdef.core.querydsl import compile_search
from mozdef.core.store import Document, Outcome, StoreUnavailable
from mozdef.core.stores import StoreSection, open_store
from mozdef.core.stores.bulk import (
    IndexRequest,
    ItemResult,
    MalformedResponse,
    Verdict,
    bulk_body,
    classify,
    dead_letter,
    describe_error,
    mark_body,
)
from mozdef.core.stores.cluster import (
    ClusterSettings,
    ClusterStore,
)
from mozdef.core.stores.layout import (
    alias_actions,
    concrete_index,
    current_aliases,
    desired_aliases,
    load_templates,
)

TEMPLATES = Path(__file__).resolve().parents[1] / "conf" / "elasticsearch"
BACKENDS = ["elasticsearch", "opensearch"]
NOW = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)
DAY = NOW.date()


def received(when: str, **fields: object) -> dict:
    return {"receivedtimestamp": when, "summary": "x", **fields}


# ---- Settings --------------------------------------------------------------------------


def test_secrets_come_from_the_environment_and_stay_hidden(config_file):
    config = config_file(
        '[store]\nbackend = "elasticsearch"\n'
        '[store.elasticsearch]\nhosts = ["https://es1:9200", "https://es2:9200"]\n'
        '[store.opensearch]\nusername = "mozdef"\n',
        environ={
            "MOZDEF_STORE_ELASTICSEARCH_API_KEY": "aWQ6a2V5",
            "MOZDEF_STORE_OPENSEARCH_PASSWORD": "123456",
            "MOZDEF_STORE_ELASTICSEARCH_BULK_ATTEMPTS": "9",
        },
    )
    store = config.settings.store
    assert store.elasticsearch.api_key == "aWQ6a2V5"
    assert store.elasticsearch.bulk_attempts == 9
    assert store.opensearch.password == "123456"  # digits stay a string
    assert "aWQ6a2V5" not in repr(config.settings)
    assert "123456" not in repr(config.settings)


@pytest.mark.parametrize(
    "hosts", [[], ["es1:9200"], ["http://es1:9200", "https://es2:9200"]], ids=str
)
def test_hosts_must_be_urls_of_one_scheme(config_file, hosts):
    from mozdef.core.config import ConfigError

    with pytest.raises(ConfigError, match=r"store\.elasticsearch\.hosts"):
        config_file(f"[store.elasticsearch]\nhosts = {json.dumps(hosts)}\n")


def test_opensearch_refuses_an_api_key():
    settings = ClusterSettings(api_key="aWQ6a2V5", manage_layout=False)
    with pytest.raises(ValueError, match="api_key"):
        ClusterStore("opensearch", settings)


# ---- Where documents go ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("logical", "event", "index"),
    [
        ("events", received("2026-11-20T23:59:59+00:00"), "events-20261120"),
        ("events", received("2026-11-20T23:30:00-02:00"), "events-20261121"),  # in UTC
        ("events", received("2026-11-19T08:00:00"), "events-20261119"),  # naive: UTC
        ("events", {"summary": "no receipt time"}, "events-20261120"),  # the clock's day
        ("events", received("yesterday"), "events-20261120"),
        ("alerts", received("2026-10-31T23:00:00+00:00"), "alerts-202610"),
        ("alerts", {"summary": "alert"}, "alerts-202611"),
        ("vulnerabilities", received("2026-01-01T00:00:00+00:00"), "vulnerabilities"),
    ],
)
def test_concrete_index_is_the_receipt_day(logical, event, index):
    assert concrete_index(logical, event, NOW, "") == index
    assert concrete_index(logical, event, NOW, "t1-") == "t1-" + index


def test_bulk_body_indexes_each_document_under_its_id():
    requests = [
        IndexRequest("events-20261120", "a1", {"summary": "one"}),
        IndexRequest("alerts-202611", "b2", {"summary": "two"}),
    ]
    assert bulk_body(requests) == [
        {"index": {"_index": "events-20261120", "_id": "a1"}},
        {"summary": "one"},
        {"index": {"_index": "alerts-202611", "_id": "b2"}},
        {"summary": "two"},
    ]


def test_mark_body_adds_the_rule_to_each_event_by_script():
    lines = mark_body([("events-20261120", "a1"), ("events-20261121", "b2")], "bruteforce_ssh")
    assert lines[0] == {
        "update": {"_index": "events-20261120", "_id": "a1", "retry_on_conflict": 3}
    }
    assert lines[2]["update"]["_id"] == "b2"
    script = lines[1]["script"]
    assert script["params"] == {"rule": "bruteforce_ssh"} and script["lang"] == "painless"
    assert "ctx.op = 'noop'" in script["source"]  # marked already: not rewritten
    assert lines[1] == lines[3]


# ---- Reading a bulk response -----------------------------------------------------------


def item(status: int, error: dict | None = None, action: str = "index") -> dict:
    outcome = {"_index": "events-20261120", "_id": "x", "status": status}
    if error:
        outcome["error"] = error
    return {action: outcome}


MAPPER_ERROR = {
    "type": "mapper_parsing_exception",
    "reason": "failed to parse field [details.username] of type [keyword]",
    "caused_by": {"type": "illegal_state_exception", "reason": "Can't get text on a START_OBJECT"},
}


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [
        (item(201), Verdict.STORED),
        (item(200), Verdict.STORED),  # overwritten: a redelivery
        (item(201, action="create"), Verdict.STORED),
        (
            item(429, {"type": "es_rejected_execution_exception", "reason": "queue full"}),
            Verdict.RETRY,
        ),
        (item(503, {"type": "unavailable_shards_exception", "reason": "primary"}), Verdict.RETRY),
        (item(500, {"type": "exception", "reason": "boom"}), Verdict.RETRY),
        (item(400, MAPPER_ERROR), Verdict.DEAD_LETTER),
        (
            item(400, {"type": "document_parsing_exception", "reason": "[1:2] bad"}),
            Verdict.DEAD_LETTER,
        ),
        (
            item(400, {"type": "illegal_argument_exception", "reason": "Limit of total fields"}),
            Verdict.DEAD_LETTER,
        ),
        (
            item(404, {"type": "index_not_found_exception", "reason": "no such index"}),
            Verdict.DEAD_LETTER,
        ),
        ({"index": {"_id": "x"}}, Verdict.RETRY),  # no status: nothing is known to be stored
    ],
    ids=[
        "created",
        "updated",
        "create-action",
        "429",
        "503",
        "500",
        "mapper",
        "parsing",
        "field-limit",
        "404",
        "no-status",
    ],
)
def test_each_item_gets_a_verdict(answer, verdict):
    response = {"took": 1, "errors": verdict is not Verdict.STORED, "items": [answer]}
    assert [result.verdict for result in classify(response, 1)] == [verdict]


def test_item_errors_are_described_with_their_cause():
    (result,) = classify({"errors": True, "items": [item(400, MAPPER_ERROR)]}, 1)
    assert result == ItemResult(
        400,
        "mapper_parsing_exception: failed to parse field [details.username] of type [keyword] "
        "(caused by illegal_state_exception: Can't get text on a START_OBJECT)",
    )
    assert describe_error("plain text") == "plain text"


@pytest.mark.parametrize("response", [{"errors": False}, {"items": [item(201)] * 3}])
def test_a_response_without_one_item_per_request_is_malformed(response):
    with pytest.raises(MalformedResponse):
        classify(response, 2)


def test_dead_letter_document_keeps_the_event_as_text_with_the_error():
    request = IndexRequest("events-20261120", "c3", {"details": "oops", "tags": ["a"]})
    result = ItemResult(400, "mapper_parsing_exception: object mapping for [details]")
    letter = dead_letter(request, result, "events-deadletter", NOW)
    assert letter.index == "events-deadletter"
    assert letter.doc_id == "c3"  # redelivery overwrites here too
    assert letter.refused == result.error
    assert letter.source == {
        "utctimestamp": "2026-11-20T10:30:00+00:00",
        "index": "events-20261120",
        "doc_id": "c3",
        "status": 400,
        "error": "mapper_parsing_exception: object mapping for [details]",
        "event": '{"details":"oops","tags":["a"]}',
    }


def test_backoff_doubles_up_to_its_ceiling():
    assert [backoff_delay(n, 0.5, 3.0) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


# ---- The alias layout ------------------------------------------------------------------


def days(*numbers: int) -> set[str]:
    return {f"events-202611{n:02d}" for n in numbers}


def test_desired_aliases_follow_mozdefs_layout():
    existing = days(10, 13, 14, 15, 19, 20) | {"alerts-202611", "events-deadletter"}
    assert desired_aliases(DAY, existing, "") == {
        "events": days(20),
        "events-previous": days(19),
        "events-weekly": days(14, 15, 19, 20),  # the last 7 days that exist
        "alerts": {"alerts-202611"},
    }


def test_first_day_on_a_fresh_cluster():
    assert alias_actions(desired_aliases(DAY, days(20) | {"alerts-202611"}, ""), {}) == [
        {"add": {"index": "alerts-202611", "alias": "alerts"}},
        {"add": {"index": "events-20261120", "alias": "events"}},
        {"add": {"index": "events-20261120", "alias": "events-weekly"}},
    ]


def test_the_next_day_moves_aliases_and_drops_the_oldest_day_from_the_week():
    current = {
        "events-20261113": {"events-weekly"},
        "events-20261119": {"events-weekly", "events-previous"},
        "events-20261120": {"events-weekly", "events"},
        "events-20261121": set(),
        "alerts-202611": {"alerts"},
    }
    day = date(2026, 11, 21)
    assert alias_actions(desired_aliases(day, current, ""), current) == [
        {"remove": {"index": "events-20261120", "alias": "events"}},
        {"add": {"index": "events-20261121", "alias": "events"}},
        {"remove": {"index": "events-20261119", "alias": "events-previous"}},
        {"add": {"index": "events-20261120", "alias": "events-previous"}},
        {"remove": {"index": "events-20261113", "alias": "events-weekly"}},
        {"add": {"index": "events-20261121", "alias": "events-weekly"}},
    ]


def test_aliases_in_place_need_no_actions():
    current = {
        "events-20261119": {"events-weekly", "events-previous"},
        "events-20261120": {"events-weekly", "events"},
        "alerts-202611": {"alerts"},
    }
    assert alias_actions(desired_aliases(DAY, current, ""), current) == []


def test_get_alias_response_read_as_index_to_aliases():
    response = {
        "events-20261120": {"aliases": {"events": {}, "events-weekly": {}}},
        "events-deadletter": {"aliases": {}},
    }
    assert current_aliases(response) == {
        "events-20261120": {"events", "events-weekly"},
        "events-deadletter": set(),
    }


# ---- The index templates ---------------------------------------------------------------


def read_template(kind: str) -> dict:
    return json.loads((TEMPLATES / f"index-template-{kind}.json").read_text())


def dynamic(template: dict) -> dict[str, dict]:
    rules = template["template"]["mappings"]["dynamic_templates"]
    return {name: rule for entry in rules for name, rule in entry.items()}


@pytest.mark.parametrize(("kind", "pattern"), [("events", "events-*"), ("alerts", "alerts-*")])
def test_templates_map_ips_geopoints_text_and_keywords(kind, pattern):
    template = read_template(kind)
    mappings = template["template"]["mappings"]
    assert template["index_patterns"] == [pattern]
    assert mappings["date_detection"] is False  # a date-like string must not fix a type
    assert template["template"]["settings"]["index.mapping.ignore_malformed"] is True
    summary = mappings["properties"]["summary"]
    assert summary["type"] == "text"
    assert summary["fields"]["keyword"]["type"] == "keyword"
    assert mappings["properties"]["utctimestamp"] == {"type": "date"}
    rules = dynamic(template)
    assert list(rules) == ["ip_addresses", "geopoints", "strings_as_keywords"]  # first wins
    assert rules["ip_addresses"]["match"] == "*ipaddress"
    assert rules["ip_addresses"]["mapping"]["type"] == "ip"
    assert rules["geopoints"]["match"] == "*ipgeopoint"
    assert rules["geopoints"]["mapping"]["type"] == "geo_point"
    assert rules["strings_as_keywords"]["match_mapping_type"] == "string"
    assert rules["strings_as_keywords"]["mapping"]["type"] == "keyword"


def test_events_template_names_the_mozdef_fields():
    properties = read_template("events")["template"]["mappings"]["properties"]
    for name in ("utctimestamp", "timestamp", "receivedtimestamp"):
        assert properties[name]["type"] == "date"
    for name in ("category", "hostname", "processname", "severity", "source", "tags"):
        assert properties[name]["type"] == "keyword"
    details = properties["details"]["properties"]
    assert details["sourceipaddress"]["type"] == "ip"
    assert details["destinationipaddress"]["type"] == "ip"
    assert details["sourceipgeopoint"]["type"] == "geo_point"


def test_templates_load_with_the_prefix():
    templates = load_templates(TEMPLATES, "t1-")
    assert sorted(templates) == ["t1-mozdef-alerts", "t1-mozdef-events"]
    assert templates["t1-mozdef-events"]["index_patterns"] == ["t1-events-*"]


def test_a_missing_template_folder_fails_at_start_up(tmp_path):
    settings = ClusterSettings(templates=str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="nowhere"):
        ClusterStore("elasticsearch", settings)


# ---- A small cluster on 127.0.0.1 ------------------------------------------------------


def error_body(status: int, kind: str, reason: str) -> dict:
    return {
        "error": {"type": kind, "reason": reason, "root_cause": [{"type": kind, "reason": reason}]},
        "status": status,
    }


ITEM_ERRORS = {
    400: (
        "mapper_parsing_exception",
        "object mapping for [details] tried to parse field "
        "[details] as object, but found a concrete value",
    ),
    429: ("es_rejected_execution_exception", "rejected execution of coordinating operation"),
    503: ("unavailable_shards_exception", "primary shard is not active"),
}


class FakeCluster(ThreadingHTTPServer):
    """Just enough of the Elasticsearch REST API, kept in memory, for both clients.

    `answers["<index>/<id>"]` lists the statuses the item gets on successive sends (the
    last one repeats; 201 if none); `request_statuses` are whole-request answers used
    up by the next bulk requests.
    """

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ClusterHandler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.answers: dict[str, list[int]] = {}
        self.request_statuses: list[int] = []
        self.bulks: list[list[tuple[dict, dict]]] = []  # (action, document) pairs
        self.log: list[tuple[str, str]] = []  # (method, path) of every request
        self.headers_seen: list[dict[str, str]] = []
        self.indices: dict[str, set[str]] = {}  # index -> its aliases
        self.templates: dict[str, dict] = {}
        self.searches: list[tuple[str, dict, dict]] = []  # path, query parameters, body
        self.search_answer: tuple[int, dict] = (200, {"hits": {"total": {"value": 0}, "hits": []}})
        self.before_create: list = []  # run once before creating an index, as a rival would
        self.sends: dict[str, int] = {}

    def bulk(self, pairs: list[tuple[dict, dict]]) -> tuple[int, dict]:
        self.bulks.append(pairs)
        if self.request_statuses:
            status = self.request_statuses.pop(0)
            return status, error_body(
                status, *ITEM_ERRORS.get(status, ("security_exception", "unauthorised"))
            )
        items = []
        for action, _ in pairs:
            meta = action["index"]
            key = f"{meta['_index']}/{meta['_id']}"
            sent = self.sends[key] = self.sends.get(key, 0) + 1
            statuses = self.answers.get(key, [201])
            status = statuses[min(sent, len(statuses)) - 1]
            outcome = {"_index": meta["_index"], "_id": meta["_id"], "status": status}
            if status in ITEM_ERRORS:
                outcome["error"] = error_body(status, *ITEM_ERRORS[status])["error"]
            items.append({"index": outcome})
        errors = any("error" in entry["index"] for entry in items)
        return 200, {"took": 1, "errors": errors, "items": items}

    def get_alias(self, patterns: str) -> tuple[int, dict]:
        matching = [
            i for i in self.indices if any(fnmatch.fnmatch(i, p) for p in patterns.split(","))
        ]
        return 200, {i: {"aliases": {a: {} for a in self.indices[i]}} for i in matching}

    def create(self, index: str) -> tuple[int, dict]:
        while self.before_create:
            self.before_create.pop(0)()
        if index in self.indices:
            return 400, error_body(400, "resource_already_exists_exception", index)
        self.indices[index] = set()
        return 200, {"acknowledged": True, "shards_acknowledged": True, "index": index}

    def update_aliases(self, actions: list[dict]) -> tuple[int, dict]:
        for action in actions:
            if "remove" in action:
                target = action["remove"]
                if target["alias"] not in self.indices.get(target["index"], set()):
                    return 404, error_body(404, "aliases_not_found_exception", target["alias"])
        for action in actions:
            ((verb, target),) = action.items()
            aliases = self.indices[target["index"]]
            aliases.add(target["alias"]) if verb == "add" else aliases.discard(target["alias"])
        return 200, {"acknowledged": True}


class ClusterHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server: FakeCluster

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.route()

    do_PUT = do_POST = do_DELETE = do_GET

    def route(self) -> None:
        cluster = self.server
        url = urlsplit(self.path)
        path = unquote(url.path)
        params = {key: values[-1] for key, values in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(length) if length else b""
        cluster.log.append((self.command, path))
        cluster.headers_seen.append({k.lower(): v for k, v in self.headers.items()})
        parts = path.strip("/").split("/")
        if parts[-1] == "_bulk":
            lines = [json.loads(line) for line in raw.splitlines() if line.strip()]
            status, body = cluster.bulk(list(zip(lines[::2], lines[1::2], strict=True)))
        elif parts[0] == "_index_template":
            cluster.templates[parts[1]] = json.loads(raw)
            status, body = 200, {"acknowledged": True}
        elif parts[-1] == "_alias":
            status, body = cluster.get_alias(parts[0])
        elif parts == ["_aliases"]:
            status, body = cluster.update_aliases(json.loads(raw)["actions"])
        elif parts[-1] == "_search":
            cluster.searches.append((parts[0], params, json.loads(raw)))
            status, body = cluster.search_answer
        elif self.command == "PUT" and len(parts) == 1:
            status, body = cluster.create(parts[0])
        else:
            status, body = 404, error_body(404, "no_handler", path)
        self.answer(status, body)

    def answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Elastic-Product", "Elasticsearch")  # the ES 8 client checks it
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@contextlib.contextmanager
def serving(server: FakeCluster) -> Iterator[FakeCluster]:
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def cluster() -> Iterator[FakeCluster]:
    with serving(FakeCluster()) as server:
        yield server


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> Path:
    """A self-signed certificate (and its key, in the same file) for 127.0.0.1."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    pem = tmp_path_factory.mktemp("tls") / "cluster.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(pem),
            "-out",
            str(pem),
        ],
        check=True,
        capture_output=True,
    )
    return pem


@pytest.fixture
def tls_cluster(certificate) -> Iterator[FakeCluster]:
    server = FakeCluster()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.url = server.url.replace("http://", "https://")
    with serving(server):
        yield server


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def open_cluster_store(cluster):
    stores = []

    def make(backend: str, clock: Clock | None = None, **overrides: object) -> ClusterStore:
        options = {
            "hosts": [cluster.url],
            "backoff": 0.01,
            "bulk_attempts": 3,
            "manage_layout": False,
            "templates": str(TEMPLATES),
            **overrides,
        }
        store = ClusterStore(backend, ClusterSettings(**options), clock=clock or Clock(NOW))
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


def docs(*ids: str) -> list[Document]:
    return [
        Document("events", doc_id, received("2026-11-20T10:00:00+00:00", n=doc_id))
        for doc_id in ids
    ]


@pytest.mark.parametrize("backend", BACKENDS)
def test_busy_items_are_retried_and_malformed_ones_dead_lettered(
    cluster, open_cluster_store, backend
):
    cluster.answers = {"events-20261120/b": [429, 201], "events-20261120/c": [400]}
    store = open_cluster_store(backend)

    outcomes = store.write(docs("a", "b", "c"))

    assert outcomes[:2] == [Outcome("a"), Outcome("b")]
    assert outcomes[2].doc_id == "c" and outcomes[2].stored is False
    assert "mapper_parsing_exception" in outcomes[2].error
    first, second = cluster.bulks
    assert [action["index"]["_id"] for action, _ in first] == ["a", "b", "c"]
    (retry_action, retried), (letter_action, letter) = second
    assert retry_action == {"index": {"_index": "events-20261120", "_id": "b"}}
    assert retried["n"] == "b"
    assert letter_action == {"index": {"_index": "events-deadletter", "_id": "c"}}
    assert letter["index"] == "events-20261120"
    assert letter["status"] == 400
    assert "object mapping for [details]" in letter["error"]
    assert json.loads(letter["event"])["n"] == "c"
    assert store.counts == {"stored": 2, "retried": 1, "dead_lettered": 1}


@pytest.mark.parametrize("backend", BACKENDS)
def test_gives_up_after_the_attempts_with_growing_waits(cluster, open_cluster_store, backend):
    cluster.answers = {"events-20261120/b": [503]}
    store = open_cluster_store(backend, bulk_attempts=3, backoff=0.05)
    started = time.monotonic()

    with pytest.raises(StoreUnavailable, match="unavailable_shards_exception"):
        store.write(docs("a", "b"))

    assert time.monotonic() - started >= 0.05 + 0.1
    assert len(cluster.bulks) == 3
    assert [[a["index"]["_id"] for a, _ in bulk] for bulk in cluster.bulks] == [
        ["a", "b"],
        ["b"],
        ["b"],
    ]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("status", [429, 503])
def test_a_busy_cluster_gets_the_whole_request_again(cluster, open_cluster_store, backend, status):
    cluster.request_statuses = [status]
    store = open_cluster_store(backend)

    assert store.write(docs("a", "b")) == [Outcome("a"), Outcome("b")]
    assert len(cluster.bulks) == 2
    assert cluster.bulks[0] == cluster.bulks[1]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_request_refused_outright_is_not_retried(cluster, open_cluster_store, backend):
    cluster.request_statuses = [403]
    store = open_cluster_store(backend)

    with pytest.raises(StoreUnavailable, match="403"):
        store.write(docs("a"))
    assert len(cluster.bulks) == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_dead_lettering_does_not_use_up_attempts(cluster, open_cluster_store, backend):
    cluster.answers = {"events-20261120/c": [400]}
    store = open_cluster_store(backend, bulk_attempts=1)

    assert store.write(docs("c"))[0].stored is False
    assert len(cluster.bulks) == 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_refusing_dead_letter_index_fails_the_batch(cluster, open_cluster_store, backend):
    cluster.answers = {"events-20261120/c": [400], "events-deadletter/c": [400]}
    store = open_cluster_store(backend)

    with pytest.raises(StoreUnavailable, match="dead-letter index refused 'c'"):
        store.write(docs("a", "c"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_unreachable_cluster_is_unavailable(backend):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    settings = ClusterSettings(
        hosts=[f"http://127.0.0.1:{port}"], backoff=0.01, bulk_attempts=2, manage_layout=False
    )
    store = ClusterStore(backend, settings)
    with pytest.raises(StoreUnavailable, match="not stored after 2 attempts"):
        store.write(docs("a"))
    store.close()


@pytest.mark.parametrize(
    ("backend", "options", "authorization"),
    [
        ("elasticsearch", {"api_key": "aWQ6a2V5"}, "ApiKey aWQ6a2V5"),
        (
            "elasticsearch",
            {"username": "mozdef", "password": "pw"},
            "Basic " + base64.b64encode(b"mozdef:pw").decode(),
        ),
        (
            "opensearch",
            {"username": "mozdef", "password": "pw"},
            "Basic " + base64.b64encode(b"mozdef:pw").decode(),
        ),
    ],
    ids=["es-api-key", "es-basic", "opensearch-basic"],
)
def test_credentials_reach_the_cluster(
    cluster, open_cluster_store, backend, options, authorization
):
    open_cluster_store(backend, **options).write(docs("a"))
    assert cluster.headers_seen[-1]["authorization"] == authorization


@pytest.mark.parametrize("backend", BACKENDS)
def test_tls_trusts_the_configured_ca(tls_cluster, certificate, backend):
    settings = ClusterSettings(
        hosts=[tls_cluster.url], ca_certs=str(certificate), manage_layout=False
    )
    store = ClusterStore(backend, settings)
    assert store.write(docs("a")) == [Outcome("a")]
    store.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_tls_refuses_an_unknown_certificate(tls_cluster, backend):
    settings = ClusterSettings(hosts=[tls_cluster.url], bulk_attempts=1, manage_layout=False)
    store = ClusterStore(backend, settings)
    with pytest.raises(StoreUnavailable, match=r"(?i)certificate"):
        store.write(docs("a"))
    assert tls_cluster.bulks == []
    store.close()


@pytest.mark.filterwarnings("ignore::Warning")  # both clients warn, rightly
@pytest.mark.parametrize("backend", BACKENDS)
def test_tls_verification_can_be_turned_off(tls_cluster, backend):
    settings = ClusterSettings(hosts=[tls_cluster.url], verify_certs=False, manage_layout=False)
    store = ClusterStore(backend, settings)
    assert store.write(docs("a")) == [Outcome("a")]
    store.close()


def test_open_store_opens_the_configured_cluster(cluster):
    section = StoreSection(
        backend="opensearch",
        opensearch=ClusterSettings(hosts=[cluster.url], manage_layout=False),
    )
    store = open_store(section)
    assert store.write(docs("a")) == [Outcome("a")]
    store.close()


# ---- The layout, through the clients ---------------------------------------------------


def aliases_of(cluster: FakeCluster) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for index, aliases in cluster.indices.items():
        for alias in aliases:
            found.setdefault(alias, set()).add(index)
    return found


@pytest.mark.parametrize("backend", BACKENDS)
def test_layout_rotates_day_by_day(cluster, open_cluster_store, backend):
    store = open_cluster_store(backend, manage_layout=True, index_prefix="t1-")

    store.ensure_layout(DAY)
    assert sorted(cluster.templates) == ["t1-mozdef-alerts", "t1-mozdef-events"]
    assert cluster.templates["t1-mozdef-events"]["index_patterns"] == ["t1-events-*"]
    assert aliases_of(cluster) == {
        "t1-events": {"t1-events-20261120"},
        "t1-events-weekly": {"t1-events-20261120"},
        "t1-alerts": {"t1-alerts-202611"},
    }

    store.ensure_layout(date(2026, 11, 21))
    assert aliases_of(cluster) == {
        "t1-events": {"t1-events-20261121"},
        "t1-events-previous": {"t1-events-20261120"},
        "t1-events-weekly": {"t1-events-20261120", "t1-events-20261121"},
        "t1-alerts": {"t1-alerts-202611"},
    }

    updates = cluster.log.count(("POST", "/_aliases"))
    store.ensure_layout(date(2026, 11, 21))  # idempotent: nothing left to move
    assert cluster.log.count(("POST", "/_aliases")) == updates


@pytest.mark.parametrize("backend", BACKENDS)
def test_layout_survives_another_worker_moving_the_aliases_first(
    cluster, open_cluster_store, backend
):
    store = open_cluster_store(backend, manage_layout=True)
    store.ensure_layout(DAY)
    rival = open_cluster_store(backend, manage_layout=True)
    nextday = date(2026, 11, 21)
    cluster.before_create.append(lambda: rival.ensure_layout(nextday))
    cluster.log.clear()

    # The rival creates the day's index and moves the aliases between our look and our
    # create: our create finds the index there, our move finds the aliases gone, and a
    # second look finds nothing left to do.
    store.ensure_layout(nextday)

    assert aliases_of(cluster)["events"] == {"events-20261121"}
    assert cluster.log.count(("PUT", "/events-20261121")) == 2
    assert cluster.log.count(("POST", "/_aliases")) == 2
    assert cluster.log.count(("GET", "/events-*,alerts-*/_alias")) == 3
    assert store.layout_day == nextday


@pytest.mark.parametrize("backend", BACKENDS)
def test_writes_set_up_the_layout_once_a_day(cluster, open_cluster_store, backend):
    clock = Clock(NOW)
    store = open_cluster_store(backend, clock=clock, manage_layout=True)

    store.write(docs("a"))
    store.write(docs("b"))
    assert cluster.log.count(("POST", "/_aliases")) == 1

    clock.now = datetime(2026, 11, 21, 0, 0, 5, tzinfo=UTC)
    store.write(docs("c"))
    assert cluster.log.count(("POST", "/_aliases")) == 2
    assert aliases_of(cluster)["events"] == {"events-20261121"}


# ---- Searching, through the clients ----------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_search_sends_the_compiled_body_to_the_named_aliases(cluster, open_cluster_store, backend):
    hit = {"_index": "t1-events-20261120", "_id": "kernel", "_source": {"category": "x"}}
    cluster.search_answer = (
        200,
        {"hits": {"total": {"value": 1, "relation": "eq"}, "hits": [hit]}},
    )
    store = open_cluster_store(backend, index_prefix="t1-")
    search = Search(
        Term("category", "x"),
        indices=("events", "events-previous"),
        aggregation=TermsAggregation("hostname"),
    )

    results = store.search(search)

    ((target, params, body),) = cluster.searches
    assert target == "t1-events,t1-events-previous"
    assert params["ignore_unavailable"] == "true"  # no events yesterday is no error
    assert body == compile_search(search)
    assert results.total == 1
    assert results.hits[0].doc_id == "kernel"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("status", "kind", "error"),
    [
        (400, "search_phase_execution_exception", ValueError),
        (503, "no_shard_available", StoreUnavailable),
    ],
)
def test_search_failures(cluster, open_cluster_store, backend, status, kind, error):
    cluster.search_answer = (status, error_body(status, kind, "query_string failed to parse"))
    store = open_cluster_store(backend)
    with pytest.raises(error, match=kind):
        store.search(Search(Term("category", "x")))


# ---- A real cluster, when one is configured --------------------------------------------


def live_backend(backend: str) -> object:
    variable = f"MOZDEF_TEST_{backend.upper()}_URL"
    reason = f"no {backend} cluster: set {variable} (e.g. http://127.0.0.1:9200) to run"
    return pytest.param(
        (backend, os.environ.get(variable)),
        marks=pytest.mark.skipif(not os.environ.get(variable), reason=reason),
        id=backend,
    )


CASE_DAY = "events-20261120"  # where EVENTS land: their receipt day
OTHER_DAY = "2026-11-19T12:00:00+00:00"


@pytest.fixture(scope="module", params=[live_backend(b) for b in BACKENDS])
def live(request) -> Iterator[ClusterStore]:
    backend, url = request.param
    prefix = f"mozdef-test-{uuid.uuid4().hex[:8]}-"
    settings = ClusterSettings(
        hosts=[url], index_prefix=prefix, backoff=0.2, templates=str(TEMPLATES)
    )
    store = ClusterStore(backend, settings)
    try:
        outcomes = store.write([Document("events", key, event) for key, event in EVENTS.items()])
        assert all(outcome.stored for outcome in outcomes), outcomes
        store.client.indices.refresh(index=f"{prefix}*")
        yield store
    finally:
        # named one by one: Elasticsearch 8 refuses wildcard deletes by default
        made = store.client.indices.get(index=f"{prefix}*")
        names = list(getattr(made, "body", made))
        if names:
            store.client.indices.delete(index=",".join(names))
        for name in store.templates:
            store.client.indices.delete_index_template(name=name)
        store.close()


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_live_query_cases(live, case):
    results = live.search(Search(case.query, case.window, indices=(CASE_DAY,)))
    assert {hit.doc_id for hit in results.hits} == case.expected
    assert results.total == len(case.expected)


def test_live_aggregation_counts_and_samples(live):
    search = Search(
        Term("category", "authentication"),
        size=0,
        indices=(CASE_DAY,),
        aggregation=TermsAggregation("details.sourceipaddress", size=1, samples=1),
    )
    (bucket,) = live.search(search).buckets
    assert (bucket.key, bucket.count) == ("203.0.113.9", 2)
    assert [hit.doc_id for hit in bucket.samples] == ["ssh-fail-2"]  # the newer one


def test_live_mapping_follows_the_template(live):
    event = received(
        OTHER_DAY,
        details={
            "proxyipaddress": "192.0.2.1",
            "sourceipgeopoint": "52.52,13.40",
            "sourceipaddress": "not an address",
        },
    )
    assert live.write([Document("events", "mapped", event)])[0].stored  # kept, not indexed
    index = live.prefix + "events-20261119"
    mapping = live.client.indices.get_mapping(index=index)
    properties = getattr(mapping, "body", mapping)[index]["mappings"]["properties"]
    details = properties["details"]["properties"]
    assert details["proxyipaddress"]["type"] == "ip"
    assert details["sourceipgeopoint"]["type"] == "geo_point"
    assert properties["summary"]["type"] == "text"


def test_live_aliases_cover_the_days(live):
    live.ensure_layout(date(2026, 11, 21))
    live.client.indices.refresh(index=f"{live.prefix}*")
    previous = live.search(Search(indices=("events-previous",), size=0))
    assert previous.total == len(EVENTS)


def test_live_malformed_document_is_dead_lettered(live):
    event = received(OTHER_DAY, details="a string where an object is mapped")
    (outcome,) = live.write([Document("events", "malformed-1", event)])
    assert outcome.stored is False
    assert "details" in outcome.error
    letter = live.client.get(index=live.prefix + "events-deadletter", id="malformed-1")
    source = letter["_source"]
    assert source["index"] == live.prefix + "events-20261119"
    assert json.loads(source["event"])["details"] == "a string where an object is mapped"
    assert live.counts["dead_lettered"] >= 1


def test_live_marks_are_added_once_and_kept(live):
    (hit,) = live.search(
        Search(Term("category", "authentication"), indices=(CASE_DAY,), size=1)
    ).hits
    for rule in ("first", "second", "first"):
        live.mark_alerted([(hit.index, hit.doc_id)], rule)
    live.client.indices.refresh(index=f"{live.prefix}*")
    (marked,) = live.search(Search(Term("alert_names", "second"), indices=(CASE_DAY,))).hits
    assert marked.doc_id == hit.doc_id
    assert marked.event["alert_names"] == ["first", "second"]
