"""The alerts role: rules run on their schedules and in real time, inside a gevent
process (`mozdef run`, or `mozdef run --role alerts` in queue mode).

Each enabled rule has a greenlet that sleeps until the rule is due and then runs it on
a thread of a pool (`[alerts] concurrency` threads, each with its own store
connection), so one rule's slow search or failure never holds up the others, nor the
server sharing the process. Runs are logged and counted for /metrics. Alerts a run
raised are handed to `deliver` back in the hub: the notifying plugins in this process,
or RabbitMQ's `alerts` exchange in queue mode.
"""

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import gevent
from gevent.lock import Semaphore
from gevent.threadpool import ThreadPool

from mozdef.alerts.catalog import Catalog, Entry
from mozdef.alerts.engine import Engine
from mozdef.alerts.realtime import Realtime
from mozdef.alerts.schedule import ScheduleState, first_run, parse_schedule
from mozdef.core.config import Config
from mozdef.core.http.metrics import Counter, Registry
from mozdef.core.pluginmanager import Plugins
from mozdef.core.query import Scalar
from mozdef.core.stores import open_store

logger = logging.getLogger(__name__)

Deliver = Callable[[dict], None]


def notify_in_process(plugins: Plugins) -> Deliver:
    """Delivery in this process: the notifying plugins get each alert that notifies."""

    def deliver(alert: dict) -> None:
        if alert.get("notify"):
            plugins.broadcast("mozdef_notify_alert", alert=alert)

    return deliver


def wall_clock() -> datetime:
    return datetime.now(UTC)


class AlertService:
    """Schedules and runs the enabled rules; `start` it, then `stop` it."""

    def __init__(
        self,
        config: Config,
        plugins: Plugins,
        deliver: Deliver,
        registry: Registry | None = None,
        clock: Callable[[], datetime] = wall_clock,
    ) -> None:
        """Raises `ConfigError` for invalid rules or rule settings."""
        settings = config.settings.alerts
        self.config = config
        self.catalog = Catalog(config, plugins)
        self.enrichment = plugins.alert_chain()
        self.deliver = deliver
        self.clock = clock
        self.timeout = settings.timeout
        self.state = ScheduleState(Path(settings.state_file) if settings.state_file else None)
        self.pool = ThreadPool(settings.concurrency)
        self.local = threading.local()  # each pool thread's Engine (a store connection)
        self.engines: list[Engine] = []
        self.greenlets: list[gevent.Greenlet] = []
        # One run of a rule at a time: a real-time run and a scheduled one overlapping
        # would both count the events that neither had marked yet.
        self.turns = {entry.name: Semaphore() for entry in self.catalog.enabled()}
        self.runs = Counter("mozdef_alert_runs_total", "Rule runs by outcome.", ("rule", "outcome"))
        self.seconds = Counter(
            "mozdef_alert_run_seconds_total", "Time spent in rule runs.", ("rule",)
        )
        self.raised = Counter("mozdef_alerts_total", "Alerts raised, by rule.", ("rule",))
        if registry is not None:
            for metric in (self.runs, self.seconds, self.raised):
                registry.add(metric)
        realtime = [entry for entry in self.catalog.enabled() if entry.rule.settings.realtime]
        self.realtime = Realtime(realtime, self.run_soon, settings.realtime_delay)

    def start(self) -> None:
        """A greenlet per enabled rule, each running its rule when due."""
        for entry in self.catalog.enabled():
            self.greenlets.append(gevent.spawn(self.keep_schedule, entry))
        logger.info(
            "alerts: %d rules scheduled, %d in real time",
            len(self.greenlets),
            len(self.realtime.rules),
        )

    def keep_schedule(self, entry: Entry) -> None:
        schedule = parse_schedule(entry.rule.settings.schedule)
        due = first_run(schedule, self.state.last_run(entry.name), self.clock())
        while True:
            gevent.sleep(max(0.0, (due - self.clock()).total_seconds()))
            started = self.clock()
            self.run(entry, started)
            self.state.ran(entry.name, started)
            due = schedule.next_after(started)  # in the past if the run overran: now, once

    def run_soon(self, entry: Entry, only: Sequence[Scalar] | None) -> None:
        """A real-time run, for the values the stored events brought (see `Realtime`)."""
        gevent.spawn(self.run, entry, self.clock(), only)

    def run(self, entry: Entry, now: datetime, only: Sequence[Scalar] | None = None) -> None:
        """One run on the pool, logged and counted; its alerts delivered from here."""
        with self.turns[entry.name]:
            started = time.perf_counter()
            outcome, alerts = self.attempt(entry, now, only)
        elapsed = time.perf_counter() - started
        self.runs.inc(entry.name, outcome)
        self.seconds.inc(entry.name, amount=elapsed)
        if alerts:
            self.raised.inc(entry.name, amount=len(alerts))
        logger.info("alert %s: %s in %.3fs, %d alerts", entry.name, outcome, elapsed, len(alerts))
        for alert in alerts:
            try:
                self.deliver(alert)
            except Exception:
                logger.exception("alert %s: delivering %s failed", entry.name, alert["id"])

    def attempt(
        self, entry: Entry, now: datetime, only: Sequence[Scalar] | None
    ) -> tuple[str, list[dict]]:
        """(outcome, alerts) of one run on the pool: "ok", "timeout" (reported once the
        run is slower than `timeout`, whose alerts still count), or "failed"."""
        job = self.pool.spawn(self.evaluate, entry, now, only)
        outcome = "ok"
        try:
            try:
                return outcome, job.get(timeout=self.timeout)
            except gevent.Timeout:
                outcome = "timeout"
                logger.warning("alert %s: still running after %.0fs", entry.name, self.timeout)
                return outcome, job.get()  # a thread cannot be interrupted
        except Exception:
            logger.exception("alert %s failed", entry.name)
            return "failed" if outcome == "ok" else outcome, []

    def evaluate(self, entry: Entry, now: datetime, only: Sequence[Scalar] | None) -> list[dict]:
        """On a pool thread: the run itself."""
        engine = getattr(self.local, "engine", None)
        if engine is None:
            engine = self.local.engine = Engine(
                open_store(self.config.settings.store), self.enrichment
            )
            self.engines.append(engine)
        return engine.run(entry.rule, now, only=only)

    def stop(self) -> None:
        """Stop scheduling; runs under way are abandoned (their rule catches up next
        time, which the marks on events make safe), then close the stores."""
        gevent.killall(self.greenlets)
        self.realtime.stop()
        self.pool.kill()
        for engine in self.engines:
            engine.store.close()
