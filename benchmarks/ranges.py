"""Range membership: geofence's ``RangeSet`` against ``pytricia``, ``netaddr.IPSet`` and a linear
scan on the embedded feeds' real ranges, and how cost and memory grow from 10k to 1M ranges.

The embedded feeds hold about 62k merged ranges, so the scale points are synthesised: seeded,
real-looking public IPv4 prefixes with the feeds' mix of lengths (mostly /24 and /32).

    python -m benchmarks.ranges memory KIND FILE   # one memory probe, in a fresh process
"""

from __future__ import annotations

import ipaddress
import json
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.addresses import public_addresses
from benchmarks.lookups import feed_addresses
from benchmarks.measure import Section, Sizes, each, have, per_call_ns, ratio, rss_bytes
from geofence import Geofence
from geofence.embedded import example_policy_path
from geofence.reputation.feedset import open_feeds
from geofence.reputation.range_builder import RangeSetBuilder
from geofence.reputation.ranges import RangeSet
from geofence.vocab.feeds import FeedSpec

_PREFIXES = (32, 32, 32, 24, 24, 24, 24, 23, 22, 22, 21, 20, 19, 18, 16, 28, 29, 30)
_inet_pton, _AF_INET, _AF_INET6 = socket.inet_pton, socket.AF_INET, socket.AF_INET6


def synthetic_cidrs(count: int, *, seed: int = 3) -> list[str]:
    """``count`` distinct public IPv4 CIDRs with a feed-like mix of prefix lengths."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < count:
        length = rng.choice(_PREFIXES)
        value = rng.randrange(1 << 24, 224 << 24) >> (32 - length) << (32 - length)
        if not ipaddress.IPv4Address(value).is_global:
            continue
        text = f"{socket.inet_ntoa(value.to_bytes(4, 'big'))}/{length}"
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def _cidrs_of(rs: RangeSet) -> list[str]:
    """The ranges of a set as CIDRs, for the peers that only take prefixes."""
    out = []
    for version in (4, 6):
        make = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
        for first, last, _ in rs.intervals(version):
            out.extend(str(n) for n in ipaddress.summarize_address_range(make(first), make(last)))
    return out


def _rangeset(cidrs: Sequence[str]) -> RangeSet:
    builder = RangeSetBuilder()
    labels = frozenset({"feed"})
    for text in cidrs:
        builder.add_text(text, labels)
    return builder.build()


def _membership(rs: RangeSet) -> Callable[[str], bool]:
    """``a in rs`` in the same lambda-and-``in`` shape as the pytricia peer, so the two
    comparisons run the same loop over the same strings."""
    return lambda a: a in rs


def _pytricia(cidrs: Sequence[str]) -> Callable[[str], bool]:
    import pytricia

    # One trie per family (a 32-bit trie refuses IPv6 text); the ``":"`` test picks it.
    v4, v6 = pytricia.PyTricia(32), pytricia.PyTricia(128)
    for text in cidrs:
        (v6 if ":" in text else v4)[text] = True
    return lambda a: a in (v6 if ":" in a else v4)


def _netaddr(cidrs: Sequence[str]) -> Callable[[str], bool]:
    import netaddr

    ipset = netaddr.IPSet(cidrs)
    return ipset.__contains__


def _packed(addresses: Sequence[str]) -> list[bytes]:
    return [_inet_pton(_AF_INET6 if ":" in a else _AF_INET, a) for a in addresses]


def _timed_build(build: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    built = build()
    return built, time.perf_counter() - start


def real_ranges(sizes: Sizes, addresses: Sequence[str]) -> Section:
    """Membership on the embedded feeds' real ranges, same addresses for every structure."""
    s = Section("ranges")
    feeds = open_feeds("embedded")
    assert feeds is not None
    rs = feeds.ranges
    half = len(addresses) // 2
    probe = [*addresses[:half], *feed_addresses(feeds, half)]
    n, rep = len(probe), sizes.repeat
    packed = _packed(probe)
    note = f"{len(rs)} merged ranges of the embedded feeds, half the addresses listed"
    ours = per_call_ns(each(_membership(rs), probe), n, rep)
    hot = per_call_ns(each(rs.labels_packed, packed), n, rep)
    s.add("RangeSet: address in set (str)", ours, "ns", note=note)
    s.add("RangeSet.labels_packed (bytes, the hot path)", hot, "ns", note=note)
    cidrs = _cidrs_of(rs)
    scan_v4 = rs.intervals(4)
    few = [int.from_bytes(p, "big") for p in packed if len(p) == 4][:100]

    def scan(value: int) -> bool:
        return any(first <= value <= last for first, last, _ in scan_v4)

    linear = per_call_ns(each(scan, few), len(few), 1)
    s.add("linear scan (IPv4 intervals)", linear, "ns", ratio=ratio(ours, linear),
          against="RangeSet / scan", note=f"{len(few)} addresses")  # fmt: skip
    why = have("pytricia")
    if why:
        s.missing("pytricia", why)
    else:
        contains = _pytricia(cidrs)
        theirs = per_call_ns(each(contains, probe), n, rep)
        s.add("pytricia: address in trie (str)", theirs, "ns", ratio=ratio(ours, theirs),
              against="RangeSet / pytricia", target="<= 1x", met=ours <= theirs,
              note=f"{len(cidrs)} CIDRs")  # fmt: skip
    why = have("netaddr")
    if why:
        s.missing("netaddr.IPSet", why)
    else:
        contains = _netaddr(cidrs)
        theirs = per_call_ns(each(contains, probe), n, max(1, rep // 2))
        s.add("netaddr.IPSet: address in set (str)", theirs, "ns", ratio=ratio(ours, theirs),
              against="RangeSet / netaddr", note=f"{len(cidrs)} CIDRs")  # fmt: skip
    return s


def _memory_probe(kind: str, path: Path) -> int:
    """Resident bytes added by building ``kind`` from the CIDRs in ``path`` (fresh process)."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.ranges", "memory", kind, str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(json.loads(out.stdout)["added"])


def _feed_geofence(path: Path) -> Geofence:
    spec = FeedSpec(name="synthetic", tag="vpn", format="plain", path=str(path))
    return Geofence(example_policy_path(), reload_interval=None, cache_size=1 << 20, feeds=[spec])


def scale(sizes: Sizes, addresses: Sequence[str]) -> Section:
    """Build time, bytes per range and lookup cost from 10k to 1M ranges; ``evaluate()`` with a
    feed of that size. One series point per size, for the plot."""
    s = Section("feed scale")
    n, rep = len(addresses), sizes.repeat
    packed = _packed(addresses)
    plain = Geofence(example_policy_path(), reload_interval=None, cache_size=1 << 20)
    base = _uncached(plain, addresses, rep)
    plain.close()
    s.add("evaluate() uncached, no feeds", base, "ns")
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes.feed_sizes:
            cidrs = synthetic_cidrs(size)
            # Half the addresses inside listed prefixes, so lookups hit and miss.
            probe = [*addresses[: n // 2], *(c.split("/")[0] for c in cidrs[: n - n // 2])]
            path = Path(tmp) / f"feed-{size}.txt"
            path.write_text("\n".join(cidrs) + "\n")
            point = _scale_point(s, size, cidrs, probe, packed, path, sizes, base, addresses)
            s.series.append(point)
    return s


def _uncached(gf: Geofence, addresses: Sequence[str], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        gf.clear_cache()
        samples.append(per_call_ns(each(gf.evaluate, addresses), len(addresses), 1))
    return sorted(samples)[len(samples) // 2]


def _scale_point(
    s: Section,
    size: int,
    cidrs: list[str],
    probe: list[str],
    packed: list[bytes],
    path: Path,
    sizes: Sizes,
    base: float,
    addresses: Sequence[str],
) -> dict[str, Any]:
    rep, n = sizes.repeat, len(probe)
    label = f"{size:,} ranges"
    rs, build_s = _timed_build(lambda: _rangeset(cidrs))
    point: dict[str, Any] = {"ranges": size, "rangeset_build_s": build_s}
    point["rangeset_ns"] = per_call_ns(each(_membership(rs), probe), n, rep)
    point["rangeset_packed_ns"] = per_call_ns(each(rs.labels_packed, _packed(probe)), n, rep)
    point["rangeset_bytes_per_range"] = rs.nbytes() / max(1, len(rs))
    s.add(f"RangeSet build, {label}", build_s, "s", target="< 3 s (1M)",
          met=build_s < 3 if size >= 1_000_000 else None)  # fmt: skip
    s.add(f"RangeSet bytes per range, {label}", point["rangeset_bytes_per_range"], "B",
          target="<= 32 B", met=point["rangeset_bytes_per_range"] <= 32,
          note=f"{len(rs)} intervals after merging; arrays + bucket index")  # fmt: skip
    s.add(f"RangeSet membership, {label}", point["rangeset_ns"], "ns")
    del rs
    if have("pytricia") is None:
        contains, point["pytricia_build_s"] = _timed_build(lambda: _pytricia(cidrs))
        point["pytricia_ns"] = per_call_ns(each(contains, probe), n, rep)
        point["pytricia_rss_bytes_per_range"] = _memory_probe("pytricia", path) / size
        del contains
        r = ratio(point["rangeset_ns"], point["pytricia_ns"])
        s.add(f"pytricia membership, {label}", point["pytricia_ns"], "ns", ratio=r,
              against="RangeSet / pytricia", target="<= 1x", met=r <= 1,
              note=f"RSS added: {point['pytricia_rss_bytes_per_range']:.0f} B/range "
              "(fresh process)")  # fmt: skip
    if have("netaddr") is None and size <= sizes.netaddr_max:
        contains, point["netaddr_build_s"] = _timed_build(lambda: _netaddr(cidrs))
        point["netaddr_ns"] = per_call_ns(each(contains, probe), n, max(1, rep // 2))
        del contains
        s.add(f"netaddr.IPSet membership, {label}", point["netaddr_ns"], "ns",
              ratio=ratio(point["rangeset_ns"], point["netaddr_ns"]),
              against="RangeSet / netaddr",
              note=f"build {point['netaddr_build_s']:.1f} s")  # fmt: skip
    gf, point["geofence_build_s"] = _timed_build(lambda: _feed_geofence(path))
    try:
        point["evaluate_uncached_ns"] = _uncached(gf, addresses, rep)
        for a in addresses:
            gf.evaluate(a)
        point["evaluate_cached_ns"] = per_call_ns(each(gf.evaluate, addresses), len(addresses), rep)
    finally:
        gf.close()
    point["geofence_rss_mb"] = _memory_probe("geofence", path) / 2**20
    r = ratio(point["evaluate_uncached_ns"], base)
    s.add(f"evaluate() uncached, feed of {label}", point["evaluate_uncached_ns"], "ns", ratio=r,
          against="uncached without feeds",
          note=f"Geofence with it: built in {point['geofence_build_s']:.2f} s, "
          f"{point['geofence_rss_mb']:.0f} MB RSS")  # fmt: skip
    return point


def _probe_main(kind: str, path: str) -> None:
    """Build one structure from a CIDR file and print the resident memory it added."""
    cidrs = Path(path).read_text().split()
    before = rss_bytes()
    if kind == "rangeset":
        built: object = _rangeset(cidrs)
    elif kind == "pytricia":
        built = _pytricia(cidrs)
    else:
        before = rss_bytes()
        built = _feed_geofence(Path(path))
    del cidrs
    import gc

    gc.collect()
    print(json.dumps({"added": rss_bytes() - before, "built": repr(type(built))}))


def public_probe(count: int) -> list[str]:
    """The fixed address mix (re-exported for the tests)."""
    return public_addresses(count)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "memory":
        _probe_main(sys.argv[2], sys.argv[3])
    else:
        print(__doc__)
