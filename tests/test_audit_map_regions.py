"""``geofence audit --map`` draws region rules: US states shaded from the shipped Census outlines,
and a note naming the region rules it has no outline for (Ukraine's, among others)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

from geofence.audit_map import COLOURS
from geofence.geo.world import subdivision_outlines
from geofence.policy import Action

ROOT = Path(__file__).resolve().parents[1]
US_RULES = ROOT / "tests" / "data" / "policies" / "us-state-rules.yaml"
UA_RULES = ROOT / "examples" / "policy.yaml"  # denies UA-43, UA-40, UA-14, UA-09, UA-23, UA-65
SVG = "{http://www.w3.org/2000/svg}"


def _map(policy: Path, tmp_path: Path) -> str:
    out = tmp_path / "map.svg"
    result = subprocess.run(
        [sys.executable, "-m", "geofence", "audit", str(policy), "--map", str(out)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return out.read_text(encoding="utf-8")


def _fills(svg: str, kind: str) -> dict[str, str]:
    root = ElementTree.fromstring(svg)
    return {
        path.findtext(f"{SVG}title", "").split(":")[0]: path.get("fill", "")
        for path in root.iter(f"{SVG}path")
        if path.get("class") == kind
    }


def _notes(svg: str) -> list[str]:
    return [t.text or "" for t in ElementTree.fromstring(svg).iter(f"{SVG}text")]


def test_every_us_state_and_territory_has_an_iso_outline() -> None:
    states = subdivision_outlines()
    assert len([c for c in states if c.startswith("US-")]) == 56  # 50 states, DC, 5 territories
    assert {"US-TX", "US-UT", "US-DC", "US-PR", "US-AK", "US-HI"} <= set(states)
    assert all(d.startswith("M") and d.endswith("z") for d in states.values())


def test_denied_and_challenged_states_are_shaded(tmp_path: Path) -> None:
    svg = _map(US_RULES, tmp_path)
    regions = _fills(svg, "region")
    assert regions == {
        "US-NV": COLOURS[Action.CHALLENGE],
        "US-TX": COLOURS[Action.DENY],
        "US-UT": COLOURS[Action.DENY],
    }
    assert _fills(svg, "country")["US"] == COLOURS[Action.ALLOW]  # the rest of the country
    # The state's own outline is drawn, not a placeholder: Texas's path is the shipped one.
    root = ElementTree.fromstring(svg)
    (texas,) = [p for p in root.iter(f"{SVG}path") if p.findtext(f"{SVG}title", "")[:5] == "US-TX"]
    assert texas.get("d") == subdivision_outlines()["US-TX"]
    assert "deny (state-age-laws)" in texas.findtext(f"{SVG}title", "")
    assert not any("Region rules not drawn" in line for line in _notes(svg))
    assert any("U.S. Census Bureau" in line for line in _notes(svg))


def test_region_rules_without_outlines_are_named_on_the_map(tmp_path: Path) -> None:
    svg = _map(UA_RULES, tmp_path)
    assert _fills(svg, "region") == {}
    notes = _notes(svg)
    (start,) = [i for i, line in enumerate(notes) if line.startswith("Region rules not drawn")]
    assert notes[start].endswith("(6):")
    assert notes[start + 1].split() == [
        "deny:",
        "UA-09",
        "UA-14",
        "UA-23",
        "UA-40",
        "UA-43",
        "UA-65",
    ]
