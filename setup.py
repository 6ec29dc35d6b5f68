"""Packaging: the top-level code folders install as the one import package `mozdef`.

`core/`, `plugins/`, `alerts/` and `bots/` become `mozdef.core`, `mozdef.plugins`, ... so
that nothing with a generic name such as `core` lands in site-packages. `mozdef` itself is
a namespace package: it has no code of its own.
"""

from pathlib import Path

from setuptools import setup

CODE_FOLDERS = ("core", "plugins", "alerts", "bots")


def read_version() -> str:
    namespace: dict[str, str] = {}
    exec(Path("core/version.py").read_text(encoding="utf-8"), namespace)
    return namespace["__version__"]


setup(
    name="mozdef",
    version=read_version(),
    description="A plugin-driven security event router: normalise, enrich, store, alert.",
    long_description=Path("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MPL-2.0",
    python_requires=">=3.11",
    packages=[f"mozdef.{folder}" for folder in CODE_FOLDERS],
    package_dir={f"mozdef.{folder}": folder for folder in CODE_FOLDERS},
    include_package_data=True,
    install_requires=[
        "pluggy>=1.5",
        "orjson>=3.9",
        "pydantic>=2.6",
        "click>=8.1",
        "netaddr>=1.0",
        "maxminddb>=2.5",
    ],
    extras_require={
        "test": ["pytest>=8", "ruff>=0.6"],
    },
    entry_points={
        "console_scripts": ["mozdef = mozdef.core.cli:main"],
        # Built-in plugins register exactly as third-party ones do. Keep sorted.
        "mozdef": [
        ],
    },
)
