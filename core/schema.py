"""The building blocks of mozdef.toml's declared schema.

Every table of the file is a `Section`: a pydantic model whose fields each carry a
default and a description. Declaring the schema once gives validation at start-up,
environment overrides and the generated reference file from one source. A plugin
declares its `[plugins.<name>]` table by subclassing `PluginSettings`.
"""

from pydantic import BaseModel, ConfigDict, Field


class Section(BaseModel):
    """A table of mozdef.toml: unknown keys are errors and types are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class PluginSettings(Section):
    """The keys every `[plugins.<name>]` table has; a plugin subclasses this to add its own."""

    enabled: bool = Field(True, description="Run this plugin.")
    priority: int = Field(
        100, description="Position in the chain: lower runs first; ties run in name order."
    )
