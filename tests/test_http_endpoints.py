"""The HTTP ingest endpoints, end to end: a real server on a real socket, the built-in
plugin chain, and a real SQLite file, checked by reading the store back."""

import gzip
import uuid
import zlib
from pathlib import Path

import orjson
import pytest
from test_http_support import Client, make_config, serving, stored, stored_ids

pytest_plugins = ["test_http_support"]

SAMPLES = Path(__file__).parent / "samples"
SSHD = (SAMPLES / "sshd.ndjson").read_bytes().splitlines()[0]
NXLOG = (SAMPLES / "windows.ndjson").read_bytes().splitlines()[0]


def marked(marker: str, **fields: object) -> dict:
    """A syslog-style event whose summary carries `marker`, to find it in the store."""
    return {
        "timestamp": "2024-05-14T09:00:42+00:00",
        "hostname": "web1.example.com",
        "processname": "nginx",
        "summary": f"request {marker}",
        **fields,
    }


def events_marked(config, marker: str) -> list[dict]:
    return [event for event in stored(config) if marker in event.get("summary", "")]


def test_one_event_is_normalised_processed_and_stored(shared, client):
    config, _ = shared
    answer = client.post("/events", SSHD)
    assert answer.status == 200
    assert answer.json == {
        "received": 1,
        "stored": 1,
        "queued": 0,
        "dropped": 0,
        "rejected": 0,
        "dead_lettered": 0,
        "errors": [],
    }
    (event,) = [e for e in stored(config) if "port 50122" in e["summary"]]
    assert event["details"]["username"] == "alice"  # the sshd plugin ran
    assert event["hostname"] == "bastion1.corp.example.com"  # `host` normalised


@pytest.mark.parametrize(
    ("path", "method", "content_type"),
    [
        ("/events", "POST", "application/json"),
        ("/events", "PUT", "application/json"),
        ("/nxlog", "POST", "text/plain"),  # what nxlog's om_http sends by default
        ("/events", "POST", "application/x-www-form-urlencoded"),  # curl -d
        ("/events", "POST", "application/vnd.elasticsearch+json; compatible-with=8"),
    ],
)
def test_a_json_array_and_ndjson_are_taken_whatever_json_label(
    shared, client, path, method, content_type
):
    config, _ = shared
    marker = uuid.uuid4().hex
    array = orjson.dumps([marked(marker), marked(marker)])
    ndjson = b"\n".join(orjson.dumps(marked(marker)) for _ in range(3)) + b"\n"
    for body in (array, ndjson):
        answer = client.request(method, path, body, {"Content-Type": content_type})
        assert answer.status == 200, answer.body
    assert len(events_marked(config, marker)) == 5


def test_nxlog_windows_event_keeps_its_fields(shared, client):
    config, _ = shared
    assert client.post("/nxlog", NXLOG).status == 200
    events = [e for e in stored(config) if e["hostname"] == "DC01.corp.example.com"]
    assert events and events[0]["details"]["eventid"] == 4624


def test_malformed_json_is_400_naming_the_problem_and_stores_nothing(shared, client):
    config, _ = shared
    before = len(stored(config))
    answer = client.post("/events", b'{"summary": "unterminated')
    assert answer.status == 400
    body = answer.json
    assert body["error"]["type"] == "parse_exception"
    assert "line 1" in body["error"]["reason"] and "not valid JSON" in body["error"]["reason"]
    assert len(stored(config)) == before


def test_bad_lines_cost_only_themselves(shared, client):
    config, _ = shared
    marker = uuid.uuid4().hex
    body = b"\n".join(
        [orjson.dumps(marked(marker)), b"{nope", b"[1, 2]", orjson.dumps(marked(marker))]
    )
    answer = client.post("/events", body, "application/x-ndjson")
    assert answer.status == 200
    assert answer.json["stored"] == 2 and answer.json["rejected"] == 2
    problems = {p["item"]: p["reason"] for p in answer.json["errors"]}
    assert "not valid JSON" in problems["line 2"]
    assert "must be a JSON object" in problems["line 3"]
    assert len(events_marked(config, marker)) == 2


def test_an_empty_body_is_400(client):
    answer = client.post("/events", b"  \n")
    assert answer.status == 400
    assert answer.json["error"]["reason"] == "the body holds no events"


CEF_LINES = [
    "Sep 19 08:26:10 fw01.example.com CEF:0|Security|threatmanager|1.0|100|worm successfully "
    "stopped|10|src=10.0.0.1 dst=2.1.2.2 spt=1232 dpt=445 suser=bob act=blocked "
    "msg=Worm {marker} stopped cs1=Inbound cs1Label=Rule Name",
    "CEF:0|Vendor\\|Inc|Prod|2.0|sig-7|Name|Low|duser=carol request=http://x/?a\\=b "
    "msg={marker} two\\nlines rt=Sep 19 2018 08:26:10.123 UTC",
]


def test_cef_lines_become_events_with_spelled_out_fields(shared, client):
    config, _ = shared
    marker = uuid.uuid4().hex
    text = "\n".join(line.format(marker=marker) for line in CEF_LINES) + "\nnot cef at all\n"
    answer = client.post("/cef", text.encode(), "text/plain")
    assert answer.status == 200
    assert answer.json["stored"] == 2
    assert answer.json["errors"] == [
        {"item": "line 3", "status": "rejected", "reason": "not a CEF line: no 'CEF:' in it"}
    ]
    first, second = sorted(events_marked(config, marker), key=lambda e: e["details"]["signatureid"])
    assert first["hostname"] == "fw01.example.com"
    assert first["severity"] == "CRITICAL"
    details = first["details"]
    assert details["sourceipaddress"] == "10.0.0.1"
    assert details["destinationport"] == 445
    assert details["sourceusername"] == "bob"
    assert details["action"] == "blocked"
    assert details["rule_name"] == "Inbound"
    assert second["summary"] == f"{marker} two\nlines"
    assert second["details"]["devicevendor"] == "Vendor|Inc"
    assert second["details"]["requesturl"] == "http://x/?a=b"
    assert second["utctimestamp"] == "2018-09-19T08:26:10.123000+00:00"


def test_cef_endpoint_also_takes_json(shared, client):
    config, _ = shared
    marker = uuid.uuid4().hex
    assert client.post("/cef", orjson.dumps(marked(marker))).status == 200
    assert len(events_marked(config, marker)) == 1


def test_custom_endpoint_names_the_application(shared, client):
    config, _ = shared
    marker = uuid.uuid4().hex
    answer = client.post("/custom/payroll", orjson.dumps({"note": marker, "amount": 3}))
    assert answer.status == 200
    (event,) = [e for e in stored(config) if e.get("note") == marker]
    assert event["customendpoint"] == "payroll"
    assert event["amount"] == 3
    assert "hostname" not in event  # no aliasing or defaults: the event keeps its shape


def bulk(*lines: object) -> bytes:
    return b"".join(
        (line if isinstance(line, bytes) else orjson.dumps(line)) + b"\n" for line in lines
    )


def test_bulk_answers_every_item_and_stores_the_good_ones(shared, client):
    config, _ = shared
    marker = uuid.uuid4().hex
    doc_id = f"given-{marker}"
    body = bulk(
        {"index": {"_index": "filebeat-8.19.0", "_id": doc_id}},
        marked(marker),
        {"create": {}},
        b"{broken",
        {"delete": {"_id": "x"}},
        marked(marker),  # a bare document
        {"update": {"_id": "y"}},
        {"doc": {"a": 1}},
        {"index": {}},
        [1, 2],  # not an object: rejected by normalisation
    )
    answer = client.post("/_bulk", body, "application/x-ndjson")
    assert answer.status == 200
    result = answer.json
    assert result["errors"] is True
    items = [next(iter(item.items())) for item in result["items"]]
    assert [(action, item["status"]) for action, item in items] == [
        ("index", 201),
        ("create", 400),
        ("delete", 400),
        ("index", 201),
        ("update", 400),
        ("index", 400),
    ]
    assert items[0][1]["_index"] == "filebeat-8.19.0" and items[0][1]["_id"] == doc_id
    assert items[1][1]["error"]["type"] == "json_parse_exception"
    assert items[1][1]["error"]["reason"].startswith("line 4: not valid JSON")
    assert items[2][1]["error"]["reason"] == "line 5: delete is not supported"
    assert "line 10" in items[5][1]["error"]["reason"]
    assert len(events_marked(config, marker)) == 2
    assert doc_id in stored_ids(config)


def test_bulk_redelivery_with_an_id_does_not_duplicate(shared, client):
    config, _ = shared
    marker = uuid.uuid4().hex
    body = bulk({"index": {"_id": marker}}, marked(marker))
    for _ in range(2):
        assert client.post("/_bulk", body, "application/x-ndjson").json["errors"] is False
    assert len(events_marked(config, marker)) == 1


def test_bulk_under_an_index_path_echoes_the_index(client):
    answer = client.post("/logs-app/_bulk", bulk({"create": {}}, marked("x")), "application/json")
    ((action, item),) = answer.json["items"][0].items()
    assert (action, item["_index"], item["status"]) == ("create", "logs-app", 201)


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data, wbits=-15)),  # raw deflate, as some send
    ],
)
def test_compressed_bodies(shared, client, encoding, compress):
    config, _ = shared
    marker = uuid.uuid4().hex
    body = compress(orjson.dumps([marked(marker)] * 3))
    answer = client.post("/events", body, **{"Content-Encoding": encoding})
    assert answer.status == 200, answer.body
    assert len(events_marked(config, marker)) == 3


def test_chunked_upload(shared, client):
    config, _ = shared
    marker = uuid.uuid4().hex
    pieces = [orjson.dumps(marked(marker)) + b"\n" for _ in range(4)]
    answer = client.request(
        "POST", "/events", iter(pieces), {"Content-Type": "application/x-ndjson"}, chunked=True
    )
    assert answer.status == 200, answer.body
    assert len(events_marked(config, marker)) == 4


def test_wrong_content_type_and_encoding_are_415(client):
    xml = client.post("/events", b"<event/>", "application/xml")
    assert xml.status == 415
    assert xml.json["error"]["type"] == "unsupported_media_type"
    brotli = client.post("/events", b"x", **{"Content-Encoding": "br"})
    assert brotli.status == 415
    assert "gzip or deflate" in brotli.json["error"]["reason"]


def test_unknown_paths_and_methods(client):
    missing = client.request("GET", "/nothing-here")
    assert missing.status == 404 and missing.json["error"]["type"] == "not_found"
    wrong = client.request("GET", "/events")
    assert wrong.status == 405 and wrong.headers["Allow"] == "POST, PUT"


def test_status(client):
    answer = client.request("GET", "/status")
    assert (answer.status, answer.json) == (200, {"status": "ok", "service": "loginput"})


def test_probes_answer_like_an_elasticsearch_8_cluster(client):
    root = client.request("GET", "/")
    assert root.status == 200
    assert root.json["version"]["number"].startswith("8.")
    assert root.headers["X-Elastic-Product"] == "Elasticsearch"
    head = client.request("HEAD", "/")
    assert (head.status, head.body) == (200, b"")
    assert client.request("GET", "/_license").json["license"]["status"] == "active"
    assert client.request("GET", "/_cluster/health").json["status"] == "green"
    template = client.request("PUT", "/_index_template/filebeat-8.19.0", b"{}")
    assert (template.status, template.json) == (200, {"acknowledged": True})
    policy = client.request("GET", "/_ilm/policy/filebeat")
    assert policy.status == 404


def test_metrics_count_events_by_endpoint_and_plugin(shared, client):
    marker = uuid.uuid4().hex
    client.post("/cef", f"CEF:0|a|b|1|s|n|3|msg={marker}\nnot cef".encode(), "text/plain")
    answer = client.request("GET", "/metrics")
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = answer.body.decode()
    samples = dict(line.rsplit(" ", 1) for line in text.splitlines() if line[0] != "#")
    assert float(samples['mozdef_http_events_total{endpoint="cef",outcome="stored"}']) >= 1
    assert float(samples['mozdef_http_events_total{endpoint="cef",outcome="rejected"}']) >= 1
    assert float(samples['mozdef_plugin_events_total{plugin="keyfixup",outcome="seen"}']) >= 1
    assert float(samples["mozdef_store_write_seconds_count"]) >= 1
    assert "mozdef_http_requests_in_flight 0" in text.splitlines()
    assert "# TYPE mozdef_store_write_seconds histogram" in text


def test_the_elasticsearch_clients_bulk_helper_ships_to_mozdef(shared):
    elasticsearch = pytest.importorskip("elasticsearch")
    helpers = pytest.importorskip("elasticsearch.helpers")
    config, (host, port) = shared
    marker = uuid.uuid4().hex
    client = elasticsearch.Elasticsearch(f"http://{host}:{port}")
    actions = [{"_index": "app-logs", "_source": marked(marker)} for _ in range(25)]
    succeeded, errors = helpers.bulk(client, actions, chunk_size=10)
    assert (succeeded, errors) == (25, [])
    assert client.info()["version"]["number"].startswith("8.")
    assert len(events_marked(config, marker)) == 25


def test_a_plugin_drop_is_answered_as_done_not_as_an_error(tmp_path):
    rule = (
        '[[plugins.drop_rules.rules]]\nname = "noise"\nmatch = { hostname = "noisy.example.com" }\n'
    )
    config = make_config(tmp_path, tables=rule)
    with serving(config) as address:
        client = Client(address)
        body = bulk({"index": {}}, marked("dropme", hostname="noisy.example.com"))
        answer = client.post("/_bulk", body, "application/x-ndjson")
        ((_, item),) = answer.json["items"][0].items()
        assert (answer.json["errors"], item["status"], item["result"]) == (False, 200, "noop")
        client.close()
    assert stored(config) == []
