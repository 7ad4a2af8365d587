"""``dagron-trace`` (also ``python -m dagron``): summarize, convert and merge trace
files (journals and ``write_json`` exports) from the command line; ``report`` and
``view`` (the HTML report, the Perfetto UI) live in :mod:`dagron.report.commands`.

Errors are one line on stderr and exit status 1 (2 for bad usage); a progress bar
(``tqdm``, from the ``dagron-trace[cli]`` extra) shows while files load, on a terminal only.
``-o -`` writes to standard output. A closed pipe on standard output (``| head``)
ends the command quietly by SIGPIPE, as ``cat``; SIGINT ends it with one line and
status 130, unless the output was already complete (then status 0). See
docs/faults.md.
"""

from __future__ import annotations

import argparse
import errno
import math
import os
import signal
import sys
import warnings
from collections.abc import Sequence
from typing import Any, Callable, NoReturn, Optional

from dagron import _cli_start
from dagron.errors import TraceFileError, TraceJournalWarning
from dagron.execution import _files
from dagron.execution.tracing import ExecutionTrace
from dagron.report import commands as report_commands

PROG = "dagron-trace"
FORMATS = ("json", "chrome", "perfetto", "parquet")
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
        command.add_argument(
            "-o", "--output", required=True, metavar="OUT", help="output file; - for stdout"
        )
        if many:
            command.add_argument(
                "--offset",
                action="append",
                default=[],
                metavar="FILE=SECONDS",
                help="move FILE's events SECONDS later (negative: earlier) on the merged "
                "timeline; a file without a clock (a JSON export) starts at the merged "
                "start plus SECONDS; repeat for several files",
            )
        command.add_argument(
            "--to",
            choices=FORMATS,
            help="output format: json (the events, as write_json), chrome (Chrome Trace "
            "JSON), perfetto (protobuf; a merged trace shows one process per source), "
            "parquet (the events table; needs dagron-trace[arrow]); "
            "default: from OUT's extension, .pftrace/.perfetto-trace/.pb for Perfetto, "
            ".parquet for Parquet, else json; .gz compresses",
        )
        command.add_argument(
            "--named", action="store_true", help="Chrome JSON with one process per source"
        )
    # diff parses its own arguments (BASE... -- CAND...): see dagron.comparison._cli.
    commands.add_parser(
        "diff", add_help=False, help="compare runs and gate regressions (diff --help)"
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


STDOUT = "-"


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
    if name.endswith(".parquet"):
        return "parquet"
    return "perfetto" if name.endswith(PERFETTO_SUFFIXES) else "json"


def check_output(out: str, inputs: Sequence[str]) -> None:
    """Refuse an empty output path, and one that is (by ``samefile``) an input."""
    if out == "":
        raise UsageError("the output path is empty")
    if out == STDOUT:
        return
    for path in inputs:
        try:
            same = os.path.samefile(out, path)
        except OSError:  # either does not exist (yet): not the same file
            same = False
        if same:
            raise UsageError(f"the output {out} is the input {path}: write to another file")


def offsets(args: argparse.Namespace) -> Optional[list[float]]:
    """Per-file offsets in seconds from ``--offset FILE=SECONDS`` (None: none)."""
    if not getattr(args, "offset", None):
        return None
    given: dict[str, float] = {}
    for option in args.offset:
        path, equals, value = option.rpartition("=")
        if not equals or not path:
            raise UsageError(f"--offset {option}: expected FILE=SECONDS")
        try:
            seconds = float(value)
        except ValueError:
            seconds = math.nan
        if not math.isfinite(seconds):
            raise UsageError(f"--offset {option}: {value!r} is not a finite number of seconds")
        if path not in args.files:
            raise UsageError(f"--offset {option}: {path} is not one of the files to merge")
        if path in given:
            raise UsageError(f"--offset: {path} is given more than one offset")
        given[path] = seconds
    return [given.get(path, 0.0) for path in args.files]


def stdout() -> Any:
    """Standard output's binary stream; OSError when it is closed."""
    if sys.stdout is None:
        raise OSError(errno.EBADF, "standard output is closed")
    return sys.stdout.buffer


def write(trace: ExecutionTrace, out: str, fmt: str) -> None:
    writers: dict[str, Callable[[Any], None]] = {
        "json": trace.write_json,
        "chrome": trace.write_chrome_trace,
        "named": lambda path: trace.write_chrome_trace(path, named=True),
        "perfetto": trace.write_perfetto,
        "parquet": trace.write_parquet,
    }
    if out == STDOUT:
        stream = stdout()
        writers[fmt](stream)
        stream.flush()
        return
    try:
        writers[fmt](out)
    except BrokenPipeError:  # a pipe given by name: as on stdout
        raise
    except OSError as error:
        raise OSError(f"{out}: {error.strerror or error}") from None


def identity(path: str) -> Optional[tuple[int, ...]]:
    """What tells whether ``path`` was replaced: None if it does not exist."""
    try:
        status = os.stat(path)
    except (OSError, ValueError):
        return None
    return (status.st_dev, status.st_ino, status.st_mtime_ns, status.st_size)


class Interrupted(Exception):
    """SIGINT; ``done`` when the output was already complete."""

    def __init__(self, done: bool) -> None:
        super().__init__("interrupted")
        self.done = done


def say(text: str) -> None:
    """Print ``text`` to standard output (OSError when closed or broken)."""
    stream = stdout()
    stream.write(text.encode("utf-8", "surrogateescape"))


def run(argv: Optional[Sequence[str]]) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "summary":
        stdout()  # closed: say so before the work
        for position, path in enumerate(args.files):
            trace = load(path)
            if len(args.files) > 1:
                say(("\n" if position else "") + f"==> {path} <==\n")
            say(trace.summary() + "\n")
            sys.stdout.flush()
        return 0
    if args.command in ("report", "view"):
        return report_commands.run(args, load_merged)
    fmt = output_format(args)
    check_output(args.output, args.files)
    shifts = offsets(args)
    if args.output == STDOUT:
        stdout()
    traces = [load(path) for path in args.files]
    trace = (
        traces[0] if args.command == "convert" else ExecutionTrace.merge(traces, offsets=shifts)
    )
    before = None if args.output == STDOUT else identity(args.output)
    try:
        write(trace, args.output, fmt)
    except KeyboardInterrupt:
        # The rename into place is the commit: past it, the file is whole.
        replaced = args.output != STDOUT and identity(args.output) not in (None, before)
        raise Interrupted(done=replaced) from None
    return 0


def broken_pipe() -> NoReturn:
    """Standard output's reader went away: end as ``cat`` does, by SIGPIPE, quietly."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # nothing more to flush at exit
    except (OSError, ValueError, AttributeError):
        pass
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGPIPE)
    os._exit(128 + 13)


def main(argv: Optional[Sequence[str]] = None) -> int:
    # Run as the command: from here SIGINT raises KeyboardInterrupt, handled below;
    # once the outcome is known, a late SIGINT changes nothing.
    owned = signal.getsignal(signal.SIGINT) is _cli_start.quiet
    if owned:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        status = _main(argv)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        status = 130
    if owned:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    return status


def _main(argv: Optional[Sequence[str]]) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments[:1] == ["diff"]:
        from dagron.comparison._cli import main as diff

        return diff(arguments[1:])
    try:
        return run(argv)
    except UsageError as error:
        print(f"{PROG}: usage error: {error} (see {PROG} --help)", file=sys.stderr)
        return 2
    except BrokenPipeError:
        broken_pipe()
    except (
        OSError,
        TraceFileError,
        ValueError,
        TypeError,
        MemoryError,
        RecursionError,
        ImportError,
    ) as error:
        if isinstance(error, OSError) and error.errno == errno.EPIPE:
            broken_pipe()
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 1
    except Interrupted as interrupt:
        if interrupt.done:
            return 0
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
