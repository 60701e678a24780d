"""The Markdown table (``RESULTS.md``) with the machine and versions, and the feed-scale plot."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
from collections.abc import Sequence
from pathlib import Path

from benchmarks.measure import Row, Section

PACKAGES = ("geofence-policy", "maxminddb", "geoip2", "pytricia", "netaddr", "iporigin",
            "fastapi-guard", "uvicorn", "starlette", "matplotlib")  # fmt: skip


def machine() -> list[str]:
    """CPU model, cores, Python and package versions, date."""
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            models = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
        cpu = models[0] if models else cpu
    except OSError:
        pass
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    return [
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- CPU: {cpu}, {os.cpu_count()} cores; {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()} ({platform.python_implementation()})",
        f"- packages: {', '.join(versions)}",
    ]


def _value(row: Row) -> str:
    if row.value is None:
        return "-"
    if row.unit == "ns":
        return f"{row.value:,.0f} ns"
    if row.unit == "s":
        return f"{row.value:.3f} s"
    if row.unit == "req/s":
        return f"{row.value:,.0f} req/s"
    return f"{row.value:,.1f} {row.unit}"


def table(sections: Sequence[Section]) -> list[str]:
    """One Markdown table of every row: absolute median, ratio, target and whether it was met."""
    lines = ["| section | measure | median | ratio | against | target | met | note |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for section in sections:
        for r in section.rows:
            ratio = "" if r.ratio is None else f"{r.ratio:.2f}x"
            met = "" if r.met is None else ("yes" if r.met else "**NO**")
            lines.append(f"| {r.section} | {r.measure} | {_value(r)} | {ratio} | {r.against} "
                         f"| {r.target} | {met} | {r.note} |")  # fmt: skip
    return lines


def markdown(sections: Sequence[Section], *, elapsed: float, command: str) -> str:
    """The whole ``RESULTS.md``."""
    missing = [m for s in sections for m in s.unavailable]
    parts = [
        "# geofence benchmarks",
        "",
        f"Produced by `{command}` in {elapsed:.0f} s. Every figure is a median of repeats;",
        "ratios compare figures measured in this same run, on the same addresses (a fixed,",
        "seeded mix of public IPv4 and IPv6), so background load affects both sides alike.",
        "",
        *machine(),
        "",
        *table(sections),
        "",
        "Notes: `geoip2` refuses DB-IP's flat database type, so the geoip2 rows use MaxMind's",
        "GeoIP2-Country test database over addresses inside its networks. The feed-scale",
        "points are synthesised (seeded public IPv4 prefixes with the feeds' mix of lengths):",
        "the embedded feeds hold about 62k merged ranges. Throughput: a minimal Starlette app",
        "under uvicorn on 127.0.0.1 (proxy headers off, one worker), load from another process",
        "over 8 keep-alive connections, every request allowed (an X-Forwarded-For address from",
        "the trusted 127.0.0.1 proxy, cycling over 1,000 addresses).",
        "",
        "![evaluate and membership cost against feed size](feed_scale.png)",
    ]
    if missing:
        parts += ["", "Not measured in this run:", "", *(f"- {m}" for m in missing)]
    return "\n".join(parts) + "\n"


def plot(section: Section, path: Path) -> bool:
    """Cost against feed size (log-log) as a PNG; False when matplotlib is missing."""
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = section.series
    sizes = [p["ranges"] for p in points]
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    curves = (
        ("evaluate_uncached_ns", "geofence evaluate(), uncached, with the feed", "o-"),
        ("evaluate_cached_ns", "geofence evaluate(), cached", "o--"),
        ("rangeset_ns", "RangeSet membership (str)", "s-"),
        ("rangeset_packed_ns", "RangeSet.labels_packed (bytes)", "s--"),
        ("pytricia_ns", "pytricia membership (str)", "^-"),
        ("netaddr_ns", "netaddr.IPSet membership (str)", "v-"),
    )
    for key, label, style in curves:
        xs = [s for s, p in zip(sizes, points, strict=True) if key in p]
        if xs:
            ax.plot(xs, [p[key] for p in points if key in p], style, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("feed ranges (synthesised IPv4 prefixes)")
    ax.set_ylabel("median cost per address (ns)")
    ax.set_title("Cost against feed size (one run, medians)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def put_block(path: Path, start: str, end: str, block: str) -> None:
    """Replace the text between ``start`` and ``end`` in ``path`` by ``block`` (which carries
    the markers), or append it the first time: each benchmark owns one block of RESULTS.md."""
    text = path.read_text() if path.exists() else ""
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)
