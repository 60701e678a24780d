"""The pytest plugin: runs ``*.geofence.yaml`` / ``*.geofence.toml`` case files as tests.

Registered as the ``pytest11`` entry point ``geofence``, so installing geofence enables it:
every case in a case file under the test paths becomes one test item, and a failure names the
rule that decided and why. Fixtures: ``static_geo`` (an empty ``StaticGeo`` to ``add()`` to)
and ``geofence`` (a factory: ``geofence(policy, **options)`` -> a ``Geofence`` over
``static_geo``, closed after the test). geofence itself is imported only when one is used, so
the plugin costs nothing in a project that has no case files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from geofence.engine import Geofence
    from geofence.testing.cases import Case, CaseRunner
    from geofence.testing.static import StaticGeo

__all__ = ["CaseFile", "CaseItem", "geofence", "static_geo"]

_SUFFIXES = (".geofence.yaml", ".geofence.yml", ".geofence.toml")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> CaseFile | None:
    """Collect case files (a name check only: nothing is imported for other files)."""
    if file_path.name.lower().endswith(_SUFFIXES):
        return CaseFile.from_parent(parent, path=file_path)
    return None


class CaseFailed(Exception):
    """A case whose decision differed from what it expected."""


class CaseFile(pytest.File):
    """A case file: one item per case."""

    runner: CaseRunner | None = None

    def collect(self) -> Iterator[CaseItem]:
        from geofence.errors import GeofenceError
        from geofence.testing.cases import CaseRunner, load_cases

        try:
            self.runner = CaseRunner(load_cases(self.path))
        except GeofenceError as exc:
            raise self.CollectError(f"invalid geofence case file:\n{exc}") from None
        for case in self.runner.suite.cases:
            yield CaseItem.from_parent(self, name=case.name, case=case)

    def teardown(self) -> None:
        if self.runner is not None:
            self.runner.close()


class CaseItem(pytest.Item):
    """One case of a case file."""

    def __init__(self, *, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case

    def runtest(self) -> None:
        parent = self.parent
        if not isinstance(parent, CaseFile) or parent.runner is None:
            raise TypeError("a geofence case item belongs to a collected case file")
        result = parent.runner.run(self.case)
        if not result.passed:
            raise CaseFailed(result.message)

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str | Any:
        if isinstance(excinfo.value, CaseFailed):
            return f"{self.path.name}: case {self.case.name!r}: {excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"geofence case: {self.case.name}"


@pytest.fixture
def static_geo() -> StaticGeo:
    """An empty ``StaticGeo``: ``static_geo.add("203.0.113.0/24", country="US", tags=["vpn"])``."""
    from geofence.testing.static import StaticGeo

    return StaticGeo(name="static_geo")


@pytest.fixture
def geofence(
    static_geo: StaticGeo, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Geofence]]:
    """``geofence(policy, **options)``: a ``Geofence`` over ``static_geo`` (re-read per request).

    A relative policy path is found next to the test module first. ``static_geo.add()`` after
    construction is seen by the next ``evaluate()``.
    """
    from geofence.engine import Geofence

    made: list[Geofence] = []

    def make(policy: Any, **options: Any) -> Geofence:
        if isinstance(policy, (str, Path)) and not Path(policy).is_absolute():
            beside = Path(request.path).parent / policy
            policy = beside if beside.exists() else policy
        options.setdefault("geo", static_geo)
        options.setdefault("reload_interval", 0.0)
        gf = Geofence(policy, **options)
        made.append(gf)
        return gf

    yield make
    for gf in made:
        gf.close()
