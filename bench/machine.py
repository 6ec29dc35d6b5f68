"""A one-line description of the machine, printed with every benchmark's figures."""

import os
import platform


def describe() -> str:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{model}, {os.cpu_count()} core(s), {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.system()} {platform.release()}"
    )


def pin_to_one_core() -> int:
    """Run on one core, so that figures mean 'per core' whatever the machine."""
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return core
