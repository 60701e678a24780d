"""Smoke test of ``benchmarks/store.py`` at tiny sizes: every row is measured (no timing is
asserted: that is the benchmark's job), and its block in RESULTS.md is replaced, not repeated."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchmarks.measure import Sizes
from benchmarks.store import END, START, state_store, write_results


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
def test_every_row_has_a_value_and_the_block_is_replaced(tmp_path: Path) -> None:
    section = state_store(Sizes.tiny())
    rows = {r.measure: r for r in section.rows}
    assert section.unavailable == []
    for measure in (
        "memory:// apply (15 ops, 4 groups)",
        "Store.apply round trip (15 ops, 4 groups), p50",
        "Store.apply round trip (15 ops, 4 groups), p99",
        "async Store.aapply round trip, p50",
        "MEMORY USAGE per tracked account (a day, 24 requests)",
        "MEMORY USAGE per tracked network (20 accounts)",
        "signal stage: MEMORY USAGE per tracked account (a day, 24 requests)",
        "signal stage: MEMORY USAGE per tracked network (20 accounts)",
    ):
        assert (rows[measure].value or 0) > 0, measure
    assert rows["Store.apply round trip (15 ops, 4 groups), p50"].target == "< 2x"
    results = tmp_path / "RESULTS.md"
    results.write_text("# the full table\n")
    write_results(section, results, 1.0)
    write_results(section, results, 2.0)
    text = results.read_text()
    assert text.startswith("# the full table\n")
    assert text.count(START) == text.count(END) == 1
    assert "(`python -m benchmarks.store`, 2 s)" in text
