"""Every rule this MozDef knows: from plugins (`mozdef_alert_rules`) and rule files.

The catalog is built once, at start-up, and validates everything it can there: rule
classes are what they claim, names are unique, every `[alerts.rules.<name>]` table
names a rule and fits its settings model. All problems are reported together, each
with the file and key, as configuration errors are elsewhere.
"""

import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mozdef.alerts.declarative import read_rule_file, rule_files
from mozdef.alerts.rules import AggregationRule, DeadmanRule, Rule, SimpleRule
from mozdef.core.config import Config, ConfigError
from mozdef.core.pluginmanager import Plugins, call

KINDS = {AggregationRule: "aggregation", SimpleRule: "simple", DeadmanRule: "deadman"}


@dataclass(frozen=True, slots=True)
class Entry:
    """One rule, ready to run, and where it came from (a plugin or a rule file)."""

    rule: Rule
    origin: str
    description: str

    @property
    def name(self) -> str:
        return self.rule.name

    @property
    def kind(self) -> str:
        return next(kind for base, kind in KINDS.items() if isinstance(self.rule, base))


class Catalog:
    """The rules by name, each with its validated settings."""

    def __init__(self, config: Config, plugins: Plugins) -> None:
        """Raises `ConfigError` listing every problem found."""
        self.config = config
        problems: list[str] = []
        found: dict[str, tuple[type[Rule], dict, str, str]] = {}
        for name, cls, defaults, origin, description in self.discover(plugins, problems):
            if name in found:
                problems.append(f"rule {name!r} is offered by both {found[name][2]} and {origin}")
                continue
            found[name] = (cls, defaults, origin, description)
        for name in config.rule_tables:
            if name not in found:
                close = difflib.get_close_matches(name, found, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                problems.append(f"{config.source}: alerts.rules.{name}: no such rule{hint}")
        self.entries: dict[str, Entry] = {}
        for name, (cls, defaults, origin, description) in sorted(found.items()):
            try:
                settings = config.rule_settings(name, cls.Settings, defaults)
            except ConfigError as exc:
                problems.extend(f"{exc.source}: {problem}" for problem in exc.problems)
                continue
            if settings.realtime and not realtime_capable(cls):
                problems.append(
                    f"{config.source}: alerts.rules.{name}.realtime: {name} cannot run in "
                    "real time (a deadman "
                    "rule, or a search that depends on the alert clock)"
                )
                continue
            description = description or cls.description()
            self.entries[name] = Entry(cls(settings, name), origin, description)
        if problems:  # from mozdef.toml and rule files: each names its own file
            raise ConfigError("", problems)

    def discover(self, plugins: Plugins, problems: list[str]) -> Iterator[tuple]:
        """(name, class, defaults, origin, description) of every rule offered."""
        for info, impl in plugins.implementations("mozdef_alert_rules"):
            for cls in call(impl, settings=info.settings) or ():
                if not (isinstance(cls, type) and issubclass(cls, tuple(KINDS))):
                    problems.append(
                        f"plugin {info.name!r} offered {cls!r}, expected a subclass of "
                        "SimpleRule, AggregationRule or DeadmanRule"
                    )
                elif not getattr(cls, "name", ""):
                    problems.append(f"plugin {info.name!r}: rule {cls.__name__} has no name")
                else:
                    yield cls.name, cls, {}, f"plugin {info.name!r}", ""
        folder = self.config.settings.alerts.rules_folder
        if folder:
            for path in rule_files(Path(folder)):
                try:
                    name, cls, defaults, description = read_rule_file(path)
                except ConfigError as exc:
                    problems.extend(f"{exc.source}: {problem}" for problem in exc.problems)
                    continue
                yield name, cls, defaults, str(path), description

    def load_file(self, path: Path) -> Entry:
        """A rule file outside the rules folder (`mozdef alerts test some/rule.toml`),
        with the settings mozdef.toml gives a rule of that name."""
        name, cls, defaults, description = read_rule_file(path)
        settings = self.config.rule_settings(name, cls.Settings, defaults)
        return Entry(cls(settings, name), str(path), description or cls.description())

    def enabled(self) -> list[Entry]:
        return [entry for entry in self.entries.values() if entry.rule.settings.enabled]

    def get(self, name: str) -> Entry:
        """The rule named; `ConfigError` with a suggestion if there is none."""
        if name not in self.entries:
            close = difflib.get_close_matches(name, self.entries, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(self.config.source, [f"no rule named {name!r}{hint}"])
        return self.entries[name]


def realtime_capable(cls: type[Rule]) -> bool:
    """Real time needs a fixed query, compiled once; a deadman rule waits for silence."""
    return not issubclass(cls, DeadmanRule) and cls.query_at is Rule.query_at
