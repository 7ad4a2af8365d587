"""Traces as tables (issue 22): the bars, each measured in fresh interpreters and
each output checked.

1. ``pyarrow.table(trace.to_arrow())`` of 1M events: under 50 ms, and under 40 bytes
   per event of new memory (RSS growth of the first call in a fresh process, the
   table kept alive).
2. ``trace.write_parquet(path)`` of 1M events: under 1 s, at most 24 bytes per event
   on disk.
3. DuckDB's "ten slowest nodes by median duration" over the node-runs table of 10M
   events: under 1 s.

Two workloads: ``bench`` (the shared benchmark workload: steps, node runs, 1 in 100
failing with an error and metadata) and ``nodes`` (node runs only). Each figure is
the median of ``--runs`` fresh processes; timings are wall clock (CPU time beside
them, since the machine may be shared).

    python benches/bench_arrow.py [--events 1000000] [--runs 5]
        [--query-events 10000000] [--markdown out.md]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from typing import Any

import _common as c
from dagron.execution.tracing import ExecutionTrace

T = c.T
QUERY = (
    "SELECT node, median(duration) AS median_duration FROM runs "
    "WHERE status <> 'open' GROUP BY node ORDER BY median_duration DESC, node LIMIT 10"
)


def record_nodes(trace: ExecutionTrace, events: int) -> None:
    """Node runs only, over the benchmark's 1,000 names and durations."""
    rec = trace.record
    names = c.NAMES
    for i in range(events // 2):
        name = names[i % c.N_NODES]
        rec(T.NODE_STARTED, node_name=name)
        rec(T.NODE_COMPLETED, node_name=name, duration=0.001 + (i % 997) * 1e-5)


WORKLOADS = {"bench": c.record_workload, "nodes": record_nodes}


def recorded(workload: str, events: int) -> ExecutionTrace:
    trace = ExecutionTrace()
    WORKLOADS[workload](trace, events)
    return trace


def check_table(trace: ExecutionTrace, table: Any) -> str | None:
    """Every row against the events (type, name, step, duration, error)."""
    events = trace.events
    if table.num_rows != len(events):
        return f"{table.num_rows} rows for {len(events)} events"
    columns = [
        table.column(name).to_pylist()
        for name in ("event_type", "node_name", "step_index", "duration", "error")
    ]
    for position, (event, *row) in enumerate(zip(events, *columns)):
        want = [event.event_type.value, event.node_name, event.step_index, event.duration]
        if row != [*want, event.error]:
            return f"row {position}: {row} != {want}"
    return None


def worker_build(workload: str, events: int) -> dict[str, Any]:
    import pyarrow

    trace = recorded(workload, events)
    pyarrow.table(ExecutionTrace().to_arrow())  # pyarrow's own first-use costs
    gc.collect()
    rss0 = c.rss_bytes()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    table = pyarrow.table(trace.to_arrow())
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    growth = c.rss_bytes() - rss0
    rows = table.num_rows
    # A yardstick from the same process: the Chrome export of the same trace
    # (its unloaded figures are in benches/results.md).
    cpu0, wall0 = time.process_time(), time.perf_counter()
    trace.to_chrome_trace()
    chrome_wall, chrome_cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {
        "seconds": wall,
        "cpu": cpu,
        "chrome_seconds": chrome_wall,
        "chrome_cpu": chrome_cpu,
        "bytes_per_event": growth / rows,
        "nbytes_per_event": table.nbytes / rows,
        "error": check_table(trace, table),
    }


def worker_parquet(workload: str, events: int, directory: str) -> dict[str, Any]:
    import pyarrow
    import pyarrow.parquet as pq

    trace = recorded(workload, events)
    path = os.path.join(directory, f"{workload}.{os.getpid()}.parquet")
    trace.write_parquet(os.path.join(directory, "warm.parquet"))
    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    trace.write_parquet(path)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    size = os.path.getsize(path)
    back = pq.read_table(path)
    same = back.equals(pyarrow.table(trace.to_arrow()))
    os.unlink(path)
    return {
        "seconds": wall,
        "cpu": cpu,
        "bytes_per_event": size / back.num_rows,
        "error": None if same else "the Parquet file does not read back as the table",
    }


def worker_query(events: int, repeats: int) -> dict[str, Any]:
    import duckdb

    trace = recorded("nodes", events)
    # Through NodeRuns (Python lists), then straight from the core.
    wall0 = time.perf_counter()
    node_runs = trace.node_runs()
    runs_seconds = time.perf_counter() - wall0
    wall0 = time.perf_counter()
    from_lists = node_runs.to_arrow()
    lists_seconds = time.perf_counter() - wall0
    del node_runs
    gc.collect()
    wall0 = time.perf_counter()
    runs = trace.to_arrow(kind="node_runs")  # noqa: F841 - DuckDB reads it by name
    arrow_seconds = time.perf_counter() - wall0
    same = len(from_lists) == len(runs)
    del from_lists
    gc.collect()
    # By name, not `register`: DuckDB reads a registered stream only once.
    con = duckdb.connect()
    times, cpus, answer = [], [], None
    for _ in range(repeats):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        answer = con.sql(QUERY).fetchall()
        times.append(time.perf_counter() - wall0)
        cpus.append(time.process_time() - cpu0)
    # The slowest nodes by median: durations are 0.001 + (i % 997) * 1e-5 for run i
    # of node i % 1000; check the first against a direct computation.
    first = answer[0][0] if answer else None
    index = c.NAMES.index(first) if first in c.NAMES else -1
    durations = sorted(0.001 + (i % 997) * 1e-5 for i in range(index, events // 2, c.N_NODES))
    want = statistics.median(durations) if durations else None
    error = None if answer and abs(answer[0][1] - want) < 1e-12 else f"{answer[:1]} != {want}"
    if not same:
        error = "the two node-runs tables differ in length"
    return {
        "seconds": statistics.median(times),
        "cpu": statistics.median(cpus),
        "node_runs_seconds": runs_seconds,
        "lists_seconds": lists_seconds,
        "to_arrow_seconds": arrow_seconds,
        "error": error,
    }


def medians(results: list[dict[str, Any]]) -> dict[str, Any]:
    errors = [r["error"] for r in results if r["error"]]
    keys = [k for k in results[0] if k != "error"]
    out = {k: statistics.median(r[k] for r in results) for k in keys}
    out["error"] = errors[0] if errors else None
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--query-events", type=int, default=10_000_000)
    parser.add_argument("--markdown")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, *rest = args.worker
        if kind == "build":
            result = worker_build(rest[0], args.events)
        elif kind == "parquet":
            result = worker_parquet(rest[0], args.events, rest[1])
        else:
            result = worker_query(args.query_events, args.runs)
        print(json.dumps(result))
        return

    script = os.path.abspath(__file__)
    common = ["--events", str(args.events), "--query-events", str(args.query_events)]
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        for workload in WORKLOADS:
            built = medians(
                [c.run_worker(script, [*common, "--worker", "build", workload])
                 for _ in range(args.runs)]
            )  # fmt: skip
            rows.append(
                [f"{args.events:,} events ({workload}) -> pyarrow.table(trace.to_arrow())",
                 f"{built['seconds'] * 1e3:.1f} ms (CPU {built['cpu'] * 1e3:.1f} ms; "
                 f"to_chrome_trace {built['chrome_seconds'] * 1e3:.0f} ms, "
                 f"CPU {built['chrome_cpu'] * 1e3:.0f} ms)",
                 f"{built['bytes_per_event']:.1f} B/event RSS, "
                 f"{built['nbytes_per_event']:.1f} B/event nbytes",
                 "< 50 ms, < 40 B/event", built["error"] or "ok"]
            )  # fmt: skip
            written = medians(
                [c.run_worker(script, [*common, "--worker", "parquet", workload, directory])
                 for _ in range(args.runs)]
            )  # fmt: skip
            rows.append(
                [f"{args.events:,} events ({workload}) -> write_parquet",
                 f"{written['seconds'] * 1e3:.0f} ms (CPU {written['cpu'] * 1e3:.0f} ms)",
                 f"{written['bytes_per_event']:.2f} B/event on disk",
                 "< 1 s, <= 24 B/event", written["error"] or "ok"]
            )  # fmt: skip
    query = c.run_worker(script, [*common, "--runs", str(args.runs), "--worker", "query"])
    rows.append(
        [f"{args.query_events:,} events (nodes): DuckDB ten slowest nodes by median",
         f"{query['seconds'] * 1e3:.0f} ms (CPU {query['cpu'] * 1e3:.0f} ms)",
         f"table: to_arrow(kind='node_runs') {query['to_arrow_seconds']:.2f} s "
         f"(or node_runs() {query['node_runs_seconds']:.2f} s + "
         f"NodeRuns.to_arrow() {query['lists_seconds']:.2f} s)",
         "< 1 s", query["error"] or "ok"]
    )  # fmt: skip
    header = ["what", "time (median)", "size", "bar", "check"]
    report = c.markdown_table(header, rows)
    python = sys.version.split()[0]
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    report += (
        f"\n\nPython {python}, {args.runs} runs each, {os.cpu_count()} CPUs, "
        f"load average at the end {load}\n"
    )
    c.emit(report, args.markdown)


if __name__ == "__main__":
    main()
