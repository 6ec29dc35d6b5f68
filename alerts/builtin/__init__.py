"""MozDef's own alert rules, built in: ssh brute force and access, audit writes and
traces, promiscuous interfaces, proxy refusals and exfiltration sites, CloudTrail
logging stopped, Duo failing open, sensitive users' sessions, LDAP brute force, late
events and silent sources.

Each rule is one module of this package, written for the events MozDef's parsers
produce; their settings, under `[alerts.rules.<name>]`, default to MozDef's values.
docs/alerts/builtin.md describes them.
"""

from mozdef.alerts.builtin.bruteforce_ssh import BruteforceSsh
from mozdef.alerts.builtin.cloudtrail_logging_disabled import CloudtrailLoggingDisabled
from mozdef.alerts.builtin.deadman_generic import DeadmanGeneric
from mozdef.alerts.builtin.duo_fail_open import DuoFailOpen
from mozdef.alerts.builtin.ldap_bruteforce_user import LdapBruteforceUser
from mozdef.alerts.builtin.old_events import OldEvents
from mozdef.alerts.builtin.promisc_kernel import PromiscKernel
from mozdef.alerts.builtin.proxy_drop_non_standard_port import ProxyDropNonStandardPort
from mozdef.alerts.builtin.proxy_exfil_domains import ProxyExfilDomains
from mozdef.alerts.builtin.session_opened_sensitive_user import SessionOpenedSensitiveUser
from mozdef.alerts.builtin.ssh_access import SshAccess
from mozdef.alerts.builtin.trace_audit import TraceAudit
from mozdef.alerts.builtin.write_audit import WriteAudit
from mozdef.alerts.rules import Rule
from mozdef.core.hookspecs import hookimpl

RULES: tuple[type[Rule], ...] = (
    BruteforceSsh,
    CloudtrailLoggingDisabled,
    DeadmanGeneric,
    DuoFailOpen,
    LdapBruteforceUser,
    OldEvents,
    PromiscKernel,
    ProxyDropNonStandardPort,
    ProxyExfilDomains,
    SessionOpenedSensitiveUser,
    SshAccess,
    TraceAudit,
    WriteAudit,
)


@hookimpl
def mozdef_alert_rules() -> tuple[type[Rule], ...]:
    return RULES
