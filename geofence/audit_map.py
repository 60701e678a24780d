"""An SVG world map of a policy's decisions per country and per named region.

Countries come from the shipped Natural Earth outlines (``data/world/countries-110m.json``, public
domain, 175 countries at 1:110m); decisions for countries too small to draw are listed under the
map. A region a rule names is drawn over its country, in the same colours, where an openly
licensed outline is shipped (US states: U.S. Census Bureau via npm ``us-atlas``); the others are
named in a note on the map, so the picture never hides a region rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from xml.sax.saxutils import escape

from geofence.audit import Outcome
from geofence.geo.world import outlines, subdivision_outlines
from geofence.policy import Action, Policy

__all__ = ["COLOURS", "outlines", "world_map_svg"]

COLOURS: Mapping[Action, str] = {
    Action.ALLOW: "#3a8d3f",
    Action.CHALLENGE: "#e0a526",
    Action.DENY: "#c0392b",
}
"""Fill colour per action."""

_WIDTH, _MAP_HEIGHT = 1000, 500
_PER_LINE = 40  # codes per line of the lists under the map
_NOT_DRAWN = "Region rules not drawn (no openly licensed outline shipped; US states only)"
_ATTRIBUTION = (
    "Made with Natural Earth (public domain); US states: U.S. Census Bureau (public domain), "
    "via us-atlas. Boundaries imply no position on disputes."
)


def world_map_svg(
    policy: Policy,
    by_country: Mapping[str, Outcome],
    note: str = "",
    by_region: Mapping[str, Outcome] | None = None,
) -> str:
    """A standalone SVG document: countries and named regions filled by action, a legend, the
    decisions that cannot be drawn, and the attribution."""
    regions = by_region or {}
    shapes, region_shapes = outlines(), subdivision_outlines()
    small = {c: by_country[c] for c in sorted(by_country) if c not in shapes}
    undrawn = {r: regions[r] for r in sorted(regions) if r not in region_shapes}
    lines = _listed("Too small to draw at this scale", small)
    lines += _listed(_NOT_DRAWN, undrawn)
    height = _MAP_HEIGHT + 90 + 16 * len(lines)
    header = (
        f"geofence audit: policy {policy.name!r} (revision {policy.revision}, "
        f"mode {policy.mode.value}){' - ' + note if note else ''}"
    )
    drawn = {r: o for r, o in regions.items() if r in region_shapes}
    listed = "".join(
        f'<text x="20" y="{_MAP_HEIGHT + 80 + 16 * i}">{escape(line)}</text>'
        for i, line in enumerate(lines)
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {height}" '
        f'width="{_WIDTH}" height="{height}" font-family="sans-serif" font-size="12">\n'
        f"<title>{escape(header)}</title>\n"
        f'<rect width="{_WIDTH}" height="{height}" fill="#ffffff"/>\n'
        f'<rect y="20" width="{_WIDTH}" height="{_MAP_HEIGHT}" fill="#e8f1f8"/>\n'
        f'<text x="10" y="14" font-size="13">{escape(header)}</text>\n'
        f'<g transform="translate(0 20)" stroke="#ffffff" stroke-width="0.4">\n'
        + "\n".join(_paths(shapes, by_country, "country"))
        + '\n<g stroke="#333333" stroke-width="0.15">\n'
        + "\n".join(_paths(region_shapes, drawn, "region"))
        + "\n</g>\n</g>\n"
        + _legend()
        + "\n"
        + listed
        + f'\n<text x="{_WIDTH - 10}" y="{height - 8}" text-anchor="end" font-size="10">'
        f"{escape(_ATTRIBUTION)}</text>\n</svg>\n"
    )


def _paths(shapes: Mapping[str, str], decided: Mapping[str, Outcome], kind: str) -> list[str]:
    """One ``<path>`` per decided code (every country; only the decided regions)."""
    codes: Iterable[str] = shapes if kind == "country" else sorted(decided)
    parts = []
    for code in codes:
        outcome = decided.get(code)
        fill = "#bbbbbb" if outcome is None else COLOURS[outcome.action]
        title = code if outcome is None else f"{code}: {outcome}"
        parts.append(
            f'<path class="{kind}" d="{shapes[code]}" fill="{fill}">'
            f"<title>{escape(title)}</title></path>"
        )
    return parts


def _legend() -> str:
    legend = "".join(
        f'<rect x="{20 + 140 * i}" y="{_MAP_HEIGHT + 40}" width="14" height="14" fill="{colour}"/>'
        f'<text x="{40 + 140 * i}" y="{_MAP_HEIGHT + 52}">{action.value}</text>'
        for i, (action, colour) in enumerate(COLOURS.items())
    )
    return legend + (
        f'<rect x="440" y="{_MAP_HEIGHT + 40}" width="14" height="14" fill="#bbbbbb"/>'
        f'<text x="460" y="{_MAP_HEIGHT + 52}">no ISO 3166-1 code</text>'
        f'<text x="640" y="{_MAP_HEIGHT + 52}">outlined: a region a rule names</text>'
    )


def _listed(title: str, decided: Mapping[str, Outcome]) -> list[str]:
    """``title (N):`` then the codes grouped by action, ``_PER_LINE`` to a line."""
    if not decided:
        return []
    by_action: dict[str, list[str]] = {}
    for code, outcome in decided.items():
        by_action.setdefault(outcome.action.value, []).append(code)
    lines = [f"{title} ({len(decided)}):"]
    for action, codes in sorted(by_action.items()):
        text = f"  {action}: "
        for start in range(0, len(codes), _PER_LINE):
            lines.append(text + " ".join(codes[start : start + _PER_LINE]))
            text = "  " + " " * (len(action) + 2)
    return lines
