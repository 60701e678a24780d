"""Synthesise tests/data/replay/access.log (nginx combined) and access.jsonl, deterministically.

The addresses are real public addresses: for each country in ``MIX`` the script takes networks
that the embedded DB-IP country database (data/dbip-country.mmdb) places in that country, and
picks an address inside one with a seeded ``random.Random``; times, paths, statuses and user
agents are made up. No real traffic is involved. Run from the repository root:

    python tools/make_sample_access_log.py
"""

from __future__ import annotations

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


def main() -> None:
    rng = random.Random(SEED)
    nets = networks_by_country()
    countries, weights = list(MIX), list(MIX.values())
    requests, request_weights = [r[:2] for r in REQUESTS], [r[2] for r in REQUESTS]
    start = datetime(2026, 6, 1, tzinfo=timezone.utc)
    OUT.mkdir(parents=True, exist_ok=True)
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
            lines.append(
                f'{ip} - - [{stamp}] "{method} {path} HTTP/1.1" {status} {size} "-" "{agent}"'
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
    (OUT / "access.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    text = "".join(json.dumps(r) + "\n" for r in records)
    (OUT / "access.jsonl").write_text(text, encoding="utf-8")
    print(f"{OUT}: {len(lines)} log lines, {len(records)} JSON lines")


if __name__ == "__main__":
    main()
