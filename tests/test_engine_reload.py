"""Hot reload through the engine: replaced data is served, bad data is not, nothing tears."""

from __future__ import annotations

import os
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from geofence import Decision, Geofence

POLICY: dict[str, Any] = {
    "name": "reload",
    "default": "deny",
    "rules": [
        {"name": "gb", "action": "allow", "countries": ["GB"]},
        {"name": "fr", "action": "challenge", "countries": ["FR"]},
    ],
}
# What a decision may look like: one generation or the other, never a mix.
GENERATIONS = {("GB", "allow", "gb"), ("FR", "challenge", "fr")}


@pytest.fixture
def generations(make_mmdb: Any, tmp_path: Path) -> tuple[Path, Path, Path]:
    gb = make_mmdb("gb.mmdb", [("81.2.69.0/24", {"country_code": "GB"})])
    fr = make_mmdb("fr.mmdb", [("81.2.69.0/24", {"country_code": "FR"})])
    live = tmp_path / "live.mmdb"
    shutil.copyfile(gb, live)
    return gb, fr, live


def replace(source: Path, live: Path) -> None:
    """Replace ``live`` the way deployment tools should: write beside it, then rename."""
    staging = live.with_suffix(".tmp")
    shutil.copyfile(source, staging)
    os.replace(staging, live)


def shape(d: Decision) -> tuple[str | None, str, str | None]:
    return d.country, d.action.value, d.rule


def test_replaced_database_is_served_after_reload(generations: tuple[Path, Path, Path]) -> None:
    _gb, fr, live = generations
    with Geofence(POLICY, geo=live, reload_interval=None) as gf:
        assert shape(gf.evaluate("81.2.69.142")) == ("GB", "allow", "gb")
        replace(fr, live)
        assert shape(gf.evaluate("81.2.69.142")) == ("GB", "allow", "gb")  # cached, not checked
        assert gf.reload() is True
        assert shape(gf.evaluate("81.2.69.142")) == ("FR", "challenge", "fr")
        assert gf.reload() is False


def test_bad_replacement_keeps_the_last_good_data(generations: tuple[Path, Path, Path]) -> None:
    _gb, fr, live = generations
    with Geofence(POLICY, geo=live, reload_interval=None) as gf:
        gf.evaluate("81.2.69.142")
        staging = live.with_suffix(".tmp")
        staging.write_bytes(fr.read_bytes()[:200])  # truncated
        os.replace(staging, live)
        assert gf.reload() is False
        assert shape(gf.evaluate("81.2.69.142")) == ("GB", "allow", "gb")
        assert shape(gf.evaluate("81.2.69.143")) == ("GB", "allow", "gb")  # uncached: old reader
        replace(fr, live)
        assert gf.reload() is True
        assert shape(gf.evaluate("81.2.69.142")) == ("FR", "challenge", "fr")


def test_reload_is_seen_by_with_policy_siblings(generations: tuple[Path, Path, Path]) -> None:
    _gb, fr, live = generations
    with Geofence(POLICY, geo=live, reload_interval=None) as gf:
        strict = gf.with_policy(
            {
                "name": "strict",
                "default": "deny",
                "rules": [{"name": "fr-only", "action": "allow", "countries": ["FR"]}],
            }
        )
        assert strict.evaluate("81.2.69.142").action.value == "deny"
        replace(fr, live)
        assert gf.reload() is True
        assert strict.reload() is True  # its cache belonged to the old data
        assert strict.evaluate("81.2.69.142").rule == "fr-only"
        strict.close()  # leaves the shared data open
        assert gf.evaluate("81.2.69.142").rule == "fr"


@pytest.fixture
def fast_switching() -> Iterator[None]:
    # Switch threads often so readers really do run while the writer swaps files.
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(old)


@pytest.mark.usefixtures("fast_switching")
def test_concurrent_evaluation_during_reloads(generations: tuple[Path, Path, Path]) -> None:
    gb, fr, live = generations
    gf = Geofence(POLICY, geo=live, reload_interval=0.0)
    seen: set[tuple[str | None, str, str | None]] = set()
    errors: list[BaseException] = []
    stop = threading.Event()

    def evaluate() -> None:
        n = 0
        try:
            while not stop.is_set():
                n += 1
                seen.add(shape(gf.evaluate(f"81.2.69.{n % 250 + 1}")))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=evaluate) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for i in range(40):
            replace(fr if i % 2 == 0 else gb, live)
            stop.wait(0.005)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors
    assert seen <= GENERATIONS
    assert seen == GENERATIONS  # both generations were really served
    replace(fr, live)
    gf.reload()
    assert shape(gf.evaluate("81.2.69.142")) == ("FR", "challenge", "fr")
    gf.close()


def test_on_decision_hook_sees_every_decision_and_cannot_break_it(
    generations: tuple[Path, Path, Path],
) -> None:
    _gb, _fr, live = generations
    seen: list[Decision] = []
    with Geofence(POLICY, geo=live, on_decision=seen.append) as gf:
        gf.evaluate("81.2.69.142")
        gf.evaluate("127.1")
    assert [d.rule for d in seen] == ["gb", None]

    def broken(d: Decision) -> None:
        raise RuntimeError("hook failed")

    with Geofence(POLICY, geo=live, on_decision=broken) as gf:
        assert gf.evaluate("81.2.69.142").allowed
