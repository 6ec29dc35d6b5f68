"""network_tags and rule_tags, run through the real plugin chain on normalised events."""

import pytest
from plugin_chain import NORMALIZER, TIME, chain

from mozdef.core import EventMeta
from mozdef.core.chain import Chain
from mozdef.core.config import ConfigError
from mozdef.plugins.network_tags import NetworkTags
from mozdef.plugins.rule_tags import RuleTags


def connection(source: str | None, destination: str | None = None, **details: object) -> dict:
    """A Suricata flow event as the parser leaves it."""
    if source is not None:
        details["sourceipaddress"] = source
    if destination is not None:
        details["destinationipaddress"] = destination
    return NORMALIZER.normalize(
        {
            "timestamp": TIME,
            "host": "ids1.corp.example.com",
            "program": "suricata",
            "category": "suricata",
            "message": "flow",
            "details": details,
        }
    )


# ---- network_tags ----------------------------------------------------------------------

NETWORKS = """
[plugins.network_tags]
internal = ["10.0.0.0/8", "192.168.0.0/16", "2001:db8:100::/48", "198.51.100.0/24"]

[[plugins.network_tags.networks]]
name = "corp"
cidrs = ["10.0.0.0/8"]
tags = ["corp"]

[[plugins.network_tags.networks]]
name = "office-paris"
cidrs = ["10.1.0.0/16", "2001:db8:100:1::/64"]
site = "paris"
tags = ["office", "corp"]

[[plugins.network_tags.networks]]
name = "vpn-egress"
cidrs = ["198.51.100.0/28"]
site = "aws-eu-west-1"
"""


def network_tags(config_file, toml: str = NETWORKS) -> Chain:
    return chain(config_file, toml, network_tags=NetworkTags())


@pytest.mark.parametrize(
    ("address", "internal", "network", "site", "tags"),
    [
        ("10.1.2.3", True, "office-paris", "paris", ["office", "corp"]),  # most specific
        ("10.2.0.9", True, "corp", None, ["corp"]),
        ("2001:db8:100:1::25", True, "office-paris", "paris", ["office", "corp"]),
        ("2001:db8:100:2::25", True, None, None, []),  # internal, in no named network
        ("198.51.100.7", True, "vpn-egress", "aws-eu-west-1", []),  # our public range
        ("198.51.100.77", True, None, None, []),
        ("192.168.4.4", True, None, None, []),
        ("172.16.0.5", False, None, None, []),  # default ranges replaced by the setting
        ("93.184.216.34", False, None, None, []),
    ],
)
def test_addresses_are_placed(
    config_file, address: str, internal: bool, network: str, site: str, tags: list
) -> None:
    event = network_tags(config_file).run(connection(address), EventMeta())
    details = event["details"]
    assert details["sourceipinternal"] is internal
    assert details.get("sourceipnetwork") == network
    assert details.get("sourceipsite") == site
    assert event["tags"] == tags


def test_both_ends_are_placed_and_tags_not_repeated(config_file) -> None:
    event = network_tags(config_file).run(connection("10.1.2.3", "10.1.9.9"), EventMeta())
    details = event["details"]
    assert (details["sourceipnetwork"], details["destinationipnetwork"]) == ("office-paris",) * 2
    assert details["destinationipinternal"] is True
    assert event["tags"] == ["office", "corp"]


def test_default_internal_ranges(config_file) -> None:
    tagger = network_tags(config_file, "")
    expected = {
        "10.0.0.1": True,
        "172.31.255.255": True,
        "192.168.1.1": True,
        "127.0.0.1": True,
        "169.254.169.254": True,
        "::1": True,
        "fd12:3456::1": True,
        "fe80::1": True,
        "100.64.0.1": False,  # carrier-grade NAT is not ours
        "8.8.8.8": False,
        "2606:4700::6810:85e5": False,
    }
    found = {
        address: tagger.run(connection(address), EventMeta())["details"]["sourceipinternal"]
        for address in expected
    }
    assert found == expected


def test_events_without_addresses_are_not_touched(config_file) -> None:
    tagger = network_tags(config_file)
    no_address = tagger.run(connection(None), EventMeta())
    assert "sourceipinternal" not in no_address["details"]
    assert no_address["mozdef"]["plugins"] == []  # the registration kept it away
    not_an_address = tagger.run(connection("ids1.corp.example.com"), EventMeta())
    assert "sourceipinternal" not in not_an_address["details"]
    assert tagger.stats()["network_tags"].changed == 0


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[plugins.network_tags]\ninternal = ["10.0.0.0/8", "10.0.0.0/33"]\n',
            "plugins.network_tags.internal: '10.0.0.0/33' is not a CIDR",
        ),
        (
            '[[plugins.network_tags.networks]]\nname = "paris"\ncidrs = ["10.1.0/16"]\n',
            "plugins.network_tags.networks.0.cidrs: '10.1.0/16' is not a CIDR",
        ),
        (
            '[[plugins.network_tags.networks]]\nname = "paris"\ncidrs = []\n',
            "plugins.network_tags.networks.0.cidrs: List should have at least 1 item",
        ),
        (
            '[[plugins.network_tags.networks]]\nname = "a"\ncidrs = ["10.0.0.0/8"]\n'
            '[[plugins.network_tags.networks]]\nname = "a"\ncidrs = ["10.1.0.0/16"]\n',
            "plugins.network_tags.networks: names must be unique; repeated: a",
        ),
        (
            '[[plugins.network_tags.networks]]\nname = "a"\ncidrs = ["10.0.0.0/8"]\nsit = "x"\n',
            "plugins.network_tags.networks.0.sit: unknown key",
        ),
    ],
)
def test_bad_networks_name_the_key(config_file, toml: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        network_tags(config_file, toml)
    assert message in str(caught.value)


# ---- rule_tags -------------------------------------------------------------------------

RULES = """
[[plugins.rule_tags.rules]]
name = "ssh-from-outside"
match = { processname = "sshd", "details.sourceipaddress" = { not = { cidr = "10.0.0.0/8" } } }
add_tags = ["ssh-external"]

[[plugins.rule_tags.rules]]
name = "privileged-login"
match = { "details.username" = ["root", "admin"], "details.success" = true }
add_tags = ["privileged", "ssh-external"]
set = { "details.risk" = "high", "details.owner.team" = "infra" }

[[plugins.rule_tags.rules]]
name = "recategorise"
match = { tags = "privileged" }
set_category = "privileged-access"
set = { "details.escalate" = { to = "oncall", within = 15 } }
"""


def sshd_login(user: str, source: str, success: bool = True) -> dict:
    verdict = "Accepted" if success else "Failed"
    return NORMALIZER.normalize(
        {
            "timestamp": TIME,
            "host": "bastion1.corp.example.com",
            "program": "sshd",
            "pid": "21311",
            "message": f"{verdict} publickey for {user} from {source} port 50122 ssh2",
            "category": "authentication",
            "details": {"username": user, "sourceipaddress": source, "success": success},
        }
    )


def rule_tags(config_file, toml: str = RULES) -> tuple[Chain, RuleTags]:
    plugin = RuleTags()
    return chain(config_file, toml, rule_tags=plugin), plugin


def test_every_matching_rule_applies_in_order(config_file) -> None:
    tagger, plugin = rule_tags(config_file)
    event = tagger.run(sshd_login("root", "203.0.113.9"), EventMeta())
    assert event["tags"] == ["ssh-external", "privileged"]
    assert event["category"] == "privileged-access"  # a later rule saw an earlier one's tag
    assert event["details"]["risk"] == "high"
    assert event["details"]["owner"] == {"team": "infra"}
    assert event["details"]["escalate"] == {"to": "oncall", "within": 15}
    assert plugin.counts == {"ssh-from-outside": 1, "privileged-login": 1, "recategorise": 1}


def test_rules_that_do_not_match_change_nothing(config_file) -> None:
    tagger, plugin = rule_tags(config_file)
    internal = tagger.run(sshd_login("alice", "10.1.2.3"), EventMeta())
    failed_root = tagger.run(sshd_login("root", "10.1.2.3", success=False), EventMeta())
    for event in (internal, failed_root):
        assert (event["tags"], event["category"]) == ([], "authentication")
        assert "risk" not in event["details"]
    assert plugin.counts == {"ssh-from-outside": 0, "privileged-login": 0, "recategorise": 0}
    assert tagger.stats()["rule_tags"].changed == 0


def test_without_rules_the_plugin_is_not_in_the_chain(config_file) -> None:
    tagger, _ = rule_tags(config_file, "")
    assert tagger.links == []


def test_set_values_are_not_shared_between_events(config_file) -> None:
    tagger, _ = rule_tags(config_file)
    first = tagger.run(sshd_login("root", "203.0.113.9"), EventMeta())
    first["details"]["escalate"]["to"] = "changed by a later plugin"
    second = tagger.run(sshd_login("admin", "203.0.113.9"), EventMeta())
    assert second["details"]["escalate"] == {"to": "oncall", "within": 15}


def test_a_field_in_the_way_is_noted_not_fatal(config_file) -> None:
    toml = (
        '[[plugins.rule_tags.rules]]\nname = "owner"\nmatch = { processname = "sshd" }\n'
        'add_tags = ["owned"]\nset = { "details.username.team" = "infra" }\n'
    )
    tagger, _ = rule_tags(config_file, toml)
    event = tagger.run(sshd_login("alice", "10.1.2.3"), EventMeta())
    assert event["details"]["username"] == "alice"
    assert event["tags"] == ["owned"]
    assert event["mozdef"]["errors"] == [
        "rule_tags: rule 'owner' cannot set details.username.team: username is not an object"
    ]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            'match = { summary = { regex = "Accepted (publickey" } }\nadd_tags = ["x"]\n',
            "plugins.rule_tags.rules.0.match: rule 'bad': summary: regex: invalid regular "
            "expression 'Accepted (publickey'",
        ),
        (
            'match = { "details.sourceipaddress" = { cidr = "10.0.0.0/8x" } }\nadd_tags = ["x"]\n',
            "plugins.rule_tags.rules.0.match: rule 'bad': details.sourceipaddress: cidr: "
            "'10.0.0.0/8x' is not a CIDR",
        ),
        (
            'match = { processname = { startswith = "ssh" } }\nadd_tags = ["x"]\n',
            "plugins.rule_tags.rules.0.match: rule 'bad': processname: unknown operator "
            "'startswith'",
        ),
        (
            'match = { processname = "sshd" }\n',
            "plugins.rule_tags.rules.0: rule 'bad' has no action: give add_tags, set_category "
            "or set",
        ),
        (
            'match = { processname = "sshd" }\nset = { "details..risk" = "high" }\n',
            "plugins.rule_tags.rules.0.set: 'details..risk' is not a dotted field path",
        ),
        (
            'match = { processname = "sshd" }\nadd_tag = ["x"]\n',
            "plugins.rule_tags.rules.0.add_tag: unknown key; did you mean 'add_tags'?",
        ),
    ],
)
def test_bad_rules_name_the_rule_and_key(config_file, toml: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        rule_tags(config_file, f'[[plugins.rule_tags.rules]]\nname = "bad"\n{toml}')
    assert message in str(caught.value)


def test_rule_names_are_unique(config_file) -> None:
    rule = '[[plugins.rule_tags.rules]]\nname = "a"\nmatch = { x = 1 }\nadd_tags = ["t"]\n'
    with pytest.raises(
        ConfigError, match=r"plugins\.rule_tags\.rules: names must be unique; repeated: a"
    ):
        rule_tags(config_file, rule * 2)


def test_network_and_rule_tags_work_together(config_file) -> None:
    toml = NETWORKS + (
        '[[plugins.rule_tags.rules]]\nname = "paris-root"\n'
        'match = { "details.sourceipsite" = "paris", "details.username" = "root" }\n'
        'add_tags = ["paris-root"]\n'
    )
    tagger = chain(config_file, toml, network_tags=NetworkTags(), rule_tags=RuleTags())
    event = tagger.run(sshd_login("root", "10.1.2.3"), EventMeta())
    assert event["tags"] == ["office", "corp", "paris-root"]
    assert event["mozdef"]["plugins"] == ["network_tags", "rule_tags"]
