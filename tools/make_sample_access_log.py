"""Synthesise tests/data/replay/access.log (nginx combined) and access.jsonl, deterministically.

The addresses are real public addresses: for each country in ``MIX`` the script takes networks
that the embedded DB-IP country database (data/dbip-country.mmdb) places in that country, and
picks an address inside one with a seeded ``random.Random``; times, paths, statuses and user
agents are made up. No real traffic is involved. Run from the repository root:

    python tools/make_sample_access_log.py
    python tools/make_sample_access_log.py --behind-proxy 10.0.0.5 --gzip --out /tmp/logs

``--behind-proxy`` writes the log a server behind a load balancer keeps: the balancer as the
peer and the client in a trailing ``"X-Forwarded-For"`` field (nginx
``"$http_x_forwarded_for"``), as ``geofence replay --trusted-proxy`` reads it.
"""

from __future__ import annotations

import argparse
import gzip
import ipaddress
import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import maxminddb

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "replay"
SEED = 20260601
LINES, JSON_LINES = 2000, 200

# Country -> weight: mostly supported countries, some the example policies deny.
MIX = {
    "US": 30, "GB": 8, "DE": 8, "FR": 6, "JP": 6, "IN": 6, "BR": 5, "CA": 4, "NL": 3, "UA": 3,
    "CN": 6, "RU": 5, "HK": 2, "IR": 2, "CU": 1, "SY": 1, "KP": 1, "BY": 1,
}  # fmt: skip
REQUESTS = [
    ("POST", "/v1/messages", 60), ("GET", "/v1/models", 20), ("GET", "/healthz", 10),
    ("POST", "/v1/messages/batches", 5), ("GET", "/v1/files?limit=20", 5),
]  # fmt: skip
AGENTS = ["python-httpx/0.28.1", "curl/8.14.1", "Mozilla/5.0 (X11; Linux x86_64)", "node-fetch/3"]


def networks_by_country() -> dict[str, list[ipaddress.IPv4Network | ipaddress.IPv6Network]]:
    found: dict[str, list[ipaddress.IPv4Network | ipaddress.IPv6Network]] = {c: [] for c in MIX}
    with maxminddb.open_database(str(ROOT / "data" / "dbip-country.mmdb")) as reader:
        for network, record in reader:
            code = record.get("country_code") if isinstance(record, dict) else None
            if code in found and network.version == 4 and len(found[code]) < 400:
                found[code].append(network)
    return found


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Write a deterministic sample access.log (nginx combined) and access.jsonl.",
        epilog="example: python tools/make_sample_access_log.py --behind-proxy 10.0.0.5 --gzip",
    )
    parser.add_argument("--out", type=Path, default=OUT, help=f"directory (default {OUT})")
    parser.add_argument("--seed", type=int, default=SEED, help=f"random seed (default {SEED})")
    parser.add_argument(
        "--behind-proxy",
        metavar="ADDRESS",
        help="log this balancer address as the peer, the client as a trailing X-Forwarded-For",
    )
    parser.add_argument("--gzip", action="store_true", help="write access.log.gz instead")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = _arguments(argv)
    out_dir, proxy = args.out, args.behind_proxy
    rng = random.Random(args.seed)
    nets = networks_by_country()
    countries, weights = list(MIX), list(MIX.values())
    requests, request_weights = [r[:2] for r in REQUESTS], [r[2] for r in REQUESTS]
    start = datetime(2026, 6, 1, tzinfo=timezone.utc)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines, records = [], []
    for i in range(LINES + JSON_LINES):
        country = rng.choices(countries, weights)[0]
        net = rng.choice(nets[country])
        size = net.num_addresses
        ip = net[rng.randrange(1, size - 1) if size > 2 else 0]
        method, path = rng.choices(requests, request_weights)[0]
        when = start + timedelta(seconds=i * 7 + rng.randrange(7))
        status, size = rng.choice([(200, 1532), (200, 880), (201, 96), (429, 64)])
        agent = rng.choice(AGENTS)
        if i < LINES:
            stamp = when.strftime("%d/%b/%Y:%H:%M:%S +0000")
            peer, forwarded = (ip, "") if proxy is None else (proxy, f' "{ip}"')
            lines.append(
                f'{peer} - - [{stamp}] "{method} {path} HTTP/1.1" {status} {size} "-" '
                f'"{agent}"{forwarded}'
            )
        else:
            records.append(
                {
                    "time": when.isoformat(),
                    "client_ip": str(ip),
                    "method": method,
                    "path": path,
                    "status": status,
                }
            )
    lines.insert(100, "this line is not a log line")
    lines.insert(200, '- - - [01/Jun/2026:00:30:00 +0000] "GET / HTTP/1.1" 400 0 "-" "-"')
    log = ("\n".join(lines) + "\n").encode("utf-8")
    if args.gzip:
        # mtime=0: the same bytes on every run, like the plain files.
        (out_dir / "access.log.gz").write_bytes(gzip.compress(log, mtime=0))
    else:
        (out_dir / "access.log").write_bytes(log)
    text = "".join(json.dumps(r) + "\n" for r in records)
    (out_dir / "access.jsonl").write_text(text, encoding="utf-8")
    print(f"{out_dir}: {len(lines)} log lines, {len(records)} JSON lines")


if __name__ == "__main__":
    main()
