"""``geofence check``'s text line names the decision's regions and, where the territory rule
moved a network, the country the database attributed it to (real DB-IP networks, embedded data)."""

from __future__ import annotations

import pytest

from geofence.cli import main

from ..geo.regions_sample import networks

POLICY = "examples/policy.yaml"  # denies UA-43, UA-40, UA-14, UA-09, UA-23, UA-65


def _line(address: str, capsys: pytest.CaptureFixture[str]) -> list[str]:
    main(["check", "--policy", POLICY, address])
    (line,) = capsys.readouterr().out.splitlines()
    return line.split("\t")


def test_crimea_filed_under_ru_shows_its_region_and_attribution(
    capsys: pytest.CaptureFixture[str],
) -> None:
    crimea = next(n for n in networks() if n.code == "UA-43" and n.country_code == "RU")
    fields = _line(crimea.addresses()[0], capsys)
    assert "country=UA" in fields
    assert "regions=UA-43" in fields
    assert "attributed_country=RU" in fields


def test_kyiv_shows_its_region_and_no_attribution(capsys: pytest.CaptureFixture[str]) -> None:
    kyiv = next(n for n in networks() if n.code == "UA-30" and n.country_code == "UA")
    fields = _line(kyiv.addresses()[0], capsys)
    assert "regions=UA-30" in fields
    assert not any(f.startswith("attributed_country=") for f in fields)


def test_an_address_without_regions_prints_none(capsys: pytest.CaptureFixture[str]) -> None:
    fields = _line("10.0.0.5", capsys)  # a private address: no country, no region
    assert not any(f.startswith(("regions=", "attributed_country=")) for f in fields)
