"""Benchmark: ``dagron.compare`` on two sides of 10 runs each of a 100,000-node
pipeline (1,000,000 node runs a side... 2,000,000 in all: 10 x 100,000 x 2).

The runs are laid out with chosen times (a layered DAG of WIDTH nodes a layer, each
node after its two predecessors in the layer before, 5% jitter per node; the candidate
slows one node a layer by 30%), written in the ``write_json`` format and loaded (not
timed). Timed: ``compare()`` on the traces (its ``node_runs()`` calls included: once per
trace, once more for each side's median trace), then on traces whose node runs were
computed beforehand (the comparison alone). Memory: tracemalloc's peak during
``compare()`` beyond what was allocated before it (the traces and their node runs),
and the process's RSS growth.

    python benches/bench_compare.py [--nodes 100000] [--repeats 10] [--runs 3]

Checks: the slowed nodes come out as "changed", the others mostly as "noise", and
the makespan breakdown adds up to the makespan change.

Not a test: nothing here runs under pytest.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc

import dagron
from dagron import ExecutionTrace

WIDTH = 100
DELAY = 0.0005


def layout(nodes: int, seed: int, slow: bool) -> str:
    """One run's events as ``write_json`` text."""
    rng = random.Random(seed)
    ends = [0.0] * nodes
    rows = []
    for i in range(nodes):
        layer, col = divmod(i, WIDTH)
        if layer:
            a = (layer - 1) * WIDTH + col
            b = (layer - 1) * WIDTH + (col + 1) % WIDTH
            ready = max(ends[a], ends[b])
        else:
            ready = 0.0
        took = 0.01 * (1 + (i % 7) / 7) * (1 + rng.uniform(-0.05, 0.05))
        if slow and col == 0:
            took *= 1.3
        start = ready + DELAY
        ends[i] = start + took
        rows.append((start, 0, i, 0.0))
        rows.append((ends[i], 1, i, took))
    rows.sort()
    out = ['[{"event_type":"execution_started","timestamp":0.0}']
    for at, kind, i, took in rows:
        if kind:
            out.append(
                f'{{"event_type":"node_completed","timestamp":{at!r},"node_name":"n{i}",'
                f'"duration":{took!r}}}'
            )
        else:
            out.append(f'{{"event_type":"node_started","timestamp":{at!r},"node_name":"n{i}"}}')
    return ",".join(out) + "]"


def load_side(folder: str, nodes: int, repeats: int, slow: bool, seed: int) -> list:
    traces = []
    for k in range(repeats):
        path = os.path.join(folder, f"{'c' if slow else 'b'}{k}.json")
        with open(path, "w") as f:
            f.write(layout(nodes, seed + k, slow))
        traces.append(ExecutionTrace.load(path))
        os.remove(path)
    return traces


class Cached:
    """A trace whose node runs are computed once, so the comparison is timed alone."""

    def __init__(self, trace: ExecutionTrace) -> None:
        self.runs = trace.node_runs()
        self.dropped = trace.dropped
        self.max_events = trace.max_events

    def node_runs(self):  # noqa: ANN201
        return self.runs


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--alone", action="store_true", help="time only the comparison (node runs computed first)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        t0 = time.perf_counter()
        base = load_side(folder, args.nodes, args.repeats, False, 1)
        cand = load_side(folder, args.nodes, args.repeats, True, 1000)
        print(f"built and loaded 2 x {args.repeats} traces in {time.perf_counter() - t0:.1f}s")

    totals, cpu = [], []
    result = None
    for _ in range(0 if args.alone else args.runs):
        result = None
        gc.collect()
        t, c = time.perf_counter(), time.process_time()
        result = dagron.compare(base, cand)
        totals.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    total = statistics.median(totals) if totals else math.nan

    base = [Cached(t) for t in base]
    cand = [Cached(t) for t in cand]
    own, own_cpu = [], []
    for _ in range(args.runs):
        result = None
        gc.collect()
        t, c = time.perf_counter(), time.process_time()
        result = dagron.compare(base, cand)
        own.append(time.perf_counter() - t)
        own_cpu.append(time.process_time() - c)
    alone = statistics.median(own)
    assert result is not None

    gc.collect()
    before_rss = rss()
    tracemalloc.start()
    start_bytes = tracemalloc.get_traced_memory()[0]
    result = dagron.compare(base, cand)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    after_rss = rss()
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    # Checks.
    cols = result.columns
    slowed = [i for i, name in enumerate(result.names) if int(name[1:]) % WIDTH == 0]
    changed = sum(cols.verdict[i] == "changed" for i in slowed)
    assert changed >= 0.95 * len(slowed), (changed, len(slowed))
    others = len(result.names) - len(slowed)
    false = sum(v == "changed" for v in cols.verdict) - changed
    assert false <= 0.1 * others, false
    b = result.breakdown
    parts = math.fsum([*b.nodes.values(), b.scheduling_delay, b.idle])
    assert abs(parts - b.total) < 1e-9, (parts, b.total)

    runs = sum(t.runs for t in result.baseline.traces + result.candidate.traces)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print(f"node runs compared: {runs:,} ({args.repeats} runs a side of {args.nodes:,} nodes)")
    if totals:
        print(
            f"compare() on traces, node_runs() included: median {total:.3f}s wall "
            f"({', '.join(f'{x:.3f}' for x in totals)}), CPU {statistics.median(cpu):.3f}s"
        )
    print(
        f"compare() on node runs already computed: median {alone:.3f}s wall "
        f"({', '.join(f'{x:.3f}' for x in own)}), CPU {statistics.median(own_cpu):.3f}s "
        f"(min {min(own_cpu):.3f}s)"
    )
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(
        f"memory during compare(): tracemalloc peak +{(peak - start_bytes) / 2**20:.1f} MiB, "
        f"kept +{(current - start_bytes) / 2**20:.1f} MiB (the result); "
        f"RSS {before_rss / 2**20:.0f} -> {after_rss / 2**20:.0f} MiB, "
        f"max {maxrss / 2**20:.0f} MiB"
    )
    print(
        f"makespan {result.makespan_change:+.4f}s; slowed nodes changed: "
        f"{changed}/{len(slowed)}; others flagged: {false}/{others}"
    )


if __name__ == "__main__":
    main()
