"""Windows Security log logon events, as nxlog sends them, given MozDef's fields and a
summary a person can read.

nxlog sends each event's data as CamelCase keys, which normalisation lowercases and
moves under `details` (`details.eventid`, `details.targetusername`, ...); its
`SourceName` becomes the `processname`. Events from the Security log's auditing
provider with these ids are read:

- 4624 logon success, 4625 logon failure (with the reason its status code gives);
- 4634 logoff and 4647 user-initiated logoff;
- 4648 logon with explicit credentials (runas, mapped drives);
- 4672 special privileges assigned to a new logon (an administrator's logon).
"""

import functools
from collections.abc import Callable

from mozdef.core import hookimpl
from mozdef.core.parsing import PARSER_PRIORITY, add_tag, ip_address, number, port
from mozdef.core.schema import PluginSettings

TAG = "windows"
PROVIDER = "Microsoft-Windows-Security-Auditing"

LOGON_TYPES = {
    2: "interactive",
    3: "network",
    4: "batch",
    5: "service",
    7: "unlock",
    8: "network cleartext",
    9: "new credentials",
    10: "remote interactive",
    11: "cached interactive",
    12: "cached remote interactive",
    13: "cached unlock",
}
# NTSTATUS codes of event 4625's Status and SubStatus, as the event writes them.
FAILURE_REASONS = {
    "0xc0000064": "unknown user name",
    "0xc000006a": "bad password",
    "0xc000006d": "unknown user name or bad password",
    "0xc000006e": "account restriction",
    "0xc000006f": "outside permitted logon hours",
    "0xc0000070": "workstation not permitted",
    "0xc0000071": "password expired",
    "0xc0000072": "account disabled",
    "0xc0000133": "clocks out of sync",
    "0xc000015b": "logon type not granted",
    "0xc0000192": "netlogon service not started",
    "0xc0000193": "account expired",
    "0xc0000224": "password must be changed",
    "0xc0000234": "account locked out",
    "0xc0000413": "blocked by authentication firewall",
}


class WindowsLogonSettings(PluginSettings):
    """The `[plugins.windows_logon]` table."""

    priority: int = PARSER_PRIORITY


def logon(details: dict, success: bool) -> str:
    """4624 and 4625."""
    kind = logon_type(details)
    origin = ip_or_workstation(details)
    outcome = "success" if success else "failure"
    text = f"Windows logon {outcome} for {account(details, 'target')}"
    text += f" from {origin}" if origin else ""
    text += f" ({kind})" if kind else ""
    if not success:
        reason = failure_reason(details)
        if reason:
            details["reason"] = reason
            text += f": {reason}"
    details["success"] = success
    return text


def logoff(details: dict) -> str:
    """4634 and 4647 (which has no logon type)."""
    kind = logon_type(details)
    return f"Windows logoff for {account(details, 'target')}" + (f" ({kind})" if kind else "")


def explicit_credentials(details: dict) -> str:
    """4648: the subject used the target's credentials, e.g. with runas."""
    text = f"Windows explicit credentials of {account(details, 'target')} used by "
    text += account(details, "subject")
    server = details.get("targetservername")
    text += f" for {server}" if server and server not in ("-", "localhost") else ""
    origin = ip_or_workstation(details)
    return text + (f" from {origin}" if origin else "")


def special_privileges(details: dict) -> str:
    """4672: the subject's new logon holds administrator-class privileges."""
    user = details.get("subjectusername")
    if user:
        details["username"] = user
    return f"Windows special privileges assigned to {account(details, 'subject')}"


# Event id -> (category, a function that sets the event's own fields and returns its
# summary).
EVENTS: dict[int, tuple[str, Callable[[dict], str]]] = {
    4624: ("authentication", functools.partial(logon, success=True)),
    4625: ("authentication", functools.partial(logon, success=False)),
    4634: ("session", logoff),
    4647: ("session", logoff),
    4648: ("authentication", explicit_credentials),
    4672: ("authentication", special_privileges),
}


@hookimpl
def mozdef_plugin_settings() -> type[WindowsLogonSettings]:
    return WindowsLogonSettings


@hookimpl
def mozdef_event_registration() -> dict:
    # nxlog sends the id as a number; other shippers as text.
    return {"details.eventid": [*EVENTS, *map(str, EVENTS)]}


@hookimpl
def mozdef_process_event(event: dict) -> dict | None:
    details = event["details"]
    if event["processname"] != PROVIDER and details.get("channel") != "Security":
        return None
    known = EVENTS.get(number(details["eventid"]))
    if known is None:
        return None
    category, describe = known
    username = details.get("targetusername")
    if username:
        details["username"] = username
    address = ip_address(details.get("ipaddress"))
    if address:
        details["sourceipaddress"] = address
        source_port = port(details.get("ipport"))
        if source_port:
            details["sourceport"] = source_port
    event["summary"] = describe(details)
    event["category"] = category
    add_tag(event, TAG)
    return event


def account(details: dict, role: str) -> str:
    """`CORP\\bob` from `<role>domainname` and `<role>username`."""
    user = details.get(f"{role}username") or "-"
    domain = details.get(f"{role}domainname")
    return f"{domain}\\{user}" if domain and domain != "-" else str(user)


def logon_type(details: dict) -> str | None:
    """The logon type's name, also set as `details.logontypename`; the number stays in
    `details.logontype`, as an integer."""
    kind = number(details.get("logontype"))
    if kind is None:
        return None
    details["logontype"] = kind
    name = LOGON_TYPES.get(kind)
    if name:
        details["logontypename"] = name
    return name


def ip_or_workstation(details: dict) -> str | None:
    address = details.get("sourceipaddress")
    if address:
        return address
    workstation = details.get("workstationname")
    return workstation if workstation and workstation != "-" else None


def failure_reason(details: dict) -> str | None:
    """SubStatus says more than Status when it is set (Status 0xc000006d, "bad user
    name or password", is refined by SubStatus 0xc000006a, "bad password")."""
    for key in ("substatus", "status"):
        code = details.get(key)
        reason = FAILURE_REASONS.get(code.lower()) if isinstance(code, str) else None
        if reason:
            return reason
    return None
