"""What a release's wheel and sdist must hold, checked from the archives themselves.

Used by `tests/test_packaging.py` and by `scripts/build-dist` (run as a script on the files
it built: `python tests/packaging_checks.py dist/*.whl dist/*.tar.gz`). Standard library
only, so the build script can run it with any Python 3.9+.
"""

from __future__ import annotations

import email.parser
import re
import sys
import tarfile
import zipfile
from email.message import Message
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: The distribution's name on PyPI ("dagron" there is the upstream package), and the
#: form wheel and sdist file names and the .dist-info folder take (PEP 427 / PEP 625).
DIST = "dagron-trace"
WHEEL_NAME = "dagron_trace"
SUPPORTED_PYTHONS = ["3.9", "3.10", "3.11", "3.12", "3.13"]

# Everything the package needs at run time and for type checkers (PEP 561).
PACKAGE_FILES = [
    "dagron/__init__.py",
    "dagron/py.typed",
    "dagron/_core.pyi",
    "dagron/dag.py",
    "dagron/errors.py",
    "dagron/executor.py",
    "dagron/execution/__init__.py",
    "dagron/execution/tracing.py",
    # The HTML report's page: package data, read at run time.
    "dagron/report/__init__.py",
    "dagron/report/report.js",
    "dagron/report/report.css",
]

# What building from the sdist needs.
SDIST_FILES = [
    "pyproject.toml",
    "Cargo.toml",
    "Cargo.lock",
    "LICENSE",
    "README.md",
    "rust/core/Cargo.toml",
    "rust/core/src/lib.rs",
    "rust/py/Cargo.toml",
    "rust/py/src/lib.rs",
    *("python/" + name for name in PACKAGE_FILES),
]

EXTENSION = re.compile(r"^dagron/_core(\.abi3\.so|\.pyd)$")


def cargo_version() -> str:
    """The one place the version is written: `[workspace.package] version` in the
    workspace's Cargo.toml (both crates take it)."""
    text = (ROOT / "Cargo.toml").read_text()
    package = text.split("[workspace.package]", 1)[1].split("\n[", 1)[0]
    found = re.search(r'^version\s*=\s*"([^"]+)"', package, re.M)
    assert found is not None, "Cargo.toml [workspace.package] has no version"
    return found.group(1)


def parse_metadata(text: str) -> Message:
    return email.parser.Parser().parsestr(text)


def check_metadata(meta: Message, *, readme_as_built: bool = False) -> None:
    """Core metadata (METADATA / PKG-INFO) a package index expects, with the right values.

    The long description must be README.md as it is now, unless `readme_as_built` (an
    installed package keeps the README of when it was installed; it must still be ours).
    """
    assert meta["Name"] == DIST, meta["Name"]
    assert meta["Version"] == cargo_version(), (meta["Version"], cargo_version())
    assert meta["Requires-Python"] == ">=3.9", meta["Requires-Python"]
    assert meta["License-Expression"] == "MIT", meta["License-Expression"]
    assert meta.get_all("License-File") == ["LICENSE"], meta.get_all("License-File")
    assert meta["Summary"], "no Summary"
    keywords = (meta["Keywords"] or "").split(",")
    assert {"tracing", "dag", "chrome-trace", "perfetto"} <= set(keywords), keywords
    classifiers = meta.get_all("Classifier") or []
    for version in SUPPORTED_PYTHONS:
        assert f"Programming Language :: Python :: {version}" in classifiers, version
    for platform in ("POSIX :: Linux", "MacOS", "Microsoft :: Windows"):
        assert f"Operating System :: {platform}" in classifiers, platform
    assert "Typing :: Typed" in classifiers
    content_type = meta["Description-Content-Type"] or ""
    assert content_type.startswith("text/markdown"), content_type
    readme = (ROOT / "README.md").read_text()
    # The long description is the body; the importlib_metadata backport (which some
    # dependencies install as a distribution finder) moves it to a Description header.
    body = meta.get_payload() or meta["Description"]
    assert isinstance(body, str), "no long description"
    if readme_as_built:
        assert body.startswith(readme.splitlines()[0] + "\n"), "long description is not README"
    else:
        assert body.strip() == readme.strip(), "long description != README.md"


def check_wheel(path: Path) -> list[str]:
    """Checks a built wheel's file list, tags and metadata; returns its file names."""
    version = cargo_version()
    dist_info = f"{WHEEL_NAME}-{version}.dist-info"
    with zipfile.ZipFile(path) as wheel:
        names = wheel.namelist()
        missing = [name for name in PACKAGE_FILES if name not in names]
        assert not missing, f"{path.name} lacks {missing}"
        extensions = [name for name in names if EXTENSION.match(name)]
        assert len(extensions) == 1, f"{path.name}: extension modules {extensions}"
        stray = [
            name
            for name in names
            if not (name.startswith(("dagron/", dist_info + "/")))
            or "__pycache__" in name
            or name.endswith(".pyc")
        ]
        assert not stray, f"{path.name} holds unexpected files {stray}"
        license_text = wheel.read(f"{dist_info}/licenses/LICENSE").decode()
        assert license_text == (ROOT / "LICENSE").read_text(), "wheel LICENSE != LICENSE"
        tags = parse_metadata(wheel.read(f"{dist_info}/WHEEL").decode()).get_all("Tag") or []
        assert tags and all(tag.startswith("cp39-abi3-") for tag in tags), tags
        check_metadata(parse_metadata(wheel.read(f"{dist_info}/METADATA").decode()))
    assert path.name.startswith(f"{WHEEL_NAME}-{version}-cp39-abi3-"), path.name
    return names


def check_sdist(path: Path) -> list[str]:
    """Checks an sdist holds what building needs, the license, and the same metadata."""
    top = f"{WHEEL_NAME}-{cargo_version()}"
    with tarfile.open(path) as sdist:
        names = sdist.getnames()
        missing = [name for name in SDIST_FILES if f"{top}/{name}" not in names]
        assert not missing, f"{path.name} lacks {missing}"
        pkg_info = sdist.extractfile(f"{top}/PKG-INFO")
        assert pkg_info is not None
        check_metadata(parse_metadata(pkg_info.read().decode()))
    return names


def main(paths: list[str]) -> int:
    if not paths:
        print("usage: packaging_checks.py WHEEL_OR_SDIST...", file=sys.stderr)
        return 2
    for name in paths:
        path = Path(name)
        if path.name.endswith(".whl"):
            files = check_wheel(path)
        elif path.name.endswith(".tar.gz"):
            files = check_sdist(path)
        else:
            print(f"not a wheel or sdist: {path}", file=sys.stderr)
            return 2
        print(f"ok: {path.name} ({len(files)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
