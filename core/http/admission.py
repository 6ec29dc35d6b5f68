"""Bounds on the work under way, so that memory stays bounded under any load: a number of
requests handled at once, and a number of body bytes held across all of them. What does
not fit is refused at once with 429 and Retry-After instead of queueing without end.

Everything runs in one gevent hub thread, so plain integers are enough.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from mozdef.core.http.responses import retry_later


class Admission:
    def __init__(self, max_requests: int, max_bytes: int, retry_after: int) -> None:
        self.max_requests = max_requests
        self.max_bytes = max_bytes
        self.retry_after = retry_after
        self.requests = 0
        self.bytes = 0

    @contextmanager
    def admit(self) -> Iterator["Ticket"]:
        """A place for one request, for the duration of the block; raises a 429
        `HttpError` if every place is taken."""
        if self.requests >= self.max_requests:
            raise retry_later(
                429,
                "too_many_requests",
                f"{self.requests} requests are being handled, the most allowed "
                "(max_inflight_requests); retry later",
                self.retry_after,
            )
        self.requests += 1
        ticket = Ticket(self)
        try:
            yield ticket
        finally:
            self.requests -= 1
            self.bytes -= ticket.held


class Ticket:
    """One admitted request's share of the byte budget, returned when it finishes."""

    __slots__ = ("admission", "held")

    def __init__(self, admission: Admission) -> None:
        self.admission = admission
        self.held = 0

    def hold_up_to(self, total: int) -> None:
        """Make sure `total` bytes are held for this request; raises a 429 `HttpError`
        if the budget cannot take them."""
        more = total - self.held
        if more <= 0:
            return
        admission = self.admission
        if admission.bytes + more > admission.max_bytes:
            raise retry_later(
                429,
                "too_many_requests",
                "request bodies under way already fill max_inflight_bytes "
                f"({admission.max_bytes} bytes); retry later",
                admission.retry_after,
            )
        admission.bytes += more
        self.held = total
