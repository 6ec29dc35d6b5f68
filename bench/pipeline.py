"""Normalisation plus the plugin chain, on a mixed corpus of realistic events.

Prints events/s for normalisation alone, with the parsers alone, and with the full
default chain (best of three runs each), then what each plugin costs: the share of
events it runs on, the time spent inside it per event of the corpus (from the chain's
own counters, which is steadier than a difference of two rates on a busy machine), and
the chain's rate with it disabled.
"""

import collections
import itertools
import time
from pathlib import Path

import orjson

from mozdef.core.app import MozDef
from mozdef.core.config import load_config
from mozdef.core.event import EventMeta
from mozdef.core.parsing import PARSER_PRIORITY

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "tests" / "samples"
CONFIG = Path(__file__).resolve().parent / "mozdef.bench.toml"


def load_corpus(size: int) -> tuple[list[bytes], collections.Counter]:
    """`size` raw event lines, cycling through every sample file in turn."""
    per_file = {
        path.stem: [line for line in path.read_bytes().splitlines() if line.strip()]
        for path in sorted(SAMPLES.glob("*.ndjson"))
    }
    if not per_file:
        raise SystemExit(f"no samples in {SAMPLES}")
    interleaved = [
        (name, line)
        for group in itertools.zip_longest(*[[(n, x) for x in v] for n, v in per_file.items()])
        for name, line in filter(None, group)
    ]
    chosen = list(itertools.islice(itertools.cycle(interleaved), size))
    return [line for _, line in chosen], collections.Counter(name for name, _ in chosen)


RUNS = 3


def parsers(mozdef: MozDef) -> set[str]:
    """The parser plugins: by convention, those at the parsers' priority."""
    return {
        info.name for info in mozdef.plugins.enabled if info.settings.priority == PARSER_PRIORITY
    }


def disabled(names: list[str]) -> dict[str, str]:
    """Environment overrides that switch the named plugins off."""
    return {f"MOZDEF_PLUGINS_{name.upper()}_ENABLED": "false" for name in names}


def rate(mozdef: MozDef, lines: list[bytes], normalise_only: bool = False) -> float:
    """Events per second through the pipeline, best of RUNS; JSON parsing is not timed."""
    best = 0.0
    for _ in range(RUNS):
        raws = [orjson.loads(line) for line in lines]
        started = time.perf_counter()
        if normalise_only:
            normalize = mozdef.normalizer.normalize
            for raw in raws:
                normalize(raw)
        else:
            process, meta = mozdef.process, EventMeta(source="bench")
            for raw in raws:
                process(raw, meta)
        best = max(best, len(lines) / (time.perf_counter() - started))
    return best


def run(size: int) -> None:
    lines, mix = load_corpus(size)
    print(f"corpus: {size} events; mix: " + ", ".join(f"{k} {v}" for k, v in sorted(mix.items())))
    with MozDef(load_config(CONFIG, {})) as mozdef:
        normalise = rate(mozdef, lines, normalise_only=True)
        full = rate(mozdef, lines)
        chained = RUNS * len(lines)
        stats = mozdef.chain.stats()
        names = list(stats)
        parser_names = parsers(mozdef)
        others = [info.name for info in mozdef.plugins.enabled if info.name not in parser_names]
        parser_count = len(parser_names & set(names))
    with MozDef(load_config(CONFIG, disabled(others))) as mozdef:
        parsers_only = rate(mozdef, lines)
    print(f"normalisation alone:        {normalise:>10,.0f} events/s")
    print(f"normalisation + {parser_count:2d} parsers: {parsers_only:>10,.0f} events/s")
    print(f"normalisation + {len(names):2d} plugins: {full:>10,.0f} events/s (the default chain)")
    print()
    print(f"{'plugin':<22}{'runs on':>8}{'µs/event inside':>17}{'events/s without it':>21}")
    for name in names:
        with MozDef(load_config(CONFIG, disabled([name]))) as mozdef:
            without = rate(mozdef, lines)
        share = stats[name].seen / chained
        inside = stats[name].nanoseconds / chained / 1000
        print(f"{name:<22}{share:>8.0%}{inside:>17.2f}{without:>21,.0f}")
