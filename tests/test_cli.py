"""The `mozdef` command, run as an operator runs it: a real process, real files."""

import json
import os
import pty
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

MOZDEF = str(Path(sys.executable).parent / "mozdef")
LOGIN_FAILED = {
    "timestamp": "2014-02-14T11:48:19.035762739-05:00",
    "hostname": "somemachine.in.your.company.com",
    "processname": "/path/to/your/program.exe",
    "processid": 3380,
    "severity": "INFO",
    "summary": "joe login failed",
    "category": "authentication",
    "source": "ldap",
    "tags": ["ldap", "adminAccess", "failure"],
    "details": {"user": "joe", "result": "10 authentication failures in a row"},
}


def mozdef(*args: str, stdin: str = "", cwd: Path | None = None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MOZDEF_")}
    return subprocess.run(
        [MOZDEF, *args], input=stdin, capture_output=True, text=True, cwd=cwd, env=environ
    )


def test_help_lists_the_commands() -> None:
    result = mozdef("--help")
    assert result.returncode == 0
    for command in ("run", "normalize", "config", "plugins"):
        assert command in result.stdout


def test_normalize_reads_ndjson_and_reports_bad_lines_by_number(tmp_path: Path) -> None:
    source = tmp_path / "events.ndjson"
    source.write_text(json.dumps(LOGIN_FAILED) + "\n\n{not json\n" + '"a string"\n')
    result = mozdef("normalize", str(source), cwd=tmp_path)
    assert result.returncode == 1
    (line,) = result.stdout.splitlines()
    event = json.loads(line)
    assert event["utctimestamp"] == "2014-02-14T16:48:19.035762+00:00"
    assert event["summary"] == "joe login failed"
    assert "line 3: not valid JSON" in result.stderr
    assert "line 4:" in result.stderr
    assert "2 event(s) rejected" in result.stderr


def test_normalize_reads_a_json_array_from_stdin(tmp_path: Path) -> None:
    result = mozdef("normalize", "-", stdin=json.dumps([LOGIN_FAILED, LOGIN_FAILED]), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["details"]["user"] for e in events] == ["joe", "joe"]
    assert all("plugins" in e["mozdef"] for e in events)


def test_run_serves_http_and_stores_until_sigterm(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = store_config(tmp_path)
    config.write_text(config.read_text() + f"[server]\nport = {port}\n")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MOZDEF_")}
    server = subprocess.Popen(
        [MOZDEF, "--config", str(config), "run"], env=environ, stderr=subprocess.PIPE
    )
    try:
        body = json.dumps({"message": "hello", "host": "web1", "category": "test"}).encode()
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/events", body) as reply:
                    assert reply.status == 200
                break
            except urllib.error.URLError:
                time.sleep(0.1)
        else:
            raise AssertionError("mozdef run did not start listening")
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0, server.stderr.read()
    found = mozdef("--config", str(config), "search", "category:test", "--json")
    (event,) = [json.loads(line) for line in found.stdout.splitlines()]
    assert (event["summary"], event["hostname"]) == ("hello", "web1")


def test_a_progress_bar_is_shown_on_a_terminal(tmp_path: Path) -> None:
    source = tmp_path / "events.ndjson"
    source.write_text((json.dumps(LOGIN_FAILED) + "\n") * 200)
    controller, terminal = pty.openpty()
    with open(os.devnull, "w") as devnull:
        process = subprocess.run(
            [MOZDEF, "normalize", str(source)], stdout=devnull, stderr=terminal, cwd=tmp_path
        )
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    assert process.returncode == 0
    assert b"normalising" in shown
    assert b"100%" in shown


def test_config_check_accepts_a_good_file(tmp_path: Path) -> None:
    path = tmp_path / "mozdef.toml"
    path.write_text('[mozdef]\nlog_level = "WARNING"\n')
    result = mozdef("config", "check", str(path))
    assert result.returncode == 0, result.stderr
    assert f"{path}: OK" in result.stdout


def test_config_check_names_file_and_key_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "mozdef.toml"
    path.write_text("[normalize]\nmax_dpeth = 3\n")
    result = mozdef("config", "check", str(path))
    assert result.returncode == 2
    assert f"{path}: normalize.max_dpeth: unknown key; did you mean 'max_depth'?" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_check_names_a_table_for_a_plugin_that_is_not_installed(tmp_path: Path) -> None:
    path = tmp_path / "mozdef.toml"
    path.write_text("[plugins.sshdd]\nenabled = false\n")
    result = mozdef("config", "check", str(path))
    assert result.returncode == 2
    assert f"{path}: plugins.sshdd: no plugin of that name is installed" in result.stderr
    assert "did you mean 'sshd'?" in result.stderr


def test_config_check_validates_the_alert_rules_too(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "noisy.toml").write_text('category = "x"\nsummary = "{count} by {who}"\n')
    path = tmp_path / "mozdef.toml"
    path.write_text(
        f'[alerts]\nrules_folder = "{rules}"\n[alerts.rules.bruteforce_shh]\nenabled = false\n'
    )
    result = mozdef("config", "check", str(path))
    assert result.returncode == 2
    assert f"{rules / 'noisy.toml'}: summary: unknown placeholder {{who}}" in result.stderr
    assert (
        "alerts.rules.bruteforce_shh: no such rule (did you mean 'bruteforce_ssh'?)"
        in result.stderr
    )


def test_the_root_mozdef_toml_is_valid() -> None:
    root = Path(__file__).resolve().parent.parent
    result = mozdef("config", "check", str(root / "mozdef.toml"))
    assert result.returncode == 0, result.stderr


def test_plugins_list_shows_every_column(tmp_path: Path) -> None:
    result = mozdef("plugins", "list", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:5] == ["NAME", "ORIGIN", "PRIORITY", "ENABLED", "HOOKS"]
    rows = [json.loads(line) for line in mozdef("plugins", "list", "--json").stdout.splitlines()]
    assert rows, "the built-in plugins are discovered"
    assert all(row["origin"] == "built-in" for row in rows if row["name"] != "watchlist")
    assert [r["priority"] for r in rows] == sorted(r["priority"] for r in rows)


def test_plugins_stats_counts_what_each_plugin_did(tmp_path: Path) -> None:
    source = tmp_path / "events.ndjson"
    sshd = {
        "program": "sshd",
        "message": "Accepted publickey for bob from 203.0.113.7 port 5022 ssh2",
    }
    source.write_text((json.dumps(sshd) + "\n") * 3 + json.dumps(LOGIN_FAILED) + "\n")
    result = mozdef("plugins", "stats", str(source), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split()[:4] == ["PLUGIN", "SEEN", "CHANGED", "DROPPED"]
    counts = {row.split()[0]: [int(n) for n in row.split()[1:3]] for row in rows}
    assert counts["sshd"] == [3, 3]  # seen, changed


@pytest.mark.parametrize("command", [["normalize", "--help"], ["config", "check", "--help"]])
def test_subcommand_help(command: list[str]) -> None:
    result = mozdef(*command)
    assert result.returncode == 0
    assert "Usage: mozdef" in result.stdout


def store_config(tmp_path: Path) -> Path:
    config = tmp_path / "mozdef.toml"
    config.write_text(f'[store.sqlite]\npath = "{tmp_path / "events.sqlite3"}"\n')
    return config


def test_ingest_stores_and_search_finds(tmp_path: Path) -> None:
    config = store_config(tmp_path)
    source = tmp_path / "events.ndjson"
    failed = {"program": "sshd", "host": "bastion", "message": "x"}
    lines = [
        json.dumps({**failed, "message": "Failed password for root from 203.0.113.9 port 1 ssh2"}),
        "{broken",
        json.dumps({**failed, "message": "Accepted publickey for bob from 10.0.0.5 port 2 ssh2"}),
    ]
    source.write_text("\n".join(lines) + "\n")
    ingested = mozdef("--config", str(config), "ingest", str(source))
    assert ingested.returncode == 1  # one line could not be read
    assert "line 2: not valid JSON" in ingested.stderr
    assert "2 stored" in ingested.stderr

    found = mozdef(
        "--config", str(config), "search", "details.sourceipaddress:203.0.113.0/24", "--json"
    )
    assert found.returncode == 0, found.stderr
    (event,) = [json.loads(line) for line in found.stdout.splitlines()]
    assert event["details"]["username"] == "root"


def test_ingest_reads_a_cloudtrail_log_file(tmp_path: Path) -> None:
    config = store_config(tmp_path)
    source = tmp_path / "cloudtrail.json"
    record = {
        "eventVersion": "1.08",
        "eventTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "cloudtrail.amazonaws.com",
        "eventName": "StopLogging",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15.0",
        "userIdentity": {"type": "IAMUser", "userName": "mallory", "accountId": "111122223333"},
        "eventID": "3c2f7f0e-8f3a-4d2b-9a53-1f2e3d4c5b6a",
        "eventType": "AwsApiCall",
        "recipientAccountId": "111122223333",
    }
    source.write_text(
        json.dumps({"Records": [record, {**record, "eventName": "GetTrail"}]}, indent=2)
    )
    assert mozdef("--config", str(config), "ingest", str(source)).returncode == 0
    found = mozdef("--config", str(config), "search", "summary:StopLogging")
    assert "198.51.100.7 performed StopLogging in cloudtrail.amazonaws.com" in found.stdout
    assert "1 of 1 matching" in found.stderr


def test_search_explains_a_bad_query(tmp_path: Path) -> None:
    result = mozdef("--config", str(store_config(tmp_path)), "search", "category:(")
    assert result.returncode == 2
    assert "position" in result.stderr
