"""Running plugins for real in tests: registered through pluggy, configured from a real
mozdef.toml, on events the real normaliser produced."""

from mozdef.core.chain import Chain
from mozdef.core.normalize import Normalizer, NormalizeSettings
from mozdef.core.pluginmanager import Candidate, Plugins

NORMALIZER = Normalizer(NormalizeSettings(), mozdefhostname="mozdef1.example.com")
TIME = "2024-05-14T09:10:01+00:00"


def chain(config_file, toml: str = "", **plugins: object) -> Chain:
    """The started chain of `plugins` (name=object), configured by `toml`."""
    candidates = [Candidate(name, "built-in", plugin) for name, plugin in plugins.items()]
    found = Plugins(config_file(toml), candidates)
    found.start()
    return found.event_chain()
