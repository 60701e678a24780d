"""Country, region and continent codes: what is accepted, and the hints for what is not."""

from __future__ import annotations

import pytest

from geofence.policy import codes


@pytest.mark.parametrize(
    ("text", "code"),
    [("US", "US"), ("gb", "GB"), ("XK", "XK"), ("Xk", "XK"), ("AS", "AS"), ("NA", "NA")],
)
def test_country_accepted_and_upper_cased(text: str, code: str) -> None:
    assert codes.country_code(text) == code


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("UK", "did you mean 'GB' (United Kingdom)?"),
        ("USA", "did you mean 'US'"),
        ("deu", "did you mean 'DE'"),
        ("Germany", "did you mean 'DE'"),
        ("germny", "did you mean 'DE'"),
        ("Iran", "did you mean 'IR'"),
        ("South Korea", "did you mean 'KR'"),
        ("Russia", "did you mean 'RU'"),
        ("Kosovo", "did you mean 'XK'"),
        ("EL", "did you mean 'GR'"),
        ("826", "did you mean 'GB'"),
        ("GB-ENG", "put 'GB-ENG' under regions"),
        ("EU", "continents: [EU]"),
        ("Europe", "continents: [EU]"),
    ],
)
def test_country_rejected_with_hint(text: str, hint: str) -> None:
    with pytest.raises(ValueError, match="not an ISO 3166-1 alpha-2 country code") as info:
        codes.country_code(text)
    assert hint in str(info.value)
    assert repr(text) in str(info.value)


@pytest.mark.parametrize("text", ["ZZ", "QQ", "", "Korea"])
def test_country_rejected_without_a_guess(text: str) -> None:
    with pytest.raises(ValueError, match="not an ISO 3166-1") as info:
        codes.country_code(text)
    assert "did you mean" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "code"), [("GB-ENG", "GB-ENG"), ("ua-43", "UA-43"), ("US-CA", "US-CA")]
)
def test_region_accepted(text: str, code: str) -> None:
    assert codes.region_code(text) == code


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("UA-99", "did you mean 'UA-"),
        ("GB_ENG", "did you mean 'GB-ENG'?"),
        ("England", "did you mean 'GB-ENG'"),
        ("GB", "'GB' is a country: put it under countries"),
        ("XK-01", "XK has no ISO 3166-2 subdivisions"),
    ],
)
def test_region_rejected_with_hint(text: str, hint: str) -> None:
    with pytest.raises(ValueError, match="not an ISO 3166-2 region code") as info:
        codes.region_code(text)
    assert hint in str(info.value)


@pytest.mark.parametrize("code", ["AF", "AN", "AS", "EU", "NA", "OC", "SA", "eu"])
def test_continent_accepted(code: str) -> None:
    assert codes.continent_code(code) == code.upper()


@pytest.mark.parametrize(
    ("text", "guess"),
    [
        ("Europe", "EU"),
        ("north america", "NA"),
        ("South-America", "SA"),
        ("Australia", "OC"),
        ("Afrika", "AF"),
    ],
)
def test_continent_names_suggest_codes(text: str, guess: str) -> None:
    with pytest.raises(ValueError, match=f"did you mean '{guess}'"):
        codes.continent_code(text)


def test_continent_unknown_lists_the_codes() -> None:
    with pytest.raises(ValueError, match="AF AN AS EU NA OC SA") as info:
        codes.continent_code("XX")
    assert "did you mean" not in str(info.value)


def test_lookup_sets_are_built_once() -> None:
    assert codes.country_codes() is codes.country_codes()
    assert codes.region_codes() is codes.region_codes()
    assert "XK" in codes.country_codes()
    assert {"UA-43", "UA-14", "UA-09", "GB-ENG"} <= codes.region_codes()
