"""The snippets in conf/shippers/ against a real `mozdef run`: Debian's rsyslog
(omelasticsearch) and syslog-ng (http()) are started with the snippet included
unchanged, fed syslog lines over TCP, and the stored events are checked. The daemons
run in the foreground with their pid, state and control files in tmp_path, so the
machine's own logging is untouched. syslog-ng's amqp() destination is exercised for real
in test_queue_sources.py; snippets for tools Debian does not package are checked as
text."""

import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_queue_support import free_port, listening, sqlite_store, wait_until

from mozdef.core.query import Search, Term

SHIPPERS = Path(__file__).resolve().parent.parent / "conf" / "shippers"
RSYSLOG_PACKAGES = ["rsyslog", "rsyslog-elasticsearch"]
# rsyslog's libraries: installed for real, as they conflict with nothing.
RSYSLOG_LIBRARIES = ["libestr0", "libfastjson4", "liblognorm5", "libcurl4"]
SYSLOG_NG_PACKAGES = ["syslog-ng-core", "syslog-ng-mod-http", "syslog-ng-mod-amqp"]
SYSLOG_NG_MODULES = Path("/usr/lib/syslog-ng")

MOZDEF_CONFIG = """
[mozdef]
hostname = "mozdef.test"
[server]
port = 0
[store.sqlite]
path = "{store}"
"""

RSYSLOG_WRAPPER = """
global(workDirectory="{work}")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="{port}")
include(file="{snippet}")
"""

# keep-hostname: take the host from the line, as a relay must; the snippet's log path
# reads s_src, the name of Debian's local source.
SYSLOG_NG_WRAPPER = """@version: current
@define mozdef_url "{url}"
options {{ keep-hostname(yes); use-dns(no); dns-cache(no); stats-freq(0); }};
source s_src {{ network(ip("127.0.0.1") port({port}) transport("tcp")); }};
@include "{snippet}"
"""


def apt_get(*args: str) -> bool:
    """Run apt-get, refreshing the package lists once if it fails."""
    command = ["apt-get", "-q", "-y", *args]
    if shutil.which("apt-get") is None:
        return False
    if subprocess.run(command, capture_output=True).returncode == 0:
        return True
    subprocess.run(["apt-get", "-q", "update"], capture_output=True)
    return subprocess.run(command, capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def syslog_ng() -> str:
    """syslog-ng with its HTTP and AMQP modules, installed if missing."""
    modules = ["libhttp.so", "libafamqp.so"]
    present = shutil.which("syslog-ng") is not None and all(
        list(SYSLOG_NG_MODULES.glob(f"*/{module}")) for module in modules
    )
    if not present and not apt_get("install", *SYSLOG_NG_PACKAGES):
        pytest.skip(f"could not install {', '.join(SYSLOG_NG_PACKAGES)} with apt-get")
    return shutil.which("syslog-ng") or pytest.skip("syslog-ng not on PATH after installing")


@pytest.fixture(scope="session")
def rsyslogd(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """rsyslogd and its module folder. Debian's rsyslog conflicts with syslog-ng-core
    (both provide system-log-daemon), so unless it is already installed its packages are
    unpacked into a scratch folder rather than installed over syslog-ng."""
    for modules in Path("/usr/lib").glob("*/rsyslog"):
        if (modules / "omelasticsearch.so").exists() and Path("/usr/sbin/rsyslogd").exists():
            return Path("/usr/sbin/rsyslogd"), modules
    if not apt_get("install", *RSYSLOG_LIBRARIES):
        pytest.skip(f"could not install {', '.join(RSYSLOG_LIBRARIES)} with apt-get")
    unpacked = tmp_path_factory.mktemp("rsyslog")
    downloads = unpacked / "debs"
    downloads.mkdir()
    fetched = subprocess.run(
        ["apt-get", "-q", "download", *RSYSLOG_PACKAGES], cwd=downloads, capture_output=True
    )
    if fetched.returncode != 0:
        pytest.skip(f"apt-get download {' '.join(RSYSLOG_PACKAGES)} failed: {fetched.stderr!r}")
    for package in downloads.glob("*.deb"):
        subprocess.run(["dpkg-deb", "-x", str(package), str(unpacked)], check=True)
    [modules] = (unpacked / "usr" / "lib").glob("*/rsyslog")
    return unpacked / "usr" / "sbin" / "rsyslogd", modules


@contextmanager
def daemon(command: list[str], log: Path, env: dict[str, str] | None = None) -> Iterator[None]:
    """A foreground process for the duration of the block, stopped with SIGTERM."""
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
    try:
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Server:
    """A `mozdef run` of its own: an ephemeral port and a SQLite file in tmp_path."""

    def __init__(self, folder: Path) -> None:
        self.store_path = folder / "events.sqlite3"
        self.config = folder / "mozdef.toml"
        self.config.write_text(MOZDEF_CONFIG.format(store=self.store_path))
        self.log = folder / "mozdef.log"
        self.url = ""

    def start(self) -> None:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("MOZDEF_")}
        mozdef = Path(sys.executable).with_name("mozdef")
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                [str(mozdef), "--config", str(self.config), "run"],
                stdout=subprocess.DEVNULL,
                stderr=output,
                env=environment,
            )
        wait_until(lambda: "listening on" in self.log.read_text(), 20, "mozdef run to listen")
        self.url = re.search(r"listening on (http://\S+)", self.log.read_text())[1]
        port = int(self.url.rsplit(":", 1)[1])
        wait_until(lambda: listening(port), 10, "GET /status")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=15)

    def events(self, hostname: str) -> list[dict]:
        store = sqlite_store(self.store_path)
        try:
            return [hit.event for hit in store.search(Search(Term("hostname", hostname))).hits]
        finally:
            store.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("mozdef"))
    running.start()
    try:
        yield running
    finally:
        running.stop()


def syslog_lines(hostname: str) -> bytes:
    """What sshd and cron write, as a relay receives them (RFC 3164, auth facility)."""
    now = datetime.now().strftime("%b %e %H:%M:%S")
    return (
        f"<38>{now} {hostname} sshd[4321]: Failed password for root from 203.0.113.9 "
        "port 4242 ssh2\n"
        f"<86>{now} {hostname} sshd[4322]: Accepted publickey for bob from 198.51.100.7 "
        "port 50022 ssh2: ED25519 SHA256:Xk3vQ\n"
        f"<78>{now} {hostname} CRON[77]: pam_unix(cron:session): session opened for user "
        "root(uid=0) by (uid=0)\n"
    ).encode()


def ship_and_check(server: Server, port: int, hostname: str) -> None:
    """Send the lines to a daemon listening on `port`; check what MozDef stored."""
    wait_until(lambda: listening(port), 15, "the shipper to listen")
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.sendall(syslog_lines(hostname))
    wait_until(lambda: len(server.events(hostname)) == 3, 20, "three events in the store")
    events = {event["processid"]: event for event in server.events(hostname)}
    failed, accepted, cron = events["4321"], events["4322"], events["77"]

    assert failed["processname"] == accepted["processname"] == "sshd"
    assert failed["summary"].strip() == ("Failed password for root from 203.0.113.9 port 4242 ssh2")
    assert failed["category"] == "authentication"
    assert failed["details"]["sourceipaddress"] == "203.0.113.9"
    assert failed["details"]["sourceport"] == 4242
    assert failed["details"]["username"] == "root"
    assert failed["details"]["success"] is False
    assert (failed["source"], failed["severity"]) == ("auth", "INFO")
    assert accepted["details"]["sourceipaddress"] == "198.51.100.7"
    assert accepted["details"]["keytype"] == "ED25519"
    assert accepted["source"] == "authpriv"
    # Not sshd: normalised, but the sshd parser left it alone.
    assert cron["processname"] == "CRON"
    assert cron["source"] == "cron"
    assert "sourceipaddress" not in cron["details"]
    for event in events.values():
        assert event["hostname"] == hostname
        assert event["mozdefhostname"] == "mozdef.test"
        stamp = datetime.fromisoformat(event["utctimestamp"])
        assert stamp.utcoffset() == timedelta(0)
        assert abs(datetime.now(UTC) - stamp) < timedelta(minutes=2)


def test_rsyslog_omelasticsearch_snippet_ships_to_bulk(
    rsyslogd: tuple[Path, Path], server: Server, tmp_path: Path
) -> None:
    binary, modules = rsyslogd
    port = free_port()
    (tmp_path / "work").mkdir()
    config = tmp_path / "rsyslog.conf"
    config.write_text(
        RSYSLOG_WRAPPER.format(
            work=tmp_path / "work", port=port, snippet=SHIPPERS / "rsyslog-omelasticsearch.conf"
        )
    )
    # The snippet reads MozDef's address from rsyslogd's environment.
    environment = {"PATH": os.environ.get("PATH", ""), "MOZDEF_URL": server.url}
    command = [str(binary), "-n", "-f", str(config), "-i", str(tmp_path / "pid")]
    with daemon([*command, "-M", str(modules)], tmp_path / "rsyslog.log", environment):
        ship_and_check(server, port, "web1.example.com")


def test_syslog_ng_http_snippet_ships_to_events(
    syslog_ng: str, server: Server, tmp_path: Path
) -> None:
    port = free_port()
    config = tmp_path / "syslog-ng.conf"
    config.write_text(
        SYSLOG_NG_WRAPPER.format(
            url=server.url, port=port, snippet=SHIPPERS / "syslog-ng-http.conf"
        )
    )
    state = [
        f"--pidfile={tmp_path / 'pid'}",
        f"--persist-file={tmp_path / 'persist'}",
        f"--control={tmp_path / 'ctl'}",
    ]
    with daemon([syslog_ng, "-F", "--no-caps", "-f", str(config), *state], tmp_path / "log"):
        ship_and_check(server, port, "web2.example.com")


def test_syslog_ng_amqp_snippet_is_valid(syslog_ng: str, tmp_path: Path) -> None:
    """Only its syntax here: test_queue_sources.py runs syslog-ng's amqp() into a worker."""
    config = tmp_path / "syslog-ng.conf"
    wrapper = SYSLOG_NG_WRAPPER.replace("@define mozdef_url", "@define mozdef_amqp_host")
    config.write_text(
        wrapper.format(url="127.0.0.1", port=free_port(), snippet=SHIPPERS / "syslog-ng-amqp.conf")
    )
    checked = subprocess.run(
        [syslog_ng, "--syntax-only", "-f", str(config)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr


def test_python_client_stores_its_event(server: Server) -> None:
    environment = {**os.environ, "MOZDEF_URL": server.url}
    sent = subprocess.run(
        [sys.executable, str(SHIPPERS / "python-client.py")],
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert sent.stdout.strip() == "stored", sent.stderr
    [event] = server.events(socket.getfqdn())
    assert event["processname"] == "sshd"
    assert event["details"]["sourceipaddress"] == "203.0.113.9"


# Snippets for shippers Debian does not package: what makes them work against MozDef.
@pytest.mark.parametrize(
    ("snippet", "required"),
    [
        ("nxlog.conf", [r"Module\s+om_http", r"URL\s+http://\S+/nxlog\b", r"to_json\(\)"]),
        (
            "logstash.conf",
            [r"elasticsearch\s*\{", r"data_stream\s*=>\s*\"true\"", r"ilm_enabled => false"],
        ),
        ("fluent-bit.conf", [r"Name\s+es\b", r"Suppress_Type_Name\s+On", r"Rename\s+ident"]),
        (
            "filebeat.yml",
            [r"^output\.elasticsearch:", r"^setup\.ilm\.enabled: false", r"^  hosts: \["],
        ),
        ("rsyslog-omhttp.conf", [r'type="omhttp"', r'restpath="events"', r'batch="on"']),
    ],
)
def test_untested_snippets_point_at_mozdef(snippet: str, required: list[str]) -> None:
    text = (SHIPPERS / snippet).read_text()
    for pattern in required:
        assert re.search(pattern, text, re.MULTILINE), f"{snippet}: no {pattern}"
    assert "ilm_rollover_alias" not in text


def test_readme_describes_every_snippet() -> None:
    readme = (SHIPPERS / "README.md").read_text()
    for snippet in SHIPPERS.iterdir():
        if snippet.name != "README.md":
            assert f"`{snippet.name}`" in readme, snippet.name
