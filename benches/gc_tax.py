"""Benchmark: the garbage-collector tax of a large trace.

A trace kept as Python objects (the pure-Python baseline: one ``TraceEvent`` per
event) hands the cyclic GC millions of objects to traverse on every full collection,
for as long as the trace lives. dagron keeps events in Rust buffers, so recording
should add no GC-tracked objects and leave ``gc.collect()`` as cheap as in an empty
process.

Each scenario runs in a fresh interpreter (``_common.run_worker``):

- ``empty``: nothing recorded;
- ``dagron`` at 1M and at N events (default 10M) of the workload;
- ``baseline`` (``benches/baseline.py``) at 1M, for contrast.

For each: ``len(gc.get_objects())`` after recording minus before (both after a
``gc.collect()``), how many of those are the caller's metadata dicts (kept by
reference, as documented; CPython leaves dicts of atomic values untracked), and the
median of 5 full ``gc.collect()`` calls with the trace alive.

    python3 benches/gc_tax.py [--events N] [--markdown-out PATH]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from typing import Any, Optional

import _common as c

SCRIPT = os.path.abspath(__file__)
COLLECTS = 5


def collect_times() -> list[float]:
    times = []
    for _ in range(COLLECTS):
        t0 = time.perf_counter()
        gc.collect()
        times.append(time.perf_counter() - t0)
    return times


def worker(impl: str, events: int) -> dict[str, Any]:
    trace = None if impl == "empty" else c.IMPLS[impl]()
    gc.collect()
    before = len(gc.get_objects())
    rss0 = c.rss_bytes()
    t0 = time.perf_counter()
    if trace is not None:
        c.record_workload(trace, events)
    record_s = time.perf_counter() - t0
    gc.collect()
    after = len(gc.get_objects())
    rss1 = c.rss_bytes()
    times = collect_times()
    exp = c.expected_counts(events)
    stored = 0 if trace is None else exp["events"]
    # The workload's metadata dicts, built exactly as record_workload builds them.
    sample = {"retry_count": events % 3, "worker": "w1"}
    tracked_metadata = exp["failed"] if trace is not None and gc.is_tracked(sample) else 0
    return {
        "impl": impl,
        "events": stored,
        "objects_before": before,
        "objects_delta": after - before,
        "tracked_metadata": tracked_metadata,
        "gc_collect_s": statistics.median(times),
        "gc_collect_all_s": times,
        "record_s": record_s,
        "rss_growth": rss1 - rss0,
    }


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--events", type=int, default=10_000_000, help="large dagron trace size")
    p.add_argument("--markdown-out", help="also write the report (markdown) here")
    p.add_argument("--worker", choices=["empty", *sorted(c.IMPLS)], help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker:
        print(json.dumps(worker(args.worker, args.events)))
        return 0

    scenarios = [
        ("empty", 0),
        ("dagron", 1_000_000),
        ("dagron", args.events),
        ("baseline", 1_000_000),
    ]
    results = []
    for impl, events in scenarios:
        res = c.run_worker(SCRIPT, ["--worker", impl, "--events", str(events)], timeout=1800)
        results.append(res)
        print(
            f"{impl:>8} {res['events']:>11,} events: objects {res['objects_delta']:+,}, "
            f"gc.collect() {c.fmt_time(res['gc_collect_s'])}",
            file=sys.stderr,
        )

    empty = results[0]["gc_collect_s"]
    rows = []
    for res in results:
        rows.append(
            [
                "empty process" if res["impl"] == "empty" else res["impl"],
                f"{res['events']:,}",
                f"{res['objects_delta']:+,}",
                f"{res['tracked_metadata']:,}",
                c.fmt_time(res["gc_collect_s"]),
                c.fmt_ratio(res["gc_collect_s"] / empty),
                c.fmt_mib(res["rss_growth"]),
            ]
        )
    header = [
        "scenario",
        "events held",
        "GC-tracked objects Δ",
        "of which tracked metadata dicts",
        "gc.collect() (median of 5)",
        "vs empty process",
        "RSS growth",
    ]
    big = results[2]
    ok = big["objects_delta"] - big["tracked_metadata"] < 100
    report = "\n".join(
        [
            "## GC tax",
            "",
            f"{time.strftime('%Y-%m-%d %H:%M:%S')}; Python {platform.python_version()}; "
            f"{os.cpu_count()} CPUs; one fresh interpreter per row. "
            "Objects Δ: `len(gc.get_objects())` after recording minus before.",
            "",
            c.markdown_table(header, rows),
            "",
            f"dagron at {big['events']:,} events adds {big['objects_delta']:,} GC-tracked "
            f"objects ({'ok' if ok else 'FAIL'}: bar < 100 besides the caller's tracked "
            f"metadata dicts); a full collection takes "
            f"{c.fmt_ratio(big['gc_collect_s'] / empty)} the empty-process time. The baseline "
            f"at 1M takes {c.fmt_ratio(results[3]['gc_collect_s'] / empty)}.",
            "",
        ]
    )
    c.emit(report, args.markdown_out)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
