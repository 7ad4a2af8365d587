#!/usr/bin/env python3
"""Make (once) a CPython 3.12 venv holding upstream dagron 0.1.1 from PyPI, for the
differential test (tests/test_differential.py) and benches/bench_executors_peers.py.

Both packages are named ``dagron``, so upstream's gets a venv of its own:
``target/upstream-venv`` (or ``--dir``). Upstream needs CPython >= 3.12; the
interpreter is ``$DAGRON_UPSTREAM_PYTHON``, else ``python3.12`` on ``PATH``, else the
newest 3.12 that pyenv has. An existing venv whose ``dagron`` is 0.1.1 is kept.

Prints the venv's python on success (exit 0); otherwise one line saying why (exit 1).
Usage: python scripts/upstream_venv.py [--dir PATH]
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent
VERSION = "0.1.1"


def find_python312() -> Optional[str]:
    """A CPython 3.12 interpreter, or None."""
    candidates = []
    if os.environ.get("DAGRON_UPSTREAM_PYTHON"):
        candidates.append(os.environ["DAGRON_UPSTREAM_PYTHON"])
    on_path = shutil.which("python3.12")
    if on_path:
        candidates.append(on_path)
    pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    pattern = os.path.join(pyenv_root, "versions", "3.12*", "bin", "python")
    candidates += sorted(glob.glob(pattern), reverse=True)
    for python in candidates:
        try:
            out = subprocess.run(
                [python, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.stdout.strip() == "True":
            return python
    return None


def has_upstream(python: Path) -> bool:
    if not python.exists():
        return False
    check = "import importlib.metadata as m; print(m.version('dagron'))"
    out = subprocess.run(
        [str(python), "-c", check], capture_output=True, text=True, timeout=60, check=False
    )
    return out.stdout.strip() == VERSION


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=ROOT / "target" / "upstream-venv")
    venv = parser.parse_args(argv).dir
    python = venv / "bin" / "python"
    if has_upstream(python):
        print(python)
        return 0
    base = find_python312()
    if base is None:
        print("no CPython 3.12 found (set DAGRON_UPSTREAM_PYTHON)")
        return 1
    made = subprocess.run(
        [base, "-m", "venv", "--clear", str(venv)], capture_output=True, text=True, check=False
    )
    if made.returncode != 0:
        print(f"cannot make a venv with {base}: {made.stderr.strip().splitlines()[-1:]}")
        return 1
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    try:
        installed = subprocess.run(
            [*pip, f"dagron=={VERSION}"], capture_output=True, text=True, timeout=600, check=False
        )
    except subprocess.TimeoutExpired:
        print(f"pip install dagron=={VERSION} took over 600 s")
        return 1
    if installed.returncode != 0 or not has_upstream(python):
        last = (installed.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"cannot install dagron=={VERSION} from PyPI: {last}")
        return 1
    print(python)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
