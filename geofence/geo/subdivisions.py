"""Subdivision names to first-level ISO 3166-2 codes: a curated alias table, then pycountry.

Free databases (DB-IP City Lite, City databases built without codes) name subdivisions
("Kharkivs'ka Oblast'", "Zaporizhzhya Oblast", "Bavaria") instead of coding them. A name is
looked up, per country, first in the curated table ``data/regions/subdivision-aliases.csv``
(which wins: "Kyiv" in DB-IP is the oblast, UA-32, though ISO calls the city "Kyiv", UA-30),
then against pycountry's ISO 3166-2 names after a fixed normalisation (accents, apostrophes,
case, and generic words such as "Oblast" or "Province" dropped). A name that matches no code,
or two, maps to ``None``: it is reported, never guessed. A code below the first level is
raised to its first-level parent (FR-75C Paris -> FR-IDF).

The table may map a name to another country's code: DB-IP files Crimea under RU, and the
alias ``RU,Crimea`` is UA-43 (see ``geofence.geo.territory``).
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, NamedTuple

import pycountry

from geofence.embedded import data_dir
from geofence.errors import DataError

__all__ = ["ALIASES_FILE", "aliases", "code_for", "first_level", "normalise"]

ALIASES_FILE = "regions/subdivision-aliases.csv"
"""The curated table, relative to the data directory: ``country,name,code,note`` rows."""

# ASCII, right and left single quotes, modifier letter apostrophe, grave and acute accents.
_APOSTROPHES = re.compile("['\u2019\u2018\u02bc`\u00b4]")
_SEPARATORS = re.compile(r"[^a-z0-9]+")
# Words that say what kind of subdivision a name is, not which one: dropped before matching so
# "Zaporizhzhya Oblast" meets "Zaporizhzhya". Kept short on purpose: every word here is one
# more way for two names to collide, and a collision is reported, not resolved.
# fmt: off
_GENERIC = frozenset({
    "oblast", "oblasti", "region", "province", "provincia", "prefecture", "state", "kray", "krai",
    "republic", "respublika", "autonomous", "okrug", "municipality", "district", "county",
    "governorate", "raionul", "voivodeship", "sheng", "zizhiqu", "shi", "the", "of",
})
# fmt: on
_CODE = re.compile(r"[A-Z]{2}-[A-Z0-9]{1,3}")


# Letters NFKD does not decompose to ASCII, spelled as DB-IP and ISO romanise them.
_LETTERS = str.maketrans(
    {
        "\u0131": "i",  # dotless i (Azerbaijani, Turkish)
        "\u0259": "e",  # schwa (Azerbaijani)
        "\u018f": "E",
        "\u0142": "l",  # Polish l with stroke
        "\u0141": "L",
        "\u00f8": "o",
        "\u0111": "d",
        "\u00df": "ss",
        "\u00e6": "ae",
        "\u2013": "-",  # en and em dashes
        "\u2014": "-",
    }
)


def fold(name: str) -> str:
    """Lower-case ASCII words of ``name``, without apostrophes or accents."""
    text = _APOSTROPHES.sub("", name.translate(_LETTERS))
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(w for w in _SEPARATORS.split(ascii_text.lower()) if w)


def normalise(name: str) -> str:
    """``fold(name)`` without the generic words ("Oblast", "Province"...)."""
    return " ".join(w for w in fold(name).split() if w not in _GENERIC)


@lru_cache(maxsize=1)
def _subdivisions() -> Mapping[str, Any]:
    """ISO 3166-2 code -> pycountry's subdivision record (read once: pycountry is slow)."""
    return {str(sub.code): sub for sub in pycountry.subdivisions}


@lru_cache(maxsize=1)
def _by_country() -> Mapping[str, tuple[Any, ...]]:
    table: dict[str, list[Any]] = {}
    for sub in _subdivisions().values():
        table.setdefault(str(sub.country_code), []).append(sub)
    return {country: tuple(subs) for country, subs in table.items()}


def first_level(code: str) -> str | None:
    """The first-level ISO 3166-2 code at or above ``code``; ``None`` if it is not a code."""
    seen = 0
    while seen < 4:  # ISO 3166-2 has at most three levels; the bound guards odd data
        sub = _subdivisions().get(code)
        if sub is None:
            return None
        parent = getattr(sub, "parent_code", None)
        if not parent:
            return code
        code = parent
        seen += 1
    return None


@lru_cache(maxsize=1)
def aliases() -> Mapping[tuple[str, str], str]:
    """The curated table: ``(country, folded name) -> code``; every code is checked."""
    path = data_dir() / ALIASES_FILE
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = [r for r in csv.reader(fh) if r and not r[0].startswith("#")]
    except OSError as exc:
        raise DataError(f"cannot read the subdivision alias table: {exc}", path=str(path)) from None
    table: dict[tuple[str, str], str] = {}
    for row in rows[1:]:
        if len(row) < 3 or not _CODE.fullmatch(row[2]) or first_level(row[2]) != row[2]:
            raise DataError(f"not a first-level ISO 3166-2 code: {row}", path=str(path))
        table[(row[0], fold(row[1]))] = row[2]
    return table


class _Names(NamedTuple):
    exact: Mapping[str, str | None]
    """Folded name -> code: the curated names, then ISO 3166-2's own (``None``: shared)."""
    loose: Mapping[str, str | None]
    """Name without generic words -> code; ``None`` where two codes share it."""


@lru_cache(maxsize=512)
def _names(country: str) -> _Names:
    curated = {name: code for (cc, name), code in aliases().items() if cc == country}
    exact: dict[str, str | None] = dict(curated)
    loose: dict[str, str | None] = {}

    def add(name: str, code: str) -> None:
        folded = fold(name)
        if folded not in curated:  # a curated name wins; two ISO codes with one name: neither
            exact[folded] = code if exact.get(folded, code) == code else None
        key = normalise(name)
        if key:
            loose[key] = code if loose.get(key, code) == code else None

    for name, code in curated.items():
        add(name, code)
    for sub in _by_country().get(country, ()):
        parent = first_level(sub.code)
        # "Catalunya [Cataluña]": the bracket holds another name of the same subdivision.
        for part in re.split(r"\s*[\[\]]\s*", sub.name):
            if parent and part and not _CODE.fullmatch(part.split()[-1]):
                add(part, parent)
    return _Names(exact, loose)


@lru_cache(maxsize=16384)
def code_for(country: str, name: str) -> str | None:
    """The first-level ISO 3166-2 code for subdivision ``name`` in ``country``, or ``None``.

    Tried in order: the curated table and ISO's names after folding, then both without
    generic words, where a name two codes share is no answer.
    """
    if not country or not name:
        return None
    names = _names(country)
    folded = fold(name)
    if folded in names.exact:
        return names.exact[folded]
    return names.loose.get(normalise(name))
