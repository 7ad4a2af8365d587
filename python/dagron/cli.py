"""``dagron-trace`` (also ``python -m dagron``): summarize, convert and merge trace
files (journals and ``write_json`` exports) from the command line; ``report`` and
``view`` (the HTML report, the Perfetto UI) live in :mod:`dagron.report.commands`.

Errors are one line on stderr and exit status 1 (2 for bad usage); a progress bar
(``tqdm``, from the ``dagron[cli]`` extra) shows while files load, on a terminal only.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any, Callable, NoReturn, Optional

from dagron.errors import TraceFileError, TraceJournalWarning
from dagron.execution import _files
from dagron.execution.tracing import ExecutionTrace
from dagron.report import commands as report_commands

PROG = "dagron-trace"
FORMATS = ("json", "chrome", "perfetto")
PERFETTO_SUFFIXES = (".perfetto-trace", ".pftrace", ".pb")


class UsageError(Exception):
    """Bad command-line usage (exit status 2)."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def build_parser() -> Parser:
    parser = Parser(prog=PROG, description="Summarize, convert and merge dagron traces.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    summary = commands.add_parser("summary", help="print the summary of each trace")
    summary.add_argument("files", nargs="+", metavar="FILE")
    for name, helptext, many in (
        ("convert", "write a trace in another format", False),
        ("merge", "merge traces into one timeline", True),
    ):
        command = commands.add_parser(name, help=helptext)
        command.add_argument("files", nargs="+" if many else 1, metavar="FILE")
        command.add_argument("-o", "--output", required=True, metavar="OUT")
        command.add_argument(
            "--to",
            choices=FORMATS,
            help="output format: json (the events, as write_json), chrome (Chrome Trace "
            "JSON), perfetto (protobuf; a merged trace shows one process per source); "
            "default: from OUT's extension, .pftrace/.perfetto-trace/.pb for Perfetto, "
            "else json; .gz compresses",
        )
        command.add_argument(
            "--named", action="store_true", help="Chrome JSON with one process per source"
        )
    report_commands.add_parsers(commands)
    return parser


def make_bar(total: int, label: str, unit: str) -> Any:
    """A tqdm bar on stderr when it is a terminal and tqdm is installed, else None."""
    if not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        return None
    return tqdm(
        total=total,
        desc=label,
        unit=unit,
        unit_scale=True,
        leave=False,
        file=sys.stderr,
        mininterval=0.2,
    )


class EventProgress:
    """``progress(done, total)`` for loading: an events bar, made on first use."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: Any = None
        self.done = 0

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = make_bar(total, self.label, " events")
            if self.bar is None:
                return
        self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def load(path: str) -> ExecutionTrace:
    try:
        size = os.path.getsize(path)
    except OSError as error:
        raise OSError(f"{path}: {error.strerror or error}") from None
    label = os.path.basename(path)
    bar = make_bar(size, f"reading {label}", "B")
    try:
        data = _files.read_file(path, None if bar is None else bar.update)
    except OSError as error:
        raise OSError(f"{path}: {error.strerror or error}") from None
    finally:
        if bar is not None:
            bar.close()
    events = EventProgress(f"loading {label}")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", TraceJournalWarning)
            trace = _files.loads(ExecutionTrace, data, path, events)
    finally:
        events.close()
    for warning in caught:
        print(f"{PROG}: warning: {warning.message}", file=sys.stderr)
    return trace


def load_merged(paths: list[str]) -> ExecutionTrace:
    """The file's trace, or several files' traces merged into one timeline."""
    traces = [load(path) for path in paths]
    return traces[0] if len(traces) == 1 else ExecutionTrace.merge(traces)


def output_format(args: argparse.Namespace) -> str:
    if args.named:
        if args.to not in (None, "chrome"):
            raise UsageError(f"--named is a Chrome JSON option, not one for --to {args.to}")
        return "named"
    if args.to is not None:
        return str(args.to)
    name = args.output[:-3] if args.output.endswith(".gz") else args.output
    return "perfetto" if name.endswith(PERFETTO_SUFFIXES) else "json"


def write(trace: ExecutionTrace, out: str, fmt: str) -> None:
    writers: dict[str, Callable[[str], None]] = {
        "json": trace.write_json,
        "chrome": trace.write_chrome_trace,
        "named": lambda path: trace.write_chrome_trace(path, named=True),
        "perfetto": trace.write_perfetto,
    }
    try:
        writers[fmt](out)
    except OSError as error:
        raise OSError(f"{out}: {error.strerror or error}") from None


def run(argv: Optional[Sequence[str]]) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "summary":
        for position, path in enumerate(args.files):
            trace = load(path)
            if len(args.files) > 1:
                print(("\n" if position else "") + f"==> {path} <==")
            print(trace.summary())
        return 0
    if args.command in ("report", "view"):
        return report_commands.run(args, load_merged)
    fmt = output_format(args)
    traces = [load(path) for path in args.files]
    trace = traces[0] if args.command == "convert" else ExecutionTrace.merge(traces)
    write(trace, args.output, fmt)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    try:
        return run(argv)
    except UsageError as error:
        print(f"{PROG}: usage error: {error} (see {PROG} --help)", file=sys.stderr)
        return 2
    except (OSError, TraceFileError, ValueError, TypeError, MemoryError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
