"""The first moments of ``dagron-trace``: SIGINT while the package imports.

``dagron/__init__.py`` imports much (the extension, asyncio, ...), and a SIGINT then
would print a traceback from the middle of some import. When the process is
``dagron-trace`` (or ``python -m dagron``), importing this module (the package's
first import) installs :func:`quiet` as the SIGINT handler: it writes one line and
exits with status 130 at once (nothing is written yet). ``dagron.cli.main`` replaces
it with its own handling as it starts.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType
from typing import Optional

LINE = b"dagron-trace: interrupted\n"


def quiet(signum: int, frame: Optional[FrameType]) -> None:
    """Interrupted while starting: one line, status 130, no traceback."""
    try:
        os.write(2, LINE)
    finally:
        os._exit(130)


def is_cli(argv: Sequence[str], orig_argv: Sequence[str]) -> bool:
    """Whether this process runs the command line: the ``dagron-trace`` script, or
    ``python -m dagron`` (``argv`` is ``["-m", ...]`` while the module is found)."""
    if argv and os.path.basename(argv[0]) == "dagron-trace":
        return True
    if not argv or argv[0] != "-m":
        return False
    pairs = zip(orig_argv, orig_argv[1:])
    return any(flag == "-m" and name == "dagron" for flag, name in pairs) or (
        "-mdagron" in orig_argv
    )


def install() -> None:
    """Install :func:`quiet` when this process is the command line and SIGINT
    still has Python's own handler."""
    if not is_cli(sys.argv, getattr(sys, "orig_argv", ())):
        return
    try:
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, quiet)
    except ValueError:  # not the main thread
        pass


install()
