"""The default sink: events processed and stored in this process.

MozDef's pipeline (normaliser and plugin chain) runs in the server's hub thread; the
store runs on a thread of its own (`StoreThread`); a `Committer` groups the batches of
concurrent requests into shared commits.
"""

from collections.abc import Sequence

from mozdef.alerts.service import AlertService, notify_in_process
from mozdef.core.app import MozDef
from mozdef.core.config import Config
from mozdef.core.http.committer import Committer
from mozdef.core.http.metrics import Collected, Histogram, Registry, plugin_samples, plugin_seconds
from mozdef.core.ingest import Ingestor, RawEvent, Result
from mozdef.core.stores import open_store
from mozdef.core.storethread import StoreThread

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class EmbeddedSink:
    """A `Sink` that runs the pipeline and commits to the configured store."""

    def __init__(self, config: Config, registry: Registry, alerts: bool = True) -> None:
        """`alerts`: this process also runs the alert rules and the bots (if
        `[alerts] enabled`); one process of several does."""
        latency = Histogram(
            "mozdef_store_write_seconds", "Time taken by each store commit.", LATENCY_BUCKETS
        )
        self.mozdef = MozDef(config)
        plugins = self.mozdef.plugins
        try:
            self.alerts = (
                AlertService(config, plugins, notify_in_process(plugins), registry)
                if alerts and config.settings.alerts.enabled
                else None
            )
            self.store = StoreThread(lambda: open_store(config.settings.store), latency)
        except BaseException:
            self.mozdef.close()
            raise
        on_stored = (
            self.alerts.realtime.stored if self.alerts and self.alerts.realtime.rules else None
        )
        self.committer = Committer(Ingestor(self.mozdef, self.store, on_stored).ingest)
        stats = self.mozdef.chain.stats
        registry.add(latency)
        registry.add(
            Collected(
                "mozdef_commit_queue_events",
                "gauge",
                "Events waiting for the next group commit.",
                (),
                lambda: [((), self.committer.pending_events)],
            )
        )
        registry.add(
            Collected(
                "mozdef_plugin_events_total",
                "counter",
                "Events each plugin saw, changed, dropped, or failed on.",
                ("plugin", "outcome"),
                plugin_samples(stats),
            )
        )
        registry.add(
            Collected(
                "mozdef_plugin_seconds_total",
                "counter",
                "Time spent in each plugin.",
                ("plugin",),
                plugin_seconds(stats),
            )
        )

        if self.alerts is not None:  # the bots first, so the first alerts reach them
            try:
                self.mozdef.plugins.start_notifiers()
                self.alerts.start()
            except BaseException:
                self.close()
                raise

    def accept(self, batch: Sequence[RawEvent]) -> list[Result]:
        return self.committer.accept(batch)

    def close(self) -> None:
        try:
            if self.alerts is not None:
                self.alerts.stop()
            self.committer.close()
            self.store.close()
        finally:
            self.mozdef.close()
