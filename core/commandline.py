"""What the `mozdef` command's subcommands share: loading the configuration, showing
operator errors as messages, progress bars, tables, durations and feeding files of
events into the store."""

import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

import click

from mozdef.core.config import Config, ConfigError, load_config
from mozdef.core.durations import parse_duration
from mozdef.core.ingest import Ingestor, RawEvent, Status
from mozdef.core.jsoninput import Record, read_records
from mozdef.core.logs import configure_logging
from mozdef.core.pluginmanager import PluginError
from mozdef.core.store import StoreUnavailable

EXIT_CONFIG = 2
EXIT_REJECTED = 1


class Context:
    """What the subcommands share: where the configuration comes from."""

    def __init__(self, config_path: Path | None) -> None:
        self.config_path = config_path

    def load(self, path: Path | None = None) -> Config:
        config = load_config(path or self.config_path)
        configure_logging(config.settings.mozdef.log_level)
        return config


@contextmanager
def operator_errors() -> Iterator[None]:
    """Show configuration and plugin problems as messages, not tracebacks."""
    try:
        yield
    except (ConfigError, PluginError, StoreUnavailable) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)


def with_progress(
    records: Iterator[Record], source: BinaryIO, show: bool, label: str = "normalising"
) -> Iterator[Record]:
    """Records unchanged, with a progress bar on stderr measured in bytes read."""
    if not show:
        yield from records
        return
    size = Path(source.name).stat().st_size
    with click.progressbar(length=size, label=label, file=sys.stderr) as bar:
        done = 0
        for record in records:
            yield record
            position = source.tell()
            bar.update(position - done)
            done = position


class DurationParam(click.ParamType):
    """A span of time such as 90s, 15m, 1h, 2d or 1w."""

    name = "duration"

    def convert(self, value: object, param: object, ctx: object) -> timedelta:
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def feed(ingestor: Ingestor, source: BinaryIO, size: int, progress: bool) -> Counter:
    """Records from `source` through the ingestor in batches; counts per status."""
    counts: Counter = Counter({status: 0 for status in Status})
    pending: list[tuple[str, RawEvent]] = []

    def flush() -> None:
        results = ingestor.ingest([raw for _, raw in pending])
        for (where, _), result in zip(pending, results, strict=True):
            counts[result.status] += 1
            if result.status is Status.REJECTED:
                click.echo(f"{source.name}: {where}: {result.reason}", err=True)
        pending.clear()

    for record in with_progress(read_records(source), source, progress, "ingesting"):
        if record.error is not None:
            counts[Status.REJECTED] += 1
            click.echo(f"{source.name}: {record.where}: {record.error}", err=True)
            continue
        pending.append((record.where, RawEvent(record.value, source=f"cli:{source.name}")))
        if len(pending) >= size:
            flush()
    if pending:
        flush()
    return counts


def echo_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        click.echo("  ".join(cells).rstrip())
