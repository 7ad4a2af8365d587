"""Benchmark: what tracing costs the executor on a 100,000-node DAG of no-op tasks.

The DAG mixes long chains (many narrow steps) with fan-out/fan-in blocks (a few very
wide steps). Runs alternate between tracing off and on so that drift in the machine's
speed hits both alike; the script prints the median wall time of each and their ratio
(the target is at most 1.10). Every run is checked: all nodes completed and, with
tracing, the trace holds exactly the expected events.

    python benches/bench_executor.py [--nodes N] [--rounds R] [--max-workers W]

Not a test: nothing here runs under pytest.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from typing import Optional

import dagron


def build_dag(nodes: int, chains: int = 50, blocks: int = 2) -> dagron.DAG:
    """Half the nodes in ``chains`` equal chains, half in ``blocks`` fan-out/fan-in
    blocks (a root, its many children, and one sink they all feed)."""
    dag = dagron.DAG()
    chain_nodes = nodes // 2
    length = chain_nodes // chains
    for c in range(chains):
        names = [f"c{c}_{i}" for i in range(length)]
        dag.add_nodes(names)
        dag.add_edges(zip(names, names[1:]))
    left = nodes - chains * length
    for b in range(blocks):
        size = left // blocks if b < blocks - 1 else left - (blocks - 1) * (left // blocks)
        root, sink = f"b{b}_root", f"b{b}_sink"
        middle = [f"b{b}_{i}" for i in range(size - 2)]
        dag.add_nodes([root, *middle, sink])
        dag.add_edges((root, m) for m in middle)
        dag.add_edges((m, sink) for m in middle)
    assert dag.node_count == nodes
    return dag


def no_op() -> None:
    return None


def run_once(
    dag: dagron.DAG, tasks: dict[str, object], traced: bool, max_workers: Optional[int]
) -> float:
    executor = dagron.DAGExecutor(dag, max_workers, trace=traced)
    gc.collect()
    began = time.perf_counter()
    result = executor.execute(tasks)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - began
    # Check the output: every node ran, and the trace (if any) is complete.
    nodes = dag.node_count
    assert result.succeeded == nodes, result
    if traced:
        assert result.trace is not None
        steps = len(dag.levels())
        assert len(result.trace.events) == 2 + 2 * steps + 2 * nodes
    else:
        assert result.trace is None
    return elapsed


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--max-workers", type=int, default=None)
    args = parser.parse_args(argv)

    began = time.perf_counter()
    dag = build_dag(args.nodes)
    built = time.perf_counter() - began
    tasks = dict.fromkeys(dag.nodes, no_op)
    steps = len(dag.levels())
    workers = args.max_workers or "default"
    print(
        f"DAG: {dag.node_count} nodes, {dag.edge_count} edges, {steps} steps "
        f"(built in {built:.2f}s); max_workers={workers}; {args.rounds} rounds"
    )

    run_once(dag, tasks, False, args.max_workers)  # warm-up
    run_once(dag, tasks, True, args.max_workers)
    times: dict[bool, list[float]] = {False: [], True: []}
    for r in range(args.rounds):
        order = (False, True) if r % 2 == 0 else (True, False)
        for traced in order:
            times[traced].append(run_once(dag, tasks, traced, args.max_workers))

    off = statistics.median(times[False])
    on = statistics.median(times[True])
    print(f"{'tracing':<8} {'median s':>9} {'min s':>8} {'per node us':>12}")
    for label, traced in (("off", False), ("on", True)):
        median = statistics.median(times[traced])
        per_node = median / dag.node_count * 1e6
        print(f"{label:<8} {median:>9.3f} {min(times[traced]):>8.3f} {per_node:>12.2f}")
    print(f"ratio on/off: {on / off:.3f} (target <= 1.10)")
    # On a busy machine the medians wander; the best runs are the steadier estimate.
    print(f"ratio of best runs: {min(times[True]) / min(times[False]):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
