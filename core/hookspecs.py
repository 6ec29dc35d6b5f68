"""MozDef's plugin API: every hook a plugin can implement, each with its contract.

A plugin is a module, a class (instantiated once, with no arguments) or an object,
published under the setuptools entry-point group ``mozdef``; MozDef's own plugins are
registered the same way. Implement a hook by naming a function after it and marking it
with ``@hookimpl``; an implementation may accept only the arguments it needs.

Hooks come in two kinds:

* **per-plugin** hooks are called one plugin at a time, with that plugin's own settings
  and in chain order (lower ``priority`` first, ties by name);
* **broadcast** hooks are called on every enabled plugin at once (pluggy's usual call).

Disabled plugins receive no hook calls except ``mozdef_plugin_settings``.
"""

from typing import Any

import pluggy

from mozdef.core.event import EventMeta
from mozdef.core.schema import PluginSettings

hookspec = pluggy.HookspecMarker("mozdef")
hookimpl = pluggy.HookimplMarker("mozdef")


@hookspec
def mozdef_plugin_settings() -> type[PluginSettings]:
    """Declare the keys of this plugin's ``[plugins.<name>]`` table.

    Per-plugin; called once at start-up, before anything else, enabled or not. Return a
    subclass of `PluginSettings` whose fields carry defaults and descriptions; override
    ``priority`` or ``enabled`` there to change the plugin's defaults. A plugin that does
    not implement this hook has only ``enabled`` and ``priority``. The operator's table
    is validated against the model and the result passed to the other per-plugin hooks
    as ``settings``; an invalid table stops start-up with the file and key named.
    """


@hookspec
def mozdef_startup(settings: PluginSettings, config: Any) -> None:
    """Prepare to run: open files and databases, compile rules.

    Per-plugin; called once for each enabled plugin, in chain order, after the whole
    configuration is validated and before the first event. ``config`` is the loaded
    `mozdef.core.config.Config`. Do here all the work that does not depend on the event,
    so that the per-event hooks stay cheap. An exception stops start-up, naming the
    plugin: a plugin that cannot start is a configuration problem, not a runtime one.
    """


@hookspec
def mozdef_event_registration(settings: PluginSettings) -> Any:
    """Say which events ``mozdef_process_event`` should see.

    Per-plugin; called once at start-up, after ``mozdef_startup``. Return ``"*"`` for
    every event, a dotted field path (the field must be present), a mapping of dotted
    paths to accepted values, or a list of these (any may match); or ``False`` for no
    events, which takes the plugin out of the chain (e.g. it has nothing to do as
    configured). See `mozdef.core.registration`. Not implementing this hook means every
    event. The registration is compiled once; an invalid one stops start-up.
    """


@hookspec
def mozdef_process_event(event: dict, meta: EventMeta, settings: PluginSettings) -> Any:
    """Fix, enrich, tag or drop one event.

    Per-plugin; called for every event the plugin registered for, in chain order, after
    the event has been normalised to the MozDef schema and before it is stored.

    Return ``None`` if the event is unchanged, the event (the same dict changed in place,
    or a new one) if it changed, or ``mozdef.core.DROP`` to drop it, which ends the
    chain. Change ``meta.index`` or ``meta.doc_id`` to store the event elsewhere.

    An exception never loses the event: it is logged (rate-limited), counted, noted in
    the event's ``mozdef.errors`` and the chain goes on with the event as the plugin
    left it. This is the hot path: no I/O that could be done once in ``mozdef_startup``.
    """


@hookspec
def mozdef_event_stored(event: dict, meta: EventMeta) -> None:
    """React to an event that has been committed to the store (e.g. real-time alerts).

    Broadcast; called after the store has committed the event, with ``meta.index`` and
    ``meta.doc_id`` naming where it lies. The return value is ignored. An exception is
    logged and counted and does not undo the store or stop the other plugins.
    """


@hookspec
def mozdef_alert_rules(settings: PluginSettings) -> Any:
    """Offer alert rules: an iterable of `mozdef.alerts.rules.Rule` subclasses.

    Per-plugin; called once at start-up by the processes that run alerts. Each class
    names its rule (`Rule.name`, unique across all plugins and rule files) and declares
    its settings model, validated against ``[alerts.rules.<name>]`` in mozdef.toml. A
    plugin's own ``settings`` may decide which rules it offers.
    """


@hookspec
def mozdef_enrich_alert(alert: dict, meta: Any, settings: PluginSettings) -> Any:
    """Add context to an alert before it is stored and sent.

    Per-plugin; called for every alert, in chain order. ``meta`` is a
    `mozdef.alerts.engine.AlertMeta`: the store the alert's events are in (for
    looking up related events) and the alert clock's ``now``. This runs off the event
    path, on a thread of the alert engine: blocking calls are allowed. Return ``None``
    if the alert is unchanged, or the alert (changed in place or new). An exception is
    logged, counted and noted on the alert, which goes on unenriched by this plugin.
    """


@hookspec
def mozdef_notifier_start(settings: PluginSettings, config: Any, plugins: Any) -> None:
    """Connect to the responders' services (IRC, Matrix, ...) and start listening.

    Per-plugin; called once, after ``mozdef_startup``, and only in the process that
    delivers alerts (`mozdef run` with the all role, or ``--role bot``), so that other
    processes never open a second connection. ``plugins`` is the
    `mozdef.core.pluginmanager.Plugins` of this process (for collecting
    ``mozdef_bot_commands``). Spawn greenlets here and return at once; stop them in
    ``mozdef_shutdown``.
    """


@hookspec
def mozdef_notify_alert(alert: dict) -> None:
    """Deliver an alert to responders (IRC, Matrix, chat webhooks, ...).

    Broadcast; called once per stored alert whose notify flag is set. The return value
    is ignored. Deliver asynchronously or quickly: every notifier is called in turn. An
    exception is logged and counted; the other notifiers still get the alert.
    """


@hookspec
def mozdef_bot_commands() -> dict[str, Any]:
    """Offer commands that responders can type to the bots, e.g. ``!ipinfo``.

    Broadcast; called once when a bot starts. Return a mapping of command name (without
    the ``!``) to a callable ``(args: list[str], context) -> str | list[str]`` whose
    docstring's first line is shown by ``!help``; ``context`` is a
    `mozdef.bots.commands.CommandContext` (the store, the configuration, who asked).
    When two plugins offer the same name, the one earlier in chain order wins and the
    clash is logged.
    """


@hookspec
def mozdef_shutdown() -> None:
    """Release what ``mozdef_startup`` acquired: flush buffers, close connections.

    Broadcast; called once when MozDef stops, after the last event. An exception is
    logged and does not stop the other plugins from shutting down.
    """
