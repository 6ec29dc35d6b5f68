"""Elasticsearch's bulk format in, and its bulk response out, so that shippers written
for Elasticsearch (Logstash, Beats, rsyslog's omelasticsearch, syslog-ng, the
elasticsearch client's bulk helper) can ship to MozDef unchanged.

A request is NDJSON: an action line (`{"index": {"_index": ..., "_id": ...}}` or
`create`) followed by its document line; a line that is not an action is taken as a
bare document. `_id`, when given, becomes the stored event's id, so that a shipper's
retry overwrites instead of duplicating. `_index` is echoed back but MozDef routes
events itself. `update` and `delete` cannot apply to an event store that keeps events
as they arrived: they are answered per item with an error and nothing else changes.

Every item is answered in order with its own status, as Elasticsearch does: a bad line
costs only its own item, and its error names the line.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import orjson

from mozdef.core.ingest import RawEvent, Result, Status

ACTIONS = frozenset(("index", "create", "update", "delete"))
WITH_DOCUMENT = frozenset(("index", "create", "update"))


@dataclass(slots=True)
class BulkItem:
    """One item of a bulk request: its action, the line its errors name (the action's,
    then the document's once read), its target, and either the event to ingest or the
    error that stopped it before ingestion."""

    action: str
    line: int
    index: str
    doc_id: str | None = None
    event: RawEvent | None = None
    error: tuple[str, str] | None = None  # (type, reason)


def parse_bulk(body: bytes, default_index: str, source: str) -> list[BulkItem]:
    """The items of a bulk request body, in order."""
    items: list[BulkItem] = []
    lines = iter(enumerate(body.split(b"\n"), 1))
    for number, line in lines:
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            items.append(BulkItem("index", number, default_index, error=not_json(number, exc)))
            continue
        action = action_of(value)
        if action is None:
            items.append(BulkItem("index", number, default_index, event=RawEvent(value, source)))
            continue
        name, metadata = action
        index = str(metadata.get("_index") or default_index)
        doc_id = metadata.get("_id")
        doc_id = None if doc_id is None else str(doc_id)
        item = BulkItem(name, number, index, doc_id)
        items.append(item)
        if name in WITH_DOCUMENT:
            read_document(item, lines, source)
        else:
            item.error = ("action_not_supported", f"line {number}: {name} is not supported")
    return items


def action_of(value: object) -> tuple[str, dict] | None:
    """(action, metadata) if `value` is an action line, else None (a document)."""
    if type(value) is not dict or len(value) != 1:
        return None
    ((name, metadata),) = value.items()
    if name in ACTIONS and type(metadata) is dict:
        return name, metadata
    return None


def read_document(item: BulkItem, lines: Iterator[tuple[int, bytes]], source: str) -> None:
    """Take the document line that follows an action line."""
    for number, line in lines:
        if not line.strip():
            continue
        if item.action == "update":
            item.error = ("action_not_supported", f"line {item.line}: update is not supported")
            return
        item.line = number  # what goes wrong from here on is the document's doing
        try:
            item.event = RawEvent(orjson.loads(line), source, doc_id=item.doc_id)
        except orjson.JSONDecodeError as exc:
            item.error = not_json(number, exc)
        return
    item.error = ("action_request_validation_exception", f"line {item.line}: no document follows")


def not_json(number: int, exc: Exception) -> tuple[str, str]:
    return ("json_parse_exception", f"line {number}: not valid JSON: {exc}")


def bulk_response(items: list[BulkItem], results: list[Result], took_ms: int) -> dict:
    """Elasticsearch's answer: `results` hold one result per item that had an event."""
    answers = []
    errors = False
    outcomes = iter(results)
    for item in items:
        if item.error is not None:
            status, body = 400, error_body(item, *item.error)
        else:
            status, body = item_outcome(item, next(outcomes))
        errors = errors or status >= 300
        answers.append({item.action: body})
    return {"took": took_ms, "errors": errors, "items": answers}


def item_outcome(item: BulkItem, result: Result) -> tuple[int, dict]:
    if result.status in (Status.STORED, Status.QUEUED):
        body = {"_index": item.index, "_id": result.doc_id, "status": 201, "result": "created"}
        return 201, body
    if result.status is Status.DROPPED:  # a plugin dropped it, as configured: done with
        return 200, {"_index": item.index, "_id": item.doc_id, "status": 200, "result": "noop"}
    if result.status is Status.DEAD_LETTERED:
        reason = f"the store refused it and set it aside: {result.reason}"
        return 400, error_body(item, "dead_lettered", f"line {item.line}: {reason}", result)
    reason = f"line {item.line}: {result.reason}"
    return 400, error_body(item, "malformed_event", reason, result)


def error_body(item: BulkItem, kind: str, reason: str, result: Result | None = None) -> dict:
    doc_id = result.doc_id if result and result.doc_id else item.doc_id
    error = {"type": kind, "reason": reason}
    return {"_index": item.index, "_id": doc_id, "status": 400, "error": error}
