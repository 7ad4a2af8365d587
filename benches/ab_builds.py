"""Two builds of dagron, A/B: is one slower than the other? (used for issue 9's
restructure, which had to leave every operation as fast as before).

Each build is a Python interpreter with that build installed (a venv). Rounds
alternate the two, each in a fresh interpreter pinned to one CPU; a round records the
bench workload (``_common.record_workload``) and times ``record``, ``events``,
``events_for_node``, ``summary``, ``to_json``, ``to_chrome_trace`` and ``to_perfetto``,
keeping the best
of several repeats (the least disturbed by a shared machine). The table gives each
build's median over rounds and their ratio.

    python3 benches/ab_builds.py --a /path/to/venv-a/bin/python \\
        --b /path/to/venv-b/bin/python [--events N] [--rounds R] [--cpu C]

Build a venv per commit with ``maturin build --release`` and ``pip install`` of the
wheel into ``python3 -m venv`` (see benches/README.md, "Restructure check").
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from typing import Any, Optional

SCRIPT = os.path.abspath(__file__)
OPERATIONS = [
    "record",
    "events",
    "events_for_node",
    "summary",
    "to_json",
    "to_chrome_trace",
    "to_perfetto",
]


def worker(events: int, repeats: int) -> dict[str, float]:
    import gc
    import time

    sys.path.insert(0, os.path.dirname(SCRIPT))
    import _common as c
    from dagron.execution.tracing import ExecutionTrace

    best = dict.fromkeys(OPERATIONS, float("inf"))

    def keep(name: str, seconds: float) -> None:
        best[name] = min(best[name], seconds)

    for _ in range(repeats):
        trace = ExecutionTrace()
        started = time.perf_counter()
        c.record_workload(trace, events)
        keep("record", time.perf_counter() - started)
        started = time.perf_counter()
        listed = trace.events
        keep("events", time.perf_counter() - started)
        if len(listed) != events + 2:
            raise SystemExit(f"events: {len(listed)} events, expected {events + 2}")
        del listed
        started = time.perf_counter()
        for i in range(20):
            trace.events_for_node(c.NAMES[i])
        keep("events_for_node", (time.perf_counter() - started) / 20)
        started = time.perf_counter()
        for _ in range(100):
            trace.summary()
        keep("summary", (time.perf_counter() - started) / 100)
        for name in ("to_json", "to_chrome_trace", "to_perfetto"):
            started = time.perf_counter()
            text = getattr(trace, name)()
            keep(name, time.perf_counter() - started)
            del text
        del trace
        gc.collect()
    return best


def run_round(python: str, events: int, repeats: int, cpu: Optional[int]) -> dict[str, float]:
    command = [python, SCRIPT, "--worker", "--events", str(events), "--repeats", str(repeats)]
    if cpu is not None and shutil.which("taskset"):
        command = ["taskset", "-c", str(cpu), *command]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"{python} failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def fmt(seconds: float) -> str:
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.1f} µs"


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", help="interpreter with build A (the baseline)")
    parser.add_argument("--b", help="interpreter with build B")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--cpu", type=int, default=1, help="CPU to pin to (-1: none)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.events, args.repeats)))
        return 0
    if not args.a or not args.b:
        parser.error("--a and --b are required")
    cpu = None if args.cpu < 0 else args.cpu
    rounds: dict[str, list[dict[str, Any]]] = {"a": [], "b": []}
    for index in range(args.rounds):
        order = ["a", "b"] if index % 2 == 0 else ["b", "a"]
        for build in order:
            result = run_round(getattr(args, build), args.events, args.repeats, cpu)
            rounds[build].append(result)
            progress = f"round {index + 1}/{args.rounds} {build}: {json.dumps(result)}"
            print(progress, file=sys.stderr)
    print(
        f"{args.events:,} events; {args.rounds} rounds per build, alternating; "
        f"best of {args.repeats} repeats per round; medians over rounds."
    )
    print()
    print("| operation | A median | B median | B / A |")
    print("|---|---|---|---|")
    for name in OPERATIONS:
        a = statistics.median(r[name] for r in rounds["a"])
        b = statistics.median(r[name] for r in rounds["b"])
        print(f"| {name} | {fmt(a)} | {fmt(b)} | {b / a:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
