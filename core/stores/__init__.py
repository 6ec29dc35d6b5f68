"""The store back ends, and the choice between them made in mozdef.toml's `[store]`."""

from typing import Literal

from pydantic import Field

from mozdef.core.schema import Section
from mozdef.core.store import Store
from mozdef.core.stores.cluster import ClusterSettings, ClusterStore
from mozdef.core.stores.sqlite import SqliteSettings, SqliteStore


class StoreSection(Section):
    """The `[store]` table: which store keeps events and alerts, and its settings."""

    backend: Literal["sqlite", "elasticsearch", "opensearch"] = Field(
        "sqlite", description="sqlite (embedded, the default), elasticsearch or opensearch."
    )
    sqlite: SqliteSettings = Field(default_factory=SqliteSettings)
    elasticsearch: ClusterSettings = Field(default_factory=ClusterSettings)
    opensearch: ClusterSettings = Field(default_factory=ClusterSettings)


def open_store(settings: StoreSection) -> Store:
    """The configured store, connected; cluster client libraries load only when chosen."""
    if settings.backend == "sqlite":
        return SqliteStore(settings.sqlite)
    cluster = settings.elasticsearch if settings.backend == "elasticsearch" else settings.opensearch
    return ClusterStore(settings.backend, cluster)
