"""cloudtrail_logging_disabled: someone stopped a CloudTrail trail, blinding the audit
log of an AWS account.

Matches the `StopLogging` calls the cloudtrail parser reads (`source` "cloudtrail",
`details.eventname`), less those AWS refused with `AccessDenied` (`details.errorcode`,
a top-level `errorcode` in MozDef). The trail is the call's `name` parameter
(`details.requestparameters.name`, its ARN or name).
"""

from datetime import timedelta
from typing import ClassVar

from pydantic import Field

from mozdef.alerts.builtin.values import text
from mozdef.alerts.rules import Draft, SimpleRule, SimpleSettings
from mozdef.core.durations import Duration
from mozdef.core.query import Bool, Hit, Query, Term


class CloudtrailLoggingDisabledSettings(SimpleSettings):
    """The `[alerts.rules.cloudtrail_logging_disabled]` table."""

    window: Duration = Field(timedelta(minutes=30), description="How far back each run looks.")


class CloudtrailLoggingDisabled(SimpleRule):
    """A CloudTrail trail was stopped."""

    name = "cloudtrail_logging_disabled"
    Settings: ClassVar = CloudtrailLoggingDisabledSettings

    def query(self) -> Query:
        return Bool(
            must=(Term("source", "cloudtrail"), Term("details.eventname", "StopLogging")),
            must_not=(Term("details.errorcode", "AccessDenied"),),
        )

    def alert(self, hit: Hit) -> Draft:
        trail = text(hit.event, "details.requestparameters.name")
        return Draft(
            f"Cloudtrail Logging Disabled: {trail}",
            category="AWSCloudtrail",
            severity="CRITICAL",
            tags=("cloudtrail", "aws", "cloudtrail_logging_disabled"),
        )
