"""Where an alert's IP addresses are and whose networks they are in, for responders.

Collects the addresses an alert is about (its key, when that is an address, then the
`fields` of the alert and of the events copied into it) and lists each in
`details.ips` with what the geoip and network_tags plugins add to an event. The lookups
are theirs, configured by their own `[plugins.geoip]` and `[plugins.network_tags]`
tables, so that events and alerts agree; the bots' `!ipinfo` reuses `IPDescriber`.
"""

import logging
from collections.abc import Iterator, Sequence
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from mozdef.core import PluginSettings, hookimpl
from mozdef.core.addresses import address_number
from mozdef.core.config import Config
from mozdef.core.registration import lookup, split_path
from mozdef.plugins.geoip import GeoIP, GeoIPSettings, Side
from mozdef.plugins.network_tags import NetworkTags, NetworkTagsSettings
from mozdef.plugins.suppress_duplicates import dotted_paths

logger = logging.getLogger(__name__)

DEFAULT_FIELDS = ["details.sourceipaddress", "details.destinationipaddress"]
# The geoip plugin's event fields, less their "<side>ip" prefix.
GEO_FIELDS = Side("address", "geolocation", "geopoint", "asn", "asorganization")


class IPEnrichmentSettings(PluginSettings):
    """The `[plugins.alert_ip_enrichment]` table."""

    priority: int = 40
    fields: Annotated[list[str], AfterValidator(dotted_paths)] = Field(
        DEFAULT_FIELDS,
        description="Dotted paths holding addresses, looked up in the alert itself and in "
        "each event copied into it; the alert's key comes first when it is an address.",
    )
    max_addresses: int = Field(
        10, ge=1, le=100, description="Most addresses described per alert, first found first."
    )


class IPDescriber:
    """The geoip and network_tags plugins' lookups, opened once: build it at start-up,
    `describe` addresses, `close` it at shutdown."""

    def __init__(self, geo: GeoIPSettings, networks: NetworkTagsSettings) -> None:
        self.geoip: GeoIP | None = None
        if geo.city_database or geo.asn_database:
            self.geoip = GeoIP()
            self.geoip.mozdef_startup(geo)
        self.network_tags = NetworkTags()
        self.network_tags.mozdef_startup(networks)

    @classmethod
    def from_config(cls, config: Config) -> "IPDescriber":
        """Configured from the `[plugins.geoip]` and `[plugins.network_tags]` tables
        (whether or not those plugins are enabled for events). Raises `ConfigError`."""
        return cls(
            config.plugin_settings("geoip", GeoIPSettings),
            config.plugin_settings("network_tags", NetworkTagsSettings),
        )

    @property
    def locates(self) -> bool:
        """Whether a GeoIP database is configured, without which there is no geo."""
        return self.geoip is not None

    def describe(self, address: str) -> dict[str, Any] | None:
        """What is known of one address, None if it is not one: `internal`, and if in a
        named network its `network`, `site` and `tags`; if public and in the GeoIP
        databases its `geolocation`, `geopoint`, `asn` and `asorganization`."""
        placed = self.network_tags.place(address)
        if placed is None:
            return None
        internal, network = placed
        description: dict[str, Any] = {"address": address, "internal": internal}
        if network is not None:
            description["network"] = network.name
            if network.site:
                description["site"] = network.site
            if network.tags:
                description["tags"] = list(network.tags)
        if self.geoip is not None and (found := self.geoip.lookup(address)) is not None:
            found.write(description, GEO_FIELDS)
        return description

    def close(self) -> None:
        if self.geoip is not None:
            self.geoip.mozdef_shutdown()


def is_address(value: object) -> bool:
    return type(value) is str and address_number(value) is not None


def event_copies(alert: dict) -> Iterator[dict]:
    """The events copied whole into the alert (a rule's `samples`); the other
    references carry only an index and an id."""
    for reference in alert.get("events", ()):
        if "event" in reference:
            yield reference["event"]


def alert_addresses(alert: dict, paths: Sequence[tuple[str, ...]]) -> list[str]:
    """The addresses an alert is about, each once, in the order found: its key, then
    each path in the alert itself, then in each event copy."""
    found = [alert.get("key")]
    for item in (alert, *event_copies(alert)):
        found.extend(lookup(item, parts) for parts in paths)
    return list(dict.fromkeys(value for value in found if is_address(value)))


class IPEnrichment:
    """MozDef instantiates this once; `mozdef_startup` opens the lookups."""

    def __init__(self) -> None:
        self.describer: IPDescriber | None = None
        self.paths: tuple[tuple[str, ...], ...] = ()
        self.max_addresses = 0

    @hookimpl
    def mozdef_plugin_settings(self) -> type[IPEnrichmentSettings]:
        return IPEnrichmentSettings

    @hookimpl
    def mozdef_startup(self, settings: IPEnrichmentSettings, config: Config) -> None:
        self.describer = IPDescriber.from_config(config)
        self.paths = tuple(split_path(path) for path in settings.fields)
        self.max_addresses = settings.max_addresses
        if not self.describer.locates:
            logger.info(
                "alert_ip_enrichment: no GeoIP database in [plugins.geoip] (city_database, "
                "asn_database): alerts' addresses get network tags but no geolocation"
            )

    @hookimpl
    def mozdef_enrich_alert(self, alert: dict) -> dict | None:
        addresses = alert_addresses(alert, self.paths)[: self.max_addresses]
        if not addresses:
            return None
        alert["details"]["ips"] = [self.describer.describe(address) for address in addresses]
        return alert

    @hookimpl
    def mozdef_shutdown(self) -> None:
        if self.describer is not None:
            self.describer.close()
