"""Where an event's public IP addresses are, and which autonomous system announces them.

Looks up `details.sourceipaddress` and `details.destinationipaddress` in MaxMind-format
databases (.mmdb: GeoLite2, GeoIP2, DB-IP lite) and adds `<side>ipgeolocation`,
`<side>ipgeopoint` and, with an ASN database, `<side>ipasn` and `<side>ipasorganization`.
Addresses no database can place (private, loopback, link-local, multicast, reserved,
documentation, ...) are never looked up. Each address's answer is kept in an LRU cache:
a handful of addresses make up most of the traffic.
"""

import functools
import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import maxminddb
from pydantic import Field, ValidationInfo, field_validator

from mozdef.core import PluginSettings, hookimpl

logger = logging.getLogger(__name__)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Location = tuple[tuple[str, Any], ...]


class GeoIPSettings(PluginSettings):
    """The `[plugins.geoip]` table; with neither database set the plugin does nothing."""

    priority: int = 70
    city_database: str = Field(
        "",
        description="Path of a MaxMind-format City or Country database, e.g. "
        "GeoLite2-City.mmdb or dbip-city-lite-2024-05.mmdb; empty: no geolocation.",
    )
    asn_database: str = Field(
        "",
        description="Path of a MaxMind-format ASN database, e.g. GeoLite2-ASN.mmdb or "
        "dbip-asn-lite-2024-05.mmdb; empty: no AS numbers.",
    )
    cache_size: int = Field(
        16384, ge=0, description="Addresses whose answers are kept in memory; 0: no cache."
    )
    language: str = Field(
        "en",
        min_length=1,
        description="Language of place names as the database spells it (en, de, pt-BR, ...); "
        "a name the database lacks in it is given in English.",
    )

    @field_validator("city_database", "asn_database")
    @classmethod
    def must_be_a_database(cls, path: str, info: ValidationInfo) -> str:
        if path:
            Database(info.field_name, path).close()
        return path


class Database:
    """One open .mmdb file."""

    def __init__(self, key: str, path: str) -> None:
        """Open the file named by setting `key`; every way that fails is a ValueError worded
        for the operator."""
        try:
            self.reader = maxminddb.open_database(path, maxminddb.MODE_AUTO)
        except FileNotFoundError:
            raise ValueError("no such file") from None
        except maxminddb.InvalidDatabaseError:
            raise ValueError("not a valid MaxMind DB (.mmdb) file") from None
        except OSError as exc:
            raise ValueError(f"cannot read it: {exc.strerror}") from None
        self.key = key
        self.path = path
        self.metadata = self.reader.metadata()

    def get(self, address: Address) -> dict | None:
        """The record for an address; an IPv4-only database has none for IPv6."""
        if address.version > self.metadata.ip_version:
            return None
        return self.reader.get(address)

    @property
    def uses_c_extension(self) -> bool:
        return type(self.reader).__module__ == "maxminddb.extension"

    def __str__(self) -> str:
        built = datetime.fromtimestamp(self.metadata.build_epoch, UTC).date()
        return f"{self.key} {self.path}: {self.metadata.database_type}, built {built}"

    def close(self) -> None:
        self.reader.close()


@dataclass(frozen=True, slots=True)
class Side:
    """One end of a connection: the field holding its address and those that describe it."""

    address: str
    location: str
    geopoint: str
    asn: str
    organization: str

    @classmethod
    def named(cls, prefix: str) -> "Side":
        ip = f"{prefix}ip"
        return cls(
            f"{ip}address", f"{ip}geolocation", f"{ip}geopoint", f"{ip}asn", f"{ip}asorganization"
        )


SIDES = (Side.named("source"), Side.named("destination"))
ASN = "autonomous_system_number"
ORGANIZATION = "autonomous_system_organization"


@dataclass(frozen=True, slots=True)
class Found:
    """What the databases say about one address: immutable, so one answer serves every
    event from the cache, each event getting its own copy of the location dict."""

    location: Location = ()
    geopoint: str | None = None
    asn: int | None = None
    organization: str | None = None

    def write(self, details: dict, side: Side) -> None:
        if self.location:
            details[side.location] = dict(self.location)
        if self.geopoint is not None:
            details[side.geopoint] = self.geopoint
        if self.asn is not None:
            details[side.asn] = self.asn
        if self.organization is not None:
            details[side.organization] = self.organization


NOTHING = Found()


def public_address(text: str) -> Address | None:
    """The address to look up, or None when no database could place it."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_global and not (address.is_multicast or address.is_reserved):
        return address
    return None


def name(part: dict | None, language: str) -> str | None:
    names = (part or {}).get("names", {})
    return names.get(language) or names.get("en")


def describe_place(record: dict, language: str) -> dict[str, Any]:
    """The location fields of a City or Country record, less those it lacks: a Country
    database has no city or coordinates, DB-IP lite fewer fields than GeoLite2."""
    location = record.get("location", {})
    country = record.get("country", {})
    region = (record.get("subdivisions") or [{}])[0]
    fields = {
        "city": name(record.get("city"), language),
        "region": name(region, language),
        "region_code": region.get("iso_code"),
        "postal_code": record.get("postal", {}).get("code"),
        "country_code": country.get("iso_code"),
        "country_name": name(country, language),
        "continent": record.get("continent", {}).get("code"),
        "latitude": location.get("latitude"),
        "longitude": location.get("longitude"),
        "accuracy_radius": location.get("accuracy_radius"),
        "time_zone": location.get("time_zone"),
    }
    return {key: value for key, value in fields.items() if value is not None}


def geopoint(place: dict[str, Any]) -> str | None:
    """The position as the "lat,lon" string Elasticsearch takes for a geo_point."""
    if "latitude" in place and "longitude" in place:
        return f"{place['latitude']},{place['longitude']}"
    return None


class GeoIP:
    """MozDef instantiates this once; `mozdef_startup` opens the databases."""

    def __init__(self) -> None:
        self.databases: list[Database] = []
        self.city: Database | None = None
        self.asn: Database | None = None
        self.language = "en"
        self.lookup: Callable[[str], Found | None] | None = None

    @hookimpl
    def mozdef_plugin_settings(self) -> type[GeoIPSettings]:
        return GeoIPSettings

    @hookimpl
    def mozdef_startup(self, settings: GeoIPSettings) -> None:
        if settings.city_database:
            self.city = Database("city_database", settings.city_database)
        if settings.asn_database:
            self.asn = Database("asn_database", settings.asn_database)
        self.databases = [db for db in (self.city, self.asn) if db is not None]
        if not self.databases:
            logger.info(
                "geoip: off, no database configured; set [plugins.geoip] city_database "
                "(and asn_database) to MaxMind-format .mmdb files such as GeoLite2-City.mmdb "
                "to turn it on"
            )
            return
        self.language = settings.language
        self.lookup = functools.lru_cache(maxsize=settings.cache_size)(self.find)
        if all(db.uses_c_extension for db in self.databases):
            reader = "maxminddb's C extension"
        else:
            reader = "maxminddb's pure-Python reader (slow: its C extension is missing)"
        logger.info(
            "geoip: %s; read with %s; cache of %d addresses",
            "; ".join(map(str, self.databases)),
            reader,
            settings.cache_size,
        )
        languages = self.city.metadata.languages if self.city else []
        if languages and self.language not in languages:
            logger.warning(
                "geoip: the city database has no names in %r, only in %s; English is used",
                self.language,
                ", ".join(languages),
            )

    @hookimpl
    def mozdef_event_registration(self) -> list[str] | bool:
        # With no database there is nothing to do: out of the chain, at no cost per event.
        if self.lookup is None:
            return False
        return [f"details.{side.address}" for side in SIDES]

    @hookimpl
    def mozdef_process_event(self, event: dict) -> dict | None:
        details = event["details"]
        changed = False
        for side in SIDES:
            value = details.get(side.address)
            if isinstance(value, str) and (found := self.lookup(value)) is not None:
                found.write(details, side)
                changed = True
        return event if changed else None

    def find(self, text: str) -> Found | None:
        """Everything the databases know about one address; `lookup` is this, cached."""
        address = public_address(text)
        if address is None:
            return None
        record = self.city.get(address) if self.city else None
        place = describe_place(record, self.language) if record else {}
        network = (self.asn.get(address) if self.asn else None) or {}
        found = Found(
            tuple(place.items()), geopoint(place), network.get(ASN), network.get(ORGANIZATION)
        )
        return found if found != NOTHING else None

    @hookimpl
    def mozdef_shutdown(self) -> None:
        if self.lookup is not None:
            logger.info("geoip: %s", self.lookup.cache_info())
        for db in self.databases:
            db.close()
