"""What else an alert's source address did lately, so a responder need not search.

For the address the alert's events came from, one search of the store finds the newest
`limit` events from it within `window` before the alert (by the alert's clock, so that
`mozdef alerts test` gives the same answer as a live run), leaving out the alert's own
events, and refers to them in `details.related_events` with the total seen.
"""

from collections import Counter
from datetime import timedelta

from pydantic import Field

from mozdef.alerts.engine import AlertMeta, window
from mozdef.alerts.plugins.ip_enrichment import event_copies, is_address
from mozdef.core import PluginSettings, hookimpl
from mozdef.core.durations import Duration
from mozdef.core.parsing import shorten
from mozdef.core.query import Hit, Search, Term
from mozdef.core.registration import lookup, split_path
from mozdef.core.timestamps import isoformat

SOURCE = "details.sourceipaddress"
SOURCE_PARTS = split_path(SOURCE)
SUMMARY_LENGTH = 200  # a reference is a pointer, not a copy of the event


class RelatedEventsSettings(PluginSettings):
    """The `[plugins.alert_related_events]` table."""

    priority: int = 60
    window: Duration = Field(
        timedelta(hours=24),
        description="How far back from the alert to look (1h, 24h, 7d...).",
    )
    limit: int = Field(10, ge=1, le=100, description="Most events referred to, newest first.")


def source_address(alert: dict) -> str | None:
    """The address the alert's events came from: its key when that is an address the
    event copies have as their source (or there are no copies to tell), else the
    alert's own `details.sourceipaddress`, else the copies' commonest source."""
    copies = list(event_copies(alert))
    sources = [value for event in copies if is_address(value := lookup(event, SOURCE_PARTS))]
    key = alert.get("key")
    if is_address(key) and (key in sources or not copies):
        return key
    own = lookup(alert, SOURCE_PARTS)
    if is_address(own):
        return own
    return Counter(sources).most_common(1)[0][0] if sources else None


def reference(hit: Hit) -> dict:
    event = hit.event
    return {
        "index": hit.index,
        "id": hit.doc_id,
        "utctimestamp": event.get("utctimestamp"),
        "category": event.get("category"),
        "summary": shorten(str(event.get("summary", "")), SUMMARY_LENGTH),
    }


@hookimpl
def mozdef_plugin_settings() -> type[RelatedEventsSettings]:
    return RelatedEventsSettings


@hookimpl
def mozdef_enrich_alert(
    alert: dict, meta: AlertMeta, settings: RelatedEventsSettings
) -> dict | None:
    address = source_address(alert)
    if address is None:
        return None
    own = {(ref["index"], ref["id"]) for ref in alert.get("events", ())}
    # The query language cannot exclude documents by id: ask for enough to drop the own.
    search = Search(
        Term(SOURCE, address), window(meta.now, settings.window), settings.limit + len(own)
    )
    results = meta.store.search(search)
    others = [hit for hit in results.hits if (hit.index, hit.doc_id) not in own]
    alert["details"]["related_events"] = {
        "sourceipaddress": address,
        "since": isoformat(meta.now - settings.window),
        "total": results.total,
        "events": [reference(hit) for hit in others[: settings.limit]],
    }
    return alert
