"""A third-party plugin package, pip-installed, is discovered, ordered and run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "mozdef-plugin-example"
MOZDEF = str(Path(sys.executable).parent / "mozdef")


def pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--quiet", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def installed():
    pip("install", "--no-deps", "--no-build-isolation", str(EXAMPLE))
    yield
    pip("uninstall", "--yes", "mozdef-plugin-example")


def mozdef(tmp_path: Path, toml: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    config = tmp_path / "mozdef.toml"
    config.write_text(toml)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MOZDEF_")}
    return subprocess.run(
        [MOZDEF, "--config", str(config), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environ,
        check=False,
    )


def test_it_is_discovered_with_its_package_and_version(installed, tmp_path: Path) -> None:
    result = mozdef(tmp_path, "", "plugins", "list", "--json")
    rows = {row["name"]: row for row in map(json.loads, result.stdout.splitlines())}
    assert rows["watchlist"]["origin"] == "mozdef-plugin-example 0.1.0"
    assert rows["watchlist"]["priority"] == 150
    assert "mozdef_process_event" in rows["watchlist"]["hooks"]


def test_it_is_configured_ordered_and_run(installed, tmp_path: Path) -> None:
    toml = '[plugins.watchlist]\nusernames = ["backup"]\ntag = "watched"\npriority = 1\n'
    event = {"summary": "login", "details": {"username": "Backup"}}
    result = mozdef(tmp_path, toml, "normalize", stdin=json.dumps(event))
    assert result.returncode == 0, result.stderr
    normalised = json.loads(result.stdout)
    assert "watched" in normalised["tags"]
    assert normalised["mozdef"]["plugins"][0] == "watchlist"


def test_autoload_off_leaves_it_out(installed, tmp_path: Path) -> None:
    result = mozdef(tmp_path, "[plugins]\nautoload = false\n", "plugins", "list", "--json")
    names = [json.loads(line)["name"] for line in result.stdout.splitlines()]
    assert "watchlist" not in names


def test_its_own_tests_pass(installed) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
        capture_output=True,
        text=True,
        cwd=EXAMPLE,
    )
    assert result.returncode == 0, result.stdout + result.stderr
