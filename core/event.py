"""What travels with an event through the chain besides the event itself."""

from dataclasses import dataclass


class Drop:
    """The type of `DROP`, the value a plugin returns to drop an event."""

    def __repr__(self) -> str:
        return "DROP"


DROP = Drop()


@dataclass(slots=True)
class EventMeta:
    """Where the event came from and where it will be stored.

    Plugins may change `index` and `doc_id` to route an event elsewhere (a different
    index, or a stable id so that redelivery overwrites instead of duplicating).
    """

    source: str = "unknown"
    index: str = "events"
    doc_id: str | None = None


def note_error(item: dict, message: str) -> None:
    """Record on the event (or alert) itself that something went wrong with it."""
    item.setdefault("mozdef", {}).setdefault("errors", []).append(message)
