"""A configured MozDef: settings validated, plugins started, the pipeline ready.

Everything that can be done once is done here, at start-up, so that `process` does
only per-event work: normalise, then run the plugin chain.
"""

import socket
from collections.abc import Callable, Iterable
from datetime import datetime
from types import TracebackType

from mozdef.core.config import Config
from mozdef.core.event import EventMeta
from mozdef.core.normalize import UTC_NOW, Normalizer
from mozdef.core.pluginmanager import Candidate, Plugins


class MozDef:
    """The running pipeline. Use as a context manager so that plugins are shut down."""

    def __init__(
        self,
        config: Config,
        plugins: Iterable[Candidate] | None = None,
        clock: Callable[[], datetime] = UTC_NOW,
    ) -> None:
        """Validate the configuration against the installed plugins (or those given) and
        start them. Raises `ConfigError` or `PluginError` with a message for the operator.
        `clock` gives each event's receipt time (`mozdef alerts test` fixes it)."""
        self.config = config
        self.plugins = Plugins(config, plugins)
        hostname = config.settings.mozdef.hostname or socket.getfqdn()
        self.normalizer = Normalizer(
            config.settings.normalize, mozdefhostname=hostname, clock=clock
        )
        self.plugins.start()
        self.chain = self.plugins.event_chain()

    def process(self, raw: object, meta: EventMeta) -> dict | None:
        """Normalise a raw event and run it through the chain; None if a plugin dropped it.
        Raises `MalformedEvent` for input that cannot be an event."""
        return self.chain.run(self.normalizer.normalize(raw), meta)

    def process_custom(self, raw: object, application: str, meta: EventMeta) -> dict | None:
        """`process` for the custom endpoint: the event keeps its own shape (no alias
        normalisation) but still runs through the chain."""
        return self.chain.run(self.normalizer.accept_custom(raw, application), meta)

    def close(self) -> None:
        self.plugins.shutdown()

    def __enter__(self) -> "MozDef":
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
