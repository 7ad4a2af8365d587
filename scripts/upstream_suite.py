#!/usr/bin/env python3
"""Run upstream dagron's own executor tests against this package (issue 23, part 5).

Upstream's tests are not in any PyPI artifact of dagron 0.1.1 (the wheel has none; the
sdist holds only the crates and the Python sources, and pip cannot even prepare it),
so they are read from a clone of https://github.com/ByteVeda/dagron given on the
command line: a bare or working git repository. The files are read with ``git show``
at ``--ref`` (default: the ``0.1.1`` tag, the version on PyPI) into a temporary
directory, never into this repository, and run there with this interpreter's
``dagron``. The tests named in ``tests/upstream_suite_deselect.txt`` (each with its
reason) are left out.

Usage: python scripts/upstream_suite.py --repo PATH [--ref 0.1.1] [-- PYTEST_ARGS...]
Exit status: pytest's.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DESELECT = ROOT / "tests" / "upstream_suite_deselect.txt"

#: Upstream's files the suite needs, relative to its repository root.
FILES = [
    "tests/python/conftest.py",
    "tests/python/execution/__init__.py",
    "tests/python/execution/test_executor.py",
    "tests/python/execution/test_distributed_executor.py",
    "tests/python/execution/test_profiling.py",
    "tests/python/execution/test_concurrent.py",
    "tests/python/execution/test_tracing.py",
]
TEST_FILES = [f for f in FILES if Path(f).name.startswith("test_")]

# Without pytest-asyncio, `@pytest.mark.asyncio` coroutine tests run under asyncio.run.
_ASYNCIO_SHIM = """
import asyncio
import inspect

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        names = pyfuncitem._fixtureinfo.argnames
        kwargs = {name: pyfuncitem.funcargs[name] for name in names}
        asyncio.run(pyfuncitem.obj(**kwargs))
        return True
    return None
"""


def deselected() -> list[tuple[str, str]]:
    """(node id, reason) for each line ``NODE_ID  # reason`` of the deselect list."""
    out = []
    for line in DESELECT.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        node, sep, reason = line.partition("#")
        if not sep or not reason.strip():
            raise SystemExit(f"{DESELECT.name}: no reason given for {node.strip()!r}")
        out.append((node.strip(), reason.strip()))
    return out


def extract(repo: Path, ref: str, dest: Path) -> None:
    """Write upstream's FILES at ``ref`` under ``dest``."""
    for name in FILES:
        shown = subprocess.run(
            ["git", "-C", str(repo), "show", f"{ref}:{name}"],
            capture_output=True,
            check=False,
        )
        if shown.returncode != 0:
            err = shown.stderr.decode(errors="replace").strip()
            raise SystemExit(f"cannot read {name} at {ref} from {repo}: {err}")
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(shown.stdout)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", required=True, type=Path, help="a git clone of upstream")
    parser.add_argument("--ref", default="0.1.1", help="tag or commit (default: 0.1.1)")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    args = parser.parse_args(argv)
    skipped = deselected()
    with tempfile.TemporaryDirectory(prefix="dagron-upstream-suite-") as tmp:
        dest = Path(tmp)
        extract(args.repo, args.ref, dest)
        ini = ["[pytest]", "markers =", "    asyncio: a coroutine test", "timeout = 120"]
        if importlib.util.find_spec("pytest_asyncio") is not None:
            ini.append("asyncio_mode = auto")
        else:
            (dest / "dagron_asyncio_shim.py").write_text(_ASYNCIO_SHIM)
        (dest / "pytest.ini").write_text("\n".join(ini) + "\n")
        cmd = [sys.executable, "-m", "pytest", "-c", str(dest / "pytest.ini")]
        cmd += ["--rootdir", str(dest), "-p", "no:cacheprovider", "-rfEs"]
        if (dest / "dagron_asyncio_shim.py").exists():
            cmd += ["-p", "dagron_asyncio_shim"]
        for node, _reason in skipped:
            cmd += ["--deselect", node]
        cmd += TEST_FILES + list(args.pytest_args)
        # The shim plugin's directory first; dagron comes from this interpreter's path.
        paths = [str(dest), *filter(None, [os.environ.get("PYTHONPATH")])]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
        print(f"upstream {args.ref}: {len(skipped)} tests left out (see {DESELECT.name})")
        return subprocess.run(cmd, cwd=dest, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
