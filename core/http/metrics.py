"""Counters, gauges and histograms in Prometheus's text exposition format (version 0.0.4),
served at `GET /metrics`.

Small on purpose: counters the server bumps, histograms it observes, and families read
from elsewhere at scrape time (the plugin chain's own counters, queue depths), which
cost nothing between scrapes.
"""

import bisect
from collections.abc import Callable, Iterable

Labels = tuple[str, ...]
Sample = tuple[Labels, float]
# (name, type, help, [(sample name, labels, value)]): a family's samples as plain data.
Family = tuple[str, str, str, list[tuple[str, dict[str, str], float]]]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Counter:
    def __init__(self, name: str, help: str, labelnames: Labels = ()) -> None:
        self.name, self.help, self.labelnames = name, help, labelnames
        self.kind = "counter"
        self.values: dict[Labels, float] = {}

    def inc(self, *labels: str, amount: float = 1) -> None:
        self.values[labels] = self.values.get(labels, 0) + amount

    def samples(self) -> Iterable[tuple[str, dict[str, str], float]]:
        for labels, value in self.values.items():
            yield self.name, dict(zip(self.labelnames, labels, strict=True)), value


class Histogram:
    """Observations (seconds, say) counted into cumulative buckets."""

    def __init__(self, name: str, help: str, buckets: tuple[float, ...]) -> None:
        self.name, self.help, self.buckets = name, help, buckets
        self.kind = "histogram"
        self.counts = [0] * (len(buckets) + 1)  # the last is +Inf
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sum += value

    def samples(self) -> Iterable[tuple[str, dict[str, str], float]]:
        total = 0
        for bound, count in zip([*map(str, self.buckets), "+Inf"], self.counts, strict=True):
            total += count
            yield f"{self.name}_bucket", {"le": bound}, total
        yield f"{self.name}_sum", {}, self.sum
        yield f"{self.name}_count", {}, total


class Collected:
    """A family whose samples are read when scraped."""

    def __init__(
        self,
        name: str,
        kind: str,
        help: str,
        labelnames: Labels,
        read: Callable[[], Iterable[Sample]],
    ) -> None:
        self.name, self.kind, self.help, self.labelnames = name, kind, help, labelnames
        self.read = read

    def samples(self) -> Iterable[tuple[str, dict[str, str], float]]:
        for labels, value in self.read():
            yield self.name, dict(zip(self.labelnames, labels, strict=True)), value


Metric = Counter | Histogram | Collected


class Registry:
    def __init__(self) -> None:
        self.metrics: list[Metric] = []

    def add(self, metric: Metric) -> Metric:
        self.metrics.append(metric)
        return metric

    def families(self) -> list[Family]:
        """Every metric's current samples, as plain data (for `render` and `merge`)."""
        return [(m.name, m.kind, m.help, list(m.samples())) for m in self.metrics]

    def render(self) -> bytes:
        return render(self.families())


def render(families: Iterable[Family]) -> bytes:
    lines = []
    for name, kind, help, samples in families:
        lines.append(f"# HELP {name} {help}")
        lines.append(f"# TYPE {name} {kind}")
        for sample, labels, value in samples:
            lines.append(f"{sample}{format_labels(labels)} {format_value(value)}")
    return ("\n".join(lines) + "\n").encode()


def merge(snapshots: Iterable[list[Family]]) -> list[Family]:
    """The families of several processes as one: samples with the same name and labels
    are added up (counts, sums, and gauges such as requests under way alike)."""
    families: dict[str, tuple[str, str, dict[tuple, list]]] = {}
    for snapshot in snapshots:
        for name, kind, help, samples in snapshot:
            merged = families.setdefault(name, (kind, help, {}))[2]
            for sample, labels, value in samples:
                key = (sample, tuple(labels.items()))
                if key in merged:
                    merged[key][2] += value
                else:
                    merged[key] = [sample, labels, value]
    return [
        (name, kind, help, [tuple(sample) for sample in merged.values()])
        for name, (kind, help, merged) in families.items()
    ]


def format_labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    pairs = ",".join(f'{key}="{escape(value)}"' for key, value in labels.items())
    return "{" + pairs + "}"


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def format_value(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def plugin_samples(stats: Callable[[], dict]) -> Callable[[], Iterable[Sample]]:
    """The plugin chain's counters (`Chain.stats()`) as samples by plugin and outcome."""

    def read() -> Iterable[Sample]:
        for name, counts in stats().items():
            for outcome in ("seen", "changed", "dropped", "errors"):
                yield (name, outcome), getattr(counts, outcome)

    return read


def plugin_seconds(stats: Callable[[], dict]) -> Callable[[], Iterable[Sample]]:
    def read() -> Iterable[Sample]:
        for name, counts in stats().items():
            yield (name,), counts.nanoseconds / 1e9

    return read
