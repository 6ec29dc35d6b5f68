"""The GeoIP plugin, run for real against MaxMind-format databases the tests write."""

import copy
import logging
from pathlib import Path

import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from mozdef.core import EventMeta
from mozdef.core.config import ConfigError
from mozdef.core.pluginmanager import Candidate, Plugins
from mozdef.plugins.geoip import GeoIP


def names(en: str, **others: str) -> dict:
    return {"names": {"en": en, **others}}


LONDON = {
    "city": names("London"),
    "subdivisions": [{"iso_code": "ENG", **names("England")}],
    "postal": {"code": "EC1A"},
    "country": {"iso_code": "GB", **names("United Kingdom", de="Vereinigtes Königreich")},
    "continent": {"code": "EU", **names("Europe")},
    "location": {
        "latitude": 51.5142,
        "longitude": -0.0931,
        "accuracy_radius": 10,
        "time_zone": "Europe/London",
    },
}
MUNICH = {
    "city": names("Munich", de="München"),
    "subdivisions": [{"iso_code": "BY", **names("Bavaria", de="Bayern")}],
    "country": {"iso_code": "DE", **names("Germany", de="Deutschland")},
    "continent": {"code": "EU", **names("Europe", de="Europa")},
    "location": {"latitude": 48.1374, "longitude": 11.5755, "time_zone": "Europe/Berlin"},
}
LINKOPING = {  # no German names: they fall back to English
    "city": names("Linköping"),
    "country": {"iso_code": "SE", **names("Sweden")},
    "continent": {"code": "EU", **names("Europe")},
    "location": {"latitude": 58.4167, "longitude": 15.6167, "time_zone": "Europe/Stockholm"},
}
AUSTRALIA = {  # what a Country database (GeoLite2-Country, DB-IP country lite) holds
    "country": {"iso_code": "AU", **names("Australia")},
    "continent": {"code": "OC", **names("Oceania")},
}
NOWHERE = {"city": names("Nowhere"), "location": {"latitude": 0.0, "longitude": 0.0}}

# Every range an address must not be looked up in, each placed in the test databases so
# that looking one up would show.
NOT_PUBLIC = {
    "10.1.2.3": "10.0.0.0/8",
    "172.20.0.9": "172.16.0.0/12",
    "192.168.1.10": "192.168.0.0/16",
    "100.64.0.1": "100.64.0.0/10",  # carrier-grade NAT
    "127.0.0.1": "127.0.0.0/8",
    "169.254.10.20": "169.254.0.0/16",
    "224.0.0.251": "224.0.0.0/4",
    "240.0.0.1": "240.0.0.0/4",
    "255.255.255.255": "240.0.0.0/4",
    "0.0.0.0": "0.0.0.0/8",
    "192.0.2.7": "192.0.2.0/24",
    "198.51.100.7": "198.51.100.0/24",
    "203.0.113.7": "203.0.113.0/24",
    "::": "0.0.0.0/8",  # looked up, it would land in the IPv4 subtree's first network
    "::1": "::1/128",
    "::ffff:10.1.2.3": "10.0.0.0/8",
    "fd12:3456::1": "fc00::/7",
    "fe80::1": "fe80::/10",
    "ff02::fb": "ff00::/8",
    "2001:db8::1": "2001:db8::/32",
    "4000::1": "4000::/3",  # reserved by the IETF
}


def write_database(path: Path, kind: str, records: dict[str, dict], ip_version: int = 6) -> str:
    writer = MMDBWriter(
        ip_version=ip_version,
        ipv4_compatible=ip_version == 6,
        database_type=kind,
        languages=["en", "de"],
        description=f"MozDef test {kind}",
    )
    for network, record in records.items():
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))
    return str(path)


@pytest.fixture(scope="module")
def databases(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("geoip")
    nowhere = {network: NOWHERE for network in set(NOT_PUBLIC.values())}
    city = {
        "81.2.69.0/24": LONDON,
        "2a02:ab00::/29": MUNICH,
        "89.160.20.112/28": LINKOPING,
        "1.0.0.0/24": AUSTRALIA,
        **nowhere,
    }
    asn = {
        "81.2.69.0/24": {
            "autonomous_system_number": 20712,
            "autonomous_system_organization": "Andrews & Arnold Ltd",
        },
        "2a02:ab00::/29": {
            "autonomous_system_number": 64500,
            "autonomous_system_organization": "Example Carrier GmbH",
        },
        **{network: {"autonomous_system_number": 64501} for network in nowhere},
    }
    ipv4_asn = {network: record for network, record in asn.items() if ":" not in network}
    not_mmdb = folder / "GeoLite2-City.tar.gz"
    not_mmdb.write_bytes(b"\x1f\x8b\x08\x00" + bytes(200))
    return {
        "city": write_database(folder / "city.mmdb", "GeoLite2-City", city),
        "asn": write_database(folder / "asn.mmdb", "GeoLite2-ASN", asn),
        "ipv4_asn": write_database(folder / "asn4.mmdb", "GeoLite2-ASN", ipv4_asn, 4),
        "not_mmdb": str(not_mmdb),
    }


def settings_table(**keys: object) -> str:
    lines = [f"{key} = {value!r}" for key, value in keys.items()]
    return "\n".join(["[plugins.geoip]", *lines]).replace("'", '"') + "\n"


def start(config_file, **keys: object) -> tuple[GeoIP, Plugins]:
    geoip = GeoIP()
    found = Plugins(config_file(settings_table(**keys)), [Candidate("geoip", "built-in", geoip)])
    found.start()
    return geoip, found


def sshd_event(source: str, destination: str | None = None) -> dict:
    details = {"sourceipaddress": source, "sourceport": 5022, "username": "bob"}
    if destination is not None:
        details["destinationipaddress"] = destination
    return {
        "category": "syslog",
        "hostname": "bastion1.example.com",
        "processname": "sshd",
        "severity": "INFO",
        "summary": f"Accepted publickey for bob from {source} port 5022 ssh2: RSA SHA256:abc",
        "tags": [],
        "details": details,
    }


LONDON_FIELDS = {
    "city": "London",
    "region": "England",
    "region_code": "ENG",
    "postal_code": "EC1A",
    "country_code": "GB",
    "country_name": "United Kingdom",
    "continent": "EU",
    "latitude": 51.5142,
    "longitude": -0.0931,
    "accuracy_radius": 10,
    "time_zone": "Europe/London",
}
MUNICH_FIELDS = {
    "city": "Munich",
    "region": "Bavaria",
    "region_code": "BY",
    "country_code": "DE",
    "country_name": "Germany",
    "continent": "EU",
    "latitude": 48.1374,
    "longitude": 11.5755,
    "time_zone": "Europe/Berlin",
}
AUSTRALIA_FIELDS = {"country_code": "AU", "country_name": "Australia", "continent": "OC"}


@pytest.mark.parametrize(
    ("address", "location", "geopoint"),
    [
        ("81.2.69.160", LONDON_FIELDS, "51.5142,-0.0931"),
        ("::ffff:81.2.69.160", LONDON_FIELDS, "51.5142,-0.0931"),
        ("2a02:ab00:1:2::99", MUNICH_FIELDS, "48.1374,11.5755"),
        ("1.0.0.1", AUSTRALIA_FIELDS, None),  # a country and no coordinates: no geopoint
    ],
)
def test_a_public_source_address_is_placed(config_file, databases, address, location, geopoint):
    _, found = start(config_file, city_database=databases["city"])
    event = sshd_event(address)
    expected = {**copy.deepcopy(event["details"]), "sourceipgeolocation": location}
    if geopoint:
        expected["sourceipgeopoint"] = geopoint
    assert found.event_chain().run(event, EventMeta())["details"] == expected


def test_both_ends_of_a_connection_are_placed(config_file, databases) -> None:
    _, found = start(config_file, city_database=databases["city"])
    details = found.event_chain().run(sshd_event("10.0.0.5", "2a02:ab00::1"), EventMeta())[
        "details"
    ]
    assert details["destinationipgeolocation"] == MUNICH_FIELDS
    assert details["destinationipgeopoint"] == "48.1374,11.5755"
    assert "sourceipgeolocation" not in details


@pytest.mark.parametrize("address", [*NOT_PUBLIC, "not-an-address", "", "81.2.69.160:443"])
def test_addresses_no_database_can_place_are_not_looked_up(config_file, databases, address):
    _, found = start(config_file, city_database=databases["city"], asn_database=databases["asn"])
    event = sshd_event(address, address)
    before = copy.deepcopy(event["details"])
    chain = found.event_chain()
    assert chain.run(event, EventMeta())["details"] == before
    assert chain.stats()["geoip"].changed == 0


def test_an_asn_database_adds_the_autonomous_system(config_file, databases) -> None:
    _, found = start(config_file, city_database=databases["city"], asn_database=databases["asn"])
    details = found.event_chain().run(sshd_event("81.2.69.1", "2a02:ab00::1"), EventMeta())[
        "details"
    ]
    assert (details["sourceipasn"], details["sourceipasorganization"]) == (
        20712,
        "Andrews & Arnold Ltd",
    )
    assert (details["destinationipasn"], details["destinationipasorganization"]) == (
        64500,
        "Example Carrier GmbH",
    )
    assert details["sourceipgeolocation"]["city"] == "London"


def test_an_asn_database_alone_adds_only_the_autonomous_system(config_file, databases) -> None:
    _, found = start(config_file, asn_database=databases["asn"])
    details = found.event_chain().run(sshd_event("81.2.69.1"), EventMeta())["details"]
    added = {key: value for key, value in details.items() if key.startswith("sourceip")}
    assert added == {
        "sourceipaddress": "81.2.69.1",
        "sourceipasn": 20712,
        "sourceipasorganization": "Andrews & Arnold Ltd",
    }


def test_an_ipv4_only_database_has_nothing_for_ipv6(config_file, databases) -> None:
    _, found = start(config_file, asn_database=databases["ipv4_asn"])
    result = found.event_chain().run(sshd_event("81.2.69.1", "2a02:ab00::1"), EventMeta())
    assert result["details"]["sourceipasn"] == 20712
    assert "destinationipasn" not in result["details"]
    assert "errors" not in result["mozdef"]


@pytest.mark.parametrize(
    ("address", "city", "region", "country"),
    [
        ("2a02:ab00::1", "München", "Bayern", "Deutschland"),
        ("89.160.20.120", "Linköping", None, "Sweden"),  # no German names in the record
    ],
)
def test_place_names_follow_the_language(config_file, databases, address, city, region, country):
    _, found = start(config_file, city_database=databases["city"], language="de")
    location = found.event_chain().run(sshd_event(address), EventMeta())["details"][
        "sourceipgeolocation"
    ]
    assert (location["city"], location.get("region"), location["country_name"]) == (
        city,
        region,
        country,
    )


def test_a_language_the_database_lacks_is_reported(config_file, databases, caplog) -> None:
    _, found = start(config_file, city_database=databases["city"], language="fr")
    assert "has no names in 'fr', only in en, de; English is used" in caplog.text
    location = found.event_chain().run(sshd_event("2a02:ab00::1"), EventMeta())["details"][
        "sourceipgeolocation"
    ]
    assert location["city"] == "Munich"


def test_without_a_database_events_pass_and_it_says_so_once(config_file, caplog) -> None:
    caplog.set_level(logging.INFO, logger="mozdef.plugins.geoip")
    geoip, found = start(config_file)
    chain = found.event_chain()
    for _ in range(50):
        event = sshd_event("81.2.69.160", "2a02:ab00::1")
        details = copy.deepcopy(event["details"])
        assert chain.run(event, EventMeta())["details"] == details
    assert "geoip" not in chain.stats()  # out of the chain: no cost per event
    assert geoip.lookup is None
    logged = [record.getMessage() for record in caplog.records]
    assert len(logged) == 1
    assert "geoip: off" in logged[0]
    assert "city_database" in logged[0]


@pytest.mark.parametrize(
    ("key", "database", "problem"),
    [
        ("city_database", None, "no such file"),
        ("asn_database", None, "no such file"),
        ("city_database", "not_mmdb", "not a valid MaxMind DB (.mmdb) file"),
        ("asn_database", "not_mmdb", "not a valid MaxMind DB (.mmdb) file"),
    ],
)
def test_a_bad_database_path_is_a_config_error_naming_the_key(
    config_file, databases, tmp_path, key, database, problem
) -> None:
    path = databases[database] if database else str(tmp_path / "GeoLite2-City.mmdb")
    with pytest.raises(ConfigError) as caught:
        start(config_file, **{key: path})
    assert f"plugins.geoip.{key}: {problem}, got {path!r}" in str(caught.value)


def test_repeated_addresses_come_from_the_cache(config_file, databases) -> None:
    geoip, found = start(config_file, city_database=databases["city"], cache_size=2)
    chain = found.event_chain()
    first = chain.run(sshd_event("81.2.69.160"), EventMeta())
    first["details"]["sourceipgeolocation"]["city"] = "changed downstream"
    second = chain.run(sshd_event("81.2.69.160"), EventMeta())
    assert second["details"]["sourceipgeolocation"] == LONDON_FIELDS
    assert geoip.lookup.cache_info()[:4] == (1, 1, 2, 1)  # hits, misses, maxsize, size
    for address in ("2a02:ab00::1", "1.0.0.1", "81.2.69.160"):  # London is evicted
        chain.run(sshd_event(address), EventMeta())
    assert geoip.lookup.cache_info()[:2] == (1, 4)


def test_events_without_addresses_never_reach_the_plugin(config_file, databases) -> None:
    _, found = start(config_file, city_database=databases["city"])
    chain = found.event_chain()
    cron = {"category": "syslog", "processname": "cron", "tags": [], "details": {}}
    assert chain.run(cron, EventMeta())["mozdef"]["plugins"] == []
    assert chain.stats()["geoip"].seen == 0


def test_start_up_names_the_databases_and_the_reader(config_file, databases, caplog) -> None:
    caplog.set_level(logging.INFO, logger="mozdef.plugins.geoip")
    _, found = start(config_file, city_database=databases["city"], asn_database=databases["asn"])
    assert found.all["geoip"].settings.priority == 70
    (message,) = [record.getMessage() for record in caplog.records]
    assert f"city_database {databases['city']}: GeoLite2-City" in message
    assert f"asn_database {databases['asn']}: GeoLite2-ASN" in message
    assert "C extension" in message
