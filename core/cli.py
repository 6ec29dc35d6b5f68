"""The `mozdef` command."""

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import click
import orjson

from mozdef.alerts.catalog import Catalog
from mozdef.alerts.cli import alerts
from mozdef.alerts.queue import run_alerts, run_bots
from mozdef.core.app import MozDef
from mozdef.core.commandline import (
    EXIT_REJECTED,
    Context,
    DurationParam,
    echo_table,
    feed,
    operator_errors,
    with_progress,
)
from mozdef.core.event import EventMeta
from mozdef.core.http.server import serve
from mozdef.core.ingest import Ingestor, Status
from mozdef.core.jsoninput import read_records
from mozdef.core.normalize import MalformedEvent
from mozdef.core.pluginmanager import Plugins
from mozdef.core.query import QueryString, Search, TimeWindow
from mozdef.core.querystring import QuerySyntaxError
from mozdef.core.queue.publisher import run_loginput
from mozdef.core.queue.worker import run_worker
from mozdef.core.reference import render_reference
from mozdef.core.stores import open_store
from mozdef.core.version import __version__

config_option = click.option(
    "--config",
    "-c",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Configuration file. Default: $MOZDEF_CONFIG, else ./mozdef.toml if present, "
    "else built-in defaults.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@config_option
@click.version_option(__version__, prog_name="mozdef")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None) -> None:
    """MozDef: normalise, enrich, store and alert on security events sent as JSON.

    `mozdef run` starts the service; the other commands work on files and the store.

    Configuration is read from mozdef.toml (see `mozdef config reference` for every
    key); any key can be overridden by an environment variable such as
    MOZDEF_MOZDEF_LOG_LEVEL. Plugins come from installed packages (`mozdef plugins list`).
    """
    ctx.obj = Context(config_path)


@main.command()
@click.option(
    "--role",
    type=click.Choice(["all", "loginput", "worker", "alerts", "bot"]),
    default="all",
    show_default=True,
    help="all: HTTP ingest, pipeline, store, alert rules and bots in one process, no "
    "broker needed. Queue mode splits these across processes sharing RabbitMQ: "
    "loginput: HTTP ingest publishing raw events. worker: consume raw events, run the "
    "pipeline, store. alerts: run the alert rules, publishing alerts. bot: deliver "
    "alerts to IRC, chat and webhooks.",
)
@click.pass_obj
def run(context: Context, role: str) -> None:
    """Run MozDef until SIGTERM or Ctrl-C.

    The HTTP server listens on [server] bind and port (127.0.0.1:8080 by default) for
    POST /events, /_bulk and the other inputs; see docs/http.md. Alert rules run on
    their schedules ([alerts], `mozdef alerts list`). In queue mode, run any number of
    loginput and worker processes, one alerts process and any number of bot processes
    against one RabbitMQ ([rabbitmq]).
    """
    roles = {
        "all": serve,
        "loginput": run_loginput,
        "worker": run_worker,
        "alerts": run_alerts,
        "bot": run_bots,
    }
    with operator_errors():
        roles[role](context.load())


@main.command()
@click.argument("source", type=click.File("rb"), default="-")
@click.pass_obj
def normalize(context: Context, source: BinaryIO) -> None:
    """Normalise events from SOURCE (a file, or - for standard input).

    SOURCE holds NDJSON (one event per line) or one JSON array of events. Each event is
    normalised to the MozDef schema and run through the configured plugin chain; the
    results are written to standard output as NDJSON. Events that cannot be read are
    reported on standard error with their line number, and the exit status is 1.
    A progress bar is shown when reading a file with standard error on a terminal.
    """
    show_progress = source is not sys.stdin.buffer and sys.stderr.isatty()
    with operator_errors(), MozDef(context.load()) as mozdef:
        rejected = pipe(mozdef, source, sys.stdout.buffer, progress=show_progress)
    sys.exit(EXIT_REJECTED if rejected else 0)


def pipe(mozdef: MozDef, source: BinaryIO, out: BinaryIO | None, progress: bool) -> int:
    """Events from `source` through the pipeline to `out` (None: discard them).
    Rejected input is reported on stderr; returns how many were rejected."""
    name = source.name
    rejected = 0
    for record in with_progress(read_records(source), source, progress):
        error, event = record.error, None
        if error is None:
            try:
                event = mozdef.process(record.value, EventMeta(source=name))
            except MalformedEvent as exc:
                error = str(exc)
        if error is not None:
            rejected += 1
            click.echo(f"{name}: {record.where}: {error}", err=True)
        elif event is not None and out is not None:
            out.write(orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE))
    if out is not None:
        out.flush()
    if rejected:
        click.echo(f"{name}: {rejected} event(s) rejected", err=True)
    return rejected


@main.command()
@click.argument("query", default="")
@click.option(
    "--since", type=DurationParam(), default="1h", show_default=True, help="How far back."
)
@click.option("--size", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print each event as one JSON line.")
@click.pass_obj
def search(context: Context, query: str, since: timedelta, size: int, as_json: bool) -> None:
    """Print stored events matching QUERY, newest first.

    QUERY is a Lucene query string, as in Kibana: `category:authentication AND NOT
    details.username:root`, `details.sourceipaddress:"203.0.113.9"`, `summary:"failed
    password"`, `hostname:web*`, `details.octets:[1000 TO 2000]`. Empty: every event.
    """
    with operator_errors():
        store = open_store(context.load().settings.store)
    try:
        window = TimeWindow(since=datetime.now(UTC) - since)
        found = store.search(
            Search(query=QueryString(query) if query.strip() else None, window=window, size=size)
        )
    except QuerySyntaxError as exc:
        raise click.BadParameter(str(exc), param_hint="QUERY") from None
    finally:
        store.close()
    for hit in found.hits:
        if as_json:
            click.echo(orjson.dumps(hit.event))
        else:
            event = hit.event
            click.echo(
                f"{event.get('utctimestamp', '')}  {event.get('hostname', '')}  "
                f"{event.get('category', '')}  {event.get('summary', '')}"
            )
    if not as_json:
        click.echo(f"{len(found.hits)} of {found.total} matching event(s)", err=True)


@main.command()
@click.argument("source", type=click.File("rb"), default="-")
@click.option("--batch", type=click.IntRange(1, 100_000), default=1000, show_default=True)
@click.pass_obj
def ingest(context: Context, source: BinaryIO, batch: int) -> None:
    """Store the events in SOURCE (a file, or - for standard input).

    SOURCE holds NDJSON, one JSON array, or CloudTrail log files (an object whose
    `Records` list holds the events). Events go through normalisation and the plugin
    chain into the configured store, `batch` per transaction. Unreadable or rejected
    events are reported with their line number; the exit status is then 1.
    """
    show_progress = source is not sys.stdin.buffer and sys.stderr.isatty()
    with operator_errors(), MozDef(context.load()) as mozdef:
        store = open_store(mozdef.config.settings.store)
        try:
            counts = feed(Ingestor(mozdef, store), source, batch, show_progress)
        finally:
            store.close()
    click.echo(", ".join(f"{n} {status.value}" for status, n in counts.items()), err=True)
    sys.exit(EXIT_REJECTED if counts[Status.REJECTED] else 0)


@main.group()
def config() -> None:
    """Check the configuration, or print the reference of every key."""


@config.command("check")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def config_check(context: Context, path: Path | None) -> None:
    """Validate PATH (default: the configuration in use), plugin tables and alert rules
    (rule files and `[alerts.rules.*]`) included.

    Reports every problem with the file and the dotted key; exits 2 if there are any.
    """
    with operator_errors():
        loaded = context.load(path)
        plugins = Plugins(loaded)
        rules = Catalog(loaded, plugins)
    enabled = ", ".join(info.name for info in plugins.enabled) or "none"
    click.echo(f"{loaded.source}: OK; plugins enabled in order: {enabled}")
    click.echo(f"alert rules enabled: {len(rules.enabled())} of {len(rules.entries)}")


@config.command("reference")
@click.pass_obj
def config_reference(context: Context) -> None:
    """Print every key of mozdef.toml, with its default and description."""
    with operator_errors():
        plugins = Plugins(context.load())
    click.echo(render_reference(plugins.reference()), nl=False)


@main.group()
def plugins() -> None:
    """Inspect the installed plugins."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per plugin.")
@click.pass_obj
def plugins_list(context: Context, as_json: bool) -> None:
    """Show every installed plugin in chain order: name, origin, priority, enabled, hooks."""
    with operator_errors():
        found = Plugins(context.load())
    ordered = sorted(found.all.values(), key=lambda info: info.sort_key)
    rows = [
        {
            "name": info.name,
            "origin": info.origin,
            "priority": info.settings.priority,
            "enabled": info.settings.enabled,
            "hooks": info.hooks,
            "description": info.description,
        }
        for info in ordered
    ]
    if as_json:
        for row in rows:
            click.echo(orjson.dumps(row))
        return
    table = [
        [
            row["name"],
            row["origin"],
            str(row["priority"]),
            "yes" if row["enabled"] else "no",
            ", ".join(hook.removeprefix("mozdef_") for hook in row["hooks"]),
        ]
        for row in rows
    ]
    echo_table(["NAME", "ORIGIN", "PRIORITY", "ENABLED", "HOOKS"], table)


@plugins.command("stats")
@click.argument("source", type=click.File("rb"), default="-")
@click.pass_obj
def plugins_stats(context: Context, source: BinaryIO) -> None:
    """Run the events in SOURCE through the chain and show what each plugin did.

    Columns: events seen, changed, dropped, errors, and time spent (total and per event).
    The normalised events themselves are discarded.
    """
    with operator_errors(), MozDef(context.load()) as mozdef:
        pipe(mozdef, source, out=None, progress=False)
    table = []
    for name, stats in mozdef.chain.stats().items():
        per_event = stats.nanoseconds / stats.seen / 1000 if stats.seen else 0.0
        table.append(
            [
                name,
                str(stats.seen),
                str(stats.changed),
                str(stats.dropped),
                str(stats.errors),
                f"{stats.nanoseconds / 1e6:.1f}",
                f"{per_event:.2f}",
            ]
        )
    echo_table(["PLUGIN", "SEEN", "CHANGED", "DROPPED", "ERRORS", "MS", "µS/EVENT"], table)


main.add_command(alerts)
