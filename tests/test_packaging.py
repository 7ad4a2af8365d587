"""Package metadata and the wheel's contents: what `pip install dagron-trace` users get.

The version is written once (Cargo.toml); the installed metadata and `dagron.__version__`
must both say it. A wheel built from this checkout must hold the typing files, the
license and complete metadata. `scripts/build-dist` runs the same checks
(tests/packaging_checks.py) on the release wheel and sdist it builds.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import dagron
import dagron._core
import packaging_checks
import pytest

ROOT = packaging_checks.ROOT
DIST = packaging_checks.DIST


def test_version_is_written_once_in_cargo_toml():
    pyproject = (ROOT / "pyproject.toml").read_text()
    project = pyproject.split("\n[project]\n", 1)[1].split("\n[", 1)[0]
    assert 'dynamic = ["version"]' in project
    assert not any(line.startswith("version") for line in project.splitlines())
    assert re.fullmatch(r"\d+\.\d+\.\d+([.-]?(a|b|rc|dev)\d+)?", packaging_checks.cargo_version())


def test_dagron_version_matches_the_installed_metadata():
    version = packaging_checks.cargo_version()
    assert dagron.__version__ == version
    assert dagron._core.__version__ == version
    assert importlib.metadata.version(DIST) == version
    assert "__version__" in dagron.__all__


def test_installed_metadata_is_complete():
    packaging_checks.check_metadata(importlib.metadata.metadata(DIST), readme_as_built=True)


def test_installed_distribution_carries_the_license():
    files = importlib.metadata.files(DIST) or []
    licenses = [f for f in files if f.name == "LICENSE"]
    assert [str(f).split("/", 1)[1] for f in licenses] == ["licenses/LICENSE"]
    assert licenses[0].read_text() == (ROOT / "LICENSE").read_text()
    assert "MIT License" in licenses[0].read_text()


def test_check_metadata_rejects_a_wrong_version():
    meta = importlib.metadata.metadata(DIST)
    meta.replace_header("Version", "9.9.9")
    with pytest.raises(AssertionError, match="9.9.9"):
        packaging_checks.check_metadata(meta)


@pytest.mark.timeout(900)
def test_wheel_built_from_this_checkout_holds_typing_files_license_and_metadata(tmp_path):
    # After `pip install -e .` (the README's test command) cargo's release build is fresh,
    # so this only packs a wheel: seconds, not a rebuild.
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    (wheel,) = tmp_path.glob(f"{packaging_checks.WHEEL_NAME}-*.whl")
    names = packaging_checks.check_wheel(wheel)
    assert "dagron/py.typed" in names
    assert "dagron/_core.pyi" in names
    assert (
        f"{packaging_checks.WHEEL_NAME}-{dagron.__version__}.dist-info/licenses/LICENSE" in names
    )


def test_check_wheel_rejects_a_wheel_without_its_stub(tmp_path):
    version = packaging_checks.cargo_version()
    wheel = tmp_path / f"{packaging_checks.WHEEL_NAME}-{version}-cp39-abi3-linux_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name in packaging_checks.PACKAGE_FILES:
            if name != "dagron/_core.pyi":
                archive.writestr(name, "")
    with pytest.raises(AssertionError, match="_core.pyi"):
        packaging_checks.check_wheel(wheel)


def test_packaging_checks_cli_reports_usage_without_arguments():
    run = subprocess.run(
        [sys.executable, str(Path(packaging_checks.__file__))],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2
    assert "usage" in run.stderr
