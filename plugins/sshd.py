"""sshd's log lines read into fields: who logged in or tried to, how, from where.

Reads OpenSSH's authentication results (Accepted, Failed, Invalid user), PAM's session
and authentication-failure lines for the sshd service, and disconnections. OpenSSH 9.8
and later log these from `sshd-session`. Any other line passes unchanged.

User names in these lines are chosen by whoever connects, so each pattern is anchored
at the end and takes the last `from ADDRESS port N`: a name cannot forge the source.
"""

import re
from collections.abc import Callable

from mozdef.core.parsing import (
    LineParser,
    Parsed,
    ProgramParserSettings,
    pam_auth_failure,
    pam_session,
    port,
    processnames_field,
    source,
)

TAG = "sshd"


class SshdSettings(ProgramParserSettings):
    """The `[plugins.sshd]` table."""

    processnames: list[str] = processnames_field("sshd", "sshd-session")


VERDICT = re.compile(
    r"(?P<verdict>Accepted|Failed) (?P<method>\S+) for (?P<invalid>invalid user )?(?P<user>.*) "
    r"from (?P<source>\S+) port (?P<port>\d+)(?: ssh2)?"
    r"(?:: (?P<keytype>\S+) (?P<fingerprint>\S+)(?: .*)?)?$"
)
INVALID_USER = re.compile(
    r"Invalid user (?P<user>.*) from (?P<source>\S+)(?: port (?P<port>\d+))?$"
)
DISCONNECTED = re.compile(
    r"(?:Disconnected from|Connection closed by) (?:(?P<stage>authenticating|invalid) )?"
    r"(?:user (?P<user>.*) )?(?P<source>\S+) port (?P<port>\d+)(?P<preauth> \[preauth\])?$"
)


def verdict(line: str) -> Parsed | None:
    """`Accepted publickey for bob from 1.2.3.4 port 50022 ssh2: ED25519 SHA256:...`"""
    match = VERDICT.match(line)
    if match is None:
        return None
    accepted = match["verdict"] == "Accepted"
    return Parsed(
        "authentication",
        {
            "eventname": "accepted" if accepted else "failed",
            "success": accepted,
            "username": match["user"],
            "authmethod": match["method"],
            "invaliduser": True if match["invalid"] else None,
            **source(match["source"]),
            "sourceport": port(match["port"]),
            "keytype": match["keytype"],
            "keyfingerprint": match["fingerprint"],
        },
    )


def invalid_user(line: str) -> Parsed | None:
    """`Invalid user admin from 1.2.3.4 port 4242` (no port before OpenSSH 7.5)."""
    match = INVALID_USER.match(line)
    if match is None:
        return None
    return Parsed(
        "authentication",
        {
            "eventname": "invalid_user",
            "success": False,
            "username": match["user"],
            "invaliduser": True,
            **source(match["source"]),
            "sourceport": port(match["port"]),
        },
    )


def disconnected(line: str) -> Parsed | None:
    """`Disconnected from user bob 1.2.3.4 port 50022`, `Connection closed by
    authenticating user root 1.2.3.4 port 4242 [preauth]`: before authentication
    finished this belongs with the attempt, after it with the session."""
    match = DISCONNECTED.match(line)
    if match is None:
        return None
    before_login = bool(match["stage"] or match["preauth"])
    return Parsed(
        "authentication" if before_login else "session",
        {
            "eventname": "disconnected",
            "username": match["user"],
            "invaliduser": True if match["stage"] == "invalid" else None,
            **source(match["source"]),
            "sourceport": port(match["port"]),
        },
    )


def session(line: str) -> Parsed | None:
    """`pam_unix(sshd:session): session opened for user bob(uid=1000) by (uid=0)`"""
    parsed = pam_session(line)
    if parsed is None or parsed.service != "sshd":
        return None
    return Parsed(
        "session",
        {
            "eventname": "session_opened" if parsed.opened else "session_closed",
            "success": True if parsed.opened else None,
            "username": parsed.user,
        },
    )


def auth_failure(line: str) -> Parsed | None:
    """`pam_unix(sshd:auth): authentication failure; ... rhost=1.2.3.4  user=root`"""
    parsed = pam_auth_failure(line)
    if parsed is None or parsed[0] != "sshd":
        return None
    pairs = parsed[1]
    return Parsed(
        "authentication",
        {
            "eventname": "auth_failure",
            "success": False,
            "username": pairs.get("user"),
            **source(pairs.get("rhost")),
        },
    )


# Chosen by the line's first word, so that the many lines sshd logs that say nothing
# about authentication cost one dict lookup.
READERS: dict[str, Callable[[str], Parsed | None]] = {
    "Accepted": verdict,
    "Failed": verdict,
    "Invalid": invalid_user,
    "Disconnected": disconnected,
    "Connection": disconnected,
    "pam_unix(sshd:session):": session,
    "pam_unix(sshd:auth):": auth_failure,
}


def parse(line: str) -> Parsed | None:
    reader = READERS.get(line.partition(" ")[0])
    return reader(line) if reader else None


plugin = LineParser(SshdSettings, parse, TAG)
