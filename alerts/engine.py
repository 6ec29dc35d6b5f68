"""Running one rule once: from its search to stored, enriched alerts.

The same steps for every rule, whether run on its schedule, in real time or by
`mozdef alerts test`:

1. search the rule's window, leaving out events already marked with the rule's name
   (MozDef's `alert_names`), so that no event counts twice for one rule;
2. let the rule turn what was found into drafts (`mozdef.alerts.rules`);
3. skip a draft whose key (the aggregation value, the deadman check) already raised an
   alert within the rule's `suppress` window, found by searching the stored alerts;
4. shape each draft as an alert, run it through the enrichment plugins, store it, and
   only then mark its events, so that a crash in between raises the alert again (with
   the same id, so it is replaced, not doubled) rather than losing it.

The clock is a parameter (`now`): live runs pass the wall clock, `mozdef alerts test`
the events' own time, so the same input always gives the same alerts. Alert ids are
derived from the rule, the key and the events, which makes a repeated run idempotent.
"""

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from mozdef.alerts.rules import (
    AggregationRule,
    DeadmanRule,
    Draft,
    Group,
    Rule,
    SimpleRule,
)
from mozdef.core.chain import Chain
from mozdef.core.query import (
    Bool,
    Bucket,
    Hit,
    Query,
    Scalar,
    Search,
    Term,
    Terms,
    TermsAggregation,
    TimeWindow,
)
from mozdef.core.registration import lookup, split_path
from mozdef.core.store import Document, Store, StoreUnavailable
from mozdef.core.timestamps import isoformat

ALERTS = "alerts"
MAX_GROUPS = 1000  # aggregation values looked at per run, commonest first
MAX_REFERENCES = 1000  # events an alert refers to (and marks) at most
QUIET_SEVERITIES = frozenset({"DEBUG", "INFO", "NOTICE"})  # notify only with a channel


@dataclass(frozen=True, slots=True)
class AlertMeta:
    """What enrichment plugins get besides the alert: the store and the alert clock."""

    store: Store
    now: datetime


@dataclass(frozen=True, slots=True)
class Finding:
    """A draft with the events behind it and its suppression key."""

    draft: Draft
    events: tuple[Hit, ...] = ()
    key: Scalar | None = None
    samples: int = 1


class Engine:
    """Runs rules against one store; `enrichment` is the alert plugins' chain."""

    def __init__(self, store: Store, enrichment: Chain | None = None) -> None:
        self.store = store
        self.enrichment = enrichment

    def run(
        self,
        rule: Rule,
        now: datetime,
        *,
        dry_run: bool = False,
        only: Sequence[Scalar] | None = None,
    ) -> list[dict]:
        """The alerts this run raised (with `dry_run`, would raise: nothing is stored or
        marked). `only` limits an aggregation rule to some values (real-time runs).
        Raises `StoreUnavailable` if the store fails."""
        alerts: list[dict] = []
        seen: list[Hit] = []
        for finding in self.find(rule, now, only):
            seen.extend(finding.events)
            if self.suppressed(rule, finding, now):
                continue
            alert = shape(rule, finding, now)
            if self.enrichment is not None:
                alert = self.enrichment.run(alert, AlertMeta(self.store, now))
            if alert is not None:  # an enrichment plugin may drop it (an allow-list, say)
                alerts.append(alert)
        if dry_run:
            return alerts
        if alerts:
            outcomes = self.store.write([Document(ALERTS, a["id"], a) for a in alerts])
            refused = [outcome.error for outcome in outcomes if not outcome.stored]
            if refused:
                raise StoreUnavailable(f"the store refused alerts of {rule.name}: {refused[0]}")
        if seen:
            self.store.mark_alerted([(hit.index, hit.doc_id) for hit in seen], rule.name)
        return alerts

    def find(self, rule: Rule, now: datetime, only: Sequence[Scalar] | None) -> Iterator[Finding]:
        if isinstance(rule, AggregationRule):
            return self.find_groups(rule, now, only)
        if isinstance(rule, SimpleRule):
            return self.find_events(rule, now)
        if isinstance(rule, DeadmanRule):
            return self.find_silence(rule, now)
        raise TypeError(f"rule {rule.name!r} is not a SimpleRule, AggregationRule or DeadmanRule")

    def find_events(self, rule: SimpleRule, now: datetime) -> Iterator[Finding]:
        span = window(now, rule.settings.window, rule.window_field)
        search = Search(unalerted(rule, now), span, rule.settings.limit)
        for hit in self.store.search(search).hits:
            draft = rule.alert(hit)
            if draft is not None:
                yield Finding(draft, (hit,))

    def find_groups(
        self, rule: AggregationRule, now: datetime, only: Sequence[Scalar] | None
    ) -> Iterator[Finding]:
        settings = rule.settings
        query = unalerted(rule, now)
        if only is not None:
            query = Bool(must=(query, Terms(settings.field, tuple(only))))
        span = window(now, settings.window, rule.window_field)
        grouped = Search(query, span, size=0, aggregation=aggregate(settings.field, only))
        buckets = self.store.search(grouped).buckets  # commonest first
        firing = [bucket for bucket in buckets if bucket.count >= settings.threshold]
        members = self.members(query, span, settings.field, firing)
        for bucket in firing:
            events = members[bucket.key]
            draft = rule.alert(Group(settings.field, bucket.key, bucket.count, events))
            if draft is not None:
                yield Finding(draft, events, bucket.key, settings.samples)

    def members(
        self, query: Query, span: TimeWindow, field: str, buckets: Sequence[Bucket]
    ) -> dict[Scalar, tuple[Hit, ...]]:
        """The events of each bucket (newest first, at most MAX_REFERENCES each): one
        search for all of them, which is one pass over the window instead of one per
        bucket; a bucket that it did not fill (crowded out by a bigger one, or a value
        spelt differently in the events) gets a search of its own."""
        if not buckets:
            return {}
        wanted = Bool(must=(query, Terms(field, tuple(bucket.key for bucket in buckets))))
        size = min(sum(bucket.count for bucket in buckets), MAX_REFERENCES * len(buckets))
        parts = split_path(field)
        found: dict[Scalar, list[Hit]] = defaultdict(list)
        for hit in self.store.search(Search(wanted, span, size=size)).hits:
            value = lookup(hit.event, parts)
            if isinstance(value, str | int | float) and len(found[value]) < MAX_REFERENCES:
                found[value].append(hit)
        members = {}
        for bucket in buckets:
            events = found.get(bucket.key, [])
            if len(events) < min(bucket.count, MAX_REFERENCES):
                alone = Bool(must=(query, Term(field, bucket.key)))
                events = self.store.search(Search(alone, span, size=MAX_REFERENCES)).hits
            members[bucket.key] = tuple(events)
        return members

    def find_silence(self, rule: DeadmanRule, now: datetime) -> Iterator[Finding]:
        for check in rule.checks():
            search = Search(check.query, window(now, check.window, rule.window_field), size=0)
            if self.store.search(search).total == 0:
                yield Finding(check.draft, key=check.key)

    def suppressed(self, rule: Rule, finding: Finding, now: datetime) -> bool:
        """Did an alert with this key go out within the rule's suppression window?"""
        span = rule.settings.suppress
        if span is None or finding.key is None:
            return False
        same = Bool(must=(Term("rule", rule.name), Term("key", finding.key)))
        recent = Search(same, window(now, span), size=0, indices=(ALERTS,))
        return self.store.search(recent).total > 0


def unalerted(rule: Rule, now: datetime) -> Query:
    """The rule's query, less the events that already raised an alert for it."""
    return Bool(must=(rule.query_at(now),), must_not=(Term("alert_names", rule.name),))


def window(now: datetime, length: timedelta, field: str = "utctimestamp") -> TimeWindow:
    """The `length` up to and including `now` (a window's end is exclusive)."""
    return TimeWindow(since=now - length, until=now + timedelta(microseconds=1), field=field)


def aggregate(field: str, only: Sequence[Scalar] | None) -> TermsAggregation:
    return TermsAggregation(field, size=len(only) if only is not None else MAX_GROUPS)


def shape(rule: Rule, finding: Finding, now: datetime) -> dict:
    """The alert as stored and sent (see docs/alerts.md for each field)."""
    draft = finding.draft
    channel = rule.settings.channel
    events = [{"index": hit.index, "id": hit.doc_id} for hit in finding.events]
    for reference, hit in zip(events, finding.events[: finding.samples], strict=False):
        reference["event"] = hit.event
    return {
        "id": alert_id(rule.name, finding, now),
        "utctimestamp": isoformat(now),
        "rule": rule.name,
        "severity": draft.severity,
        "category": draft.category,
        "summary": draft.summary,
        "tags": list(draft.tags),
        "channel": channel,
        "notify": channel is not None or draft.severity not in QUIET_SEVERITIES,
        "status": "NEW",
        "url": draft.url,
        "key": finding.key,
        "events": events,
        "details": draft.details,
    }


def alert_id(rule: str, finding: Finding, now: datetime) -> str:
    """Derived from what the alert is about, so a run repeated after a crash replaces
    the alert instead of doubling it. An alert about no events (deadman) is about this
    moment."""
    parts: Iterable[str] = sorted(hit.doc_id for hit in finding.events) or [isoformat(now)]
    digest = hashlib.blake2b(digest_size=12)
    for part in (rule, repr(finding.key), *parts):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()
