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
) -> tuple[float, float]:
    """One run: (wall seconds, CPU seconds of the whole process)."""
    executor = dagron.DAGExecutor(dag, max_workers, trace=traced)
    gc.collect()
    began, began_cpu = time.perf_counter(), time.process_time()
    result = executor.execute(tasks)  # type: ignore[arg-type]
    elapsed, cpu = time.perf_counter() - began, time.process_time() - began_cpu
    # Check the output: every node ran, and the trace (if any) is complete.
    nodes = dag.node_count
    assert result.succeeded == nodes, result
    if traced:
        assert result.trace is not None
        steps = len(dag.levels())
        assert len(result.trace.events) == 2 + 2 * steps + 2 * nodes
    else:
        assert result.trace is None
    return elapsed, cpu


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

    # The first traced run also builds the DAG's shared name table (kept for later
    # runs); time it apart.
    began = time.perf_counter()
    dag._node_names()
    table = time.perf_counter() - began
    run_once(dag, tasks, False, args.max_workers)  # warm-up
    run_once(dag, tasks, True, args.max_workers)
    wall: dict[bool, list[float]] = {False: [], True: []}
    cpu: dict[bool, list[float]] = {False: [], True: []}
    pairs: list[float] = []  # on/off wall ratio of each round's two adjacent runs
    for r in range(args.rounds):
        order = (False, True) if r % 2 == 0 else (True, False)
        got = {}
        for traced in order:
            got[traced] = run_once(dag, tasks, traced, args.max_workers)
            wall[traced].append(got[traced][0])
            cpu[traced].append(got[traced][1])
        pairs.append(got[True][0] / got[False][0])

    print(f"{'tracing':<8} {'median s':>9} {'min s':>8} {'per node us':>12} {'median cpu s':>13}")
    for label, traced in (("off", False), ("on", True)):
        median = statistics.median(wall[traced])
        per_node = median / dag.node_count * 1e6
        print(
            f"{label:<8} {median:>9.3f} {min(wall[traced]):>8.3f} {per_node:>12.2f} "
            f"{statistics.median(cpu[traced]):>13.3f}"
        )
    on, off = statistics.median(wall[True]), statistics.median(wall[False])
    print(f"ratio on/off, medians: {on / off:.3f} (target <= 1.10)")
    # On a busy machine the medians wander: the median of per-round ratios (adjacent
    # runs see the same machine), the best runs, and CPU time are steadier views.
    print(f"ratio on/off, median of rounds: {statistics.median(pairs):.3f}")
    print(f"ratio on/off, best runs: {min(wall[True]) / min(wall[False]):.3f}")
    cpu_ratio = statistics.median(cpu[True]) / statistics.median(cpu[False])
    print(f"ratio on/off, CPU time: {cpu_ratio:.3f}")
    print(
        f"name table (first traced run only): {table * 1e3:.1f} ms, "
        f"{table / off * 100:.1f}% of an untraced run"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
