"""Benchmark: recording from several Python threads into one trace.

One thread records N events of the workload (``_common.record_workload``) into a
trace; then four threads record N/4 each into one shared trace, started together
(a barrier) and timed until the last one finishes. Throughput is events recorded per
second of wall time. Under the GIL the four threads cannot run Python in parallel, so
the bar is that they lose nothing to contention: 4-thread throughput >= 1-thread
throughput (ratio >= 1.0 would be the ideal; a lock convoy or cache-line ping-pong
would show as a ratio well below 1).

Each measurement runs in a fresh interpreter; the modes alternate, and the table
shows medians over the runs. Every run checks that no event was lost. For context the
same loop also runs against a no-op ``record`` (rows "null"; ``--no-null`` skips them)
and, with ``--baseline``, against the pure-Python baseline.

    python3 benches/threads_py.py [--events N] [--threads T] [--runs R]
                                  [--baseline] [--no-null] [--markdown-out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import threading
import time
from typing import Any, Optional

import _common as c

SCRIPT = os.path.abspath(__file__)
# "null": a record() that does nothing; what the calling loop and the thread
# switches cost on their own, the ceiling any recorder can reach.
IMPLS = {**c.IMPLS, "null": c.NullRecorder}


def total_events(trace: Any, expected: int) -> int:
    if isinstance(trace, c.NullRecorder):
        return expected
    return int(trace.summary().split("\n")[1].split(":")[1])


def worker(impl: str, events: int, threads: int) -> dict[str, Any]:
    trace = IMPLS[impl]()
    per_thread = events // threads
    barrier = threading.Barrier(threads + 1)

    def run() -> None:
        barrier.wait()
        c.record_workload(trace, per_thread)

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for thread in pool:
        thread.start()
    barrier.wait()
    t0 = time.perf_counter()
    for thread in pool:
        thread.join()
    seconds = time.perf_counter() - t0
    expected = threads * c.expected_counts(per_thread)["events"]
    got = total_events(trace, expected)
    return {
        "impl": impl,
        "threads": threads,
        "events": got,
        "ok": got == expected,
        "seconds": seconds,
        "events_per_s": got / seconds,
    }


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--events", type=int, default=4_000_000, help="events per run, all threads")
    p.add_argument("--threads", type=int, default=4, help="threads of the multi-thread mode")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--baseline", action="store_true", help="also measure benches/baseline.py")
    p.add_argument("--no-null", action="store_true", help="skip the no-op record() rows")
    p.add_argument("--markdown-out", help="also write the report (markdown) here")
    p.add_argument("--worker", choices=sorted(IMPLS), help=argparse.SUPPRESS)
    p.add_argument("--worker-threads", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker:
        print(json.dumps(worker(args.worker, args.events, args.worker_threads)))
        return 0

    impls = ["dagron", "baseline"] if args.baseline else ["dagron"]
    if not args.no_null:
        impls.append("null")
    modes = [1, args.threads]
    results: dict[tuple[str, int], list[dict[str, Any]]] = {}
    started = time.perf_counter()
    for run in range(args.runs):
        order = [(impl, t) for impl in impls for t in modes]
        if run % 2:
            order.reverse()
        for impl, t in order:
            res = c.run_worker(
                SCRIPT,
                ["--worker", impl, "--events", str(args.events), "--worker-threads", str(t)],
            )
            results.setdefault((impl, t), []).append(res)
            print(
                f"run {run + 1}: {impl} x{t}: {res['events_per_s'] / 1e6:.2f} M events/s"
                f"{'' if res['ok'] else ' (EVENTS LOST)'}",
                file=sys.stderr,
            )

    all_ok = all(r["ok"] for runs in results.values() for r in runs)
    rows = []
    verdicts = []
    ratios: dict[str, float] = {}
    for impl in impls:
        single = c.median([r["events_per_s"] for r in results[(impl, 1)]])
        multi = c.median([r["events_per_s"] for r in results[(impl, args.threads)]])
        ratio = multi / single
        ratios[impl] = ratio
        for t, rate in ((1, single), (args.threads, multi)):
            runs = results[(impl, t)]
            rows.append(
                [
                    impl,
                    str(t),
                    f"{runs[0]['events']:,}",
                    c.fmt_time(c.median([r["seconds"] for r in runs])),
                    f"{rate / 1e6:.2f} M/s",
                    c.fmt_ratio(rate / single),
                ]
            )
        if impl == "dagron":
            verdicts.append(
                f"dagron: {args.threads} threads reach {ratio:.2f}x the single-thread "
                f"throughput ({'pass' if ratio >= 1.0 else 'FAIL'}: bar >= 1.0)."
            )
        elif impl == "null":
            verdicts.append(
                f"No-op record(): {args.threads} threads reach {ratio:.2f}x; this is what "
                "the interpreter's own thread switching leaves, with nothing recorded."
            )
    if "null" in impls:
        null_ratio = ratios["null"]
        verdicts.append(
            f"dagron's ratio relative to the no-op loop's: {ratios['dagron'] / null_ratio:.2f} "
            "(1.0: the recorder adds no contention of its own)."
        )
    header = ["impl", "threads", "events", "wall (median)", "throughput (median)", "vs 1 thread"]
    report = "\n".join(
        [
            "## Recording from Python threads",
            "",
            f"{time.strftime('%Y-%m-%d %H:%M:%S')}; Python {platform.python_version()}; "
            f"{os.cpu_count()} CPUs; load average at end {os.getloadavg()[0]:.2f}; "
            f"{args.runs} runs per row, one fresh interpreter each, modes alternating; "
            f"wall time {time.perf_counter() - started:.0f} s.",
            "",
            c.markdown_table(header, rows),
            "",
            *verdicts,
            f"No event lost in any run: {'yes' if all_ok else 'NO'}.",
            "",
        ]
    )
    c.emit(report, args.markdown_out)
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
