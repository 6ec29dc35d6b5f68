"""Tags, a category and field values given to events by declarative rules.

Each `[[plugins.rule_tags.rules]]` has a `match` (see `mozdef.core.conditions`) and
actions: `add_tags`, `set_category` and `set` (dotted field path = value). Every
matching rule applies, in the order written; a rule sees what earlier ones changed.
The number of events each rule matched is in the plugin's `counts`.
"""

import copy
from typing import Annotated, Any

from pydantic import AfterValidator, Field, field_validator, model_validator

from mozdef.core import PluginSettings, hookimpl
from mozdef.core.conditions import SCALARS, MatchRule, unique_names
from mozdef.core.event import note_error
from mozdef.core.parsing import add_tag
from mozdef.core.registration import Matcher, split_path


class TagRule(MatchRule):
    """One `[[plugins.rule_tags.rules]]` entry."""

    add_tags: list[str] = Field([], description="Tags added to matching events.")
    set_category: str = Field("", description="New `category` of matching events; empty: kept.")
    set: dict[str, Any] = Field(
        {},
        description="Fields written on matching events: quoted dotted path = value, e.g. "
        '{ "details.team" = "payments" }.',
    )

    @field_validator("set")
    @classmethod
    def paths_are_dotted(cls, fields: dict[str, Any]) -> dict[str, Any]:
        for path in fields:
            split_path(path)
        return fields

    @model_validator(mode="after")
    def does_something(self) -> "TagRule":
        if not (self.add_tags or self.set_category or self.set):
            raise ValueError(
                f"rule {self.name!r} has no action: give add_tags, set_category or set"
            )
        return self


class RuleTagsSettings(PluginSettings):
    """The `[plugins.rule_tags]` table."""

    priority: int = 85
    rules: Annotated[list[TagRule], AfterValidator(unique_names)] = Field(
        [],
        description="Rules, each { name, match, add_tags, set_category, set }; every "
        "matching one applies, in order. See docs/plugins/rule_tags.md.",
    )


class Compiled:
    """A rule with its match compiled and its field paths split."""

    def __init__(self, rule: TagRule) -> None:
        self.name = rule.name
        self.matches: Matcher = rule.matcher()
        self.tags = tuple(rule.add_tags)
        self.category = rule.set_category
        self.fields = [(split_path(path), value) for path, value in rule.set.items()]
        self.shared = all(isinstance(value, SCALARS) for _, value in self.fields)

    def apply(self, event: dict) -> None:
        for tag in self.tags:
            add_tag(event, tag)
        if self.category:
            event["category"] = self.category
        for parts, value in self.fields:
            parent = event
            for part in parts[:-1]:
                parent = parent.setdefault(part, {})
                if type(parent) is not dict:
                    note_error(
                        event,
                        f"rule_tags: rule {self.name!r} cannot set {'.'.join(parts)}: "
                        f"{part} is not an object",
                    )
                    break
            else:
                # Each event gets its own copy of a table or array: plugins change them.
                parent[parts[-1]] = value if self.shared else copy.deepcopy(value)


class RuleTags:
    """MozDef instantiates this once; `mozdef_startup` compiles the rules."""

    def __init__(self) -> None:
        self.rules: list[Compiled] = []
        self.counts: dict[str, int] = {}

    @hookimpl
    def mozdef_plugin_settings(self) -> type[RuleTagsSettings]:
        return RuleTagsSettings

    @hookimpl
    def mozdef_startup(self, settings: RuleTagsSettings) -> None:
        self.rules = [Compiled(rule) for rule in settings.rules]
        self.counts = {rule.name: 0 for rule in self.rules}

    @hookimpl
    def mozdef_event_registration(self) -> str | bool:
        # Any event may match a rule; with no rules the plugin leaves the chain.
        return "*" if self.rules else False

    @hookimpl
    def mozdef_process_event(self, event: dict) -> dict | None:
        changed = False
        for rule in self.rules:
            if rule.matches(event):
                self.counts[rule.name] += 1
                rule.apply(event)
                changed = True
        return event if changed else None
