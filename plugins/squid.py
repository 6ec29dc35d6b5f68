"""Squid's native access.log lines read into fields: which client asked for which URL,
what squid did with it, and where the request went.

The native format is ten fields separated by spaces: time, elapsed milliseconds, client
address, squid's action/HTTP status, bytes sent to the client, method, URL (host:port for
CONNECT), user (ident or proxy authentication), hierarchy/peer, MIME type:

    1432830463.123    250 10.0.0.5 TCP_MISS/200 1234 GET http://example.com/path - \
HIER_DIRECT/93.184.216.34 text/html

Lines that do not have that shape pass unchanged.
"""

import re

from mozdef.core.parsing import (
    LineParser,
    Parsed,
    ProgramParserSettings,
    ip_address,
    number,
    port,
    processnames_field,
    shorten,
    source,
)

TAG = "squid"
SUMMARY_URL_LENGTH = 200
DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "ws": 80, "wss": 443}
# Hierarchy codes under which the peer is the origin server itself, not another proxy.
DIRECT = frozenset(("HIER_DIRECT", "ORIGINAL_DST", "PINNED"))


class SquidSettings(ProgramParserSettings):
    """The `[plugins.squid]` table."""

    processnames: list[str] = processnames_field("squid")


URL = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?:[^@/?#]*@)?"
    r"(?P<host>\[[^\]/]*\]|[^:/?#]+)(?::(?P<port>\d+))?"
)
AUTHORITY = re.compile(r"(?P<host>\[[^\]/]*\]|[^:/\s]+):(?P<port>\d+)$")


def destination(method: str, url: str) -> tuple[str | None, int | None]:
    """The host and port a request was for: CONNECT names them, other methods' URLs
    have them (the port implied by the scheme if not written)."""
    if method == "CONNECT":
        match = AUTHORITY.match(url)
        default = None
    else:
        match = URL.match(url)
        default = DEFAULT_PORTS.get(match["scheme"].lower()) if match else None
    if match is None:
        return None, None
    return match["host"].strip("[]").lower(), port(match["port"]) or default


def parse(line: str) -> Parsed | None:
    fields = line.split()
    if len(fields) < 10:
        return None
    stamp, elapsed, client, code, size, method, url, user, hierarchy, mimetype = fields[:10]
    action, slash, status = code.partition("/")
    duration, status_number, bytes_sent = number(elapsed), number(status), number(size)
    if not (slash and stamp.replace(".", "", 1).isdigit()):
        return None
    if duration is None or status_number is None or bytes_sent is None:
        return None
    host, destination_port = destination(method, url)
    peer_code, _, peer = hierarchy.partition("/")
    peer_address = ip_address(peer) if peer_code in DIRECT else None
    return Parsed(
        "proxy",
        {
            **source(client),
            "proxyaction": action,
            "status": status_number,
            "bytes": bytes_sent,
            "duration": duration,
            "method": method,
            "destination": url,
            "host": host,
            "destinationport": destination_port,
            "destinationipaddress": peer_address,
            "hierarchy": peer_code,
            "peerhost": None if peer_address or peer in ("", "-") else peer,
            "username": None if user == "-" else user,
            "mimetype": None if mimetype == "-" else mimetype,
        },
        f"squid {code} {method} {shorten(url, SUMMARY_URL_LENGTH)} from {client}",
    )


plugin = LineParser(SquidSettings, parse, TAG)
