"""Loading policies from files and mappings; every problem is a PolicyError naming where it is."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geofence.errors import PolicyError, PolicyProblem
from geofence.policy import Action, Mode, Policy, load_policy
from geofence.policy.models import CONDITION_FIELDS

from ..conftest import examples
from .conftest import POLICIES

VALID = [
    "supported-regions.yaml",
    "supported-regions.yml",
    "supported-regions.json",
    "supported-regions.toml",
]


@pytest.mark.parametrize("name", VALID)
def test_each_format_loads_the_same_policy(name: str) -> None:
    p = load_policy(POLICIES / name)
    assert p.name == "supported-regions"
    assert [r.name for r in p.rules] == [
        "office",
        "occupied-regions",
        "embargoed",
        "anonymizers",
        "supported",
    ]
    assert p.rules[1].regions == ("UA-43", "UA-14", "UA-09")
    assert p.rules[3].status == 403
    assert p.rules[3].unless is not None
    assert p.rules[3].unless.paths == ("/health", "/status/*")
    assert "XK" in p.rules[4].countries
    assert p == load_policy(POLICIES / VALID[0])


def test_revision_is_stable_across_formats_and_key_order() -> None:
    revisions = {load_policy(POLICIES / name).revision for name in VALID}
    assert len(revisions) == 1


@pytest.mark.parametrize("kind", [str, Path, os.fsencode])
def test_path_kinds(kind: Any) -> None:
    path = kind(str(POLICIES / "report-either.yaml"))
    if isinstance(path, bytes):
        with pytest.raises(PolicyError, match="a path, a mapping or a Policy, not bytes"):
            load_policy(path)
        return
    p = load_policy(path)
    assert (p.mode, p.default, p.unknown, p.country_match) == (
        Mode.REPORT,
        Action.ALLOW,
        Action.CHALLENGE,
        "either",
    )
    assert p.rules[0].methods == ("POST",)
    assert p.rules[1].asns == (13335, 16509)
    assert p.rules[1].tags == ("hosting", "feed:firehol_level1")


def test_mapping_and_policy_sources() -> None:
    data = json.loads((POLICIES / "supported-regions.json").read_text())
    p = load_policy(data)
    assert p.revision == load_policy(POLICIES / "supported-regions.yaml").revision
    assert load_policy(p) is p


INVALID = [
    # file, path, rule, value, message fragment
    ("country-uk.yaml", "rules[0].countries[1]", "supported", "UK", "did you mean 'GB'"),
    ("country-alpha3.json", "rules[0].countries[0]", "supported", "USA", "did you mean 'US'"),
    ("country-name.toml", "rules[0].countries[1]", "supported", "Germany", "did you mean 'DE'"),
    ("bad-region.yaml", "rules[0].regions[1]", "occupied-regions", "UA-99", "did you mean 'UA-"),
    ("bad-continent.yaml", "rules[0].continents[0]", "europe", "Europe", "did you mean 'EU'"),
    ("host-bits.yaml", "rules[0].networks[0]", "office", "203.0.113.5/24", "'203.0.113.0/24'"),
    ("unknown-key.yaml", "rules[0].contries", "embargoed", ["CU"], "did you mean 'countries'"),
    ("unknown-tag.yaml", "rules[0].tags[1]", "anonymizers", "proxy", "'public_proxy'"),
    ("bad-method.yaml", "rules[0].methods[1]", "writes", "PSOT", "did you mean 'POST'"),
    ("duplicate-names.yaml", "rules[1].name", "embargoed", "embargoed", "already used by rules[0]"),
    ("empty-rule.yaml", "rules[0]", "nothing", None, "rule has no condition"),
    ("status-range.yaml", "rules[0].status", "embargoed", 302, "not an HTTP error status"),
    ("norway.yaml", "rules[0].countries[1]", "nordics", False, "quote it"),
]


@pytest.mark.parametrize(("name", "path", "rule", "value", "fragment"), INVALID)
def test_each_problem_names_file_rule_path_and_value(
    name: str, path: str, rule: str, value: object, fragment: str
) -> None:
    file = POLICIES / "invalid" / name
    with pytest.raises(PolicyError) as info:
        load_policy(file)
    (problem,) = info.value.problems
    assert (problem.file, problem.path, problem.rule) == (str(file), path, rule)
    if value is not None:
        assert problem.value == value
    assert fragment in problem.message
    text = str(info.value)
    assert text.startswith(f"{file}: {path} (rule {rule!r}): ")
    assert fragment in text


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(PolicyError) as info:
        load_policy(POLICIES / "invalid" / "many.yaml")
    found = [(p.path, p.rule) for p in info.value.problems]
    assert found == [
        ("rules[0].countries[0]", None),
        ("rules[0].name", None),
        ("rules[1].asns[0]", "embargoed"),
        ("rules[1].action", "embargoed"),
    ]
    assert "required key 'name' is missing" in str(info.value)
    assert "(got 'block')" in str(info.value)


def test_duplicates_are_reported_alongside_other_problems() -> None:
    rules = [
        {"name": "a", "action": "deny", "countries": ["CU"]},
        {"name": "a", "action": "deny", "countries": ["UK"]},
    ]
    with pytest.raises(PolicyError) as info:
        load_policy({"name": "p", "rules": rules})
    assert [p.path for p in info.value.problems] == ["rules[1].name", "rules[1].countries[0]"]


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("syntax.yaml", "invalid YAML at line 6, column 1"),
        ("syntax.json", "invalid JSON at line 2, column 12"),
        ("syntax.toml", "invalid TOML"),
        ("not-mapping.yaml", "the top level must be a mapping, not list"),
    ],
)
def test_unparsable_files(name: str, fragment: str) -> None:
    with pytest.raises(PolicyError, match=fragment) as info:
        load_policy(POLICIES / "invalid" / name)
    assert info.value.problems[0].file == str(POLICIES / "invalid" / name)


def test_toml_syntax_error_has_a_line() -> None:
    with pytest.raises(PolicyError, match="line 2"):
        load_policy(POLICIES / "invalid" / "syntax.toml")


@pytest.mark.parametrize(
    ("content", "suffix", "fragment"),
    [
        (b"", ".yaml", "the policy is empty"),
        (b"# nothing\n", ".yml", "the policy is empty"),
        (b"[1, 2]", ".json", "not list"),
        (b'"text"', ".json", "not str"),
        (b"\xff\xfe\x00", ".yaml", "cannot read policy file"),
        (b"!!python/object/apply:os.system [echo hi]", ".yaml", "invalid YAML"),
        (b"name: p\n", ".ini", "unsupported policy file type '.ini'"),
        (b"name: p\n", "", "unsupported policy file type '(none)'"),
    ],
)
def test_bad_files(tmp_path: Path, content: bytes, suffix: str, fragment: str) -> None:
    file = tmp_path / f"policy{suffix}"
    file.write_bytes(content)
    with pytest.raises(PolicyError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        load_policy(file)


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="policy file not found") as info:
        load_policy(tmp_path / "absent.yaml")
    assert info.value.location == f"{tmp_path / 'absent.yaml'}: policy"
    directory = tmp_path / "dir.yaml"
    directory.mkdir()
    with pytest.raises(PolicyError, match="cannot read policy file"):
        load_policy(directory)


def test_a_nul_in_the_path_is_a_policy_error() -> None:
    with pytest.raises(PolicyError, match="cannot read policy file"):
        load_policy("bad\x00name.yaml")


def test_a_str_is_always_a_path() -> None:
    with pytest.raises(PolicyError, match="unsupported policy file type"):
        load_policy("name: p\nrules: []\n")


def test_a_policy_without_rules_is_valid() -> None:
    assert load_policy({"name": "p", "rules": []}).rules == ()


_KEYS = [
    "name",
    "mode",
    "default",
    "unknown",
    "country_match",
    "rules",
    "action",
    "status",
    "unless",
    *CONDITION_FIELDS,
]
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(["deny", "allow", "CU", "UK", "UA-43", "EU", "AS1", "tor", "10.0.0.0/8"])
)
_DOCUMENTS = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(_KEYS) | st.text(max_size=6), inner, max_size=5)
    ),
    max_leaves=25,
)


def outcome(source: Any) -> Policy | tuple[PolicyProblem, ...]:
    """The loaded policy, or the problems of the PolicyError (any other exception propagates)."""
    try:
        return load_policy(source)
    except PolicyError as exc:
        return exc.problems


def assert_loads_or_explains(source: Any) -> None:
    result = outcome(source)
    if isinstance(result, Policy):
        assert len(result.revision) == 16
    else:
        assert result
        assert all(p.message for p in result)
        # Every problem says where it is; a problem in a file names the file.
        assert all(p.location for p in result)
        if isinstance(source, Path):
            assert all(p.location.startswith(f"{source}: ") for p in result), result


@settings(max_examples=examples(300), suppress_health_check=[HealthCheck.too_slow])
@given(_DOCUMENTS)
def test_any_document_loads_or_raises_policy_error(document: Any) -> None:
    if isinstance(document, dict):
        assert_loads_or_explains(document)
    else:
        with pytest.raises(PolicyError) as info:
            load_policy(document)
        assert info.value.location


@settings(max_examples=examples(100))
@given(
    st.fixed_dictionaries(
        {
            "name": st.text(min_size=1, max_size=5),
            "rules": st.lists(
                st.dictionaries(st.sampled_from(_KEYS), _SCALARS | st.lists(_SCALARS, max_size=3)),
                max_size=3,
            ),
        },
    )
)
def test_near_valid_documents_load_or_raise_policy_error(document: dict[str, Any]) -> None:
    assert_loads_or_explains(document)


def test_any_json_file_loads_or_raises_policy_error(tmp_path: Path) -> None:
    @settings(max_examples=examples(50))
    @given(_DOCUMENTS)
    def check(document: Any) -> None:
        file = tmp_path / "policy.json"
        file.write_text(json.dumps(document))
        assert_loads_or_explains(file)

    check()
