"""The import graph goes one way: faces -> engine -> {policy, signals, sources} -> facts ->
address -> errors. Every import counts, also those inside functions and under TYPE_CHECKING:
a lazy import is still a dependency, and a cycle hidden in one is still a cycle."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import geofence
from geofence.reputation.parsers import FORMATS as PARSERS
from geofence.vocab.feeds import FORMATS

PACKAGE = Path(geofence.__file__).parent

# (layer, part) per module prefix; the longest prefix wins. Lower layer numbers sit lower.
PARTS: dict[str, tuple[int, str]] = {
    "geofence.errors": (0, "errors"),
    "geofence.net": (1, "address"),
    "geofence.forwarded": (1, "address"),
    "geofence.client_ip": (1, "address"),
    "geofence.request": (1, "address"),
    "geofence.request_forms": (1, "address"),
    "geofence.facts": (2, "facts"),
    "geofence.decision": (2, "facts"),
    "geofence.vocab": (2, "facts"),
    "geofence.tags": (2, "facts"),
    "geofence.policy": (3, "policy"),
    "geofence.signals": (3, "signals"),
    "geofence.store": (3, "signals"),
    "geofence.geo": (3, "sources"),
    "geofence.reputation": (3, "sources"),
    "geofence.embedded": (3, "sources"),
    "geofence.engine": (4, "engine"),
    "geofence.pipeline": (4, "engine"),
    "geofence.composition": (4, "engine"),
    "geofence.cache": (4, "engine"),
    "geofence.rows": (4, "engine"),
    "geofence.hotpath": (4, "engine"),
    "geofence.stages": (4, "engine"),
    "geofence.lifecycle": (4, "engine"),
    "geofence.form_cache": (4, "engine"),
}
FACES = (5, "faces")  # everything else: middleware, framework integrations, CLI, testing, audit


def part_of(module: str) -> tuple[int, str]:
    best = ""
    for prefix in PARTS:
        if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
            best = prefix
    return PARTS[best] if best else FACES


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every geofence import in ``path``, lazy ones included."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            targets = [target]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        for target in targets:
            if target == "geofence" or target.startswith("geofence."):
                yield node.lineno, target


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        edges[module_name(path)] = {target for _, target in imports(path)}
    return edges


def test_every_import_goes_down_or_stays_in_its_part() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        here = part_of(module_name(path))
        for line, target in imports(path):
            there = part_of(target)
            if there[1] != here[1] and there[0] >= here[0]:
                wrong.append(f"{path.relative_to(PACKAGE)}:{line}: {here[1]} imports {target}")
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_no_cycle_between_parts() -> None:
    edges: dict[str, set[str]] = {}
    for module, targets in graph().items():
        edges.setdefault(part_of(module)[1], set()).update(
            part_of(t)[1] for t in targets if part_of(t)[1] != part_of(module)[1]
        )
    seen: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        seen[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if seen.get(nxt) == 1:
                pytest.fail("import cycle between parts: " + " -> ".join([*path, node, nxt]))
            if nxt not in seen:
                visit(nxt, [*path, node])
        seen[node] = 2

    for start in sorted(edges):
        if start not in seen:
            visit(start, [])


def test_the_layer_test_sees_a_wrong_import() -> None:
    # The checker itself must be able to fail: a policy module importing a source is caught.
    assert part_of("geofence.policy.models") == (3, "policy")
    assert part_of("geofence.reputation.feedset") == (3, "sources")
    assert part_of("geofence.cli.core") == FACES
    here, there = part_of("geofence.decision"), part_of("geofence.policy")
    assert there[1] != here[1]
    assert there[0] >= here[0]


def test_the_feed_vocabulary_names_exactly_the_parsers() -> None:
    assert set(PARSERS) == set(FORMATS)
