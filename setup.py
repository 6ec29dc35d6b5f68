"""Packaging: the top-level code folders install as the one import package `mozdef`.

`core/`, `plugins/`, `alerts/` and `bots/` become `mozdef.core`, `mozdef.plugins`, ... so
that nothing with a generic name such as `core` lands in site-packages. `mozdef` itself is
a namespace package: it has no code of its own.
"""

from pathlib import Path

from setuptools import find_packages, setup

CODE_FOLDERS = ("core", "plugins", "alerts", "bots")


def read_version() -> str:
    namespace: dict[str, str] = {}
    exec(Path("core/version.py").read_text(encoding="utf-8"), namespace)
    return namespace["__version__"]


setup(
    name="mozdef",
    version=read_version(),
    description="A plugin-driven security event router: normalise, enrich, store, alert.",
    long_description=Path("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MPL-2.0",
    python_requires=">=3.11",
    packages=[
        f"mozdef.{folder}{'.' + sub if sub else ''}"
        for folder in CODE_FOLDERS
        for sub in ("", *find_packages(folder))
    ],
    package_dir={f"mozdef.{folder}": folder for folder in CODE_FOLDERS},
    include_package_data=True,
    install_requires=[
        "pluggy>=1.5",
        "orjson>=3.9",
        "pydantic>=2.6",
        "click>=8.1",
        "netaddr>=1.0",
        "maxminddb>=2.5",
        "luqum>=1.0",
        # gevent serves HTTP and drives pika's adapter on one loop; pika speaks AMQP.
        "gevent>=23.9",
        "pika>=1.3",
        # Alert schedules are cron expressions; croniter reads them (and their edge cases).
        "croniter>=2.0",
        # The webhook notifier posts from greenlets: an HTTP client on gevent's own sockets
        # needs no monkey-patching, and a post stuck at shutdown can be cancelled.
        "geventhttpclient>=2.6",
        # The IRC bot: jaraco's maintained IRC protocol library, fed gevent sockets, and
        # its line decoder (which survives servers that send invalid UTF-8).
        "irc>=20.0",
        "jaraco.stream>=3.0",
    ],
    extras_require={
        # The cluster clients load only when that store is chosen. The 8.x Elasticsearch
        # client speaks to Elasticsearch 8 and 9; OpenSearch needs its own client.
        "elasticsearch": ["elasticsearch>=8.13,<9"],
        "opensearch": ["opensearch-py>=2.4"],
        # mmdb-writer lets the GeoIP tests write their own MaxMind databases; setuptools
        # and wheel let the plugin-package test build the example without a download.
        "test": [
            "pytest>=8",
            "ruff>=0.6",
            "mmdb-writer>=0.2",
            "setuptools>=68",
            "wheel",
            "elasticsearch>=8.13,<9",
            "opensearch-py>=2.4",
        ],
    },
    entry_points={
        "console_scripts": ["mozdef = mozdef.core.cli:main"],
        # Built-in plugins register exactly as third-party ones do. Keep sorted.
        "mozdef": [
            "alert_ip_enrichment = mozdef.alerts.plugins.ip_enrichment:IPEnrichment",
            "alert_related_events = mozdef.alerts.plugins.related_events",
            "auditd = mozdef.plugins.auditd",
            "bot_commands = mozdef.bots.commands:BotCommands",
            "builtin_alerts = mozdef.alerts.builtin",
            "cloudtrail = mozdef.plugins.cloudtrail:CloudTrail",
            "drop_rules = mozdef.plugins.drop_rules:DropRules",
            "filterlog = mozdef.plugins.filterlog:plugin",
            "geoip = mozdef.plugins.geoip:GeoIP",
            "ipfixup = mozdef.plugins.ipfixup:IPFixup",
            "irc = mozdef.bots.irc:IRCBot",
            "kernel_promisc = mozdef.plugins.kernel_promisc:plugin",
            "keyfixup = mozdef.plugins.keyfixup:KeyFixup",
            "network_tags = mozdef.plugins.network_tags:NetworkTags",
            "rule_tags = mozdef.plugins.rule_tags:RuleTags",
            "squid = mozdef.plugins.squid:plugin",
            "sshd = mozdef.plugins.sshd:plugin",
            "su = mozdef.plugins.su:plugin",
            "suppress_duplicates = mozdef.plugins.suppress_duplicates:SuppressDuplicates",
            "suricata = mozdef.plugins.suricata",
            "webhook = mozdef.bots.webhook:Webhook",
            "windows_logon = mozdef.plugins.windows_logon",
            "zeek = mozdef.plugins.zeek",
        ],
    },
)
