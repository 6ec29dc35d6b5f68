"""Noise dropped by declarative rules: load-balancer health checks, chatty commands...

Each `[[plugins.drop_rules.rules]]` has a `match` (see `mozdef.core.conditions`); the
first rule, in the order written, that matches an event decides: it drops the event
or, with `keep_one_in = N`, keeps the first of every N it matches, tagged "sampled"
and with `details.sampleratio = N` so that counts can be scaled back up. What each
rule did is in the plugin's `counts`: rule name -> `RuleCount(matched, dropped)`.
"""

from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, Field

from mozdef.core import DROP, PluginSettings, hookimpl
from mozdef.core.conditions import MatchRule, unique_names
from mozdef.core.parsing import add_tag
from mozdef.core.registration import Matcher

SAMPLED_TAG = "sampled"


class DropRule(MatchRule):
    """One `[[plugins.drop_rules.rules]]` entry."""

    keep_one_in: int = Field(
        0,
        ge=0,
        description="0: drop every match. N: keep the first of every N matches, tagged "
        "'sampled' with details.sampleratio = N (1 keeps all: a dry run that only counts).",
    )


class DropRulesSettings(PluginSettings):
    """The `[plugins.drop_rules]` table."""

    priority: int = 90
    rules: Annotated[list[DropRule], AfterValidator(unique_names)] = Field(
        [],
        description="Rules, each { name, match, keep_one_in }, tried in order; the first "
        "that matches decides. See docs/plugins/drop_rules.md.",
    )


@dataclass(slots=True)
class RuleCount:
    """Events one rule matched, and how many of them it dropped."""

    matched: int = 0
    dropped: int = 0


class DropRules:
    """MozDef instantiates this once; `mozdef_startup` compiles the rules."""

    def __init__(self) -> None:
        self.rules: list[tuple[Matcher, int, RuleCount]] = []
        self.counts: dict[str, RuleCount] = {}

    @hookimpl
    def mozdef_plugin_settings(self) -> type[DropRulesSettings]:
        return DropRulesSettings

    @hookimpl
    def mozdef_startup(self, settings: DropRulesSettings) -> None:
        self.counts = {rule.name: RuleCount() for rule in settings.rules}
        self.rules = [
            (rule.matcher(), rule.keep_one_in, self.counts[rule.name]) for rule in settings.rules
        ]

    @hookimpl
    def mozdef_event_registration(self) -> str | bool:
        # Any event may match a rule; with no rules the plugin leaves the chain.
        return "*" if self.rules else False

    @hookimpl
    def mozdef_process_event(self, event: dict) -> object:
        for matches, keep_one_in, count in self.rules:
            if not matches(event):
                continue
            count.matched += 1
            if keep_one_in and (count.matched - 1) % keep_one_in == 0:
                add_tag(event, SAMPLED_TAG)
                event["details"]["sampleratio"] = keep_one_in
                return event
            count.dropped += 1
            return DROP
        return None
