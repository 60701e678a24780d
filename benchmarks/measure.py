"""What every section shares: sizes, timing helpers, result rows and memory probes."""

from __future__ import annotations

import gc
import importlib.util
import resource
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Sizes:
    """How much work each section does: ``full()`` for the published run, ``tiny()`` for tests."""

    addresses: int
    repeat: int
    feed_sizes: tuple[int, ...]
    netaddr_max: int  # netaddr.IPSet builds slowly: only sizes up to this
    rule_counts: tuple[int, ...]
    startup_runs: int
    serve_seconds: float
    serve_rounds: int
    geoip2_addresses: int

    @classmethod
    def full(cls) -> Sizes:
        return cls(20_000, 7, (10_000, 100_000, 1_000_000), 100_000, (1, 10, 100, 1000), 5,
                   3.0, 3, 5_000)  # fmt: skip

    @classmethod
    def tiny(cls) -> Sizes:
        return cls(300, 2, (1_000, 3_000), 1_000, (1, 10), 1, 0.5, 1, 200)


@dataclass(frozen=True)
class Row:
    """One measured figure: an absolute median and, where it has one, a ratio and target."""

    section: str
    measure: str
    value: float | None
    unit: str
    ratio: float | None = None
    against: str = ""
    target: str = ""
    met: bool | None = None
    note: str = ""


@dataclass
class Section:
    """The rows of one section, plus any series a plot needs, plus what could not be run."""

    name: str
    rows: list[Row] = field(default_factory=list)
    series: list[dict[str, Any]] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)

    def add(self, measure: str, value: float | None, unit: str, **extra: Any) -> Row:
        row = Row(self.name, measure, value, unit, **extra)
        self.rows.append(row)
        return row

    def missing(self, what: str, reason: str) -> None:
        """Record a measure that could not be taken, and why."""
        self.unavailable.append(f"{what}: not available ({reason})")
        self.rows.append(Row(self.name, what, None, "", note=f"not available ({reason})"))


def per_call_ns(run: Callable[[], object], calls: int, repeat: int) -> float:
    """Median over ``repeat`` runs of ``run()`` of the time per call, in nanoseconds."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        run()
        samples.append((time.perf_counter_ns() - start) / calls)
    return statistics.median(samples)


def each(func: Callable[[Any], object], items: Sequence[Any]) -> Callable[[], None]:
    """A loop calling ``func`` on every item, for ``per_call_ns``."""

    def run() -> None:
        for item in items:
            func(item)

    return run


def median_s(run: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``run()`` in seconds."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def rss_bytes() -> int:
    """This process's resident set size now (Linux ``/proc/self/statm``)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def rss_added(build: Callable[[], object]) -> tuple[object, int]:
    """``build()``'s result and the resident memory it added (bytes, after a collection)."""
    gc.collect()
    before = rss_bytes()
    built = build()
    gc.collect()
    return built, rss_bytes() - before


def have(*modules: str) -> str | None:
    """``None`` when every module imports, else why not (for ``Section.missing``)."""
    absent = [m for m in modules if importlib.util.find_spec(m) is None]
    if absent:
        return f"{', '.join(absent)} not installed: pip install -e '.[bench]'"
    return None


def ratio(value: float, baseline: float) -> float:
    return value / baseline if baseline else float("inf")


def geomean(values: Iterable[float]) -> float:
    return statistics.geometric_mean(list(values))
