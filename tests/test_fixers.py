"""keyfixup and ipfixup, run through the real plugin chain on normalised events."""

import copy

import pytest
from plugin_chain import NORMALIZER, TIME, chain

from mozdef.core import EventMeta
from mozdef.core.chain import Chain
from mozdef.core.config import ConfigError
from mozdef.plugins import zeek
from mozdef.plugins.ipfixup import IPFixup, parse_address
from mozdef.plugins.keyfixup import KeyFixup


def ipfixup(config_file, toml: str = "") -> Chain:
    return chain(config_file, toml, ipfixup=IPFixup())


def keyfixup(config_file, toml: str = "") -> Chain:
    return chain(config_file, toml, keyfixup=KeyFixup())


# ---- ipfixup ---------------------------------------------------------------------------

ZEEK_CONN = {  # a bare conn.log record: its keys land under details, dots and all
    "ts": 1715677801.098,
    "uid": "CHhAvVGS1DHFjwGM9",
    "id.orig_h": "10.20.4.17",
    "id.orig_p": 52341,
    "id.resp_h": "2606:4700::6810:85e5",
    "id.resp_p": 443,
    "proto": "tcp",
    "_path": "conn",
}


@pytest.mark.parametrize(
    ("raw", "expected", "gone"),
    [
        pytest.param(
            ZEEK_CONN,
            {
                "sourceipaddress": "10.20.4.17",
                "sourceport": 52341,
                "destinationipaddress": "2606:4700::6810:85e5",
                "destinationport": 443,
                "id.orig_p": 52341,  # copied, not moved
            },
            ["id.orig_h", "id.resp_h"],
            id="zeek-flat",
        ),
        pytest.param(
            {
                "category": "zeek",
                "source": "conn",
                "details": {
                    "uid": "CHhAvVGS1DHFjwGM9",
                    "id": {"orig_h": "10.20.4.17", "orig_p": 52341, "resp_h": "93.184.216.34"},
                },
            },
            {
                "sourceipaddress": "10.20.4.17",
                "sourceport": 52341,
                "destinationipaddress": "93.184.216.34",
                "id": {"orig_p": 52341},
            },
            [],
            id="zeek-nested",
        ),
        pytest.param(
            {  # FortiGate traffic log, key=value pairs parsed by the shipper
                "host": "fw1",
                "message": "type=traffic subtype=forward",
                "details": {"srcip": "10.1.1.20", "srcport": "51234", "dstip": "8.8.8.8"},
            },
            {"sourceipaddress": "10.1.1.20", "destinationipaddress": "8.8.8.8", "srcport": "51234"},
            ["srcip", "dstip"],
            id="fortigate",
        ),
        pytest.param(
            {  # AWS VPC flow log fields
                "message": "2 123456789012 eni-0a1b2c3d 172.31.16.139 172.31.16.21 20641 22 6",
                "details": {"srcaddr": "172.31.16.139", "dstaddr": "172.31.16.21"},
            },
            {"sourceipaddress": "172.31.16.139", "destinationipaddress": "172.31.16.21"},
            ["srcaddr", "dstaddr"],
            id="vpc-flow",
        ),
        pytest.param(
            {  # nginx JSON log behind a load balancer: the peer is the proxy
                "message": "GET /login",
                "remote_addr": "10.0.4.17",
                "http_x_forwarded_for": "203.0.113.9, 10.0.4.17",
            },
            {"sourceipaddress": "10.0.4.17", "http_x_forwarded_for": "203.0.113.9, 10.0.4.17"},
            ["remote_addr"],
            id="nginx-peer-first",
        ),
        pytest.param(
            {"message": "GET /", "X-Forwarded-For": "x", "x_forwarded_for": "203.0.113.9:4711"},
            {"sourceipaddress": "203.0.113.9", "sourceport": 4711},
            [],
            id="forwarded-for-only",
        ),
        pytest.param(
            {"message": "login", "clientip": "203.0.113.9:51234"},
            {"sourceipaddress": "203.0.113.9", "sourceport": 51234},
            ["clientip"],
            id="address-with-port",
        ),
        pytest.param(
            {"message": "login", "client_ip": "[2001:DB8::1]:443"},
            {"sourceipaddress": "2001:db8::1", "sourceport": 443},
            ["client_ip"],
            id="bracketed-ipv6-with-port",
        ),
        pytest.param(
            {"details": {"sourceipaddress": "198.51.100.23:4242", "sourceport": 50122}},
            {"sourceipaddress": "198.51.100.23", "sourceport": 50122},  # the port there wins
            [],
            id="canonical-with-port",
        ),
        pytest.param(
            {
                "details": {
                    "sourceipaddress": "2001:0db8:0000:0000:0000:0000:0000:0001",
                    "destinationipaddress": "::ffff:198.51.100.23",
                }
            },
            {"sourceipaddress": "2001:db8::1", "destinationipaddress": "198.51.100.23"},
            [],
            id="canonical-forms",
        ),
        pytest.param(
            {"details": {"sourceipaddress": "fe80::1%eth0"}},
            {"sourceipaddress": "fe80::1"},
            [],
            id="ipv6-zone",
        ),
        pytest.param(
            {"details": {"sourceipaddress": "-", "destinationipaddress": ""}},
            {},
            ["sourceipaddress", "destinationipaddress", "sourceipaddress_invalid"],
            id="no-address-placeholders",
        ),
        pytest.param(
            {"details": {"src": "eth0", "dst": "vlan12"}},  # interfaces, not addresses
            {"src": "eth0", "dst": "vlan12"},
            ["sourceipaddress", "destinationipaddress"],
            id="aliases-without-addresses",
        ),
        pytest.param(
            {"details": {"sourceipaddress": "198.51.100.23", "srcip": "10.9.9.9"}},
            {"sourceipaddress": "198.51.100.23", "srcip": "10.9.9.9"},
            [],
            id="canonical-wins-over-alias",
        ),
        pytest.param(
            {"sourceip": "10.0.0.2", "details": {"sourceip": "203.0.113.5"}},
            {"eventsourceipaddress": "10.0.0.2", "sourceipaddress": "203.0.113.5"},
            ["sourceip"],
            id="top-level-sourceip-is-the-shipper",
        ),
        pytest.param(
            {"details": {"dest_ip": "192.0.2.1", "dst_ip": "192.0.2.2"}},
            {"destinationipaddress": "192.0.2.2", "dest_ip": "192.0.2.1"},  # first in order
            ["dst_ip"],
            id="first-alias-wins",
        ),
    ],
)
def test_addresses_reach_the_canonical_fields(
    config_file, raw: dict, expected: dict, gone: list
) -> None:
    event = ipfixup(config_file).run(NORMALIZER.normalize(raw), EventMeta())
    details = event["details"]
    assert {key: details.get(key) for key in expected} == expected
    assert [key for key in gone if key in details] == []
    assert not any("ipfixup" in note for note in event.get("mozdef", {}).get("errors", []))


def test_a_value_that_is_not_an_address_is_moved_aside_and_noted(config_file) -> None:
    raw = {
        "timestamp": TIME,
        "details": {
            "sourceipaddress": "unknown-host.example.com",
            "destinationipaddress": ["10.0.0.1", "10.0.0.2"],
            "srcip": "192.0.2.44",
        },
    }
    event = ipfixup(config_file).run(NORMALIZER.normalize(raw), EventMeta())
    details = event["details"]
    assert details["sourceipaddress_invalid"] == "unknown-host.example.com"
    assert details["sourceipaddress"] == "192.0.2.44"  # an alias fills the freed field
    assert details["destinationipaddress_invalid"] == ["10.0.0.1", "10.0.0.2"]
    assert "destinationipaddress" not in details
    assert event["mozdef"]["errors"] == [
        "ipfixup: details.sourceipaddress 'unknown-host.example.com' is not an IP address; "
        "moved to details.sourceipaddress_invalid",
        "ipfixup: details.destinationipaddress ['10.0.0.1', '10.0.0.2'] is not an IP "
        "address; moved to details.destinationipaddress_invalid",
    ]


def test_forwarded_for_can_come_first(config_file) -> None:
    raw = {"remote_addr": "10.0.4.17", "xforwardedfor": "203.0.113.9, 10.0.4.17"}
    fixed = ipfixup(config_file, "[plugins.ipfixup]\nforwarded_for_first = true\n")
    details = fixed.run(NORMALIZER.normalize(raw), EventMeta())["details"]
    assert details["sourceipaddress"] == "203.0.113.9"
    assert details["remote_addr"] == "10.0.4.17"  # not taken, so not moved


def test_events_without_addresses_pass_unchanged(config_file) -> None:
    fixer = ipfixup(config_file)
    clean = NORMALIZER.normalize(
        {"timestamp": TIME, "details": {"sourceipaddress": "198.51.100.23", "sourceport": 22}}
    )
    plain = NORMALIZER.normalize({"timestamp": TIME, "message": "CRON[1234]: session opened"})
    for event in (clean, plain):
        before = copy.deepcopy(event)
        after = fixer.run(event, EventMeta())
        del after["mozdef"]
        assert after == before
    assert fixer.stats()["ipfixup"].changed == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.2.3.4", ("1.2.3.4", None)),
        (" 1.2.3.4 ", ("1.2.3.4", None)),
        ("1.2.3.4:5555", ("1.2.3.4", 5555)),
        ("[::1]:443", ("::1", 443)),
        ("[::1]", ("::1", None)),
        ("[fe80::1%eth0]:443", ("fe80::1", 443)),
        ("::1", ("::1", None)),
        ("1.2.3.4:0", None),
        ("1.2.3.4:70000", None),
        ("1.2.3.4:http", None),
        ("[::1]443", None),
        ("[::1", None),
        ("1.2.3", None),
        ("256.1.1.1", None),
        ("host.example.com:22", None),
        (16909060, None),
    ],
)
def test_parse_address(text: object, expected: tuple | None) -> None:
    assert parse_address(text) == expected


# ---- keyfixup --------------------------------------------------------------------------


def test_custom_events_are_made_indexable_by_normalisation_and_keyfixup(config_file) -> None:
    raw = {
        "Category": "webapp",
        "SourceIPAddress": "198.51.100.23",
        "Details": {
            "UserName": "Bob",
            ".hidden.": 1,  # dots and empty keys: normalisation's part
            "a..b": 2,
            "": "blank",
            "  ": "spaces",
            "Sessions": [{"TTY": "pts/0", "Env": {"LANG": "C"}}, [{"PID": 7}]],
        },
        "Tags": ["Login"],
    }
    event = NORMALIZER.accept_custom(raw, "webapp")
    assert "UserName" in event["Details"]  # the case is keyfixup's part
    fixed = keyfixup(config_file).run(event, EventMeta())
    assert fixed["sourceipaddress"] == "198.51.100.23"
    assert fixed["tags"] == ["Login"]  # values keep their case
    assert fixed["details"] == {
        "username": "Bob",
        "hidden": 1,
        "a.b": 2,
        "_empty": "blank",
        "_empty_2": "spaces",  # a collision gets a number, as in normalisation
        "sessions": [{"tty": "pts/0", "env": {"lang": "C"}}, [{"pid": 7}]],
    }


@pytest.mark.parametrize(
    ("raw", "details"),
    [
        pytest.param(
            {"user": "a", "User": "b", "USER": "c"},
            {"user": "a", "user_2": "b", "user_3": "c"},
            id="in-order",
        ),
        pytest.param(
            {"User": "b", "user": "a"},
            {"user": "a", "user_2": "b"},  # a key already lowercase keeps its name
            id="lowercase-keeps-its-name",
        ),
        pytest.param(
            {"Nested": [{"Key": 1, "key": 2}]},
            {"nested": [{"key": 2, "key_2": 1}]},
            id="inside-arrays",
        ),
    ],
)
def test_lowercased_keys_lose_nothing(config_file, raw: dict, details: dict) -> None:
    event = NORMALIZER.accept_custom({"details": raw}, "webapp")
    assert keyfixup(config_file).run(event, EventMeta())["details"] == details


def test_mozdefs_own_fields_keep_their_names_in_custom_events(config_file) -> None:
    event = NORMALIZER.accept_custom({"ReceivedTimestamp": "yesterday"}, "webapp")
    fixed = keyfixup(config_file).run(event, EventMeta())
    assert fixed["receivedtimestamp"] == event["receivedtimestamp"] != "yesterday"
    assert fixed["receivedtimestamp_2"] == "yesterday"


def test_only_custom_events_are_lowercased(config_file) -> None:
    fixer = keyfixup(config_file)
    unmarked = {"category": "webapp", "details": {"UserName": "Bob"}}
    assert fixer.run(unmarked, EventMeta())["details"] == {"UserName": "Bob"}
    off = keyfixup(config_file, "[plugins.keyfixup]\nlowercase_keys = false\n")
    custom = NORMALIZER.accept_custom({"Details": {"UserName": "Bob"}}, "webapp")
    assert off.run(custom, EventMeta())["Details"] == {"UserName": "Bob"}


def test_the_registration_follows_what_is_switched_on(config_file) -> None:
    lowercase_only = keyfixup(config_file, "[plugins.keyfixup]\nfix_shape_conflicts = false\n")
    lowercase_only.run(NORMALIZER.normalize({"timestamp": TIME}), EventMeta())
    lowercase_only.run(NORMALIZER.accept_custom({"A": 1}, "app"), EventMeta())
    assert lowercase_only.stats()["keyfixup"].seen == 1  # the custom event only

    toml = "[plugins.keyfixup]\nfix_shape_conflicts = false\nlowercase_keys = false\n"
    assert keyfixup(config_file, toml).stats() == {}  # nothing to do: out of the chain


def test_a_clean_event_is_left_unchanged(config_file) -> None:
    event = NORMALIZER.normalize(
        {
            "timestamp": TIME,
            "host": "bastion1",
            "program": "sshd",
            "message": "Accepted publickey for alice from 198.51.100.23 port 50122 ssh2",
            "details": {"username": "alice", "session": {"tty": "pts/0"}, "groups": ["ops"]},
        }
    )
    before = copy.deepcopy(event)
    fixer = keyfixup(config_file)
    for _ in range(2):
        after = fixer.run(event, EventMeta())
        del after["mozdef"]
        assert after == before
    assert fixer.stats()["keyfixup"].changed == 0


def webapp(user: object, category: str = "webapp") -> dict:
    return {"category": category, "details": {"user": user, "action": "login"}}


@pytest.mark.parametrize(
    ("first", "then", "renamed_to"),
    [
        ({"name": "bob", "id": 7}, "bob", "user_value"),
        ("bob", {"name": "bob", "id": 7}, "user_object"),
        ([{"name": "bob"}], "bob", "user_value"),  # a list of objects is an object
        ("bob", ["bob", "alice"], None),  # a list of strings is a scalar
        ({"name": "bob"}, ["bob"], "user_value"),
        ({"name": "bob"}, None, None),  # null has no shape
        ({"name": "bob"}, [], None),
        ({"name": "bob"}, [None, []], None),
        ("bob", [[{"name": "bob"}]], "user_object"),  # lists inside lists count too
        ({"name": "bob"}, [["bob"]], "user_value"),
        ([{"name": "bob"}], [{"name": "alice"}, "bob"], None),  # has an object: an object
        (7, True, None),  # numbers, strings and booleans are all scalars
    ],
)
def test_a_shape_conflict_renames_the_later_value(
    config_file, first: object, then: object, renamed_to: str | None
) -> None:
    fixer = keyfixup(config_file)
    fixer.run(webapp(first), EventMeta())
    details = fixer.run(webapp(copy.deepcopy(then)), EventMeta())["details"]
    if renamed_to is None:
        assert details == {"user": then, "action": "login"}
    else:
        assert details == {renamed_to: then, "action": "login"}


def test_shapes_are_remembered_per_scope(config_file) -> None:
    by_category = keyfixup(config_file)
    by_category.run(webapp({"name": "bob"}, "webapp"), EventMeta())
    assert by_category.run(webapp("bob", "vpn"), EventMeta())["details"]["user"] == "bob"
    assert "user_value" in by_category.run(webapp("bob", "webapp"), EventMeta())["details"]

    by_index = keyfixup(config_file, '[plugins.keyfixup]\nshape_scope = "index"\n')
    by_index.run(webapp({"name": "bob"}, "webapp"), EventMeta(index="events"))
    assert "user_value" in by_index.run(webapp("bob", "vpn"), EventMeta())["details"]
    assert "user" in by_index.run(webapp("bob", "vpn"), EventMeta(index="audit"))["details"]


def test_custom_events_are_scoped_before_their_keys_are_lowercased(config_file) -> None:
    fixer = keyfixup(config_file)

    def custom(raw: dict, application: str = "webapp") -> dict:
        return fixer.run(NORMALIZER.accept_custom(raw, application), EventMeta())

    custom({"Category": "signup", "Details": {"User": {"Name": "bob"}}})
    assert custom({"CATEGORY": "signup", "Details": {"User": "bob"}})["details"] == {
        "user_value": "bob"
    }
    custom({"details": {"plan": {"tier": "pro"}}}, "billing")  # no category: the app
    assert custom({"details": {"plan": "pro"}}, "crm")["details"] == {"plan": "pro"}
    assert custom({"details": {"plan": "pro"}}, "billing")["details"] == {"plan_value": "pro"}


def test_shapes_deeper_down_and_inside_lists(config_file) -> None:
    fixer = keyfixup(config_file)
    first = {"category": "k8s", "details": {"pods": [{"labels": {"app": "web"}}]}}
    then = {"category": "k8s", "details": {"pods": [{"labels": "app=web"}]}}
    fixer.run(first, EventMeta())
    assert fixer.run(then, EventMeta())["details"] == {"pods": [{"labels_value": "app=web"}]}


def test_a_renamed_value_is_checked_again(config_file) -> None:
    plugin = KeyFixup()
    fixer = chain(config_file, keyfixup=plugin)
    fixer.run(webapp({"name": "bob"}), EventMeta())
    fixer.run({"category": "webapp", "details": {"user_value": {"id": 1}}}, EventMeta())
    assert "user_value_value" in fixer.run(webapp("bob"), EventMeta())["details"]
    assert plugin.renamed == 2  # user -> user_value -> user_value_value
    # webapp; category, details; user, name, action; user_value, id; user_value_value
    assert plugin.tracked == 9


def test_top_level_fields_are_checked(config_file) -> None:
    fixer = keyfixup(config_file)
    fixer.run({"category": "syslog", "hostname": {"name": "web1"}}, EventMeta())
    fixed = fixer.run({"category": "syslog", "hostname": "web1"}, EventMeta())
    assert fixed["hostname_value"] == "web1"
    assert "hostname" not in fixed


def test_tracking_is_bounded_and_can_be_off(config_file) -> None:
    bounded = keyfixup(config_file, "[plugins.keyfixup]\nmax_tracked_paths = 3\n")
    bounded.run(webapp({"name": "bob"}), EventMeta())  # webapp, category, details: full
    assert bounded.run(webapp("bob"), EventMeta())["details"]["user"] == "bob"

    off = keyfixup(config_file, "[plugins.keyfixup]\nfix_shape_conflicts = false\n")
    off.run(webapp({"name": "bob"}), EventMeta())
    assert off.run(webapp("bob"), EventMeta())["details"]["user"] == "bob"


def test_bad_keyfixup_settings_name_the_key(config_file) -> None:
    toml = (
        '[plugins.keyfixup]\nmax_tracked_paths = 0\nshape_scope = "host"\n'
        "max_string_length = 3000\n"  # moved to [normalize] truncate_strings_at
    )
    with pytest.raises(ConfigError) as caught:
        keyfixup(config_file, toml)
    message = str(caught.value)
    assert "plugins.keyfixup.max_tracked_paths: Input should be greater than or equal to 1" in (
        message
    )
    assert "plugins.keyfixup.shape_scope: Input should be 'category' or 'index'" in message
    assert "plugins.keyfixup.max_string_length: unknown key" in message


def test_keyfixup_prepares_custom_events_for_ipfixup(config_file) -> None:
    event = NORMALIZER.accept_custom({"Details": {"SourceIPAddress": "10.0.0.1:8443"}}, "app")
    fixed = chain(config_file, keyfixup=KeyFixup(), ipfixup=IPFixup()).run(event, EventMeta())
    assert fixed["details"] == {"sourceipaddress": "10.0.0.1", "sourceport": 8443}
    assert fixed["mozdef"]["plugins"] == ["keyfixup", "ipfixup"]


def test_a_parser_never_overwrites_an_address_ipfixup_has_set(config_file) -> None:
    """A Zeek notice with both `src` and `id.orig_h`: ipfixup takes `src` first, and the
    zeek parser must not replace it with the other, losing one of the two addresses."""
    pipeline = chain(config_file, ipfixup=IPFixup(), zeek=zeek)
    notice = {"_path": "notice", "ts": 1.0, "note": "Scan::Port_Scan"}
    event = NORMALIZER.normalize({**notice, "src": "10.9.9.9", "id.orig_h": "10.0.0.64"})
    details = pipeline.run(event, EventMeta())["details"]
    assert details["sourceipaddress"] == "10.9.9.9"
    assert "10.0.0.64" in details.values()  # kept under its own name
