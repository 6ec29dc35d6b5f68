"""What the IRC bot's tests share: a real ngircd (installed if missing), a person in the
channels who records every line the server sends, and bots built from explicit plugins
exactly as `mozdef run` starts them.

Loaded by tests/test_bot_irc.py with `pytest_plugins = ["irc_support"]`; it holds no
tests.
"""

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import gevent
import gevent.socket
import pytest
from test_queue_support import free_port, listening, wait_until

from mozdef.bots.commands import BotCommands
from mozdef.bots.irc import IRCBot
from mozdef.core.config import load_config
from mozdef.core.pluginmanager import Candidate, Plugins, call
from mozdef.core.reference import toml_value

HOST = "127.0.0.1"
PASSWORD = "letmein"  # every test server asks for it
KEYED, KEY = "#keyed", "sekrit"  # a channel the server creates with a key
BOT = "mozdefbot"
WAIT = 10.0  # seconds any one condition may take to come true


def ngircd() -> str:
    """The ngircd binary, installed from Debian's packages if need be."""
    found = shutil.which("ngircd") or shutil.which("ngircd", path="/usr/sbin:/sbin")
    if found is None:
        environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=False, env=environment)
        subprocess.run(["apt-get", "install", "-y", "-q", "ngircd"], check=True, env=environment)
        found = shutil.which("ngircd", path="/usr/sbin:/sbin")
    return found


class IRCServer:
    """One ngircd on free loopback ports, configured in a folder of its own: a server
    password, a channel with a key, and TLS with a self-signed certificate if asked."""

    def __init__(self, folder: Path, tls: bool = False) -> None:
        self.folder = folder
        self.port = free_port()
        self.tls_port = free_port() if tls else None
        self.certificate = folder / "cert.pem"
        self.process: subprocess.Popen | None = None
        (folder / "conf.d").mkdir(exist_ok=True)
        sections = [self.global_section(), self.channel_section()]
        if tls:
            self.make_certificate()
            sections.append(self.tls_section())
        self.config = folder / "ngircd.conf"
        self.config.write_text("\n".join(sections), encoding="utf-8")

    def global_section(self) -> str:
        # MaxPenaltyTime = 0: ngircd does not throttle, so what paces the bots is their
        # own flood control; MaxConnectionsIP = 0: every test connects from 127.0.0.1.
        return f"""[Global]
Name = irc.mozdef.test
Info = MozDef test server
AdminInfo1 = MozDef tests
AdminInfo2 = MozDef tests
AdminEMail = root@localhost
Listen = {HOST}
Ports = {self.port}
Password = {PASSWORD}
MotdPhrase = MozDef test server
[Limits]
MaxConnectionsIP = 0
MaxNickLength = 30
MaxPenaltyTime = 0
[Options]
PAM = no
Ident = no
DNS = no
IncludeDir = {self.folder / "conf.d"}
"""

    @staticmethod
    def channel_section() -> str:
        return f"[Channel]\nName = {KEYED}\nModes = +tnk {KEY}\n"

    def tls_section(self) -> str:
        key = self.folder / "key.pem"
        return f"[SSL]\nCertFile = {self.certificate}\nKeyFile = {key}\nPorts = {self.tls_port}\n"

    def make_certificate(self) -> None:
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                f"/CN={HOST}",
                "-addext",
                f"subjectAltName=IP:{HOST}",
                "-keyout",
                str(self.folder / "key.pem"),
                "-out",
                str(self.certificate),
            ],
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        log = (self.folder / "ngircd.log").open("ab")
        self.process = subprocess.Popen(
            [ngircd(), "--nodaemon", "--config", str(self.config)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        ports = [port for port in (self.port, self.tls_port) if port is not None]
        wait_until(lambda: all(listening(port) for port in ports), WAIT, "ngircd to listen")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=WAIT)
            self.process = None


@pytest.fixture(scope="session")
def ircd(tmp_path_factory) -> Iterator[IRCServer]:
    """The ngircd most tests share, with TLS."""
    server = IRCServer(tmp_path_factory.mktemp("ngircd"), tls=True)
    server.start()
    yield server
    server.stop()


@dataclass(frozen=True)
class Said:
    """A PRIVMSG the client received."""

    sender: str
    target: str
    text: str


class ChatClient:
    """A person on the server, speaking the raw protocol over a gevent socket; a
    greenlet answers PINGs and keeps every line."""

    def __init__(self, server: IRCServer, nick: str, channels: dict[str, str]) -> None:
        """Connect as `nick` and join `channels` (name: key)."""
        self.nick = nick
        self.lines: list[str] = []
        self.sock = gevent.socket.create_connection((HOST, server.port))
        self.reader = gevent.spawn(self.read)
        self.send(f"PASS {PASSWORD}", f"NICK {nick}", f"USER {nick} 0 * :{nick}")
        self.wait_for_line(f" 001 {nick} ")
        for channel, key in channels.items():
            self.send(f"JOIN {channel} {key}".strip())
            self.wait_for_line(f" 366 {nick} {channel} ")

    def read(self) -> None:
        pending = b""
        while data := self.sock.recv(65536):
            *complete, pending = (pending + data).split(b"\r\n")
            for raw in complete:
                line = raw.decode("utf-8", errors="replace")
                if line.startswith("PING "):
                    self.send("PONG " + line[5:])
                self.lines.append(line)

    def send(self, *lines: str) -> None:
        self.sock.sendall("".join(f"{line}\r\n" for line in lines).encode())

    def say(self, target: str, text: str) -> None:
        self.send(f"PRIVMSG {target} :{text}")

    def wait_for_line(self, fragment: str) -> str:
        wait_until(lambda: any(fragment in line for line in self.lines), WAIT, repr(fragment))
        return next(line for line in self.lines if fragment in line)

    def said(self, sender: str = BOT) -> list[Said]:
        """Every PRIVMSG from `sender`, in order."""
        found = []
        for line in self.lines:
            prefix, command, target, text = [*line.split(" ", 3), "", "", ""][:4]
            if command == "PRIVMSG" and prefix[1:].split("!")[0] == sender:
                found.append(Said(sender, target, text.removeprefix(":")))
        return found

    def heard(self, target: str, count: int, after: int = 0, sender: str = BOT) -> list[str]:
        """The texts of the first `count` messages `sender` sent to `target` (a channel,
        or this client's nick for private ones), after skipping the first `after`."""

        def to_target() -> list[str]:
            return [said.text for said in self.said(sender) if said.target == target][after:]

        wait_until(lambda: len(to_target()) >= count, WAIT, f"{count} messages to {target}")
        return to_target()[:count]

    def whois(self, nick: str) -> set[str] | None:
        """The channels WHOIS says `nick` is in; None if no one has that nick."""
        mark = len(self.lines)
        self.send(f"WHOIS {nick}")
        ends = (f" 318 {self.nick} {nick} ", f" 401 {self.nick} {nick} ")
        wait_until(
            lambda: any(end in line for line in self.lines[mark:] for end in ends),
            WAIT,
            f"WHOIS {nick}",
        )
        answer = self.lines[mark:]
        if any(ends[1] in line for line in answer):
            return None
        channels = set()
        for line in answer:
            if f" 319 {self.nick} {nick} :" in line:
                channels.update(name.lstrip("@+%&~") for name in line.split(":", 2)[2].split())
        return channels

    def close(self) -> None:
        self.reader.kill()
        self.sock.close()


@pytest.fixture
def chat(ircd: IRCServer) -> Iterator:
    """Connects people to the shared server: chat(nick, {channel: key}); all leave at the
    end of the test."""
    clients: list[ChatClient] = []

    def connect(nick: str, channels: dict[str, str], server: IRCServer = ircd) -> ChatClient:
        client = ChatClient(server, nick, channels)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


def bot_config(folder: Path, server: IRCServer, nick: str, settings: dict, toml: str) -> str:
    """The mozdef.toml of a test bot: quick to reconnect, flood control that lets a test
    run fast, `settings` over those defaults, and `toml` after them (its channels at
    least, and maybe tables of its own)."""
    keys = {
        "enabled": True,
        "server": HOST,
        "port": server.port,
        "tls": False,
        "password": PASSWORD,
        "nick": nick,
        "flood_burst": 10,
        "flood_rate": 50.0,
        "reconnect_min": 0.1,
        "reconnect_max": 0.5,
    } | settings
    lines = [f"{key} = {toml_value(value)}" for key, value in keys.items()]
    store = f'[store.sqlite]\npath = "{folder / "mozdef.sqlite3"}"\n'
    return "\n".join([store, "[plugins.irc]", *lines, toml])


class Bots:
    """Starts bots as `mozdef run` does (plugins started, then `mozdef_notifier_start`)
    and shuts them down."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started: list[Plugins] = []

    def start(
        self,
        server: IRCServer,
        toml: str,
        nick: str = BOT,
        settings: dict | None = None,
        **plugins: object,
    ) -> Plugins:
        """A bot named `nick`, configured by `settings` and `toml` (see `bot_config`),
        with `plugins` (name=object) besides the IRC bot and the built-in commands."""
        folder = self.folder / nick
        folder.mkdir(exist_ok=True)
        path = folder / "mozdef.toml"
        path.write_text(bot_config(folder, server, nick, settings or {}, toml), encoding="utf-8")
        config = load_config(path, {})
        everything = {"irc": IRCBot(), "bot_commands": BotCommands(), **plugins}
        found = Plugins(config, [Candidate(name, "built-in", p) for name, p in everything.items()])
        found.start()
        self.started.append(found)
        for info, impl in found.implementations("mozdef_notifier_start"):
            call(impl, settings=info.settings, config=config, plugins=found)
        return found

    def stop_all(self) -> None:
        for plugins in self.started:
            plugins.shutdown()
        self.started.clear()


@pytest.fixture
def bots(tmp_path: Path) -> Iterator[Bots]:
    """Bots for one test, shut down at its end."""
    started = Bots(tmp_path)
    yield started
    started.stop_all()


def alert(summary: str, **fields: object) -> dict:
    """An alert as the alert engine shapes it; `fields` override the defaults."""
    return {
        "id": fields.pop("id", "0123456789abcdef01234567"),
        "utctimestamp": "2026-11-22T02:40:00.000000+00:00",
        "rule": "test_rule",
        "severity": "WARNING",
        "category": "bruteforce",
        "summary": summary,
        "tags": [],
        "channel": None,
        "notify": True,
        "status": "NEW",
        "url": "",
        "events": [],
        "details": {},
        **fields,
    }


def notify(plugins: Plugins, *alerts: dict) -> None:
    """Hand alerts to the bots as the core does: the broadcast hook."""
    for each in alerts:
        plugins.broadcast("mozdef_notify_alert", alert=each)
