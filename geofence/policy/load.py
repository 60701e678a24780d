"""Load a policy from a file (YAML, JSON, TOML) or a mapping, reporting every problem at once."""

from __future__ import annotations

import difflib
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from geofence.errors import PolicyError, PolicyProblem
from geofence.policy.models import Conditions, Policy, Rule
from geofence.vocab.feeds import FeedSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["PolicySource", "load_policy"]

PolicySource = str | os.PathLike[str] | Mapping[str, Any] | Policy
"""A path (.yaml/.yml/.json/.toml), a mapping, or a ``Policy``."""

_SUFFIXES = (".yaml", ".yml", ".json", ".toml")
# YAML 1.1 reads these unquoted words as booleans; in a code list they were meant as text.
_YAML_BOOLEANS = {False: "NO (Norway)", True: "YES / ON / Y"}


def load_policy(source: PolicySource) -> Policy:
    """Load and validate a policy; raise ``PolicyError`` listing every problem found.

    >>> load_policy({"name": "p", "rules": [{"name": "r", "action": "deny", "tags": ["tor"]}]}).name
    'p'
    """
    if isinstance(source, Policy):
        return source
    if isinstance(source, Mapping):
        return _validate(source, None)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        return _validate(_read(path), str(path))
    raise PolicyError(
        [PolicyProblem(f"a policy is a path, a mapping or a Policy, not {type(source).__name__}")]
    )


def _read(path: Path) -> Any:
    file = str(path)
    suffix = path.suffix.lower()
    if suffix not in _SUFFIXES:
        message = f"unsupported policy file type {suffix or '(none)'!r}; use " + ", ".join(
            _SUFFIXES
        )
        raise PolicyError([PolicyProblem(message, file=file)])
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError([PolicyProblem("policy file not found", file=file)]) from None
    except (OSError, ValueError) as exc:  # ValueError: undecodable text, a NUL in the path
        raise PolicyError([PolicyProblem(f"cannot read policy file: {exc}", file=file)]) from None
    try:
        return _parse(text, suffix)
    except (yaml.YAMLError, json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError([PolicyProblem(_syntax_message(exc), file=file)]) from None
    except (ValueError, RecursionError) as exc:  # e.g. an int too large to convert
        raise PolicyError([PolicyProblem(f"cannot parse: {exc}", file=file)]) from None


def _parse(text: str, suffix: str) -> Any:
    if suffix == ".json":
        return json.loads(text)
    if suffix == ".toml":
        return tomllib.loads(text)
    return yaml.safe_load(text)


def _syntax_message(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        problem = exc.problem or "syntax error"
        return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}"
    kind = "TOML" if isinstance(exc, tomllib.TOMLDecodeError) else "YAML"
    return f"invalid {kind}: {exc}"


def _validate(data: Any, file: str | None) -> Policy:
    if data is None:
        raise PolicyError([PolicyProblem("the policy is empty", file=file)])
    if not isinstance(data, Mapping):
        message = f"the top level must be a mapping, not {type(data).__name__}"
        raise PolicyError([PolicyProblem(message, file=file, value=data)])
    data = dict(data)
    problems = _duplicate_names(data, file)
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        problems += [
            _problem(err, data, file)
            for err in exc.errors()
            if err["type"] != "duplicate_rule_name"  # reported per rule by _duplicate_names
        ]
    if problems:
        raise PolicyError(problems)
    return policy


def _duplicate_names(data: dict[str, Any], file: str | None) -> list[PolicyProblem]:
    # Checked on the raw data so duplicates are reported even when other rules are invalid.
    rules = data.get("rules")
    if not isinstance(rules, list):
        return []
    first: dict[str, int] = {}
    problems = []
    for index, rule in enumerate(rules):
        name = rule.get("name") if isinstance(rule, Mapping) else None
        if not isinstance(name, str):
            continue
        if name in first:
            message = f"rule name {name!r} is already used by rules[{first[name]}]"
            problems.append(
                PolicyProblem(
                    message, file=file, rule=name, path=f"rules[{index}].name", value=name
                )
            )
        else:
            first[name] = index
    return problems


def _problem(err: ErrorDetails, data: dict[str, Any], file: str | None) -> PolicyProblem:
    loc = err["loc"]
    return PolicyProblem(
        _message(err),
        file=file,
        rule=_rule_name(loc, data),
        path=_format_loc(loc),
        value=err["input"],
    )


def _format_loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _rule_name(loc: tuple[int | str, ...], data: dict[str, Any]) -> str | None:
    if len(loc) < 2 or loc[0] != "rules" or not isinstance(loc[1], int):
        return None
    rules = data.get("rules")
    rule = rules[loc[1]] if isinstance(rules, list) and loc[1] < len(rules) else None
    name = rule.get("name") if isinstance(rule, Mapping) else None
    return name if isinstance(name, str) else None


def _message(err: ErrorDetails) -> str:
    kind, loc, value = err["type"], err["loc"], err["input"]
    ctx = err.get("ctx") or {}
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])
    if kind == "extra_forbidden":
        return _unknown_key(loc)
    if kind == "missing":
        return f"required key {loc[-1]!r} is missing"
    if loc and loc[-1] == "status" and kind in ("greater_than_equal", "less_than_equal"):
        return f"status {value!r} is not an HTTP error status (400-599)"
    if kind == "string_type" and isinstance(value, bool):
        return (
            f"expected text, got {str(value).lower()}: YAML reads an unquoted "
            f"{_YAML_BOOLEANS[value]} as a boolean; quote it"
        )
    return f"{err['msg']} (got {value!r})"


def _unknown_key(loc: tuple[int | str, ...]) -> str:
    key = str(loc[-1])
    if len(loc) == 1:
        model: type[Policy | Rule | Conditions | FeedSpec] = Policy
    elif loc[0] == "feeds":
        model = FeedSpec
    elif "unless" in loc[:-1]:
        model = Conditions
    else:
        model = Rule
    fields = sorted(model.model_fields)
    close = difflib.get_close_matches(key.lower(), fields, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown key {key!r}{hint} (allowed: {', '.join(fields)})"
