"""`mozdef alerts`: list the rules, run one now, or test one against a file of events."""

import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import click
import orjson

from mozdef.alerts.catalog import Catalog, Entry
from mozdef.alerts.engine import Engine
from mozdef.core.app import MozDef
from mozdef.core.commandline import EXIT_REJECTED, Context, echo_table, operator_errors
from mozdef.core.durations import format_duration
from mozdef.core.ingest import Ingestor, RawEvent, Status
from mozdef.core.jsoninput import read_records
from mozdef.core.stores import open_store
from mozdef.core.stores.sqlite import SqliteSettings, SqliteStore


class Moment(click.ParamType):
    """An ISO 8601 time; without a zone, UTC."""

    name = "timestamp"

    def convert(self, value: object, param: object, ctx: object) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 time such as 2026-11-22T12:00:00Z", param, ctx)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


now_option = click.option(
    "--now",
    type=Moment(),
    help="The alert clock: the rule's window ends here (default: the wall clock).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Each alert as one JSON line.")


@click.group()
def alerts() -> None:
    """List, run and test the alert rules."""


@alerts.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per rule.")
@click.pass_obj
def list_rules(context: Context, as_json: bool) -> None:
    """Show every rule: built-in, from plugins and from the rules folder."""
    with operator_errors(), MozDef(context.load()) as mozdef:
        catalog = Catalog(mozdef.config, mozdef.plugins)
    rows = [describe(entry) for entry in catalog.entries.values()]
    if as_json:
        for row in rows:
            click.echo(orjson.dumps(row))
        return
    header = ["NAME", "KIND", "SCHEDULE", "WINDOW", "REALTIME", "ENABLED", "DESCRIPTION"]
    table = [
        [
            row["name"],
            row["kind"],
            row["schedule"],
            row["window"],
            "yes" if row["realtime"] else "no",
            "yes" if row["enabled"] else "no",
            row["description"],
        ]
        for row in rows
    ]
    echo_table(header, table)


def describe(entry: Entry) -> dict:
    settings = entry.rule.settings
    return {
        "name": entry.name,
        "kind": entry.kind,
        "schedule": settings.schedule,
        "window": format_duration(settings.window),
        "realtime": settings.realtime,
        "enabled": settings.enabled,
        "origin": entry.origin,
        "description": entry.description,
    }


@alerts.command("run")
@click.argument("rule")
@click.option("--dry-run", is_flag=True, help="Show what would fire; store and mark nothing.")
@now_option
@json_option
@click.pass_obj
def run_rule(
    context: Context, rule: str, dry_run: bool, now: datetime | None, as_json: bool
) -> None:
    """Run RULE once against the configured store and print the alerts it raised.

    The alerts are stored and their events marked, as a scheduled run would, but not
    sent to the bots: those belong to the running service (`mozdef run`).
    """
    with operator_errors(), MozDef(context.load()) as mozdef:
        entry = Catalog(mozdef.config, mozdef.plugins).get(rule)
        store = open_store(mozdef.config.settings.store)
        try:
            engine = Engine(store, mozdef.plugins.alert_chain())
            raised = engine.run(entry.rule, now or datetime.now(UTC), dry_run=dry_run)
        finally:
            store.close()
    show(raised, as_json)


@alerts.command("test")
@click.argument("rule")
@click.option(
    "--events",
    "source",
    type=click.File("rb"),
    required=True,
    help="NDJSON, a JSON array or a CloudTrail file of events, as a shipper sends them.",
)
@now_option
@json_option
@click.pass_obj
def test_rule(
    context: Context, rule: str, source: BinaryIO, now: datetime | None, as_json: bool
) -> None:
    """Run RULE (a rule's name, or a rule file) over the events in a file, and print
    what would fire.

    The events go through the configured pipeline into a throwaway store, then the rule
    runs once, through the same engine and alert plugins as in service, on a clock set
    by --now (each event's receipt time too). The same input gives the same output, so
    a rule's tests can compare it with a golden file. Exit status 1 if an event could
    not be read.
    """
    moment = now or datetime.now(UTC)
    with operator_errors(), MozDef(context.load(), clock=lambda: moment) as mozdef:
        catalog = Catalog(mozdef.config, mozdef.plugins)
        entry = catalog.load_file(Path(rule)) if rule.endswith(".toml") else catalog.get(rule)
        with tempfile.TemporaryDirectory(prefix="mozdef-alerts-test-") as folder:
            store = SqliteStore(SqliteSettings(path=str(Path(folder) / "events.sqlite3")))
            try:
                rejected = load_events(Ingestor(mozdef, store), source)
                raised = Engine(store, mozdef.plugins.alert_chain()).run(entry.rule, moment)
            finally:
                store.close()
    show(raised, as_json)
    sys.exit(EXIT_REJECTED if rejected else 0)


def load_events(ingestor: Ingestor, source: BinaryIO) -> int:
    """Store the file's events with ids from their position (ids, and so alert ids, are
    the same every time); report what could not be stored; return how many."""
    raws, problems = [], 0
    for number, record in enumerate(read_records(source)):
        if record.error is not None:
            problems += 1
            click.echo(f"{source.name}: {record.where}: {record.error}", err=True)
        else:
            raws.append((record.where, RawEvent(record.value, "cli:test", f"event-{number}")))
    results = ingestor.ingest([raw for _, raw in raws])
    for (where, _), result in zip(raws, results, strict=True):
        if result.status in (Status.REJECTED, Status.DEAD_LETTERED):
            problems += 1
            click.echo(f"{source.name}: {where}: {result.reason}", err=True)
    return problems


def show(raised: list[dict], as_json: bool) -> None:
    if as_json:
        for alert in raised:
            click.echo(orjson.dumps(alert, option=orjson.OPT_SORT_KEYS))
        return
    for alert in raised:
        click.echo(
            f"{alert['utctimestamp']}  {alert['severity']}  {alert['category']}  "
            f"{alert['summary']}  ({len(alert['events'])} events, id {alert['id']})"
        )
    click.echo(f"{len(raised)} alert(s)", err=True)
