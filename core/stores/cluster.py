"""Elasticsearch and OpenSearch clusters, through their official clients.

The store is thin: what it sends is built by pure functions elsewhere: the index a
document goes to and the alias moves for a day in `mozdef.core.stores.layout`, the bulk
body, the verdict on each item of a bulk response and the dead-letter document in
`mozdef.core.stores.bulk`, searches in `mozdef.core.querydsl`. The
client library is imported only when its backend is chosen.

Index layout, as MozDef has always had it:

- Events go to daily indices `events-YYYYMMDD`, alerts to monthly `alerts-YYYYMM`. The
  day (month) is the event's receipt time, `receivedtimestamp`, which the normaliser
  sets on every event, so the store writes to the current day's index as MozDef did:
  a shipper replaying last month's logs does not create last month's indices. Any
  other logical index a plugin chose is used as named.
- Aliases: `events` is today's index, `events-previous` yesterday's, `events-weekly`
  the last seven days' (those that exist), `alerts` this month's. Searches name
  these aliases (`Search.indices`); a window that may cross midnight should ask for
  `("events", "events-previous")` or `("events-weekly",)`.
- `ensure_layout()` puts the index templates, creates today's indices and moves the
  aliases. It is idempotent, and safe when several workers run it at once. The store
  calls it itself before the first write of each UTC day (so at start-up and daily);
  an operator whose own tooling manages indices sets `manage_layout = false`.
- `index_prefix` comes before every index, alias and template name (a test run, or
  several MozDefs on one cluster).

Writing: one bulk request per batch, with each document's `Document.doc_id` as `_id`,
so a redelivered event overwrites itself. The response is read item by item (a bulk
request answers 200 even when items fail): items refused with 429 or 5xx are sent
again with exponential backoff, up to `bulk_attempts` sends; items refused for any
other reason (400 mapping errors above all) go to the dead-letter index with the
error, the status and the original index. Both are counted in `ClusterStore.counts`.
If retries run out, or the dead-letter index refuses an item, `write` raises
`StoreUnavailable` and nothing of the batch may be acknowledged; it is written again
when redelivered, overwriting what did get stored.
"""

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from pydantic import Field, field_validator

from mozdef.core.backoff import backoff_delay
from mozdef.core.query import Results, Search
from mozdef.core.querydsl import compile_search, read_results
from mozdef.core.schema import Section
from mozdef.core.store import Document, Outcome, StoreUnavailable
from mozdef.core.stores.bulk import (
    IndexRequest,
    MalformedResponse,
    Verdict,
    bulk_body,
    classify,
    dead_letter,
    mark_body,
    retriable,
)
from mozdef.core.stores.layout import (
    ALERTS,
    EVENTS,
    alias_actions,
    concrete_index,
    current_aliases,
    desired_aliases,
    layout_indices,
    load_templates,
)

logger = logging.getLogger(__name__)


class ClusterSettings(Section):
    """The `[store.elasticsearch]` or `[store.opensearch]` table."""

    hosts: list[str] = Field(
        ["http://127.0.0.1:9200"],
        description="Cluster URLs, all http:// or all https://; requests go to any of them.",
    )
    api_key: str | None = Field(
        None,
        repr=False,
        description="Elasticsearch API key, as the base64 'id:api_key' the cluster issues "
        "(Elasticsearch only). A secret: set it from the environment, not in the file.",
    )
    username: str | None = Field(None, description="User for HTTP basic authentication.")
    password: str | None = Field(
        None,
        repr=False,
        description="Password for `username`. A secret: set it from the environment, "
        "not in the file.",
    )
    ca_certs: str | None = Field(
        None,
        description="PEM file of the CAs to trust for https:// hosts; unset means the "
        "certifi bundle.",
    )
    verify_certs: bool = Field(
        True, description="Check the cluster's TLS certificate (https:// hosts)."
    )
    request_timeout: float = Field(30.0, gt=0, description="Seconds to wait for one request.")
    bulk_attempts: int = Field(
        5,
        ge=1,
        description="Sends of a document the cluster refuses with 429 or 5xx (or of a "
        "whole request it does not answer) before the batch fails, unacknowledged.",
    )
    backoff: float = Field(
        0.5, gt=0, description="Seconds before the first resend; doubled each time."
    )
    backoff_max: float = Field(30.0, gt=0, description="Longest wait between two sends.")
    index_prefix: str = Field(
        "", description="Put before every index, alias and template name, e.g. 'prod-'."
    )
    deadletter_index: str = Field(
        "events-deadletter",
        description="Where documents the cluster refuses as malformed are kept, with the "
        "error and the index they were meant for.",
    )
    manage_layout: bool = Field(
        True,
        description="Put the index templates, create each day's indices and move the "
        "aliases events, events-previous, events-weekly and alerts (before the first "
        "write of each UTC day). Turn off if other tooling does this.",
    )
    templates: str = Field(
        "conf/elasticsearch",
        description="Folder of the index-template-*.json files put when managing the "
        "layout; a relative path is taken from the working directory.",
    )

    @field_validator("hosts")
    @classmethod
    def one_scheme(cls, hosts: list[str]) -> list[str]:
        schemes = {host.partition("://")[0] for host in hosts}
        if not hosts or not schemes <= {"http", "https"} or len(schemes) > 1:
            raise ValueError("give one or more URLs, all http:// or all https://")
        return hosts


# ---- The clients -----------------------------------------------------------------------


class ClusterError(Exception):
    """A request the cluster refused (`status`) or never answered (`status` None)."""

    def __init__(self, status: int | None, kind: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind

    @property
    def retriable(self) -> bool:
        return retriable(self.status)


def translate(exc: Exception) -> ClusterError:
    """Either client's exception as a `ClusterError`: both carry the HTTP status (or
    none, or 'N/A', when there was no answer) and the response body as `info`."""
    status = getattr(exc, "status_code", None)
    info = getattr(exc, "info", None)
    error = info.get("error") if isinstance(info, Mapping) else None
    kind = error.get("type", "") if isinstance(error, Mapping) else type(exc).__name__
    message = str(exc)
    detail = getattr(exc, "message", None)  # elastic-transport's str() can drop it
    if isinstance(detail, str) and detail not in message:
        message = f"{message}: {detail}"
    return ClusterError(status if isinstance(status, int) else None, kind, message)


def tls_options(settings: ClusterSettings) -> dict[str, Any]:
    """Both clients refuse TLS options for http:// hosts."""
    if not settings.hosts[0].startswith("https://"):
        return {}
    options: dict[str, Any] = {"verify_certs": settings.verify_certs}
    if settings.ca_certs:
        options["ca_certs"] = settings.ca_certs
    return options


def connect_elasticsearch(settings: ClusterSettings) -> tuple[Any, tuple[type[Exception], ...]]:
    """An `elasticsearch` 8.x client and the exceptions it raises for failed requests."""
    import elastic_transport
    from elasticsearch import ApiError, Elasticsearch

    options: dict[str, Any] = {
        "request_timeout": settings.request_timeout,
        "max_retries": 0,  # retries are the store's, counted and bounded by its settings
        "retry_on_timeout": False,
        **tls_options(settings),
    }
    if settings.api_key is not None:
        options["api_key"] = settings.api_key
    if settings.username:
        options["basic_auth"] = (settings.username, settings.password or "")
    client = Elasticsearch(settings.hosts, **options)
    return client, (ApiError, elastic_transport.TransportError)


def connect_opensearch(settings: ClusterSettings) -> tuple[Any, tuple[type[Exception], ...]]:
    """An `opensearch-py` client and the exceptions it raises for failed requests."""
    from opensearchpy import OpenSearch
    from opensearchpy.exceptions import TransportError

    if settings.api_key is not None:
        raise ValueError("store.opensearch.api_key: OpenSearch takes username and password")
    options: dict[str, Any] = {
        "timeout": settings.request_timeout,
        "max_retries": 0,
        "retry_on_timeout": False,
        **tls_options(settings),
    }
    if settings.username:
        options["http_auth"] = (settings.username, settings.password or "")
    return OpenSearch(settings.hosts, **options), (TransportError,)


CONNECT: dict[str, Callable[[ClusterSettings], tuple[Any, tuple[type[Exception], ...]]]] = {
    "elasticsearch": connect_elasticsearch,
    "opensearch": connect_opensearch,
}


def body_of(response: Any) -> Any:
    """The parsed body: the Elasticsearch client wraps it, the OpenSearch one does not."""
    return getattr(response, "body", response)


# ---- The store -------------------------------------------------------------------------

LAYOUT_TRIES = 3  # another worker may move the aliases between our look and our move


class ClusterStore:
    """Events and alerts in an Elasticsearch or OpenSearch cluster."""

    def __init__(
        self,
        backend: str,
        settings: ClusterSettings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.prefix = settings.index_prefix
        self.clock = clock
        self.templates = (
            load_templates(settings.templates, self.prefix) if settings.manage_layout else {}
        )
        self.client, self.errors = CONNECT[backend](settings)
        self.counts: Counter[str] = Counter()  # stored, retried, dead_lettered
        self.layout_day: date | None = None

    def request(self, send: Callable[[], Any]) -> Any:
        """Send one request; the client's failure comes out as a `ClusterError`."""
        try:
            return body_of(send())
        except self.errors as exc:
            raise translate(exc) from exc

    # -- writing

    def write(self, documents: "Sequence[Document]") -> "list[Outcome]":
        if not documents:
            return []
        now = self.clock()
        if self.settings.manage_layout and self.layout_day != now.date():
            self.ensure_layout(now.date())
        requests = [
            IndexRequest(
                concrete_index(doc.index, doc.event, now, self.prefix), doc.doc_id, doc.event
            )
            for doc in documents
        ]
        return self.index(requests, now)

    def index(self, requests: Sequence[IndexRequest], now: datetime) -> "list[Outcome]":
        """Bulk-index until every request is stored or dead-lettered (see the module's
        docstring), or raise `StoreUnavailable`."""

        outcomes: dict[int, Outcome] = {}
        pending = list(enumerate(requests))
        failures = 0
        while pending:
            pending, problem = self.send(pending, outcomes, now)
            if problem:  # refused for now, not for good: wait, then send again
                failures += 1
                if failures >= self.settings.bulk_attempts:
                    raise StoreUnavailable(
                        f"{len(pending)} documents not stored after "
                        f"{self.settings.bulk_attempts} attempts: {problem}"
                    )
                time.sleep(
                    backoff_delay(failures, self.settings.backoff, self.settings.backoff_max)
                )
        return [outcomes[position] for position in range(len(requests))]

    def send(
        self, pending: list[tuple[int, IndexRequest]], outcomes: "dict[int, Outcome]", now: datetime
    ) -> tuple[list[tuple[int, IndexRequest]], str]:
        """One bulk request. Settles into `outcomes` what the cluster stored; returns
        what must be sent again (refused for now, or now headed for the dead-letter
        index) and, if the cluster refused anything for now, why."""

        lines = bulk_body([request for _, request in pending])
        try:
            response = self.request(lambda: self.client.bulk(body=lines))
            results = classify(response, len(pending))
        except ClusterError as exc:
            if not exc.retriable:
                raise StoreUnavailable(f"the cluster refused the bulk request: {exc}") from exc
            return pending, str(exc)
        except MalformedResponse as exc:
            return pending, str(exc)
        again, problem = [], ""
        deadletter_index = self.prefix + self.settings.deadletter_index
        for (position, request), result in zip(pending, results, strict=True):
            verdict = result.verdict
            if verdict is Verdict.STORED:
                stored = request.refused is None
                self.counts["stored" if stored else "dead_lettered"] += 1
                outcomes[position] = Outcome(request.doc_id, stored, request.refused)
            elif verdict is Verdict.RETRY:
                self.counts["retried"] += 1
                again.append((position, request))
                problem = result.error or f"status {result.status}"
            elif request.refused is None:
                again.append((position, dead_letter(request, result, deadletter_index, now)))
            else:
                raise StoreUnavailable(
                    f"the dead-letter index refused {request.doc_id!r}: {result.error}"
                )
        return again, problem

    # -- the layout

    def ensure_layout(self, day: date | None = None) -> None:
        """Put the templates, create `day`'s indices (today's by default) and point the
        aliases at them. Raises `StoreUnavailable` if the cluster cannot be reached."""

        day = day or self.clock().date()
        try:
            for name, template in self.templates.items():
                self.request(
                    lambda n=name, t=template: self.client.indices.put_index_template(
                        name=n, body=t
                    )
                )
            for _ in range(LAYOUT_TRIES):
                if self.move_aliases(day):
                    break
            else:
                raise ClusterError(None, "aliases", "the aliases kept changing under us")
        except ClusterError as exc:
            raise StoreUnavailable(f"cannot set up the index layout: {exc}") from exc
        self.layout_day = day

    def move_aliases(self, day: date) -> bool:
        """One look and one atomic move; False if someone else moved them meanwhile."""
        patterns = f"{self.prefix}{EVENTS}-*,{self.prefix}{ALERTS}-*"
        current = current_aliases(
            self.request(lambda: self.client.indices.get_alias(index=patterns))
        )
        for index in layout_indices(day, self.prefix):
            if index not in current:
                self.create_index(index)
                current[index] = set()
        actions = alias_actions(desired_aliases(day, current, self.prefix), current)
        if not actions:
            return True
        try:
            self.request(lambda: self.client.indices.update_aliases(body={"actions": actions}))
        except ClusterError as exc:
            if exc.status == 404:  # an index or alias we meant to move is already gone
                return False
            raise
        return True

    def create_index(self, index: str) -> None:
        """Create an index (its settings and mappings come from the templates); one
        that another worker has just created is as good."""
        try:
            self.request(lambda: self.client.indices.create(index=index))
        except ClusterError as exc:
            if exc.kind != "resource_already_exists_exception":
                raise

    # -- searching

    def search(self, search: Search) -> Results:
        """Run a search over the aliases or indices it names (with the prefix); one that
        does not exist yet (no events yesterday) is skipped."""

        body = compile_search(search)
        indices = ",".join(self.prefix + name for name in search.indices)
        try:
            response = self.request(
                lambda: self.client.search(index=indices, body=body, ignore_unavailable=True)
            )
        except ClusterError as exc:
            if exc.retriable:
                raise StoreUnavailable(f"search failed: {exc}") from exc
            raise ValueError(f"the cluster refused the search: {exc}") from exc
        return read_results(response)

    def mark_alerted(self, references: Sequence[tuple[str, str]], rule: str) -> None:
        """Mark the events with one bulk request of scripted updates. An event that
        cannot be marked is logged, not raised: its alert is already stored."""
        if not references:
            return
        lines = mark_body(references, rule)
        try:
            response = self.request(lambda: self.client.bulk(body=lines))
            results = classify(response, len(references))
        except (ClusterError, MalformedResponse) as exc:
            raise StoreUnavailable(f"cannot mark the events of a {rule} alert: {exc}") from exc
        failed = [result for result in results if result.verdict is not Verdict.STORED]
        if failed:
            logger.warning(
                "%d events of a %s alert not marked (they may count again): %s",
                len(failed),
                rule,
                failed[0].error or f"status {failed[0].status}",
            )

    def close(self) -> None:
        self.client.close()
