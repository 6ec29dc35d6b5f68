"""Which of our networks an event's addresses belong to, and whether they are internal.

For `details.sourceipaddress` and `details.destinationipaddress` (say, the source) adds
`details.sourceipinternal` (true or false) for any address, and for an address inside a
configured network `details.sourceipnetwork` (its name), `details.sourceipsite` (its
site, if set) and the network's tags on the event. Nested networks: the most specific
one wins ("10.1.0.0/16 paris" inside "10.0.0.0/8 corp" names 10.1.2.3 "paris").
Every CIDR is compiled at start-up into one sorted interval table, so a lookup is a
bisection whatever the number of networks.
"""

import functools
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, Field

from mozdef.core import PluginSettings, hookimpl
from mozdef.core.addresses import AddressMap, address_number
from mozdef.core.conditions import unique_names
from mozdef.core.parsing import add_tag
from mozdef.core.schema import Section

# Private (RFC 1918, RFC 4193), loopback and link-local ranges.
INTERNAL = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "::1/128",
    "fc00::/7",
    "fe80::/10",
]


def check_cidrs(cidrs: list[str]) -> list[str]:
    AddressMap((cidr, True) for cidr in cidrs)
    return cidrs


Cidrs = Annotated[list[str], AfterValidator(check_cidrs)]


class Network(Section):
    """One `[[plugins.network_tags.networks]]` entry."""

    name: str = Field(min_length=1, description="Written to details.<side>ipnetwork.")
    cidrs: Cidrs = Field(min_length=1, description="Its ranges, e.g. ['10.1.0.0/16'].")
    site: str = Field("", description="Written to details.<side>ipsite; empty: not written.")
    tags: list[str] = Field([], description="Added to the event's tags.")


class NetworkTagsSettings(PluginSettings):
    """The `[plugins.network_tags]` table."""

    priority: int = 80
    internal: Cidrs = Field(
        INTERNAL,
        description="CIDRs whose addresses are internal (details.<side>ipinternal = true); "
        "add your public ranges. Default: private, loopback and link-local ranges.",
    )
    networks: Annotated[list[Network], AfterValidator(unique_names)] = Field(
        [], description="Named networks, e.g. { name, cidrs, site, tags }; names are unique."
    )


@dataclass(frozen=True, slots=True)
class Side:
    """The fields of one end of a connection."""

    address: str
    internal: str
    network: str
    site: str

    @classmethod
    def named(cls, prefix: str) -> "Side":
        ip = f"{prefix}ip"
        return cls(f"{ip}address", f"{ip}internal", f"{ip}network", f"{ip}site")


SIDES = (Side.named("source"), Side.named("destination"))
CACHE_SIZE = 65536


class NetworkTags:
    """MozDef instantiates this once; `mozdef_startup` compiles the networks."""

    def __init__(self) -> None:
        self.internal: AddressMap[bool] = AddressMap([])
        self.networks: AddressMap[Network] = AddressMap([])
        self.place = functools.lru_cache(maxsize=CACHE_SIZE)(self.locate)

    @hookimpl
    def mozdef_plugin_settings(self) -> type[NetworkTagsSettings]:
        return NetworkTagsSettings

    @hookimpl
    def mozdef_startup(self, settings: NetworkTagsSettings) -> None:
        self.internal = AddressMap((cidr, True) for cidr in settings.internal)
        self.networks = AddressMap(
            (cidr, network) for network in settings.networks for cidr in network.cidrs
        )
        self.place.cache_clear()

    @hookimpl
    def mozdef_event_registration(self) -> list[str]:
        return [f"details.{side.address}" for side in SIDES]

    @hookimpl
    def mozdef_process_event(self, event: dict) -> dict | None:
        details = event["details"]
        changed = False
        for side in SIDES:
            address = details.get(side.address)
            found = self.place(address) if type(address) is str else None
            if found is None:
                continue
            changed = True
            internal, network = found
            details[side.internal] = internal
            if network is not None:
                details[side.network] = network.name
                if network.site:
                    details[side.site] = network.site
                for tag in network.tags:
                    add_tag(event, tag)
        return event if changed else None

    def locate(self, address: str) -> tuple[bool, Network | None] | None:
        """Whether an address is internal, and its network; None if it is not an address.
        `place` is this, cached: the same few addresses fill most of any log."""
        found = address_number(address)
        if found is None:
            return None
        return self.internal.find(*found) is not None, self.networks.find(*found)
