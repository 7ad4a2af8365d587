"""What the journal costs ``record`` (issue 11: within 1.3x of recording without one).

Records the standard workload (``_common.record_workload``: N events, 1 in 400 with
an error and a metadata dict) into ``ExecutionTrace()`` and into
``ExecutionTrace(journal=path)``, alternating, R runs each, and compares medians of:

- the CPU time of the whole process from the first ``record`` until the journal is
  flushed (the recording thread plus the writer thread): the bar;
- the recording thread's own CPU time;
- wall time of the ``record`` calls (on a shared, loaded machine this mostly shows
  how much CPU the machine gave us, so it is reported, not judged).

The journal is loaded back and checked against the trace after timing.

    python3 benches/bench_journal.py                  # N=1,000,000, 5 runs
    python3 benches/bench_journal.py --events 200000 --runs 3
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import tempfile
import time
from typing import Optional

import _common as c
from dagron.execution.tracing import ExecutionTrace

BAR = 1.3


def process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed_record(journal: Optional[str], events: int) -> tuple[dict[str, float], ExecutionTrace]:
    trace = ExecutionTrace(journal=journal)
    gc.collect()
    gc.disable()
    try:
        cpu, thread, wall = process_cpu(), time.thread_time(), time.perf_counter()
        c.record_workload(trace, events)
        times = {"wall": time.perf_counter() - wall, "thread": time.thread_time() - thread}
        trace.flush()
        times["process"] = process_cpu() - cpu
    finally:
        gc.enable()
    return times, trace


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--markdown-out")
    args = parser.parse_args(argv)
    plain: list[dict[str, float]] = []
    journaled: list[dict[str, float]] = []
    sizes: list[int] = []
    ok = True
    with tempfile.TemporaryDirectory() as folder:
        for run in range(args.runs):
            times, trace = timed_record(None, args.events)
            plain.append(times)
            del trace
            path = os.path.join(folder, f"run{run}.journal")
            times, trace = timed_record(path, args.events)
            journaled.append(times)
            sizes.append(os.path.getsize(path))
            # Checked after timing: the journal holds exactly the trace.
            if ExecutionTrace.load(path).to_json() != trace.to_json():
                ok = False
            del trace
            os.remove(path)
            print(
                f"run {run + 1}/{args.runs}: "
                + ", ".join(
                    f"{kind} {c.fmt_time(plain[-1][kind])} -> {c.fmt_time(journaled[-1][kind])}"
                    for kind in ("process", "thread", "wall")
                ),
                file=sys.stderr,
            )
    n = args.events + 2
    rows = []
    for kind, label in (
        ("process", "process CPU, record + writer until flushed"),
        ("thread", "recording thread CPU"),
        ("wall", "wall time of the record calls"),
    ):
        base = c.median([r[kind] for r in plain])
        with_journal = c.median([r[kind] for r in journaled])
        assert base is not None and with_journal is not None
        ratio = with_journal / base
        verdict = ("pass" if ratio <= BAR else "MISS") if kind == "process" else "(reported)"
        rows.append(
            [
                label,
                f"{c.fmt_time(base)} ({base / n * 1e9:,.0f} ns/event)",
                f"{c.fmt_time(with_journal)} ({with_journal / n * 1e9:,.0f} ns/event)",
                f"{ratio:.2f}x",
                verdict,
            ]
        )
    report = "\n".join(
        [
            f"## Journal: record cost, {n:,} events, median of {args.runs} runs",
            "",
            c.markdown_table(["", "no journal", "journal", "ratio", f"bar {BAR}x"], rows),
            "",
            f"Journal size: {c.median([float(s) for s in sizes]) / n:.1f} bytes/event. "
            f"Loaded back equal to the trace: {'yes' if ok else 'NO'}.",
        ]
    )
    c.emit(report, args.markdown_out)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
