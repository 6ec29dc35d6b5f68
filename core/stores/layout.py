"""Where documents go in a cluster: MozDef's daily and monthly indices, the aliases
over them, and the index templates, as pure functions of the day (see
`mozdef.core.stores.cluster` for the layout as a whole)."""

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

EVENTS, ALERTS = "events", "alerts"
WEEK = 7


def daily_index(day: date, prefix: str = "") -> str:
    return f"{prefix}{EVENTS}-{day:%Y%m%d}"


def monthly_index(day: date, prefix: str = "") -> str:
    return f"{prefix}{ALERTS}-{day:%Y%m}"


def receipt_day(event: Mapping[str, Any], now: datetime) -> date:
    """The UTC day the event was received; `now`'s if it does not say."""
    received = event.get("receivedtimestamp")
    if isinstance(received, str):
        try:
            moment = datetime.fromisoformat(received)
        except ValueError:
            return now.date()
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
        return moment.date()
    return now.date()


def concrete_index(logical: str, event: Mapping[str, Any], now: datetime, prefix: str) -> str:
    """The index a document of the logical index `logical` is written to."""
    if logical == EVENTS:
        return daily_index(receipt_day(event, now), prefix)
    if logical == ALERTS:
        return monthly_index(receipt_day(event, now), prefix)
    return prefix + logical


def layout_indices(day: date, prefix: str) -> tuple[str, str]:
    """The indices that must exist on `day`."""
    return daily_index(day, prefix), monthly_index(day, prefix)


def desired_aliases(day: date, existing: Iterable[str], prefix: str) -> dict[str, set[str]]:
    """Alias -> the indices it should cover on `day`, given the indices that exist."""
    existing = set(existing)
    week = {daily_index(day - timedelta(days=n), prefix) for n in range(WEEK)}
    return {
        f"{prefix}{EVENTS}": {daily_index(day, prefix)},
        f"{prefix}{EVENTS}-previous": {daily_index(day - timedelta(days=1), prefix)} & existing,
        f"{prefix}{EVENTS}-weekly": week & existing,
        f"{prefix}{ALERTS}": {monthly_index(day, prefix)},
    }


def alias_actions(
    desired: Mapping[str, set[str]], current: Mapping[str, Iterable[str]]
) -> list[dict]:
    """The `update_aliases` actions that turn `current` ({index: its aliases}) into
    `desired`; none when they already agree. Applied in one atomic request."""
    actions = []
    for alias, wanted in sorted(desired.items()):
        holding = {index for index, aliases in current.items() if alias in aliases}
        actions += [{"remove": {"index": i, "alias": alias}} for i in sorted(holding - wanted)]
        actions += [{"add": {"index": i, "alias": alias}} for i in sorted(wanted - holding)]
    return actions


def current_aliases(response: Mapping[str, Any]) -> dict[str, set[str]]:
    """A `get_alias` response as {index: its aliases}."""
    return {index: set(entry.get("aliases", {})) for index, entry in response.items()}


TEMPLATE_FILE = re.compile(r"index-template-(?P<kind>[a-z0-9_-]+)\.json")


def load_templates(folder: Path | str, prefix: str = "") -> dict[str, dict]:
    """Template name -> composable index template body, from `index-template-*.json`
    files; names and index patterns get `prefix`."""
    templates = {}
    for path in sorted(Path(folder).glob("index-template-*.json")):
        found = TEMPLATE_FILE.fullmatch(path.name)
        if found is None:
            continue
        body = orjson.loads(path.read_bytes())
        body["index_patterns"] = [prefix + pattern for pattern in body["index_patterns"]]
        templates[f"{prefix}mozdef-{found['kind']}"] = body
    if not templates:
        raise FileNotFoundError(f"no index-template-*.json in {folder}")
    return templates
