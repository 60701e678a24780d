"""tools/region_reduction.py: how the region layer's build makes DB-IP City Lite small."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

TOOLS = Path(__file__).resolve().parents[2] / "tools"


@pytest.fixture(scope="module")
def reduction() -> ModuleType:
    spec = importlib.util.spec_from_file_location("region_reduction", TOOLS / "region_reduction.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("region_reduction", module)
    spec.loader.exec_module(module)
    return module


def net(first: int, size: int, key: tuple[Any, ...], territory: bool = False) -> tuple[Any, ...]:
    return first, first + size - 1, key, size, territory, 50.0, 30.0


def run(reduction: ModuleType, nets: list[tuple[Any, ...]]) -> tuple[list[Any], Any, list[Any]]:
    loss, seen = reduction.Loss(), []
    out = list(reduction.blocked(iter(nets), 32, 24, loss, lambda k, n: seen.append((k, n[0]))))
    return out, loss, seen


def test_a_split_block_goes_to_its_largest_subdivision_and_the_loss_is_counted(
    reduction: ModuleType,
) -> None:
    kyiv, lviv = ("UA", "UA-30"), ("UA", "UA-46")
    nets = [net(0x0A000000, 128, kyiv), net(0x0A000080, 64, lviv), net(0x0A0000C0, 64, kyiv)]
    out, loss, seen = run(reduction, nets)
    assert [(o[0], o[1], o[2]) for o in out] == [(0x0A000000, 0x0A0000FF, kyiv)]
    assert (loss.networks["UA"], loss.addresses["UA"]) == (1, 64)
    assert [k for k, _ in seen] == [kyiv] * 3  # every source network, under its shipped key


def test_a_block_with_an_occupied_territory_keeps_every_network(reduction: ModuleType) -> None:
    crimea, kherson = ("RU", "UA-43"), ("UA", "UA-65")
    nets = [net(0x0A000000, 192, ("RU", "RU-KDA")), net(0x0A0000C0, 32, crimea, True)]
    nets.append(net(0x0A0000E0, 32, kherson, True))
    out, loss, _ = run(reduction, nets)
    assert [o[2] for o in out] == [("RU", "RU-KDA"), crimea, kherson]
    assert not loss.networks


def test_networks_of_a_block_or_larger_pass_through(reduction: ModuleType) -> None:
    nets = [net(0x0A000000, 512, ("US", "US-TX")), net(0x0A000200, 256, ("US", "US-UT"))]
    out, loss, _ = run(reduction, nets)
    assert out == nets
    assert not loss.networks


def test_centroids_weigh_addresses_on_the_sphere(reduction: ModuleType) -> None:
    c = reduction.Centroids()
    c.add(("RU", "RU-CHU"), 65.0, 179.0, 3)  # either side of the antimeridian
    c.add(("RU", "RU-CHU"), 65.0, -179.0, 1)
    lat, lon = c.of(("RU", "RU-CHU"))
    assert lat == pytest.approx(65.0, abs=0.05)
    assert lon == pytest.approx(179.5, abs=0.05)
    errors = reduction.Errors()
    errors.add(("RU", "RU-CHU"), 65.0, 179.0, 3)
    errors.add(("RU", "RU-CHU"), 65.0, -179.0, 1)
    q = errors.quantiles({("RU", "RU-CHU"): (lat, lon)})
    assert q["p50"] == round(reduction.haversine_km(65.0, 179.0, lat, lon))
    assert q["max"] == round(reduction.haversine_km(65.0, -179.0, lat, lon))
