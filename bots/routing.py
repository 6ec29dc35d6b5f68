"""Which of a bot's channels an alert goes to.

In order: the channel the alert asks for (the rule's `channel`), if the bot is in it;
else the first routing rule whose minimum severity and categories the alert meets;
else the bot's default channel. Channel names compare without regard to case, as IRC
does. Every rule is checked against the bot's channels when the settings are read.
"""

from collections.abc import Iterable, Mapping, Sequence

from pydantic import Field

from mozdef.alerts.rules import Severity
from mozdef.bots.formatting import SEVERITY_RANK
from mozdef.core.schema import Section


class Route(Section):
    """One `[[plugins.<bot>.routes]]` entry."""

    channel: str = Field(min_length=1, description="Where matching alerts go: one of channels.")
    min_severity: Severity = Field(
        "DEBUG",
        description="Alerts of at least this severity match (DEBUG INFO NOTICE WARNING ERROR "
        "CRITICAL ALERT EMERGENCY); DEBUG: any.",
    )
    categories: list[str] = Field(
        [], description="Alerts of one of these categories match; empty: any category."
    )


class Router:
    """Picks the channel of each alert; built once, when the bot starts."""

    def __init__(self, channels: Iterable[str], default: str, routes: Sequence[Route]) -> None:
        """Raises ValueError, naming the entry, for a default or a route whose channel
        is not one of `channels`."""
        self.channels = {name.casefold(): name for name in channels}
        self.default = self.known(default, "")
        self.routes = [
            (
                SEVERITY_RANK[route.min_severity],
                frozenset(route.categories),
                self.known(route.channel, f"routes[{number}].channel "),
            )
            for number, route in enumerate(routes)
        ]

    def known(self, channel: str, where: str) -> str:
        try:
            return self.channels[channel.casefold()]
        except KeyError:
            listing = ", ".join(self.channels.values())
            raise ValueError(f"{where}{channel!r} is not one of the channels ({listing})") from None

    def channel_for(self, alert: Mapping) -> str:
        asked = alert.get("channel")
        if isinstance(asked, str) and (channel := self.channels.get(asked.casefold())):
            return channel
        # An unknown severity ranks lowest, so only rules for any severity take it.
        rank = SEVERITY_RANK.get(alert.get("severity"), 0)
        category = alert.get("category")
        for minimum, categories, channel in self.routes:
            if rank >= minimum and (not categories or category in categories):
                return channel
        return self.default
