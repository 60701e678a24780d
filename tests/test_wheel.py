"""The built wheel, installed into a fresh virtualenv, works without a checkout."""

from __future__ import annotations

import json
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheelhouse")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(REPO),
        ],
        check=True,
    )
    (built,) = out.glob("geofence_policy-*.whl")
    return built


def test_wheel_carries_data_typing_marker_and_entry_point(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "geofence/_data/dbip-country.mmdb",
        "geofence/_data/asn.mmdb",
        "geofence/_data/regions.mmdb",
        "geofence/_data/regions/subdivision-aliases.csv",
        "geofence/_data/NOTICE",
        "geofence/_data/policies/default.yaml",
        "geofence/py.typed",
    ):
        assert required in names, required
    (entry_points,) = [n for n in names if n.endswith("entry_points.txt")]
    assert "geofence = geofence.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_installed_wheel_answers_from_embedded_data(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    target = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
    )
    # The runtime dependencies come from this environment; nested .pth files (this checkout's
    # editable install among them) are not processed, so only the wheel provides `geofence`.
    (target / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    probe = (
        "import json, geofence, geofence.embedded as e;"
        "gf = geofence.Geofence(e.example_policy_path());"
        "d = gf.evaluate('8.8.8.8');"
        "print(json.dumps({'file': geofence.__file__, 'data': str(e.data_dir()),"
        " 'country': d.country, 'asn': d.asn}))"
    )
    out = subprocess.run(
        [str(python), "-c", probe], cwd=tmp_path, check=True, capture_output=True, text=True
    )
    result = json.loads(out.stdout)
    assert result["file"].startswith(str(target))
    assert result["data"].startswith(str(target))
    assert result["country"] == "US"
    assert result["asn"] == 15169
    check = subprocess.run(
        [str(env_dir / "bin" / "geofence"), "check", "--json", "8.8.8.8"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert check.returncode in (0, 1), check.stderr
    assert json.loads(check.stdout)["country"] == "US"
