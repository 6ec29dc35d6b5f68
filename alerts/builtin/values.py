"""Reading fields out of the events behind an alert, for the built-in rules' summaries.

MozDef's rules wrote sets into their summaries in whatever order Python iterated them;
here the values are sorted, so that the same events always give the same summary.
"""

from mozdef.core.query import Hit
from mozdef.core.registration import MISSING, lookup, split_path

UNKNOWN = "unknown"


def distinct(hits: tuple[Hit, ...], path: str) -> list[str]:
    """The different values of a dotted field among `hits`, as text, sorted."""
    parts = split_path(path)
    found = {lookup(hit.event, parts) for hit in hits}
    return sorted(str(value) for value in found if isinstance(value, str | int | float))


def text(event: dict, *paths: str) -> str:
    """The first of the dotted fields that one event has (not empty), as text; else
    "unknown"."""
    for path in paths:
        value = lookup(event, split_path(path))
        if value is not MISSING and value not in (None, ""):
            return str(value)
    return UNKNOWN
