"""What the server answers: always a JSON body, errors shaped as Elasticsearch shapes them
(`{"error": {"type", "reason"}, "status"}`), so that shippers built for Elasticsearch
log the reason instead of an unreadable body."""

from dataclasses import dataclass, field
from http import HTTPStatus

import orjson


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = "application/json"

    @property
    def status_line(self) -> str:
        return f"{self.status} {HTTPStatus(self.status).phrase}"


def json_response(
    status: int, value: object, headers: list[tuple[str, str]] | None = None
) -> Response:
    return Response(status, orjson.dumps(value), headers or [])


class HttpError(Exception):
    """A request that is answered with an error: `kind` names the problem for programs,
    `reason` explains it for people."""

    def __init__(
        self,
        status: int,
        kind: str,
        reason: str,
        *,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.kind = kind
        self.reason = reason
        self.headers = headers or []

    def response(self) -> Response:
        body = {"error": {"type": self.kind, "reason": self.reason}, "status": self.status}
        return json_response(self.status, body, list(self.headers))


def retry_later(status: int, kind: str, reason: str, seconds: int) -> HttpError:
    """A 429 or 503: nothing was accepted, try again in `seconds`."""
    return HttpError(status, kind, reason, headers=[("Retry-After", str(seconds))])
