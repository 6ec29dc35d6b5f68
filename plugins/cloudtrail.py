"""AWS CloudTrail records: who called which API from where, and whether it changed anything.

A record is read when it has CloudTrail's `eventName` and `eventSource`. Normalisation
takes a bare record's `eventTime` for the event's time, `eventType` for its category and
`eventSource` for the top-level `eventsource`; this parser puts the last two back under
`details`, so bare records and records wrapped by a shipper end up alike.

`requestParameters`, `responseElements`, `additionalEventData` and
`serviceEventDetails` are free-form: their keys and value types differ from one API to
the next, and in Elasticsearch that means a mapping that grows without bound and
documents refused when one API's string is another's object. So these fields are kept
as objects of their top-level scalar values only, each written as text; anything nested
(or a field with too many keys) is kept whole as JSON text in `<field>_raw`.
"""

from typing import Literal

import orjson
from pydantic import Field

from mozdef.core import hookimpl
from mozdef.core.parsing import PARSER_PRIORITY, add_tag, ip_address, set_event_time, shorten
from mozdef.core.schema import PluginSettings

UNSET = "UNKNOWN"  # what normalisation puts in hostname when none came
SCALARS = (str, int, float, bool, type(None))


class CloudTrailSettings(PluginSettings):
    """The `[plugins.cloudtrail]` table."""

    priority: int = PARSER_PRIORITY
    readonly_prefixes: list[str] = Field(
        ["Get", "List", "Describe", "Lookup", "Head"],
        description="An API whose name starts with one of these is taken as read-only when "
        "the record has no `readOnly` of its own.",
    )
    freeform_fields: list[str] = Field(
        ["requestparameters", "responseelements", "additionaleventdata", "serviceeventdetails"],
        description="Free-form fields (lowercased names) kept as flat objects of text, "
        "with anything nested moved whole to `<field>_raw`.",
    )
    freeform_policy: Literal["scalars", "raw"] = Field(
        "scalars",
        description="'scalars': keep a free-form field's top-level scalars, as text, and put "
        "it whole in `<field>_raw` only if it has more; 'raw': always only `<field>_raw`.",
    )
    max_scalar_keys: int = Field(
        50,
        ge=0,
        description="A free-form field with more keys than this goes whole to `<field>_raw`.",
    )
    max_raw_length: int = Field(
        32000,
        ge=2,
        description="Longest `<field>_raw` text, in characters; a longer one is cut and "
        "ends with '…'.",
    )


class CloudTrail:
    """MozDef instantiates this once; start-up turns the settings into tuples."""

    @hookimpl
    def mozdef_plugin_settings(self) -> type[CloudTrailSettings]:
        return CloudTrailSettings

    @hookimpl
    def mozdef_startup(self, settings: CloudTrailSettings) -> None:
        self.readonly_prefixes = tuple(settings.readonly_prefixes)
        self.freeform = tuple(name.lower() for name in settings.freeform_fields)
        self.keep_scalars = settings.freeform_policy == "scalars"
        self.max_scalar_keys = settings.max_scalar_keys
        self.max_raw_length = settings.max_raw_length

    @hookimpl
    def mozdef_event_registration(self) -> list:
        return [{"category": "cloudtrail"}, {"source": "cloudtrail"}, "details.awsregion"]

    @hookimpl
    def mozdef_process_event(self, event: dict) -> dict | None:
        details = event.get("details")
        if not isinstance(details, dict):
            return None
        name = details.get("eventname")
        service = details.get("eventsource", event.get("eventsource"))
        if not (isinstance(name, str) and isinstance(service, str)):
            return None
        if "eventsource" not in details:
            details["eventsource"] = event.pop("eventsource")
        category = event.get("category")
        if isinstance(category, str) and category.startswith("Aws"):
            details.setdefault("eventtype", category)
        if "eventtime" in details:
            set_event_time(event, details["eventtime"])

        caller = details.get("sourceipaddress")
        if isinstance(caller, str) and ip_address(caller) is None:
            details["sourceservice"] = details.pop("sourceipaddress")
        caller = caller or details.get("sourceservice") or "unknown"
        user = username(details.get("useridentity"))
        if user is not None:
            details["username"] = user
        readonly = self.is_readonly(details.get("readonly"), name)
        details["readonly"] = readonly
        details["success"] = "errorcode" not in details and "errormessage" not in details
        for field in self.freeform:
            self.contain(details, field)

        event["summary"] = f"{caller} performed {name} in {service}"
        event["category"] = "cloudtrail"
        event["source"] = "cloudtrail"
        if event.get("hostname") in (None, UNSET):
            event["hostname"] = service
        add_tag(event, "cloudtrail")
        add_tag(event, "aws")
        if readonly:
            add_tag(event, "readonly")
        return event

    def is_readonly(self, flag: object, name: str) -> bool:
        """CloudTrail's own `readOnly` when it gives one, else told by the API's name."""
        if isinstance(flag, bool):
            return flag
        if isinstance(flag, str) and flag.lower() in ("true", "false"):
            return flag.lower() == "true"
        return name.startswith(self.readonly_prefixes)

    def contain(self, details: dict, field: str) -> None:
        """Bring a free-form field to flat text values, moving what does not fit to
        `<field>_raw` (see the module's docstring)."""
        value = details.get(field)
        if value is None or value == {}:
            return
        scalars = None
        if self.keep_scalars and isinstance(value, dict) and len(value) <= self.max_scalar_keys:
            scalars = {key: as_text(item) for key, item in value.items() if type(item) in SCALARS}
            if len(scalars) == len(value):
                details[field] = scalars
                return
        raw = value if isinstance(value, str) else as_json(value)
        details[f"{field}_raw"] = shorten(raw, self.max_raw_length)
        if scalars:
            details[field] = scalars
        else:
            del details[field]


def username(identity: object) -> str | None:
    """Who made the call: the IAM user's name; for an assumed role or a federated user the
    session's name (the last part of the ARN); `root` for the account's root user; the
    service, for a call an AWS service made itself."""
    if not isinstance(identity, dict):
        return None
    for value in (identity.get("username"), arn_name(identity.get("arn"))):
        if isinstance(value, str) and value:
            return value
    invoked_by = identity.get("invokedby")
    return invoked_by if isinstance(invoked_by, str) and invoked_by else None


def arn_name(arn: object) -> str | None:
    """`alice` from `arn:aws:iam::123456789012:user/alice`, `root` from `...:root`."""
    if not isinstance(arn, str) or not arn.startswith("arn:"):
        return None
    return arn.rpartition("/")[2].rpartition(":")[2] or None


def as_text(value: object) -> str | None:
    """A scalar as text, so that one key never holds a string in one record and a number
    or boolean in another; null stays null."""
    if value is None or isinstance(value, str):
        return value
    return as_json(value)


def as_json(value: object) -> str:
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:  # e.g. an integer wider than 64 bits
        return str(value)
