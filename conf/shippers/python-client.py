"""Send events to MozDef from Python with the standard library only: NDJSON to
POST /_bulk, one request per batch, and a check of every item's answer.

    MOZDEF_URL=http://127.0.0.1:8080 python3 python-client.py

Set MOZDEF_TOKEN as well if MozDef requires a token ([server] token). The elasticsearch
client's `helpers.bulk(Elasticsearch(MOZDEF_URL), actions)` works against the same
endpoint, for programs that already use it.
"""

import json
import os
import socket
import urllib.request
from datetime import UTC, datetime


def bulk_body(events: list[dict]) -> bytes:
    """Elasticsearch's bulk format: an action line before each event."""
    lines = []
    for event in events:
        lines.append(json.dumps({"index": {}}))
        lines.append(json.dumps(event))
    return ("\n".join(lines) + "\n").encode()


def send(url: str, events: list[dict], token: str | None = None) -> list[dict]:
    """POST the events; return the items MozDef did not store, with their reasons."""
    request = urllib.request.Request(
        f"{url.rstrip('/')}/_bulk",
        data=bulk_body(events),
        headers={"Content-Type": "application/x-ndjson"},
        method="POST",
    )
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.load(response)
    # A 200 answer can still hold failed items: read each one.
    items = [item.get("index") or item.get("create") for item in answer["items"]]
    return [item for item in items if item["status"] >= 300]


if __name__ == "__main__":
    event = {
        "timestamp": datetime.now(UTC).isoformat(),
        "hostname": socket.getfqdn(),
        "processname": "sshd",
        "processid": 4242,
        "severity": "INFO",
        "category": "authentication",
        "summary": "Failed password for root from 203.0.113.9 port 4242 ssh2",
        "details": {"sourceipaddress": "203.0.113.9", "username": "root"},
    }
    failed = send(
        os.environ.get("MOZDEF_URL", "http://127.0.0.1:8080"),
        [event],
        os.environ.get("MOZDEF_TOKEN"),
    )
    print(f"{len(failed)} failed: {failed}" if failed else "stored")
