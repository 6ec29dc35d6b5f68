"""The embedded store: SQLite in WAL mode."""

from pydantic import Field

from mozdef.core.schema import Section


class SqliteSettings(Section):
    """The `[store.sqlite]` table."""

    path: str = Field("var/mozdef.sqlite3", description="Database file; its folder is created.")
