"""`python -m bench [WHICH...]`: run benchmarks and print their figures.

WHICH is any of pipeline, store, alerts, bots, http, queue (default: all). The pipeline and store
benchmarks run pinned to one core; http and queue start several processes and use
every core. `make bench` runs them all; wrk (Debian's package) is needed for http.
"""

import sys

from bench import alerts, bots, http, machine, pipeline, queue, store

BENCHMARKS = {
    "pipeline": lambda: pipeline.run(100_000),
    "store": lambda: store.run(),
    "alerts": lambda: alerts.run(),
    "bots": lambda: bots.run(),
    "http": lambda: http.run(),
    "queue": lambda: queue.run(),
}


def main() -> None:
    chosen = sys.argv[1:] or list(BENCHMARKS)
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    print(f"machine: {machine.describe()}")
    core = machine.pin_to_one_core()
    print(f"pinned to core {core} (http and queue lift the pin for their processes)")
    for name in chosen:
        print(f"\n== {name}")
        BENCHMARKS[name]()


main()
