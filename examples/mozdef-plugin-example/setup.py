from setuptools import setup

setup(
    name="mozdef-plugin-example",
    version="0.1.0",
    description="An example MozDef plugin: tags events about watched user names.",
    python_requires=">=3.11",
    packages=["mozdef_plugin_example"],
    install_requires=["mozdef"],
    # MozDef finds plugins through this entry-point group; the name on the left is the
    # plugin's name, used for its [plugins.<name>] table in mozdef.toml.
    entry_points={"mozdef": ["watchlist = mozdef_plugin_example:Watchlist"]},
)
