"""Rules written as TOML files instead of Python, after MozDef's generic JSON alerts.

One file is one rule, named after the file (`failed_logins.toml` is `failed_logins`):

    kind = "aggregation"            # simple, aggregation or deadman
    description = "Many failed logins for one user"
    search = "category:authentication AND details.success:false"   # Lucene syntax
    filters = { "details.program" = "sshd" }       # field = value or [values]; all must hold
    exclude = { "details.username" = ["healthcheck"] }
    field = "details.username"      # aggregation: the value the events share
    window = "10m"
    threshold = 5
    samples = 5
    category = "authentication"
    severity = "WARNING"
    summary = "{count} failed logins for {value} on {event.hostname}"
    tags = ["auth"]
    url = "https://wiki.example.com/runbooks/failed-logins"
    channel = "#security"
    schedule = "*/5 * * * *"

Every key but `kind` is a setting of the rule: the file gives its defaults and
`[alerts.rules.<name>]` in mozdef.toml may override any of them. The summary's
placeholders are `{count}`, `{value}`, `{field}`, `{threshold}`, `{window}` and any event
field as `{event.dotted.path}` (the newest event); they are checked when the file is
read, and a field the event lacks renders empty.
"""

import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, field_validator

from mozdef.alerts.rules import (
    AggregationRule,
    AggregationSettings,
    DeadmanRule,
    DeadmanSettings,
    Draft,
    Group,
    Rule,
    Severity,
    SimpleRule,
    SimpleSettings,
)
from mozdef.core.config import ConfigError, read_toml, validate
from mozdef.core.durations import format_duration
from mozdef.core.query import Bool, Hit, Query, QueryString, Scalar, Term, Terms
from mozdef.core.querystring import QuerySyntaxError, parse_query
from mozdef.core.registration import MISSING, lookup, split_path
from mozdef.core.schema import Section

PLACEHOLDERS = frozenset({"count", "value", "field", "threshold", "window", "event"})
FilterValue = Scalar | list[Scalar]


class RuleFields(Section):
    """The keys of a rule file that say what to look for and what to say."""

    description: str = Field("", description="One line shown by `mozdef alerts list`.")
    search: str = Field("", description="Lucene query string the events must match.")
    filters: dict[str, FilterValue] = Field(
        default_factory=dict, description="Field = value (or list of values); all must hold."
    )
    exclude: dict[str, FilterValue] = Field(
        default_factory=dict, description="Field = value (or list); matching events are left out."
    )
    category: str = Field(..., description="The alert's category.")
    severity: Severity = Field("NOTICE", description="The alert's severity (RFC 5424 name).")
    summary: str = Field(..., description="Template of the alert's summary.")
    tags: list[str] = Field(default_factory=list, description="The alert's tags.")
    url: str = Field("", description="A runbook or documentation link for responders.")

    @field_validator("search")
    @classmethod
    def search_parses(cls, text: str) -> str:
        if text:
            try:
                parse_query(text)
            except QuerySyntaxError as exc:
                raise ValueError(str(exc)) from None
        return text

    @field_validator("summary")
    @classmethod
    def placeholders_known(cls, template: str) -> str:
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
        except ValueError as exc:
            raise ValueError(f"not a summary template: {exc}") from None
        unknown = sorted(n for n in names if n.split(".")[0] not in PLACEHOLDERS)
        if unknown:
            known = ", ".join(sorted(PLACEHOLDERS))
            raise ValueError(f"unknown placeholder {{{unknown[0]}}} (known: {known})")
        return template


class SimpleFileSettings(SimpleSettings, RuleFields):
    pass


class AggregationFileSettings(AggregationSettings, RuleFields):
    pass


class DeadmanFileSettings(DeadmanSettings, RuleFields):
    pass


class DeclarativeRule(Rule):
    """What the three kinds of rule file share: the query and the summary template."""

    settings: RuleFields

    def query(self) -> Query:
        settings = self.settings
        must: list[Query] = [QueryString(settings.search)] if settings.search else []
        must.extend(condition(path, value) for path, value in settings.filters.items())
        must_not = tuple(condition(path, value) for path, value in settings.exclude.items())
        return Bool(must=tuple(must), must_not=must_not)

    def draft(self, **values: Any) -> Draft:
        settings = self.settings
        values.setdefault("window", format_duration(settings.window))
        summary = TemplateFormatter().format(settings.summary, **values)
        return Draft(
            summary, settings.category, settings.severity, tuple(settings.tags), settings.url
        )


class SimpleFileRule(DeclarativeRule, SimpleRule):
    Settings: ClassVar = SimpleFileSettings

    def alert(self, hit: Hit) -> Draft:
        return self.draft(count=1, event=hit.event)


class AggregationFileRule(DeclarativeRule, AggregationRule):
    Settings: ClassVar = AggregationFileSettings

    def alert(self, group: Group) -> Draft:
        newest = group.events[0].event if group.events else {}
        return self.draft(
            count=group.count,
            value=group.value,
            field=group.field,
            threshold=self.settings.threshold,
            event=newest,
        )


class DeadmanFileRule(DeclarativeRule, DeadmanRule):
    Settings: ClassVar = DeadmanFileSettings

    def alert(self) -> Draft:
        return self.draft(count=0)


KINDS: dict[str, type[DeclarativeRule]] = {
    "simple": SimpleFileRule,
    "aggregation": AggregationFileRule,
    "deadman": DeadmanFileRule,
}


def condition(path: str, value: FilterValue) -> Query:
    return Terms(path, tuple(value)) if isinstance(value, list) else Term(path, value)


class TemplateFormatter(string.Formatter):
    """str.format where `{event.a.b}` reads a dotted event field (empty if absent)."""

    def get_field(self, field_name: str, args: Any, kwargs: Mapping[str, Any]) -> Any:
        root, _, path = field_name.partition(".")
        value = kwargs.get(root, "")
        if path:
            value = lookup(value, split_path(path)) if isinstance(value, dict) else MISSING
            value = "" if value is MISSING or value is None else value
        return value, field_name


def read_rule_file(path: Path) -> tuple[str, type[Rule], dict, str]:
    """(name, rule class, the file's settings, description) for one rule file; a
    `ConfigError` naming the file and key if it is not a valid rule."""
    table = read_toml(path)
    kind = table.pop("kind", "aggregation")
    if kind not in KINDS:
        expected = "expected simple, aggregation or deadman"
        raise ConfigError(str(path), [f"kind: {expected}, got {kind!r}"])
    cls = KINDS[kind]
    settings = validate(cls.Settings, table, str(path), "", {})
    return path.stem, cls, table, settings.description


def rule_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise ConfigError(str(folder), ["alerts.rules_folder: not a folder"])
    return sorted(folder.glob("*.toml"))
