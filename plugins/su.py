"""su's log lines read into fields: who switched to which user, on which terminal, and
whether it worked.

Reads the lines of both su implementations (util-linux's `(to root) bob on pts/1`,
shadow-utils' `Successful su for root by bob` and its sulog-style `+ pts/1 bob:root`)
and PAM's session and authentication-failure lines for the su and su-l services. Any
other line passes unchanged.
"""

import re

from mozdef.core.parsing import (
    LineParser,
    Parsed,
    ProgramParserSettings,
    pam_auth_failure,
    pam_session,
    processnames_field,
)

TAG = "su"
PAM_SERVICES = frozenset(("su", "su-l"))


class SuSettings(ProgramParserSettings):
    """The `[plugins.su]` table."""

    processnames: list[str] = processnames_field("su")


UTIL_LINUX = re.compile(r"(?P<failed>FAILED SU )?\(to (?P<user>\S+)\) (?P<by>\S+) on (?P<tty>\S+)$")
SHADOW = re.compile(r"(?P<verdict>Successful|FAILED) su for (?P<user>\S+) by (?P<by>\S+)$")
SULOG = re.compile(r"(?P<sign>[+-]) (?P<tty>\S+) (?P<by>[^\s:]+):(?P<user>\S+)$")


def switch(user: str, by: str | None, tty: str | None, success: bool | None) -> Parsed:
    return Parsed(
        "authentication",
        {
            "username": user,
            "originaluser": by,
            "tty": tty.removeprefix("/dev/") if tty else None,
            "success": success,
        },
    )


def util_linux(line: str) -> Parsed | None:
    match = UTIL_LINUX.match(line)
    if match is None:
        return None
    return switch(match["user"], match["by"], match["tty"], not match["failed"])


def shadow(line: str) -> Parsed | None:
    match = SHADOW.match(line)
    if match is None:
        return None
    return switch(match["user"], match["by"], None, match["verdict"] == "Successful")


def sulog(line: str) -> Parsed | None:
    match = SULOG.match(line)
    if match is None:
        return None
    return switch(match["user"], match["by"], match["tty"], match["sign"] == "+")


def session(line: str) -> Parsed | None:
    """`pam_unix(su:session): session opened for user root(uid=0) by bob(uid=1000)`: an
    opened session is the one sign of success some systems log."""
    parsed = pam_session(line)
    if parsed is None or parsed.service not in PAM_SERVICES:
        return None
    return Parsed(
        "session",
        {
            "username": parsed.user,
            "originaluser": parsed.by,
            "success": True if parsed.opened else None,
        },
    )


def auth_failure(line: str) -> Parsed | None:
    """`pam_unix(su:auth): authentication failure; logname=bob ... tty=pts/0 ruser=bob
    rhost=  user=root`"""
    parsed = pam_auth_failure(line)
    if parsed is None or parsed[0] not in PAM_SERVICES or "user" not in parsed[1]:
        return None
    pairs = parsed[1]
    by = pairs.get("ruser") or pairs.get("logname")
    return switch(pairs["user"], by, pairs.get("tty"), False)


READERS = (util_linux, shadow, sulog, session, auth_failure)


def parse(line: str) -> Parsed | None:
    for reader in READERS:
        parsed = reader(line)
        if parsed is not None:
            return parsed
    return None


plugin = LineParser(SuSettings, parse, TAG)
