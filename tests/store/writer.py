"""A writer process for the concurrency test: ``python writer.py URL TAG THREADS N``.

Each of THREADS threads applies N updates: +1 to a shared count, a member of its own to a
shared distinct counter, and a private count; it prints one JSON line when done.
"""

from __future__ import annotations

import json
import sys
import threading

from geofence.store import Op, open_store

T0 = 1_780_000_000.0


def main(url: str, tag: str, threads: int, n: int) -> None:
    store = open_store(url)
    errors: list[str] = []
    last: dict[int, int] = {}

    def work(t: int) -> None:
        try:
            for i in range(n):
                ops = [
                    Op("count", "g:shared", "hits"),
                    Op("distinct", "g:shared", "members", f"{tag}-{t}-{i}"),
                    Op("count", f"g:{tag}-{t}", "mine"),
                ]
                result = store.apply(ops, T0 + i * 0.001)
                last[t] = int(result[2] or 0)
        except Exception as exc:  # reported to the test, which fails on it
            errors.append(repr(exc))

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    store.close()
    print(json.dumps({"errors": errors, "mine": last}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
