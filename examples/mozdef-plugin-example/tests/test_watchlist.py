"""The plugin on its own, called as MozDef calls it."""

from mozdef_plugin_example import Watchlist, WatchlistSettings


def started(**settings: object) -> tuple[Watchlist, WatchlistSettings]:
    plugin = Watchlist()
    validated = WatchlistSettings(**settings)
    plugin.mozdef_startup(validated)
    return plugin, validated


def test_a_watched_user_is_tagged() -> None:
    plugin, settings = started(usernames=["Backup"])
    event = {"tags": [], "details": {"username": "backup"}}
    assert plugin.mozdef_process_event(event, settings) == {
        "tags": ["watchlist"],
        "details": {"username": "backup"},
    }


def test_other_users_pass_unchanged() -> None:
    plugin, settings = started(usernames=["backup"])
    event = {"tags": [], "details": {"username": "alice"}}
    assert plugin.mozdef_process_event(event, settings) is None
    assert event["tags"] == []


def test_registers_for_events_with_a_username() -> None:
    assert Watchlist().mozdef_event_registration() == "details.username"
