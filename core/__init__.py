"""MozDef's core. Plugin authors need only what is imported here:

from mozdef.core import DROP, EventMeta, PluginSettings, hookimpl
"""

from mozdef.core.event import DROP, EventMeta
from mozdef.core.hookspecs import hookimpl
from mozdef.core.schema import PluginSettings
from mozdef.core.version import __version__

__all__ = ["DROP", "EventMeta", "PluginSettings", "__version__", "hookimpl"]
