"""The ``report`` and ``view`` commands of ``dagron-trace`` (registered by
:mod:`dagron.cli`, which loads and merges the input files).

- ``report FILE... -o OUT [--title T]``: the HTML report of the (merged) trace;
- ``view FILE... [--no-open] [--html] [--port P]``: the trace in the Perfetto UI,
  served once from memory (see :mod:`dagron.report.view`), or with ``--html`` the
  HTML report, written to a temporary file and opened from there.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import webbrowser
from pathlib import Path
from typing import Any, Callable

from dagron.execution.tracing import ExecutionTrace
from dagron.report import view as _view


def add_parsers(commands: Any) -> None:
    """Add the two commands to ``commands`` (an argparse subparsers object)."""
    report = commands.add_parser("report", help="write a one-file HTML report of a run")
    report.add_argument("files", nargs="+", metavar="FILE")
    report.add_argument("-o", "--output", required=True, metavar="OUT")
    report.add_argument("--title", help="the report's title (default: the input's name)")
    view = commands.add_parser(
        "view", help="open a trace in the Perfetto UI (or, with --html, as the HTML report)"
    )
    view.add_argument("files", nargs="+", metavar="FILE")
    view.add_argument(
        "--no-open", action="store_true", help="print the address instead of opening a browser"
    )
    view.add_argument(
        "--html", action="store_true", help="open the HTML report (a temporary file) instead"
    )
    view.add_argument(
        "--port",
        type=int,
        default=_view.PORT,
        help="port to serve on (default 9001, the one the Perfetto UI may fetch from)",
    )


def _default_title(files: list[str]) -> str:
    return os.path.basename(files[0]) if len(files) == 1 else f"{len(files)} traces merged"


def run(args: argparse.Namespace, load_all: Callable[[list[str]], ExecutionTrace]) -> int:
    """Run ``report`` or ``view``; ``load_all`` reads and merges the input files."""
    trace = load_all(args.files)
    title = args.title if getattr(args, "title", None) else _default_title(args.files)
    if args.command == "report":
        try:
            trace.write_html(args.output, title=title)
        except OSError as error:
            raise OSError(f"{args.output}: {error.strerror or error}") from None
        return 0
    if args.html:
        handle, path = tempfile.mkstemp(prefix="dagron-report-", suffix=".html")
        os.close(handle)
        trace.write_html(path, title=title)
        url = Path(path).as_uri()
        _show(url, args.no_open)
        return 0
    stem = Path(args.files[0]).name if len(args.files) == 1 else "merged"
    name = stem.split(".")[0] + ".pftrace"
    body = trace.to_perfetto()
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be 0..65535, not {args.port}")
    _view.serve_once(body, name, port=args.port, ready=lambda url: _show(url, args.no_open))
    return 0


def _show(url: str, no_open: bool) -> None:
    """Print ``url`` (``--no-open``), or open it in the browser, saying so."""
    if no_open or not webbrowser.open(url):
        print(url, flush=True)
    else:
        print(f"opened {url}", file=sys.stderr, flush=True)
