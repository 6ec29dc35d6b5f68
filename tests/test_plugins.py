"""The plugin manager and the event chain, with plugins registered through real pluggy."""

from types import SimpleNamespace

import pytest
from pydantic import Field

from mozdef.core import DROP, EventMeta, PluginSettings, hookimpl
from mozdef.core.config import ConfigError
from mozdef.core.pluginmanager import Candidate, PluginError, Plugins


def event(**details: object) -> dict:
    return {"category": "test", "tags": [], "details": dict(details)}


class Tagger:
    """Appends its tag; registers for everything unless told otherwise."""

    def __init__(self, tag: str, registration: object = "*") -> None:
        self.tag = tag
        self.registration = registration

    @hookimpl
    def mozdef_event_registration(self) -> object:
        return self.registration

    @hookimpl
    def mozdef_process_event(self, event: dict) -> dict:
        event["tags"].append(self.tag)
        return event


def plugins(config, **objects: object) -> Plugins:
    found = Plugins(config, [Candidate(name, "test", obj) for name, obj in objects.items()])
    found.start()
    return found


def run(found: Plugins, item: dict, meta: EventMeta | None = None) -> dict | None:
    return found.event_chain().run(item, meta or EventMeta())


def test_lower_priority_runs_first_and_ties_go_by_name(config_file) -> None:
    config = config_file("[plugins.late]\npriority = 200\n[plugins.early]\npriority = 10\n")
    found = plugins(config, late=Tagger("late"), b=Tagger("b"), a=Tagger("a"), early=Tagger("e"))
    result = run(found, event())
    assert result["tags"] == ["e", "a", "b", "late"]
    assert result["mozdef"]["plugins"] == ["early", "a", "b", "late"]


def test_a_disabled_plugin_gets_no_calls(config_file) -> None:
    found = plugins(config_file("[plugins.b]\nenabled = false\n"), a=Tagger("a"), b=Tagger("b"))
    assert run(found, event())["tags"] == ["a"]
    assert [info.name for info in found.enabled] == ["a"]
    assert found.all["b"].settings.enabled is False


def test_registration_limits_what_a_plugin_sees(config_file) -> None:
    found = plugins(
        config_file(),
        ssh=Tagger("ssh", {"details.program": "sshd"}),
        any=Tagger("any"),
    )
    chain = found.event_chain()
    assert chain.run(event(program="cron"), EventMeta())["tags"] == ["any"]
    assert chain.run(event(program="sshd"), EventMeta())["tags"] == ["any", "ssh"]
    stats = chain.stats()
    assert (stats["ssh"].seen, stats["ssh"].changed, stats["any"].seen) == (1, 1, 2)


class Dropper:
    @hookimpl
    def mozdef_process_event(self, event: dict) -> object:
        return DROP if event["details"].get("noise") else None


def test_a_drop_ends_the_chain_and_is_counted(config_file) -> None:
    config = config_file("[plugins.drop]\npriority = 1\n")
    found = plugins(config, drop=Dropper(), after=Tagger("after"))
    chain = found.event_chain()
    assert chain.run(event(noise=True), EventMeta()) is None
    kept = chain.run(event(noise=False), EventMeta())
    assert kept["tags"] == ["after"]
    stats = chain.stats()
    assert (stats["drop"].seen, stats["drop"].dropped, stats["drop"].changed) == (2, 1, 0)
    assert stats["after"].seen == 1


class Broken:
    @hookimpl
    def mozdef_process_event(self, event: dict) -> dict:
        event["tags"].append("half-done")
        raise KeyError("sourceipaddress")


def test_an_exception_never_loses_the_event(config_file, caplog) -> None:
    found = plugins(config_file(), a_broken=Broken(), b_after=Tagger("after"))
    chain = found.event_chain()
    for _ in range(20):
        result = chain.run(event(), EventMeta())
    assert result["tags"] == ["half-done", "after"]
    assert result["mozdef"]["errors"] == ["a_broken: KeyError: 'sourceipaddress'"]
    assert result["mozdef"]["plugins"] == ["a_broken", "b_after"]
    assert chain.stats()["a_broken"].errors == 20
    logged = [r for r in caplog.records if "plugin a_broken failed" in r.getMessage()]
    assert 1 <= len(logged) <= 5  # rate-limited, not one line per event


class Router:
    @hookimpl
    def mozdef_process_event(self, event: dict, meta: EventMeta) -> None:
        meta.index = "audit"
        meta.doc_id = event["details"]["id"]


def test_a_plugin_can_change_where_the_event_is_stored(config_file) -> None:
    meta = EventMeta(source="test")
    result = run(plugins(config_file(), router=Router()), event(id="abc"), meta)
    assert (meta.index, meta.doc_id) == ("audit", "abc")
    assert result["mozdef"]["plugins"] == ["router"]


class Replacer:
    @hookimpl
    def mozdef_process_event(self, event: dict) -> object:
        return {**event, "summary": "replaced"} if event["details"] else "oops"


def test_a_new_dict_replaces_the_event_and_a_bad_return_is_an_error(config_file) -> None:
    chain = plugins(config_file(), replacer=Replacer(), tag=Tagger("t")).event_chain()
    assert chain.run(event(x=1), EventMeta())["summary"] == "replaced"
    bad = chain.run(event(), EventMeta())
    assert bad["mozdef"]["errors"] == ["replacer: returned str, expected a dict, None or DROP"]
    assert bad["tags"] == ["t"]


class ThresholdSettings(PluginSettings):
    priority: int = 30
    minimum: int = Field(3, ge=0, description="Smallest count that is tagged.")


class Threshold:
    @hookimpl
    def mozdef_plugin_settings(self) -> type[ThresholdSettings]:
        return ThresholdSettings

    @hookimpl
    def mozdef_process_event(self, event: dict, settings: ThresholdSettings) -> dict | None:
        if event["details"]["count"] < settings.minimum:
            return None
        event["tags"].append("many")
        return event


def test_a_plugin_declares_and_receives_its_own_settings(config_file) -> None:
    found = plugins(config_file("[plugins.threshold]\nminimum = 10\n"), threshold=Threshold())
    assert found.all["threshold"].settings == ThresholdSettings(minimum=10)
    assert found.all["threshold"].settings.priority == 30  # the plugin's own default
    assert run(found, event(count=9))["tags"] == []
    assert run(found, event(count=10))["tags"] == ["many"]


def test_plugin_settings_come_from_the_environment_too(config_file) -> None:
    config = config_file("", {"MOZDEF_PLUGINS_THRESHOLD_MINIMUM": "7"})
    assert plugins(config, threshold=Threshold()).all["threshold"].settings.minimum == 7


def test_bad_plugin_tables_name_the_key(config_file) -> None:
    config = config_file("[plugins.threshold]\nminimun = 1\npriority = 'high'\n")
    with pytest.raises(ConfigError) as caught:
        plugins(config, threshold=Threshold())
    message = str(caught.value)
    assert "plugins.threshold.minimun: unknown key; did you mean 'minimum'?" in message
    assert "plugins.threshold.priority: Input should be a valid integer" in message


def test_a_table_for_a_plugin_that_is_not_installed_is_an_error(config_file) -> None:
    expected = r"plugins\.thresold: no plugin .*did you mean 'threshold'"
    with pytest.raises(ConfigError, match=expected):
        plugins(config_file("[plugins.thresold]\n"), threshold=Threshold())


class Unstartable:
    @hookimpl
    def mozdef_startup(self, settings: PluginSettings) -> None:
        raise FileNotFoundError("GeoLite2-City.mmdb")


def test_a_plugin_that_cannot_start_stops_start_up(config_file) -> None:
    with pytest.raises(PluginError, match="plugin 'geo' failed to start: FileNotFoundError"):
        plugins(config_file(), geo=Unstartable())


def test_a_misspelt_hook_is_refused(config_file) -> None:
    typo = SimpleNamespace(mozdef_proccess_event=hookimpl(lambda event: None))
    with pytest.raises(PluginError, match="mozdef_proccess_event"):
        Plugins(config_file(), [Candidate("typo", "test", typo)])


def test_broadcast_hooks_survive_a_failing_plugin(config_file) -> None:
    calls = []

    class Notifier:
        def __init__(self, name: str, fail: bool) -> None:
            self.name, self.fail = name, fail

        @hookimpl
        def mozdef_notify_alert(self, alert: dict) -> None:
            calls.append(self.name)
            if self.fail:
                raise ConnectionError("irc down")

    found = plugins(config_file(), irc=Notifier("irc", True), matrix=Notifier("matrix", False))
    found.broadcast("mozdef_notify_alert", alert={"summary": "x"})
    assert calls == ["irc", "matrix"]


def test_a_plugin_registered_for_nothing_leaves_the_chain(config_file) -> None:
    found = plugins(config_file(), idle=Tagger("idle", False), busy=Tagger("busy"))
    chain = found.event_chain()
    assert [link.name for link in chain.links] == ["busy"]
    assert chain.run(event(), EventMeta())["mozdef"]["plugins"] == ["busy"]


class Enricher:
    def __init__(self, key: str, fail: bool = False) -> None:
        self.key, self.fail = key, fail

    @hookimpl
    def mozdef_enrich_alert(self, alert: dict, settings: PluginSettings) -> dict:
        if self.fail:
            raise TimeoutError("whois timed out")
        alert.setdefault("enrichedby", []).append((self.key, settings.priority))
        return alert


def test_alert_enrichment_runs_in_chain_order_and_survives_a_failure(config_file) -> None:
    config = config_file("[plugins.geo]\npriority = 5\n[plugins.whois]\npriority = 10\n")
    found = plugins(
        config, related=Enricher("related"), geo=Enricher("geo"), whois=Enricher("w", True)
    )
    alert = found.alert_chain().run({"summary": "10 ssh bruteforce attempts"}, EventMeta())
    assert alert["enrichedby"] == [("geo", 5), ("related", 100)]
    assert alert["mozdef"]["errors"] == ["whois: TimeoutError: whois timed out"]
    assert alert["mozdef"]["plugins"] == ["geo", "whois", "related"]
