"""`python -m bench [EVENTS]`: run every benchmark and print its figures."""

import sys

from bench import machine, pipeline


def main() -> None:
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    core = machine.pin_to_one_core()
    print(f"machine: {machine.describe()}; pinned to core {core}")
    print()
    pipeline.run(size)


main()
