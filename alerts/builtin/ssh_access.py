"""ssh_access: every successful ssh login, less the logins that are expected.

MozDef's rule raised a CRITICAL alert for each `Accepted publickey` line from the
addresses on its watch list. Here it matches what the sshd parser reads from
`Accepted <method> for <user> from <address>` (`details.eventname` "accepted"), for the
methods in `authmethods`; `watchlist`, when set, keeps only logins from those sources,
and each entry of `exclusions` leaves out the logins that match all of its keys:

    [[alerts.rules.ssh_access.exclusions]]
    username = "deploy"
    sourceipaddress = "10.8.0.0/16"
"""

from datetime import timedelta
from typing import ClassVar

from pydantic import Field, model_validator

from mozdef.alerts.builtin.networks import Network, Networks, within
from mozdef.alerts.builtin.values import text
from mozdef.alerts.rules import Draft, SimpleRule, SimpleSettings
from mozdef.core.durations import Duration
from mozdef.core.query import Bool, Hit, Query, Subnet, Term, Terms
from mozdef.core.schema import Section


class SshAccessExclusion(Section):
    """One `[[alerts.rules.ssh_access.exclusions]]` table: a login matching every key
    given raises nothing."""

    username: str | None = Field(None, description="The user logged in as.")
    sourceipaddress: Network | None = Field(
        None, description="The address or network (CIDR) the login came from."
    )
    hostname: str | None = Field(None, description="The host logged in to.")

    @model_validator(mode="after")
    def names_something(self) -> "SshAccessExclusion":
        if self.username is None and self.sourceipaddress is None and self.hostname is None:
            raise ValueError("an exclusion needs username, sourceipaddress or hostname")
        return self

    def query(self) -> Query:
        clauses: list[Query] = []
        if self.username is not None:
            clauses.append(Term("details.username", self.username))
        if self.sourceipaddress is not None:
            clauses.append(Subnet("details.sourceipaddress", self.sourceipaddress))
        if self.hostname is not None:
            clauses.append(Term("hostname", self.hostname))
        return Bool(must=tuple(clauses))


class SshAccessSettings(SimpleSettings):
    """The `[alerts.rules.ssh_access]` table."""

    window: Duration = Field(timedelta(minutes=15), description="How far back each run looks.")
    authmethods: list[str] = Field(
        ["publickey"],
        min_length=1,
        description="Authentication methods (`details.authmethod`) whose logins alert.",
    )
    watchlist: Networks = Field(
        [],
        description="Only logins from these addresses or networks (CIDR) alert; every "
        "source if empty.",
    )
    exclusions: list[SshAccessExclusion] = Field(
        [], description="Expected logins: each a table of username, sourceipaddress, hostname."
    )


class SshAccess(SimpleRule):
    """A successful ssh login."""

    name = "ssh_access"
    Settings: ClassVar = SshAccessSettings
    settings: SshAccessSettings

    def query(self) -> Query:
        settings = self.settings
        must: list[Query] = [
            Term("tags", "sshd"),
            Term("details.eventname", "accepted"),
            Terms("details.authmethod", tuple(settings.authmethods)),
        ]
        if settings.watchlist:
            must.append(Bool(should=within("details.sourceipaddress", settings.watchlist)))
        return Bool(
            must=tuple(must),
            must_not=tuple(exclusion.query() for exclusion in settings.exclusions),
        )

    def alert(self, hit: Hit) -> Draft:
        event = hit.event
        # sshd logs a name instead of the address when it resolves clients (UseDNS)
        source = text(event, "details.sourceipaddress", "details.sourcehostname")
        return Draft(
            f"SSH login from {source} on {text(event, 'hostname')} "
            f"as user {text(event, 'details.username')}",
            category="access",
            severity="CRITICAL",
            tags=("ssh",),
        )
