"""The sections of mozdef.toml that MozDef itself reads.

Later parts of MozDef add their sections as fields of `Settings`; plugins declare their
own `[plugins.<name>]` tables (see `mozdef.core.schema.PluginSettings`).
"""

from pydantic import Field

from mozdef.alerts.settings import AlertsSection
from mozdef.core.http.settings import ServerSettings
from mozdef.core.normalize import NormalizeSettings
from mozdef.core.queue.settings import RabbitSettings
from mozdef.core.schema import Section
from mozdef.core.stores import StoreSection


class GeneralSettings(Section):
    """The `[mozdef]` table: settings of the process itself."""

    hostname: str = Field(
        "",
        description="Name recorded as `mozdefhostname` on every event; "
        "empty means this machine's FQDN.",
    )
    log_level: str = Field(
        "INFO",
        pattern="^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$",
        description="Python logging level: DEBUG, INFO, WARNING, ERROR or CRITICAL.",
    )


class PluginsSection(Section):
    """The `[plugins]` table itself; each plugin's own table sits beneath it."""

    autoload: bool = Field(
        True,
        description="Discover plugins from installed packages (entry-point group `mozdef`). "
        "Built-in plugins always load.",
    )


class Settings(Section):
    """The whole of mozdef.toml, less the per-plugin tables."""

    mozdef: GeneralSettings = Field(default_factory=GeneralSettings)
    normalize: NormalizeSettings = Field(default_factory=NormalizeSettings)
    plugins: PluginsSection = Field(default_factory=PluginsSection)
    store: StoreSection = Field(default_factory=StoreSection)
    rabbitmq: RabbitSettings = Field(default_factory=RabbitSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    alerts: AlertsSection = Field(default_factory=AlertsSection)
