"""mozdef.toml: defaults, validation errors that name the file and key, environment."""

from pathlib import Path

import pytest

from mozdef.core.config import ConfigError, load_config


def test_an_empty_file_takes_every_default(config_file) -> None:
    config = config_file("")
    assert config.settings.mozdef.log_level == "INFO"
    assert config.settings.plugins.autoload is True
    assert config.plugin_tables == {}


def test_no_file_at_all_takes_every_default(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(None, {})
    assert config.source == "<defaults>"
    assert config.settings.normalize.syslog_timezone == "UTC"


def test_the_config_variable_names_the_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "elsewhere.toml"
    path.write_text('[mozdef]\nlog_level = "DEBUG"\n')
    config = load_config(None, {"MOZDEF_CONFIG": str(path)})
    assert config.source == str(path)
    assert config.settings.mozdef.log_level == "DEBUG"


def problems(config_file, text: str, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        config_file(text, environ)
    return str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "[mozdef]\nlog_levle = 'DEBUG'\n",
            "mozdef.log_levle: unknown key; did you mean 'log_level'?",
            id="misspelt-key",
        ),
        pytest.param(
            "[normalise]\n",
            "normalise: unknown key; did you mean 'normalize'?",
            id="misspelt-section",
        ),
        pytest.param(
            "[normalize]\nmax_depth = 'deep'\n",
            "normalize.max_depth: Input should be a valid integer, got 'deep'",
            id="wrong-type",
        ),
        pytest.param(
            "[normalize]\nmax_depth = 0\n",
            "normalize.max_depth: Input should be greater than or equal to 1, got 0",
            id="out-of-range",
        ),
        pytest.param(
            "[mozdef]\nlog_level = 'LOUD'\n",
            "mozdef.log_level: String should match pattern",
            id="bad-value",
        ),
        pytest.param(
            "[plugins]\nautoload = 'yes'\n",
            "plugins.autoload: Input should be a valid boolean, got 'yes'",
            id="strict-bool",
        ),
        pytest.param("[mozdef\n", "not valid TOML", id="syntax"),
    ],
)
def test_problems_name_the_file_the_key_and_the_expectation(config_file, text, expected) -> None:
    message = problems(config_file, text)
    assert message.split(": ", 1)[0].endswith("mozdef.toml")
    assert expected in message


def test_every_problem_is_reported_at_once(config_file) -> None:
    message = problems(config_file, "[mozdef]\nlog_level = 1\nhostnme = 'x'\n")
    lines = message.splitlines()
    assert len(lines) == 2
    assert any("mozdef.log_level" in line for line in lines)
    assert any("mozdef.hostnme: unknown key; did you mean 'hostname'?" in line for line in lines)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nowhere\.toml: file not found"):
        load_config(tmp_path / "nowhere.toml", {})


def test_environment_overrides_the_file(config_file) -> None:
    config = config_file(
        "[normalize]\nmax_depth = 5\n",
        {"MOZDEF_NORMALIZE_MAX_DEPTH": "9", "MOZDEF_MOZDEF_HOSTNAME": "123"},
    )
    assert config.settings.normalize.max_depth == 9
    assert config.settings.mozdef.hostname == "123"  # a string key takes the text as it is


def test_a_bad_environment_value_names_the_variable(config_file) -> None:
    message = problems(config_file, "", {"MOZDEF_NORMALIZE_MAX_DEPTH": "lots"})
    assert "normalize.max_depth (from $MOZDEF_NORMALIZE_MAX_DEPTH)" in message


def test_plugin_tables_are_kept_for_the_plugin_manager(config_file) -> None:
    config = config_file("[plugins]\nautoload = false\n[plugins.geoip]\nenabled = false\n")
    assert config.settings.plugins.autoload is False
    assert config.plugin_tables == {"geoip": {"enabled": False}}
