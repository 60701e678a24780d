"""The ``geofeed:<CC>`` and ``geofeed:<CC>-<region>`` tag forms a policy may name."""

from __future__ import annotations

import pytest

from geofence.tags import GEOFEED_PREFIX, check_tag, is_known_tag


def test_the_prefix() -> None:
    assert GEOFEED_PREFIX == "geofeed:"


@pytest.mark.parametrize(
    "tag",
    [
        "geofeed:GB",
        "geofeed:XK",  # Kosovo: not ISO 3166-1, accepted as in countries:
        "geofeed:GB-EN",  # Apple's spelling, not ISO 3166-2's GB-ENG
        "geofeed:GB-ENG",
        "geofeed:GB-7",
        "geofeed:SG-05",
        "geofeed:US-NJ",
    ],
)
def test_well_formed_geofeed_tags_are_known(tag: str) -> None:
    assert is_known_tag(tag)
    assert check_tag(tag) == tag


@pytest.mark.parametrize(
    ("tag", "hint"),
    [
        ("geofeed:uk", "did you mean 'geofeed:GB'?"),
        ("geofeed:UK", "did you mean 'geofeed:GB'?"),
        ("geofeed:gb", "did you mean 'geofeed:GB'?"),
        ("geofeed:GBR", "did you mean 'geofeed:GB'?"),
        ("geofeed:Germany", "did you mean 'geofeed:DE'?"),
        ("geofeed:gb-en", "did you mean 'geofeed:GB-EN'?"),
        ("geofeed:UK-SC", "did you mean 'geofeed:GB-SC'?"),
        ("geofeed:GB_EN", "did you mean 'geofeed:GB-EN'?"),
        ("geofeed: GB", "did you mean 'geofeed:GB'?"),
        ("geofeed:ZZ", "ZZ is not an ISO 3166-1 alpha-2 country code"),
        ("geofeed:ZZ-AB", "ZZ is not an ISO 3166-1 alpha-2 country code"),
        ("geofeed:GB-ENGL", ""),
        ("geofeed:GB-", ""),
        ("geofeed:", ""),
        ("geofeed:GB-E N", ""),
    ],
)
def test_malformed_geofeed_tags_say_the_form_and_suggest(tag: str, hint: str) -> None:
    assert not is_known_tag(tag)
    with pytest.raises(ValueError, match="is not a geofeed tag") as caught:
        check_tag(tag)
    message = str(caught.value)
    assert "geofeed:<CC>" in message
    assert "geofeed:<CC>-<region>" in message
    assert hint in message
    if not hint:
        assert "did you mean" not in message


def test_other_tags_are_unchanged_and_the_vocabulary_error_names_the_forms() -> None:
    assert is_known_tag("relay")
    assert is_known_tag("feed:apple-relay")
    assert not is_known_tag("geofeed")
    with pytest.raises(ValueError, match="geofeed:<CC>") as caught:
        check_tag("Geofeed:GB")  # the prefix is lower case
    assert "is not a known tag" in str(caught.value)
