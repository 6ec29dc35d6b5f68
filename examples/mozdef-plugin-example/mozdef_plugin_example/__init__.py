"""Tag events whose user name is on a watchlist, e.g. service accounts nobody should use."""

from pydantic import Field

from mozdef.core import PluginSettings, hookimpl


class WatchlistSettings(PluginSettings):
    """Tag events about watched users."""

    priority: int = 150
    usernames: list[str] = Field([], description="User names to watch (compared lowercased).")
    tag: str = Field("watchlist", description="Tag added to events about a watched user.")


class Watchlist:
    """MozDef instantiates this class once and calls its hooks."""

    @hookimpl
    def mozdef_plugin_settings(self) -> type[WatchlistSettings]:
        return WatchlistSettings

    @hookimpl
    def mozdef_startup(self, settings: WatchlistSettings) -> None:
        self.watched = frozenset(name.lower() for name in settings.usernames)

    @hookimpl
    def mozdef_event_registration(self) -> str:
        return "details.username"

    @hookimpl
    def mozdef_process_event(self, event: dict, settings: WatchlistSettings) -> dict | None:
        username = str(event["details"]["username"]).lower()
        if username not in self.watched:
            return None
        event["tags"].append(settings.tag)
        return event
