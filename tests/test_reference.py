"""conf/mozdef.reference.toml: every key, generated from the schema and kept equal to it."""

import tomllib
from pathlib import Path

from mozdef.core.config import load_config, section_type
from mozdef.core.pluginmanager import Plugins
from mozdef.core.reference import render_reference
from mozdef.core.settings import Settings

REFERENCE = Path(__file__).resolve().parent.parent / "conf" / "mozdef.reference.toml"


def test_the_reference_is_what_the_schema_generates() -> None:
    expected = render_reference(Plugins(load_config(REFERENCE, {})).reference())
    assert REFERENCE.read_text(encoding="utf-8") == expected, (
        "conf/mozdef.reference.toml is out of date: regenerate it with "
        "`mozdef config reference > conf/mozdef.reference.toml`"
    )


def test_the_reference_parses_and_validates_with_every_plugin() -> None:
    config = load_config(REFERENCE, {})
    plugins = Plugins(config)
    assert set(config.plugin_tables) == set(plugins.all)


def test_the_reference_names_every_key_of_mozdefs_own_sections() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    parsed = tomllib.loads(text)

    def check(model: type, table: dict, dotted: str) -> None:
        for key, info in model.model_fields.items():
            inner = section_type(info.annotation)
            if inner is not None:
                check(inner, table[key], f"{dotted}.{key}")
            else:
                assert key in table or f"\n# {key} =" in text, f"{dotted}.{key}"

    for section, info in Settings.model_fields.items():
        check(info.annotation, parsed[section], section)
