"""Reading mozdef.toml: once, at start-up, into validated settings or a precise error.

The file is parsed with the standard library's `tomllib` and checked against the declared
schema (`mozdef.core.settings`). Every problem names the file, the dotted key, what was
expected and, for a misspelt key, the likely intended one. Deploy-time secrets come
from the environment: any key can be overridden by `MOZDEF_` + its dotted path in
capitals with dots as underscores, e.g. `[server] token` by `MOZDEF_SERVER_TOKEN`.
"""

import difflib
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType, UnionType
from typing import Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from mozdef.core.settings import Settings

DEFAULT_PATH = Path("mozdef.toml")
PATH_VARIABLE = "MOZDEF_CONFIG"
EMPTY: Mapping = MappingProxyType({})
ENV_PREFIX = "MOZDEF_"

Model = TypeVar("Model", bound=BaseModel)


class ConfigError(Exception):
    """Every problem found in one configuration source, one line each."""

    def __init__(self, source: str, problems: Iterable[str]) -> None:
        self.source = source
        self.problems = list(problems)
        # No source: each problem names its own (problems gathered from several files).
        prefix = f"{source}: " if source else ""
        super().__init__("\n".join(prefix + problem for problem in self.problems))


@dataclass(frozen=True)
class Config:
    """Validated settings, plus the per-plugin tables that the plugin manager validates
    once it knows which plugins are installed."""

    source: str
    settings: Settings
    plugin_tables: Mapping[str, dict] = field(default_factory=dict)
    rule_tables: Mapping[str, dict] = field(default_factory=dict)
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)

    def plugin_settings(self, name: str, model: type[Model]) -> Model:
        """Validate the `[plugins.<name>]` table against the plugin's declared model."""
        table = self.plugin_tables.get(name, {})
        return validate(model, table, self.source, f"plugins.{name}", self.environ)

    def rule_settings(self, name: str, model: type[Model], defaults: Mapping = EMPTY) -> Model:
        """Validate the `[alerts.rules.<name>]` table against the rule's model, over the
        `defaults` its rule file gave (already validated there)."""
        table = {**defaults, **self.rule_tables.get(name, {})}
        return validate(model, table, self.source, f"alerts.rules.{name}", self.environ)


def find_config(path: Path | str | None, environ: Mapping[str, str]) -> Path | None:
    """The file to read: the one named, else $MOZDEF_CONFIG, else ./mozdef.toml if present."""
    if path is not None:
        return Path(path)
    if environ.get(PATH_VARIABLE):
        return Path(environ[PATH_VARIABLE])
    return DEFAULT_PATH if DEFAULT_PATH.exists() else None


def load_config(path: Path | str | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate a configuration file; with no file, every key takes its default."""
    environ = os.environ if environ is None else environ
    path = find_config(path, environ)
    source = str(path) if path else "<defaults>"
    raw = read_toml(path) if path else {}
    plugins = raw.get("plugins", {})
    plugin_tables = {}
    if isinstance(plugins, dict):
        plugin_tables = {k: v for k, v in plugins.items() if isinstance(v, dict)}
        raw["plugins"] = {k: v for k, v in plugins.items() if k not in plugin_tables}
    rule_tables = split_tables(raw, "alerts", "rules")
    settings = validate(Settings, raw, source, "", environ)
    return Config(source, settings, plugin_tables, rule_tables, dict(environ))


def split_tables(raw: dict, section: str, key: str) -> dict[str, dict]:
    """Take `[section.key.*]` out of `raw`: tables whose keys are only known later."""
    tables = raw.get(section, {}).get(key) if isinstance(raw.get(section), dict) else None
    if not isinstance(tables, dict):
        return {}
    del raw[section][key]
    return tables


def read_toml(path: Path) -> dict:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(str(path), ["file not found"]) from None
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read: {exc.strerror}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from None


def validate(
    model: type[Model], data: dict, source: str, prefix: str, environ: Mapping[str, str]
) -> Model:
    """Validate one table (and the tables nested in it), environment overrides applied."""
    data, from_env = apply_environment(model, data, prefix, environ)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [describe(model, error, prefix, from_env) for error in exc.errors()]
        raise ConfigError(source, problems) from None


def env_name(dotted_key: str) -> str:
    return ENV_PREFIX + dotted_key.upper().replace(".", "_").replace("-", "_")


def apply_environment(
    model: type[BaseModel], data: dict, prefix: str, environ: Mapping[str, str]
) -> tuple[dict, dict[str, str]]:
    """Overlay `MOZDEF_...` variables on a table; returns the table and {dotted key: variable}."""
    data = dict(data)
    from_env: dict[str, str] = {}
    for key, info in model.model_fields.items():
        dotted = f"{prefix}.{key}" if prefix else key
        nested = section_type(info.annotation)
        if nested is not None:
            table = data.get(key, {})
            if isinstance(table, dict):
                data[key], inner = apply_environment(nested, table, dotted, environ)
                from_env.update(inner)
            continue
        variable = env_name(dotted)
        if variable in environ:
            data[key] = parse_env_value(environ[variable], info.annotation)
            from_env[dotted] = variable
    return data, from_env


def section_type(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def item_type(annotation: Any) -> type[BaseModel] | None:
    """The model of a table, or of the tables in an array of tables (`[[...]]`)."""
    if get_origin(annotation) in (list, tuple):
        return item_type(get_args(annotation)[0])
    return section_type(annotation)


def parse_env_value(text: str, annotation: Any) -> Any:
    """Strings are taken as they are; anything else is read as a TOML value."""
    if annotation is str or (
        get_origin(annotation) in (Union, UnionType) and str in get_args(annotation)
    ):
        return text
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def describe(model: type[BaseModel], error: Mapping[str, Any], prefix: str, from_env: dict) -> str:
    """One line for one validation error: where, what was wrong, what was expected."""
    location = [str(part) for part in error["loc"]]
    dotted = ".".join([prefix, *location] if prefix else location)
    where = f"{dotted} (from ${from_env[dotted]})" if dotted in from_env else dotted
    if error["type"] == "extra_forbidden":
        known = field_names_at(model, location[:-1])
        hint = difflib.get_close_matches(location[-1], known, n=1)
        suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
        listing = ", ".join(sorted(known)) or "none"
        return f"{where}: unknown key{suggestion} (known keys: {listing})"
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message}, got {error['input']!r}"


def field_names_at(model: type[BaseModel], location: list[str]) -> list[str]:
    for part in location:
        if part.isdigit():  # an index into an array of tables
            continue
        info = model.model_fields.get(part)
        nested = item_type(info.annotation) if info else None
        if nested is None:
            return []
        model = nested
    return list(model.model_fields)
