"""An SVG world map of a policy's decision per country, from shipped Natural Earth outlines.

The outlines (``data/world/countries-110m.json``, public domain, see its PROVENANCE.md) cover
175 countries at 1:110m; the decisions for countries too small to draw are listed under the map.
"""

from __future__ import annotations

from collections.abc import Mapping
from xml.sax.saxutils import escape

from geofence.audit import Outcome
from geofence.geo.world import outlines
from geofence.policy import Action, Policy

__all__ = ["COLOURS", "outlines", "world_map_svg"]

COLOURS: Mapping[Action, str] = {
    Action.ALLOW: "#3a8d3f",
    Action.CHALLENGE: "#e0a526",
    Action.DENY: "#c0392b",
}
"""Fill colour per action."""

_WIDTH, _MAP_HEIGHT = 1000, 500


def world_map_svg(policy: Policy, by_country: Mapping[str, Outcome], note: str = "") -> str:
    """A standalone SVG document: countries filled by action, a legend and the attribution."""
    shapes = outlines()
    parts: list[str] = []
    for code, d in shapes.items():
        outcome = by_country.get(code)
        fill = "#bbbbbb" if outcome is None else COLOURS[outcome.action]
        title = code if outcome is None else f"{code}: {outcome}"
        parts.append(f'<path d="{d}" fill="{fill}"><title>{escape(title)}</title></path>')
    small = sorted(c for c in by_country if c not in shapes)
    lines = _small_lines(small, by_country)
    height = _MAP_HEIGHT + 90 + 16 * len(lines)
    header = (
        f"geofence audit: policy {policy.name!r} (revision {policy.revision}, "
        f"mode {policy.mode.value}){' - ' + note if note else ''}"
    )
    legend = "".join(
        f'<rect x="{20 + 140 * i}" y="{_MAP_HEIGHT + 40}" width="14" height="14" fill="{colour}"/>'
        f'<text x="{40 + 140 * i}" y="{_MAP_HEIGHT + 52}">{action.value}</text>'
        for i, (action, colour) in enumerate(COLOURS.items())
    )
    legend += (
        f'<rect x="440" y="{_MAP_HEIGHT + 40}" width="14" height="14" fill="#bbbbbb"/>'
        f'<text x="460" y="{_MAP_HEIGHT + 52}">no ISO 3166-1 code</text>'
    )
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
        + "\n".join(parts)
        + "\n</g>\n"
        + legend
        + "\n"
        + listed
        + f'\n<text x="{_WIDTH - 10}" y="{height - 8}" text-anchor="end" font-size="10">'
        "Made with Natural Earth (public domain). Boundaries imply no position on disputes."
        "</text>\n</svg>\n"
    )


def _small_lines(small: list[str], by_country: Mapping[str, Outcome]) -> list[str]:
    if not small:
        return []
    by_action: dict[str, list[str]] = {}
    for code in small:
        by_action.setdefault(by_country[code].action.value, []).append(code)
    lines = [f"Too small to draw at this scale ({len(small)}):"]
    for action, codes in sorted(by_action.items()):
        text, line = f"  {action}: ", []
        for code in codes:
            line.append(code)
            if len(line) == 40:
                lines.append(text + " ".join(line))
                text, line = "  " + " " * (len(action) + 2), []
        if line:
            lines.append(text + " ".join(line))
    return lines
