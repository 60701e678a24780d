"""Core targets of issue 2 only, printed without writing RESULTS.md.

    python -m benchmarks.core [--addresses N] [--repeat R]

The ``evaluate`` and ``startup`` sections of ``python -m benchmarks``: cached ``evaluate()``
against one raw ``maxminddb`` ``Reader.get()`` (target <= 2x), uncached against the raw lookups
it needs (<= 3x), construction time (< 1 s) and memory added (< 60 MB), all in one run.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence

from benchmarks import report
from benchmarks.__main__ import run
from benchmarks.measure import Sizes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.core", description=__doc__)
    parser.add_argument("--addresses", type=int, default=Sizes.full().addresses)
    parser.add_argument("--repeat", type=int, default=Sizes.full().repeat)
    args = parser.parse_args(argv)
    sizes = dataclasses.replace(Sizes.full(), addresses=args.addresses, repeat=args.repeat)
    print("\n".join(report.table(run(sizes, ["evaluate", "startup"]))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
