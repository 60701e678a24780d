"""The README's promises: its set-up commands, its policy format and its library example."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
import yaml

from geofence import load_policy

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
CI = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def test_setup_commands_are_there_and_ci_runs_the_test_command() -> None:
    commands = [b.strip() for b in blocks("sh")]
    assert any(c.endswith("geofence check 1.0.1.1 8.8.8.8 2001:4860:4860::8888") for c in commands)
    test_command = next(c for c in commands if "pytest" in c)
    pytest_part = test_command[test_command.index("python -m pytest") :]
    assert pytest_part == "python -m pytest -q -n auto"
    assert f"\n{pytest_part}\n" in CI


def test_policy_format_block_is_a_valid_policy() -> None:
    (policy_block,) = [b for b in blocks("yaml") if "rules:" in b]
    policy = load_policy(yaml.safe_load(policy_block))
    assert [r.name for r in policy.rules][:2] == ["office", "health"]


def test_library_example_runs_and_prints_what_it_says(monkeypatch: pytest.MonkeyPatch) -> None:
    # The example names examples/policy.yaml, which ships with the repository: run it as is.
    monkeypatch.chdir(ROOT)
    (example,) = [b for b in blocks("python") if "gf = Geofence(" in b]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(example, "README.md", "exec"), {})
    lines = out.getvalue().splitlines()
    assert lines[0] == "True allow supported GB 20712"
    assert lines[1].startswith("451 embargoed 190.6.64.1 x-forwarded-for (")
    assert lines[2].startswith("{'decision_id': ")


def test_case_file_example_passes_against_a_matching_policy(tmp_path: Path) -> None:
    from geofence.testing.cases import run_file

    match = re.search(r"write `tests/policy.geofence.yaml`:\n\n  ```yaml\n(.*?)  ```", README, re.S)
    assert match is not None
    (tmp_path / "tests").mkdir()
    cases = tmp_path / "tests" / "policy.geofence.yaml"
    cases.write_text("\n".join(line[2:] for line in match.group(1).splitlines()) + "\n")
    (tmp_path / "policy.yaml").write_text(
        "name: demo\ndefault: deny\nrules:\n"
        "  - {name: embargoed, action: deny, countries: [CU, IR, KP, SY]}\n"
        "  - {name: anonymizers, action: deny, tags: [vpn, tor]}\n"
        "  - {name: supported, action: allow, countries: [US, GB]}\n"
    )
    results = run_file(cases)
    assert [r.passed for r in results] == [True] * 3, [r.message for r in results]


def _section(title: str) -> str:
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_account_farms_lists_every_signal_by_its_public_name() -> None:
    from geofence.vocab.signals import SIGNAL_NAMES

    table = re.findall(r"^\| `(\w+)` \|", _section("Account farms"), flags=re.MULTILINE)
    assert table == list(SIGNAL_NAMES)


def test_account_farms_policy_excerpt_is_the_shipped_policy() -> None:
    from geofence import example_policy_path

    (excerpt,) = re.findall(r"```yaml\n(.*?)```", _section("Account farms"), flags=re.DOTALL)
    shipped = {rule.name: rule for rule in load_policy(example_policy_path("accounts")).rules}
    quoted = load_policy({"name": "excerpt", "rules": yaml.safe_load(excerpt)}).rules
    assert [r.name for r in quoted] == ["farm-network", "farm-fingerprint", "score-deny",
                                        "score-challenge"]  # fmt: skip
    for rule in quoted:
        assert rule == shipped[rule.name], f"README quotes {rule.name} unlike accounts.yaml"
    assert "### Simulation" in _section("Account farms")
