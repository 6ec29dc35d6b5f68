"""conf/mozdef.reference.toml: every key, generated from the schema and kept equal to it."""

import tomllib
from pathlib import Path

from mozdef.core.config import load_config
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
    parsed = tomllib.loads(REFERENCE.read_text(encoding="utf-8"))
    text = REFERENCE.read_text(encoding="utf-8")
    for section, info in Settings.model_fields.items():
        assert section in parsed
        for key in info.annotation.model_fields:
            assert f"\n{key} =" in text or f"\n# {key} =" in text, f"{section}.{key}"
