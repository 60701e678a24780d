"""Smoke test of ``python -m benchmarks.engine``: every probe runs at tiny sizes, the table has
every row. No timing is asserted (that is the benchmark's job). The baseline is this same tree,
so no ``git archive`` is needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import engine

ROOT = Path(engine.__file__).resolve().parent.parent


def test_the_engine_benchmark_runs_and_prints_every_row(capsys: pytest.CaptureFixture[str]) -> None:
    assert engine.main(["--tiny", "--base", str(ROOT), "--rounds", "1", "--tail", "2000"]) == 0
    out = capsys.readouterr().out
    for _, label, _, _ in engine.ROWS:
        assert f"| {label} |" in out
    assert "p99.99 / p50" in out
    assert '"worker2_mmdb_private_mb": 0.0' in out  # the embedded files are shared, not copied
