"""Settings that name IP addresses or networks, and the search clauses that match them.

Checked when the configuration is read, with the same parser the Elasticsearch query
compiler uses, so that a mistyped address stops start-up naming its key instead of
quietly matching nothing.
"""

import ipaddress
from typing import Annotated

from pydantic import AfterValidator

from mozdef.core.query import Query, Subnet


def network(value: str) -> str:
    """`value` as a network in CIDR notation (an address alone is a /32 or /128)."""
    try:
        return ipaddress.ip_network(value.strip(), strict=False).with_prefixlen
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address or network") from None


def networks(values: list[str]) -> list[str]:
    return [network(value) for value in values]


Network = Annotated[str, AfterValidator(network)]
Networks = Annotated[list[str], AfterValidator(networks)]


def within(field: str, cidrs: list[str]) -> tuple[Query, ...]:
    """One clause per network: the field holds an address inside it."""
    return tuple(Subnet(field, cidr) for cidr in cidrs)
