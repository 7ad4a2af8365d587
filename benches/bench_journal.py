"""What the journal costs ``record`` (issue 11: within 1.3x of recording without one).

Records the standard workload (``_common.record_workload``: N events, 1 in 400 with
an error and a metadata dict) into ``ExecutionTrace()`` and into
``ExecutionTrace(journal=path)``, alternating, R runs each, and compares medians. The
journaled time includes nothing after the last ``record`` (the writer thread runs
meanwhile, on another core when there is one); the flush that follows is reported
apart, and the journal is loaded back and checked against the trace.

    python3 benches/bench_journal.py                  # N=1,000,000, 5 runs
    python3 benches/bench_journal.py --events 200000 --runs 3
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from typing import Optional

import _common as c
from dagron.execution.tracing import ExecutionTrace

BAR = 1.3


def timed_record(journal: Optional[str], events: int) -> tuple[float, float, ExecutionTrace]:
    trace = ExecutionTrace(journal=journal)
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter()
        c.record_workload(trace, events)
        recorded = time.perf_counter() - started
        trace.flush()
        flushed = time.perf_counter() - started - recorded
    finally:
        gc.enable()
    return recorded, flushed, trace


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--markdown-out")
    args = parser.parse_args(argv)
    plain: list[float] = []
    journaled: list[float] = []
    flushes: list[float] = []
    sizes: list[int] = []
    ok = True
    with tempfile.TemporaryDirectory() as folder:
        for run in range(args.runs):
            seconds, _, trace = timed_record(None, args.events)
            plain.append(seconds)
            del trace
            path = os.path.join(folder, f"run{run}.journal")
            seconds, flushed, trace = timed_record(path, args.events)
            journaled.append(seconds)
            flushes.append(flushed)
            sizes.append(os.path.getsize(path))
            # Checked after timing: the journal holds exactly the trace.
            if ExecutionTrace.load(path).to_json() != trace.to_json():
                ok = False
            del trace
            os.remove(path)
            print(
                f"run {run + 1}/{args.runs}: plain {c.fmt_time(plain[-1])}, "
                f"journaled {c.fmt_time(journaled[-1])} (+ flush {c.fmt_time(flushed)})",
                file=sys.stderr,
            )
    base, with_journal = c.median(plain), c.median(journaled)
    assert base is not None and with_journal is not None
    ratio = with_journal / base
    n = args.events + 2
    rows = [
        ["record, no journal", c.fmt_time(base), f"{base / n * 1e9:,.0f} ns", "1.00x", ""],
        [
            "record, journal",
            c.fmt_time(with_journal),
            f"{with_journal / n * 1e9:,.0f} ns",
            f"{ratio:.2f}x",
            "pass" if ratio <= BAR else "MISS",
        ],
        ["flush after the last record", c.fmt_time(c.median(flushes)), "", "", ""],
    ]
    report = "\n".join(
        [
            f"## Journal: record cost, {n:,} events, median of {args.runs} runs",
            "",
            c.markdown_table(["", "time", "per event", "ratio", f"bar {BAR}x"], rows),
            "",
            f"Journal size: {c.median([float(s) for s in sizes]) / n:.1f} bytes/event. "
            f"Loaded back equal to the trace: {'yes' if ok else 'NO'}.",
        ]
    )
    c.emit(report, args.markdown_out)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
