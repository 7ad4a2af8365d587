"""Benchmark: dagron.profile_execution against a plain-Python version of the same
definitions, on layered DAGs (each node after the first layer has 1-3 predecessors
in the layer before), up to 1,000,000 nodes.

Every node completes with a random duration; the run's trace is simulated from the
forward schedule (each node starts when its last predecessor ends), so the observed
figures are computed too. Where both run, the two reports must be equal (``idle`` up
to rounding); the plain-Python version's descendant counts are one search per node,
O(V * (V + E)), so it only runs on the smaller sizes.

    python benches/bench_profile.py [--sizes 1000,5000,100000,1000000] \
        [--baseline-max 5000] [--runs 3] [--trace events|recorded|loaded|none]

``--trace`` says what ``result.trace`` is: ``events`` (the default) an object with
only an ``events`` list, read event by event; ``recorded`` an ``ExecutionTrace``
holding the same events with the DAG's shared name table, as an executor's trace
is (``profile_execution`` reads its times off the core's node runs); ``loaded`` the
same events loaded from a JSON file (names of its own: each is looked up by name);
``none`` no trace at all (the report without its observed figures: what the trace
costs is the difference).

Not a test: nothing here runs under pytest.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Optional

import dagron
from dagron import ExecutionResult, NodeProfile, NodeResult, NodeStatus, ProfileReport, TraceEvent
from dagron import TraceEventType as T


def layered_dag(nodes: int, width: int, seed: int = 7) -> dagron.DAG:
    rng = random.Random(seed)
    dag = dagron.DAG()
    names = [f"n{i}" for i in range(nodes)]
    dag.add_nodes(names)
    edges = []
    for i in range(width, nodes):
        layer_start = (i // width - 1) * width
        for p in rng.sample(range(layer_start, layer_start + width), rng.randint(1, 3)):
            edges.append((names[p], names[i]))
    dag.add_edges(edges)
    return dag


@dataclass
class SimulatedTrace:
    events: list[TraceEvent]


def recorded_trace(
    events: list[TraceEvent], dag: Optional[dagron.DAG] = None
) -> dagron.ExecutionTrace:
    """An ``ExecutionTrace`` holding ``events`` with their timestamps: written as a
    ``write_json`` file would hold them and loaded back; with ``dag``, then copied
    (by its pickled state) into a trace made with the DAG's shared name table, as an
    executor's trace is."""
    records = [
        {
            "event_type": e.event_type.value,
            "timestamp": e.timestamp,
            "node_name": e.node_name,
            "duration": e.duration,
        }
        for e in events
    ]
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "trace.json")
        with open(path, "w") as file:
            json.dump(records, file)
        loaded = dagron.ExecutionTrace.load(path)
    if dag is None:
        return loaded
    trace = dagron.ExecutionTrace(_node_names=dag._node_names())  # type: ignore[call-arg]
    trace.__setstate__(loaded.__reduce__()[2])
    return trace


def simulated_result(
    dag: dagron.DAG, seed: int = 11, trace_kind: str = "events"
) -> ExecutionResult:
    rng = random.Random(seed)
    names, succs, levels = dag._compile()
    duration = [rng.expovariate(100.0) for _ in names]
    start = [0.0] * len(names)
    for level in levels:
        for i in level:
            end = start[i] + duration[i]
            for j in succs[i]:
                if start[j] < end:
                    start[j] = end
    points: list[tuple[float, int, TraceEvent]] = []
    for i, n in enumerate(names):
        end = start[i] + duration[i]
        points.append((start[i], 1, TraceEvent(T.NODE_STARTED, start[i], node_name=n)))
        done = TraceEvent(T.NODE_COMPLETED, end, node_name=n, duration=duration[i])
        points.append((end, 0, done))
    points.sort(key=lambda p: (p[0], p[1]))
    makespan = max(p[0] for p in points)
    events = [TraceEvent(T.EXECUTION_STARTED, 0.0), *(p[2] for p in points)]
    events.append(TraceEvent(T.EXECUTION_COMPLETED, makespan + 0.001))
    results = {
        n: NodeResult(n, NodeStatus.COMPLETED, None, None, duration[i])
        for i, n in enumerate(names)
    }
    trace: Any = None
    if trace_kind == "events":
        trace = SimulatedTrace(events)
    elif trace_kind == "recorded":
        trace = recorded_trace(events, dag)
    elif trace_kind == "loaded":
        trace = recorded_trace(events)
    return ExecutionResult(results, len(names), 0, 0, 0, 0, makespan, trace)  # type: ignore[arg-type]


def python_profile(dag: dagron.DAG, result: ExecutionResult) -> ProfileReport:
    """The definitions of dagron.profiling, written plainly in Python."""
    done = NodeStatus.COMPLETED
    durations = {n: r.duration_seconds for n, r in result.node_results.items() if r.status == done}
    report = ProfileReport()
    topo = [n for n in dag.topological_sort() if n in durations]
    preds = {n: [p for p in dag.predecessors(n) if p in durations] for n in topo}
    succs = {n: [s for s in dag.successors(n) if s in durations] for n in topo}
    es: dict[str, float] = {}
    for n in topo:
        es[n] = max(es[p] + durations[p] for p in preds[n]) if preds[n] else 0.0
    makespan = max(es[n] + durations[n] for n in topo)
    ls: dict[str, float] = {}
    for n in reversed(topo):
        ls[n] = (min(ls[s] for s in succs[n]) if succs[n] else makespan) - durations[n]
    bottom: dict[str, float] = {}
    for n in reversed(topo):
        bottom[n] = durations[n] + max([0.0, *(bottom[s] for s in succs[n])])
    path = [min(topo, key=lambda n: (-bottom[n], n))]
    while succs[path[-1]]:
        path.append(min(succs[path[-1]], key=lambda n: (-bottom[n], n)))
    blocked = {n: sum(d in durations for d in dag.descendants(n)) for n in topo}
    on_path = set(path)
    report.node_profiles = {
        n: NodeProfile(n, durations[n], es[n], ls[n], ls[n] - es[n], n in on_path, blocked[n])
        for n in topo
    }
    report.critical_path, report.critical_path_duration = path, bottom[path[0]]
    ranked = sorted(topo, key=lambda n: durations[n] * (1 + blocked[n]), reverse=True)
    report.bottlenecks = ranked[:5]
    report.parallelism_efficiency = sum(durations.values()) / makespan
    report.actual_max_parallelism = max(
        sum(n in durations for n in level) for level in dag.topological_levels()
    )
    events = result.trace.events  # type: ignore[union-attr]
    start = {e.node_name: e.timestamp for e in events if e.event_type is T.NODE_STARTED}
    end = {e.node_name: e.timestamp for e in events if e.event_type is T.NODE_COMPLETED}
    run_start, run_end = events[0].timestamp, events[-1].timestamp
    index = {n: i for i, n in enumerate(dag.nodes)}
    chain = [min(end, key=lambda n: (-end[n], index[n]))]
    while True:
        ready = [p for p in dag.predecessors(chain[-1]) if end[p] <= start[chain[-1]]]
        if not ready:
            break
        chain.append(min(ready, key=lambda n: (-end[n], index[n])))
    report.observed_critical_path = chain[::-1]
    report.scheduling_delay = {
        n: start[n] - max((end[p] for p in dag.predecessors(n)), default=run_start)
        for n in dag.topological_sort()
    }
    spans = sorted((start[n], end[n]) for n in start)
    busy, (lo, hi) = 0.0, spans[0]
    for a, b in spans[1:]:
        if a > hi:
            busy, lo, hi = busy + hi - lo, a, b
        else:
            hi = max(hi, b)
    report.idle = run_end - run_start - (busy + hi - lo)
    return report


def same(a: ProfileReport, b: ProfileReport) -> bool:
    if a.idle is None or b.idle is None or not math.isclose(a.idle, b.idle, abs_tol=1e-9):
        return False
    b.idle = a.idle
    return a == b


def timed(fn: Any, runs: int, *args: Any) -> tuple[float, float, float, Any]:
    """Median wall and CPU seconds of ``fn(*args)`` over ``runs`` calls, the first
    call's wall seconds, and its output. The cyclic GC is off during each call for
    both versions alike (profile_execution turns it off itself). The first call
    differs where a version keeps what it builds from the DAG (dagron keeps the
    DAG's graph index until the DAG grows)."""
    wall, cpu, out = [], [], None
    for _ in range(runs):
        out = None
        gc.collect()
        gc.disable()
        began, began_cpu = time.perf_counter(), time.process_time()
        try:
            out = fn(*args)
        finally:
            wall.append(time.perf_counter() - began)
            cpu.append(time.process_time() - began_cpu)
            gc.enable()
    return statistics.median(wall), statistics.median(cpu), wall[0], out


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,5000,100000,1000000")
    parser.add_argument("--width", type=int, default=1000, help="nodes per layer")
    parser.add_argument("--baseline-max", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--trace", choices=["events", "recorded", "loaded", "none"], default="events"
    )
    args = parser.parse_args(argv)
    print(
        f"layered DAGs, {args.width} nodes per layer, 1-3 predecessors per node; "
        f"trace: {args.trace}; median of {args.runs} runs"
    )
    print(
        f"{'nodes':>9} {'edges':>9} {'dagron wall':>11} {'cpu':>8} {'first':>8} "
        f"{'python wall':>11} {'cpu':>8} {'ratio cpu':>9}  check"
    )
    failed = False
    for size in (int(s) for s in args.sizes.split(",")):
        dag = layered_dag(size, min(args.width, max(1, size // 10)))
        result = simulated_result(dag, trace_kind=args.trace)
        ours, ours_cpu, first, report = timed(dagron.profile_execution, args.runs, dag, result)
        line = f"{size:>9,} {dag.edge_count:>9,} {ours:>10.3f}s {ours_cpu:>7.3f}s {first:>7.3f}s"
        if size <= args.baseline_max and args.trace != "none":
            theirs, theirs_cpu, _, expected = timed(python_profile, args.runs, dag, result)
            ok = same(report, expected)
            failed |= not ok
            line += (
                f" {theirs:>10.3f}s {theirs_cpu:>7.3f}s {theirs_cpu / ours_cpu:>8.1f}x"
                f"  {'equal' if ok else 'DIFFERENT'}"
            )
        else:
            ok = (
                len(report.node_profiles) == size
                and report.critical_path_duration
                >= max(p.duration for p in report.node_profiles.values())
                and (report.idle is not None) == (args.trace != "none")
            )
            failed |= not ok
            line += f" {'-':>11} {'-':>8} {'-':>9}  {'sane' if ok else 'WRONG'}"
        print(line, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
