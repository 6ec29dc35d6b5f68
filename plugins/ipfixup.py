"""Addresses moved to `details.sourceipaddress` and `details.destinationipaddress`,
in a form an `ip`-typed index field accepts.

Shippers name a connection's ends in many ways (src, srcip, clientip, remote_addr,
Zeek's id.orig_h...). Later plugins (GeoIP, network tags, rules) and alerts read only
the two canonical fields, and the index types them as IP addresses, so one bad value
there makes the store refuse the whole event. Hence:

- a canonical field that holds an address with a port ("1.2.3.4:5555", "[::1]:443") or
  an IPv6 zone ("fe80::1%eth0") keeps the address, in canonical form; a port goes to
  `details.sourceport` / `destinationport` unless one is there;
- a canonical field that holds anything else moves to `<field>_invalid`, with a note in
  `mozdef.errors`; "" and "-" (no address) are removed;
- an absent canonical field is filled from the first alias, in the order below, that
  holds an address; that alias is removed (Zeek's port, id.orig_p, is copied too).
  Aliases that hold no address stay as they are: `src` may name an interface.
- the first hop of an X-Forwarded-For header fills the source after the aliases (or
  before them, with `forwarded_for_first`); the header itself is kept.
"""

import functools
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from mozdef.core import PluginSettings, hookimpl
from mozdef.core.event import note_error
from mozdef.core.normalize import put
from mozdef.core.parsing import ip_address, port, shorten

NO_ADDRESS = frozenset(("", "-"))
FORWARDED_FOR = ("x_forwarded_for", "xforwardedfor", "http_x_forwarded_for")


class IPFixupSettings(PluginSettings):
    """The `[plugins.ipfixup]` table."""

    priority: int = 25
    forwarded_for_first: bool = Field(
        False,
        description="Take the source from X-Forwarded-For before the other aliases. Its "
        "first hop is whatever the client wrote, unless the proxies in front replace the "
        "header: turn this on only then.",
    )


@dataclass(frozen=True, slots=True)
class Alias:
    """Where an address may be found under `details`, and the port that goes with it."""

    path: tuple[str, ...]
    port: tuple[str, ...] | None = None
    first_hop: bool = False  # a comma-separated proxy chain; the header is kept

    def take(self, details: dict) -> tuple[str, int | None] | None:
        """The address (and port) found here; None if there is none. The address is
        removed from `details`, except from a proxy chain; a companion port is copied."""
        parent = parent_of(details, self.path)
        if parent is None:
            return None
        value = parent.get(self.path[-1])
        if self.first_hop:
            return parse_address(value.partition(",")[0]) if isinstance(value, str) else None
        found = parse_address(value)
        if found is None:
            return None
        del parent[self.path[-1]]
        if self.port is not None and found[1] is None:
            port_parent = parent_of(details, self.port)
            if port_parent is not None:
                found = found[0], port(port_parent.get(self.port[-1]))
        return found


@dataclass(frozen=True)
class Side:
    """One end of the connection: its canonical fields and its aliases, in order."""

    address: str
    port: str
    aliases: tuple[Alias, ...]

    @property
    def invalid(self) -> str:
        return f"{self.address}_invalid"

    @functools.cached_property
    def alias_keys(self) -> frozenset[str]:
        """The keys under `details` where an alias may start: most events have none."""
        return frozenset(alias.path[0] for alias in self.aliases)


def aliases(*names: str) -> tuple[Alias, ...]:
    return tuple(Alias((name,)) for name in names)


def zeek(host: str, port_key: str) -> tuple[Alias, ...]:
    """Zeek's connection tuple, `id.orig_h`: a flat key, or nested once keys are split."""
    return (
        Alias((f"id.{host}",), (f"id.{port_key}",)),
        Alias(("id", host), ("id", port_key)),
    )


FORWARDED = tuple(Alias((name,), first_hop=True) for name in FORWARDED_FOR)
SOURCE_ALIASES = aliases(
    "srcip", "src_ip", "srcaddr", "src", "sourceip", "clientip", "client_ip", "remote_addr"
) + zeek("orig_h", "orig_p")
DESTINATION = Side(
    "destinationipaddress",
    "destinationport",
    aliases("dstip", "dst_ip", "dest_ip", "dstaddr", "dst") + zeek("resp_h", "resp_p"),
)
# Any of these under `details` means there may be work to do.
KEYS = frozenset(
    [DESTINATION.address, "sourceipaddress", *FORWARDED_FOR]
    + [alias.path[0] for alias in SOURCE_ALIASES + DESTINATION.aliases]
)


def sides(forwarded_for_first: bool) -> tuple[Side, Side]:
    """Both ends, the source's aliases in the order the settings ask for."""
    source = FORWARDED + SOURCE_ALIASES if forwarded_for_first else SOURCE_ALIASES + FORWARDED
    return Side("sourceipaddress", "sourceport", source), DESTINATION


def parent_of(details: dict, path: tuple[str, ...]) -> dict | None:
    parent = details
    for key in path[:-1]:
        parent = parent.get(key)
        if type(parent) is not dict:
            return None
    return parent


def parse_address(value: Any) -> tuple[str, int | None] | None:
    """(canonical address, port or None) of "1.2.3.4", "1.2.3.4:80", "[::1]:443",
    "fe80::1%eth0"...; None if `value` is not an address."""
    if type(value) is not str:
        return None
    text = value.strip()
    if "%" not in text:  # Python reads zones, "fe80::1%eth0"; an index would not
        address = ip_address(text)
        if address is not None:
            return address, None
    number = None
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            return None
        if rest:
            number = port(rest[1:])
            if number is None:
                return None
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        number = port(port_text)
        if number is None:
            return None
    else:
        host = text
    address = ip_address(host.partition("%")[0])
    return None if address is None else (address, number)


class IPFixup:
    """MozDef instantiates this once; the settings fix the order of the source aliases."""

    def __init__(self) -> None:
        self.sides = sides(forwarded_for_first=False)

    @hookimpl
    def mozdef_plugin_settings(self) -> type[IPFixupSettings]:
        return IPFixupSettings

    @hookimpl
    def mozdef_startup(self, settings: IPFixupSettings) -> None:
        self.sides = sides(settings.forwarded_for_first)

    @hookimpl
    def mozdef_event_registration(self) -> str:
        # Every event: a registration listing the ~20 alias paths costs about 5 µs per
        # event in the matcher, the KEYS test below under 0.5 µs, and Zeek's flat
        # "id.orig_h" keys cannot be written as registration paths at all.
        return "*"

    @hookimpl
    def mozdef_process_event(self, event: dict) -> dict | None:
        details = event.get("details")
        if type(details) is not dict or KEYS.isdisjoint(details):
            return None
        changed = False
        for side in self.sides:
            changed |= fix_side(event, details, side)
        return event if changed else None


def fix_side(event: dict, details: dict, side: Side) -> bool:
    """Check the canonical field, fill it from an alias if empty; True if anything changed."""
    value = details.get(side.address)
    changed = False
    if value is not None:
        found = parse_address(value)
        if found is None:
            del details[side.address]
            if not (isinstance(value, str) and value.strip() in NO_ADDRESS):
                put(details, side.invalid, value)
                note_error(event, invalid_note(side, value))
            changed = True
        elif found[0] == value and found[1] is None:
            return False
        else:
            write(details, side, found)
            return True
    if side.alias_keys.isdisjoint(details):
        return changed
    for alias in side.aliases:
        if alias.path[0] not in details:  # most are absent: skip them before `take`
            continue
        found = alias.take(details)
        if found is not None:
            write(details, side, found)
            return True
    return changed


def write(details: dict, side: Side, found: tuple[str, int | None]) -> None:
    address, number = found
    details[side.address] = address
    if number is not None and details.get(side.port) is None:
        details[side.port] = number


def invalid_note(side: Side, value: Any) -> str:
    shown = shorten(value, 80) if isinstance(value, str) else value
    return (
        f"ipfixup: details.{side.address} {shown!r} is not an IP address; "
        f"moved to details.{side.invalid}"
    )
