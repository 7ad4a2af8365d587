"""``dagron-trace diff BASE... -- CAND... [--fail-if EXPR]... [--json] [--top N]
[--dag MODULE:NAME] [--alpha A]``: compare runs from trace files and gate on the result.

Exit status: 0 when no ``--fail-if`` condition holds, 1 when one does, 2 on bad input
(usage, an unreadable or foreign file, traces that cannot be compared, an expression
outside the grammar); errors are one line on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import sys
from collections.abc import Sequence
from typing import Any, NoReturn, Optional

from dagron.comparison._compare import compare_labelled
from dagron.comparison._gate import Gate, GateError, parse_gate
from dagron.comparison._result import RunComparison
from dagron.errors import TraceFileError

__all__ = ["main"]

PROG = "dagron-trace diff"


class _Usage(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _Usage(message)


def _parser() -> _Parser:
    parser = _Parser(
        prog=PROG,
        usage=f"{PROG} BASE... -- CAND... [--fail-if EXPR]... [--json] [--top N] "
        "[--dag MODULE:NAME] [--alpha A]",
        description="Compare candidate runs with baseline runs (trace files: write_json "
        "output or journals); exit 1 when a --fail-if condition holds.",
    )
    parser.add_argument("files", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument(
        "--fail-if",
        action="append",
        default=[],
        metavar="EXPR",
        help="a gate condition, e.g. 'makespan > +10%%', 'node:* > +25%% and > 50ms', "
        "'new_failures > 0' (repeatable; see docs/compare.md)",
    )
    parser.add_argument("--json", action="store_true", help="print every figure as JSON")
    parser.add_argument("--top", type=int, default=10, metavar="N", help="nodes in the table")
    parser.add_argument(
        "--dag",
        metavar="MODULE:NAME",
        help="the pipeline's dagron.DAG (or a function returning it), for the structural "
        "critical path and slack",
    )
    parser.add_argument(
        "--alpha", type=float, default=0.05, help="significance level of the noise test"
    )
    return parser


def _split(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str], list[str]]:
    argv = list(argv)
    if "-h" in argv or "--help" in argv:
        _parser().print_help()
        raise SystemExit(0)
    if "--" not in argv:
        raise _Usage("separate baseline and candidate files with --: BASE... -- CAND...")
    cut = argv.index("--")
    parser = _parser()
    left = parser.parse_args(argv[:cut])
    right = parser.parse_args(argv[cut + 1 :])
    merged = argparse.Namespace(**vars(left))
    merged.fail_if = left.fail_if + right.fail_if
    for key in ("json", "top", "dag", "alpha"):
        if getattr(right, key) != parser.get_default(key):
            setattr(merged, key, getattr(right, key))
    if not left.files:
        raise _Usage("no baseline file before --")
    if not right.files:
        raise _Usage("no candidate file after --")
    if merged.top < 0:
        raise _Usage(f"--top must be 0 or more, not {merged.top}")
    if not 0 < merged.alpha < 1:
        raise _Usage(f"--alpha must be between 0 and 1, not {merged.alpha}")
    return merged, left.files, right.files


def _load_dag(spec: str) -> Any:
    from dagron.dag import DAG

    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise _Usage(f"--dag takes MODULE:NAME, not {spec!r}")
    try:
        value: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            value = getattr(value, part)
    except (ImportError, AttributeError) as error:
        raise ValueError(f"--dag {spec}: {error}") from None
    if callable(value) and not isinstance(value, DAG):
        value = value()
    if not isinstance(value, DAG):
        raise ValueError(f"--dag {spec}: not a dagron.DAG but {type(value).__name__}")
    return value


def _show(result: RunComparison, top: int) -> None:
    if sys.stdout.isatty():
        try:
            from rich.console import Console
        except ImportError:
            pass
        else:
            from dagron.comparison._render import rich_renderable

            Console().print(rich_renderable(result, top))
            return
    print(result.summary(top))


def _json_default(value: Any) -> Any:
    raise TypeError(f"not JSON: {type(value).__name__}")


def _finite(data: Any) -> Any:
    if isinstance(data, float) and not math.isfinite(data):
        return None
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_finite(v) for v in data]
    return data


def run(argv: Sequence[str]) -> int:
    from dagron.cli import load

    args, base_files, cand_files = _split(argv)
    gates: list[Gate] = [parse_gate(text) for text in args.fail_if]
    dag = _load_dag(args.dag) if args.dag else None
    base = [load(path) for path in base_files]
    cand = [load(path) for path in cand_files]
    result = compare_labelled(
        base, cand, dag=dag, alpha=args.alpha, labels=(base_files, cand_files)
    )
    outcomes = [(gate, gate.check(result)) for gate in gates]
    failed = any(reasons for _, reasons in outcomes)
    if args.json:
        data = result.to_dict()
        data["gate"] = {
            "failed": failed,
            "conditions": [
                {"expression": gate.text, "holds": bool(reasons), "reasons": reasons}
                for gate, reasons in outcomes
            ],
        }
        json.dump(_finite(data), sys.stdout, default=_json_default, allow_nan=False)
        sys.stdout.write("\n")
    else:
        _show(result, args.top)
        for gate, reasons in outcomes:
            verdict = "FAILS" if reasons else "passes"
            detail = f": {'; '.join(reasons[:5])}" if reasons else ""
            more = f" (and {len(reasons) - 5} more)" if len(reasons) > 5 else ""
            print(f"gate {gate.text!r} {verdict}{detail}{more}")
    return 1 if failed else 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run ``diff`` with ``argv`` (the arguments after ``diff``); the exit status."""
    try:
        return run(sys.argv[2:] if argv is None else argv)
    except _Usage as error:
        print(f"{PROG}: usage error: {error} (see {PROG} --help)", file=sys.stderr)
        return 2
    except GateError as error:
        print(f"{PROG}: bad --fail-if: {error}", file=sys.stderr)
        return 2
    except (OSError, TraceFileError, ValueError, TypeError, MemoryError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
