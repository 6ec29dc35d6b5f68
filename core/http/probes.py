"""Answers to what shippers built for Elasticsearch ask before they send anything.

Beats and Logstash read `version.number` from `GET /` and refuse a cluster of an
unknown major, so MozDef claims an 8.x release; the elasticsearch clients and Logstash
also want the `X-Elastic-Product: Elasticsearch` header on every answer (see `app`).
At start-up they look for their index templates, ILM policies and ingest pipelines and
install any that are missing. MozDef answers as a fresh, empty cluster would: such a
resource is not found (404), and creating, changing or deleting one is acknowledged, so
that the shipper goes on to send events, the only thing MozDef takes from it.
"""

from mozdef.core.http.responses import Response, json_response

VERSION = "8.19.0"
LUCENE_VERSION = "9.12.2"
CLUSTER = "mozdef"
# Paths of management APIs a shipper may call at start-up, by their first segment.
MANAGEMENT = frozenset(
    (
        "_index_template",
        "_template",
        "_component_template",
        "_ilm",
        "_ingest",
        "_data_stream",
        "_alias",
        "_aliases",
    )
)
LICENSE = {
    "status": "active",
    "uid": "00000000-0000-0000-0000-000000000000",
    "type": "basic",
    "issue_date_in_millis": 0,
    "max_nodes": 1000,
    "issued_to": CLUSTER,
    "issuer": "mozdef",
    "start_date_in_millis": -1,
}


def root() -> dict:
    return {
        "name": CLUSTER,
        "cluster_name": CLUSTER,
        "cluster_uuid": "mozdef-loginput",
        "version": {
            "number": VERSION,
            "build_flavor": "default",
            "build_type": "mozdef",
            "build_hash": "",
            "build_date": "2025-01-01T00:00:00.000Z",
            "build_snapshot": False,
            "lucene_version": LUCENE_VERSION,
            "minimum_wire_compatibility_version": "7.17.0",
            "minimum_index_compatibility_version": "7.0.0",
        },
        "tagline": "You Know, for Search",
    }


FIXED = {
    "_license": {"license": LICENSE},
    "_xpack": {
        "build": {"hash": "", "date": ""},
        "license": {**LICENSE, "mode": "basic"},
        "features": {"ilm": {"available": True, "enabled": True}},
    },
    "_cluster/health": {
        "cluster_name": CLUSTER,
        "status": "green",
        "timed_out": False,
        "number_of_nodes": 1,
        "number_of_data_nodes": 1,
        "active_primary_shards": 0,
        "active_shards": 0,
        "relocating_shards": 0,
        "initializing_shards": 0,
        "unassigned_shards": 0,
    },
    "_nodes": {"_nodes": {"total": 1, "successful": 1, "failed": 0}, "cluster_name": CLUSTER},
}


def answer(method: str, path: str) -> Response | None:
    """The answer to a probe, or None if `path` is not one."""
    segments = path.strip("/").split("/")
    if segments == [""]:
        return json_response(200, root()) if method == "GET" else None
    if method == "GET":
        for prefix, body in FIXED.items():
            if path.strip("/").startswith(prefix):
                return json_response(200, body)
    if segments[0] not in MANAGEMENT:
        return None
    if method in ("GET", "HEAD"):
        reason = f"{path} does not exist: MozDef keeps no Elasticsearch resources"
        return json_response(
            404,
            {"error": {"type": "resource_not_found_exception", "reason": reason}, "status": 404},
        )
    return json_response(200, {"acknowledged": True})
