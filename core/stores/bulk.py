"""Bulk requests to a cluster and the verdict on each item of the answer, as pure
functions: what to send, what was stored, what to send again, what to dead-letter."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class IndexRequest:
    """One document on its way into an index; `refused` is set on the copy headed for
    the dead-letter index, holding why the original was refused."""

    index: str
    doc_id: str
    source: Mapping[str, Any]
    refused: str | None = None


def bulk_body(requests: Sequence[IndexRequest]) -> list[dict]:
    """The action and document lines of a bulk request."""
    lines: list[dict] = []
    for request in requests:
        lines.append({"index": {"_index": request.index, "_id": request.doc_id}})
        lines.append(dict(request.source))
    return lines


# Painless: add the rule to the event's alert_names once; a no-op if it is there already.
MARK_SCRIPT = (
    "def names = ctx._source.alert_names;"
    " if (names instanceof List) {"
    " if (names.contains(params.rule)) { ctx.op = 'noop' } else { names.add(params.rule) } }"
    " else { ctx._source.alert_names = [params.rule] }"
)


def mark_body(references: Sequence[tuple[str, str]], rule: str) -> list[dict]:
    """The lines of a bulk request marking events as having raised an alert for `rule`;
    `retry_on_conflict` lets marks by two rules at once both land."""
    script = {"source": MARK_SCRIPT, "lang": "painless", "params": {"rule": rule}}
    lines: list[dict] = []
    for index, doc_id in references:
        lines.append({"update": {"_index": index, "_id": doc_id, "retry_on_conflict": 3}})
        lines.append({"script": script})
    return lines


class Verdict(Enum):
    STORED = "stored"
    RETRY = "retry"  # the cluster was busy or failing (429, 5xx): send it again later
    DEAD_LETTER = "dead-letter"  # the cluster will never take it as it is


@dataclass(frozen=True, slots=True)
class ItemResult:
    """What the cluster said about one item of a bulk request."""

    status: int | None
    error: str | None = None

    @property
    def verdict(self) -> Verdict:
        if self.status is not None and 200 <= self.status < 300:
            return Verdict.STORED
        if retriable(self.status):
            return Verdict.RETRY
        return Verdict.DEAD_LETTER


def retriable(status: int | None) -> bool:
    """No answer, too many requests, or a server-side failure: worth trying again."""
    return status is None or status == 429 or status >= 500


def describe_error(error: Any) -> str:
    """An error object of a response as one line: type, reason, and what caused it."""
    if not isinstance(error, Mapping):
        return str(error)
    text = f"{error.get('type', 'error')}: {error.get('reason', '')}".rstrip(": ")
    cause = error.get("caused_by")
    return f"{text} (caused by {describe_error(cause)})" if cause else text


class MalformedResponse(Exception):
    """The cluster's answer to a bulk request is not one result per item."""


def classify(response: Mapping[str, Any], count: int) -> list[ItemResult]:
    """One result per item of a bulk response, in request order."""
    items = response.get("items")
    if not isinstance(items, list) or len(items) != count:
        raise MalformedResponse(f"expected {count} items in the bulk response")
    results = []
    for item in items:
        (outcome,) = item.values()  # keyed by the action: {"index": {...}}
        error = outcome.get("error")
        results.append(ItemResult(outcome.get("status"), describe_error(error) if error else None))
    return results


def dead_letter(
    request: IndexRequest, result: ItemResult, index: str, now: datetime
) -> IndexRequest:
    """The refused document wrapped for the dead-letter index. The event is kept as JSON
    text, so that what the events mapping refused cannot be refused again here."""
    error = result.error or f"status {result.status}"
    source = {
        "utctimestamp": now.isoformat(),
        "index": request.index,
        "doc_id": request.doc_id,
        "status": result.status,
        "error": error,
        "event": orjson.dumps(request.source, default=str).decode(),
    }
    return IndexRequest(index, request.doc_id, source, refused=error)
