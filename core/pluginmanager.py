"""Finding, configuring, ordering and calling plugins.

Plugins, MozDef's own included, are published under the setuptools entry-point group
``mozdef``; those of the ``mozdef`` distribution itself are the built-ins and always
load, others load when ``[plugins] autoload`` is on. Each plugin's table is validated
against the model it declares, disabled plugins are blocked, and the rest are ordered
by (priority, name). Per-plugin hooks are then called one plugin at a time, in that
order, with the plugin's own settings; see `mozdef.core.hookspecs`.
"""

import difflib
import importlib.metadata
import inspect
import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pluggy

from mozdef.core import hookspecs
from mozdef.core.chain import Chain, Link, bind
from mozdef.core.config import Config, ConfigError
from mozdef.core.logs import RateLimitedLog
from mozdef.core.registration import Matcher, RegistrationError, compile_registration, nothing
from mozdef.core.schema import PluginSettings

ENTRY_POINT_GROUP = "mozdef"
HOOKS = tuple(name for name in vars(hookspecs) if name.startswith("mozdef_"))
BUILT_IN_DISTRIBUTION = "mozdef"

logger = logging.getLogger(__name__)


class PluginError(Exception):
    """A plugin could not be loaded or started; the message names it."""


@dataclass
class PluginInfo:
    """One installed plugin: where it came from, what it implements, how it is set."""

    name: str
    origin: str
    plugin: object
    hooks: list[str]
    description: str = ""
    settings: PluginSettings = field(default_factory=PluginSettings)
    log: RateLimitedLog = field(default_factory=lambda: RateLimitedLog(logger))

    @property
    def sort_key(self) -> tuple[int, str]:
        return (self.settings.priority, self.name)


@dataclass(frozen=True)
class Candidate:
    """A plugin found but not yet registered: its name, origin, the object itself, and
    what it does (the first paragraph of its module's docstring)."""

    name: str
    origin: str
    plugin: object
    description: str = ""


def discover(autoload: bool) -> Iterator[Candidate]:
    """Load the plugins published under the entry-point group, built-ins first."""
    points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    for point in sorted(points, key=lambda p: (not is_built_in(p), p.name)):
        built_in = is_built_in(point)
        if not (built_in or autoload):
            continue
        origin = "built-in" if built_in else f"{point.dist.name} {point.dist.version}"
        try:
            plugin = point.load()
        except Exception as exc:
            raise PluginError(
                f"plugin {point.name!r} ({origin}) failed to import {point.value}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        instance = plugin() if isinstance(plugin, type) else plugin
        yield Candidate(point.name, origin, instance, summary(sys.modules[point.module]))


def summary(module: ModuleType) -> str:
    """The first paragraph of a module's docstring, on one line."""
    text = inspect.getdoc(module) or ""
    return " ".join(text.split("\n\n", 1)[0].split())


def is_built_in(point: importlib.metadata.EntryPoint) -> bool:
    return point.dist is not None and point.dist.name == BUILT_IN_DISTRIBUTION


class Plugins:
    """The installed plugins, validated against the configuration and in chain order."""

    def __init__(self, config: Config, candidates: Iterable[Candidate] | None = None) -> None:
        """Register the installed plugins (or the `candidates` given instead, when embedding
        or testing) and validate their settings. Raises `PluginError` or `ConfigError`;
        nothing is started yet."""
        self.config = config
        self.manager = pluggy.PluginManager("mozdef")
        self.manager.add_hookspecs(hookspecs)
        self.all: dict[str, PluginInfo] = {}
        if candidates is None:
            candidates = discover(config.settings.plugins.autoload)
        for candidate in candidates:
            self.register(candidate)
        self.index = {hook: self.implementers(hook) for hook in HOOKS}
        self.check_unknown_tables()
        self.configure()
        self.enabled = sorted(
            (info for info in self.all.values() if info.settings.enabled),
            key=lambda info: info.sort_key,
        )

    def register(self, candidate: Candidate) -> None:
        if candidate.name in self.all:
            raise PluginError(
                f"two plugins are named {candidate.name!r}: "
                f"{self.all[candidate.name].origin} and {candidate.origin}"
            )
        try:
            self.manager.register(candidate.plugin, name=candidate.name)
            self.manager.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"plugin {candidate.name!r} ({candidate.origin}): {exc}") from exc
        hooks = sorted(caller.name for caller in self.manager.get_hookcallers(candidate.plugin))
        self.all[candidate.name] = PluginInfo(
            candidate.name, candidate.origin, candidate.plugin, hooks, candidate.description
        )

    def implementers(self, hook: str) -> dict[str, pluggy.HookImpl]:
        caller = getattr(self.manager.hook, hook)
        return {impl.plugin_name: impl for impl in caller.get_hookimpls()}

    def check_unknown_tables(self) -> None:
        problems = []
        for name in self.config.plugin_tables:
            if name not in self.all:
                hint = difflib.get_close_matches(name, self.all, n=1)
                suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
                installed = ", ".join(sorted(self.all)) or "none"
                problems.append(
                    f"plugins.{name}: no plugin of that name is installed{suggestion} "
                    f"(installed: {installed})"
                )
        if problems:
            raise ConfigError(self.config.source, problems)

    def configure(self) -> None:
        """Validate every plugin's table, reporting all the problems at once."""
        problems = []
        for info in self.all.values():
            model = PluginSettings
            impl = self.implementation("mozdef_plugin_settings", info.name)
            if impl is not None:
                model = impl.function()
                if not (isinstance(model, type) and issubclass(model, PluginSettings)):
                    raise PluginError(
                        f"plugin {info.name!r}: mozdef_plugin_settings returned {model!r}, "
                        "expected a subclass of mozdef.core.schema.PluginSettings"
                    )
            try:
                info.settings = self.config.plugin_settings(info.name, model)
            except ConfigError as exc:
                problems.extend(exc.problems)
        if problems:
            raise ConfigError(self.config.source, problems)

    def implementation(self, hook: str, plugin_name: str) -> pluggy.HookImpl | None:
        return self.index.get(hook, {}).get(plugin_name)

    def implementations(self, hook: str) -> Iterator[tuple[PluginInfo, pluggy.HookImpl]]:
        """The enabled plugins that implement `hook`, in chain order."""
        for info in self.enabled:
            impl = self.implementation(hook, info.name)
            if impl is not None:
                yield info, impl

    def start(self) -> None:
        """Call `mozdef_startup` on every enabled plugin, in chain order."""
        for info, impl in self.implementations("mozdef_startup"):
            try:
                call(impl, settings=info.settings, config=self.config)
            except Exception as exc:
                raise PluginError(
                    f"plugin {info.name!r} failed to start: {type(exc).__name__}: {exc}"
                ) from exc

    def event_chain(self) -> Chain:
        """The enabled event plugins in order, each with its registration compiled."""
        links = [
            Link(info.name, self.bound(info, impl, "event"), self.registration(info))
            for info, impl in self.implementations("mozdef_process_event")
        ]
        return Chain([link for link in links if link.wants is not nothing])

    def alert_chain(self) -> Chain:
        """The enabled alert-enrichment plugins in order; every alert goes to each."""
        return Chain(
            [
                Link(info.name, self.bound(info, impl, "alert"))
                for info, impl in self.implementations("mozdef_enrich_alert")
            ]
        )

    @staticmethod
    def bound(info: PluginInfo, impl: pluggy.HookImpl, item: str) -> Callable:
        return bind(impl.function, tuple(impl.argnames), item, info.settings)

    def registration(self, info: PluginInfo) -> Matcher:
        impl = self.implementation("mozdef_event_registration", info.name)
        spec = call(impl, settings=info.settings) if impl is not None else "*"
        try:
            return compile_registration(spec)
        except RegistrationError as exc:
            raise PluginError(f"plugin {info.name!r}: {exc}") from exc

    def start_notifiers(self) -> None:
        """Call `mozdef_notifier_start` on the enabled plugins, in chain order: only in
        the one process that delivers alerts."""
        for info, impl in self.implementations("mozdef_notifier_start"):
            try:
                call(impl, settings=info.settings, config=self.config, plugins=self)
            except Exception as exc:
                raise PluginError(
                    f"plugin {info.name!r} failed to start notifying: {type(exc).__name__}: {exc}"
                ) from exc

    def broadcast(self, hook: str, **kwargs: Any) -> list[Any]:
        """Call a broadcast hook on every enabled plugin, in chain order; one plugin's
        exception is logged (rate-limited) and does not stop the others."""
        caller = self.broadcaster(hook)
        return caller(**kwargs) if caller is not None else []

    def broadcaster(self, hook: str) -> Callable[..., list[Any]] | None:
        """`broadcast` prepared for a hot path: the implementations are looked up once.
        None if no enabled plugin implements the hook, so callers can skip it."""
        implementations = list(self.implementations(hook))
        if not implementations:
            return None

        def call_each(**kwargs: Any) -> list[Any]:
            results = []
            for info, impl in implementations:
                try:
                    results.append(call(impl, **kwargs))
                except Exception:
                    info.log.exception("plugin %s failed in %s", info.name, hook)
            return results

        return call_each

    def reference(self) -> dict[str, tuple[type[PluginSettings], str]]:
        """Each plugin's settings model and description, for the reference file."""
        return {name: (type(info.settings), info.description) for name, info in self.all.items()}

    def shutdown(self) -> None:
        self.broadcast("mozdef_shutdown")


def call(impl: pluggy.HookImpl, **kwargs: Any) -> Any:
    """Call one hook implementation with the arguments it asks for."""
    return impl.function(*(kwargs[name] for name in impl.argnames))
