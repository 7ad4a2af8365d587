"""Benchmark: what `trace.events` costs on a large trace, GC included.

`events` builds one `TraceEvent` per event. The cyclic GC would scan those new
objects as they are made; this measures the call itself and the call followed by
the program's next 10,000 small container allocations (which run the young
collections the new objects are due), on a trace of N events (default 1,000,000),
as medians of several calls in each of several fresh interpreters.

    python3 benches/events_gc.py [--events N] [--runs 3] [--calls 5]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import time

from dagron.execution.tracing import ExecutionTrace
from dagron.execution.tracing import TraceEventType as T


def worker(events: int, calls: int) -> dict[str, float]:
    trace = ExecutionTrace()
    record = trace.record
    names = [f"node-{i}" for i in range(1000)]
    for i in range(events // 2):
        name = names[i % 1000]
        record(T.NODE_STARTED, node_name=name)
        record(T.NODE_COMPLETED, node_name=name, duration=0.001)
    gc.collect()
    alone, followed = [], []
    for _ in range(calls):
        t0 = time.perf_counter()
        got = trace.events
        t1 = time.perf_counter()
        keep = [[] for _ in range(10_000)]
        t2 = time.perf_counter()
        assert len(got) == events // 2 * 2 and len(keep) == 10_000
        alone.append(t1 - t0)
        followed.append(t2 - t0)
        del got, keep
        gc.collect()
    return {
        "events_s": statistics.median(alone),
        "events_then_alloc_s": statistics.median(followed),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.events, args.calls)))
        return
    results = []
    for _ in range(args.runs):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--worker",
                "--events",
                str(args.events),
                "--calls",
                str(args.calls),
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        results.append(json.loads(out))
    for key in ("events_s", "events_then_alloc_s"):
        values = [r[key] for r in results]
        runs = [round(v * 1e3, 1) for v in values]
        print(f"{key}: median {statistics.median(values) * 1e3:.1f} ms  runs {runs}")


if __name__ == "__main__":
    main()
