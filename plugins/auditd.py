"""Linux audit EXECVE and SYSCALL records, as JSON shippers send them, made consistent and
given a summary that says what ran, for whom, where.

Shippers differ: audisp-json sends `details.command`, `originaluid`/`originaluser`
(the login user) and `session`; go-audit-style flatteners send the raw record's `auid`,
`ses`, `exe`, `argc` and `a0`..`aN`. This plugin:

- writes the kernel's "unset" login id and session (4294967295) as -1, and every id
  (auid, ses, uid, euid, gid, pid, ...) as an integer, so that one field has one type;
- reads `success` ("yes"/"no") as a boolean;
- joins `a0`..`aN` into `details.command` when no shipper did;
- sets the summary to `Execve: <command> by <user> on <hostname>` (for other syscalls
  `Syscall <name>: <executable> ...`), where the user is the login user's name, else
  `auid N`, else the effective user's name, else `uid N`; `(failed)` is appended when the
  call did not succeed.
"""

from pydantic import Field

from mozdef.core import hookimpl
from mozdef.core.parsing import PARSER_PRIORITY, add_tag, number, shorten
from mozdef.core.schema import PluginSettings

TAG = "auditd"
UNSET = -1
UNSET_VALUES = frozenset((4294967295, "4294967295", "unset"))
# Ids the kernel leaves unset for processes no login started (daemons, cron at boot).
LOGIN_IDS = ("auid", "ses", "originaluid", "session")
IDS = (*LOGIN_IDS, "uid", "euid", "suid", "fsuid", "gid", "egid", "sgid", "fsgid")
IDS += ("ouid", "ogid", "pid", "ppid", "argc")
SUCCESS = {"yes": True, "no": False}
MAX_ARGUMENTS = 4096  # how far to look for a0..aN when no argc says how many


class AuditdSettings(PluginSettings):
    """The `[plugins.auditd]` table."""

    priority: int = PARSER_PRIORITY
    categories: list[str] = Field(
        ["execve", "syscall"],
        min_length=1,
        description="Values of `category` that mark an audit record (matched as written "
        "and in capitals); the plugin sets the category to the lowercase name.",
    )
    summary_command_length: int = Field(
        200, ge=20, description="Longest command line put in the summary, in characters."
    )


@hookimpl
def mozdef_plugin_settings() -> type[AuditdSettings]:
    return AuditdSettings


@hookimpl
def mozdef_event_registration(settings: AuditdSettings) -> dict:
    names = {name for category in settings.categories for name in (category, category.upper())}
    return {"category": sorted(names)}


@hookimpl
def mozdef_process_event(event: dict, settings: AuditdSettings) -> dict:
    details = event["details"]
    category = str(event["category"]).lower()
    event["category"] = category
    fix_ids(details)
    success = details.get("success")
    if isinstance(success, str) and success in SUCCESS:
        details["success"] = SUCCESS[success]
    if "command" not in details:
        arguments = command_line(details, category)
        if arguments:
            details["command"] = arguments
    event["summary"] = summary(event, details, settings.summary_command_length)
    add_tag(event, TAG)
    return event


def fix_ids(details: dict) -> None:
    for key in IDS:
        value = details.get(key)
        kind = type(value)
        if kind is not str and kind is not int:
            continue
        if key in LOGIN_IDS and value in UNSET_VALUES:
            details[key] = UNSET
        elif kind is str and (converted := number(value)) is not None:
            details[key] = converted


def command_line(details: dict, category: str) -> str | None:
    """`a0`..`aN` joined with spaces. Only EXECVE records hold arguments there (SYSCALL
    records' a0..a3 are the call's registers), so without `argc` only for execve."""
    count = details.get("argc")
    if type(count) is not int:
        if category != "execve":
            return None
        count = MAX_ARGUMENTS
    arguments = []
    for index in range(min(count, MAX_ARGUMENTS)):
        argument = details.get(f"a{index}")
        if argument is None:
            break
        arguments.append(str(argument))
    return " ".join(arguments) or None


def summary(event: dict, details: dict, limit: int) -> str:
    if event["category"] == "execve":
        label = "Execve"
        what = first(details, "command", "exe", "process", "path")
    else:
        syscall = details.get("syscall")
        label = f"Syscall {syscall}" if syscall is not None else event["category"].capitalize()
        what = first(details, "exe", "process", "command", "path")
    what = shorten(str(what or event["processname"]), limit)
    text = f"{label}: {what} by {actor(details)} on {event['hostname']}"
    return text + " (failed)" if details.get("success") is False else text


def actor(details: dict) -> str:
    """Who is answerable: the login user, who stays the same through su and sudo."""
    login = details.get("originaluser")
    if login:
        return str(login)
    auid = first(details, "auid", "originaluid")
    if auid is not None and auid != UNSET:
        return f"auid {auid}"
    user = first(details, "user", "username")
    if user is not None:
        return str(user)
    uid = details.get("uid")
    return f"uid {uid}" if uid is not None else "an unknown user"


def first(details: dict, *keys: str) -> object:
    """The value of the first of `keys` that is set and not empty, or None."""
    for key in keys:
        value = details.get(key)
        if value not in (None, ""):
            return value
    return None
