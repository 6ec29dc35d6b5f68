"""pfSense's and OPNsense's firewall log (filterlog) read into fields: which rule passed
or blocked which packet, on which interface, between which addresses and ports.

A filterlog line is comma-separated: rule number, sub-rule, anchor, tracker (OPNsense:
rule id), interface, reason, action, direction and IP version, then the IPv4 fields
(tos, ecn, ttl, id, offset, flags, protocol id, protocol, length, source, destination)
or the IPv6 ones (class, flow label, hop limit, protocol, protocol id, length, source,
destination), then for TCP and UDP the source and destination ports (TCP: then data
length and flags). Lines that do not have that shape pass unchanged.
"""

from mozdef.core.parsing import (
    LineParser,
    Parsed,
    ProgramParserSettings,
    endpoint,
    ip_address,
    port,
    processnames_field,
)

TAG = "filterlog"
ACTIONS = frozenset(("pass", "block", "reject"))
DIRECTIONS = frozenset(("in", "out"))
# IP version -> (index of the protocol's name, of the source address, of the first
# field after the destination address).
LAYOUTS = {"4": (16, 18, 20), "6": (12, 15, 17)}
PORTED = frozenset(("tcp", "udp"))


class FilterlogSettings(ProgramParserSettings):
    """The `[plugins.filterlog]` table."""

    processnames: list[str] = processnames_field("filterlog")


def parse(line: str) -> Parsed | None:
    fields = line.split(",")
    layout = LAYOUTS.get(fields[8]) if len(fields) > 8 else None
    if layout is None or len(fields) < layout[2]:
        return None
    rule, _subrule, _anchor, tracker, interface, reason, action, direction, version = fields[:9]
    protocol_at, source_at, rest_at = layout
    source = ip_address(fields[source_at])
    destination = ip_address(fields[source_at + 1])
    if action not in ACTIONS or direction not in DIRECTIONS or not (source and destination):
        return None
    protocol = fields[protocol_at].lower()
    rest = fields[rest_at:]
    ported = protocol in PORTED and len(rest) >= 2
    sourceport = port(rest[0]) if ported else None
    destinationport = port(rest[1]) if ported else None
    tcpflags = rest[3] if protocol == "tcp" and len(rest) > 3 and rest[3] else None
    return Parsed(
        "firewall",
        {
            "action": action,
            "direction": direction,
            "interface": interface,
            "reason": reason or None,
            "rulenumber": rule or None,
            "tracker": tracker or None,
            "ipversion": int(version),
            "protocol": protocol,
            "sourceipaddress": source,
            "sourceport": sourceport,
            "destinationipaddress": destination,
            "destinationport": destinationport,
            "tcpflags": tcpflags,
        },
        f"filterlog {action} {direction} on {interface}: {protocol} "
        f"{endpoint(source, sourceport)} -> {endpoint(destination, destinationport)}",
    )


plugin = LineParser(FilterlogSettings, parse, TAG)
