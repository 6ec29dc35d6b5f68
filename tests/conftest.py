"""Shared helpers: configurations written to real files, plugins registered for real."""

from pathlib import Path

import pytest

from mozdef.core.config import Config, load_config


@pytest.fixture
def config_file(tmp_path: Path):
    """Write a mozdef.toml and load it, with an empty environment unless one is given."""

    def load(text: str = "", environ: dict[str, str] | None = None) -> Config:
        path = tmp_path / "mozdef.toml"
        path.write_text(text, encoding="utf-8")
        return load_config(path, environ or {})

    return load
