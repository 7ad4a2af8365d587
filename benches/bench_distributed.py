"""Benchmark: what tracing costs each executor, and what DaskBackend adds to Dask.

1. Tracing overhead: a 10,000-node DAG of no-op tasks (``bench_executor.build_dag``:
   chains plus two wide fan-out/fan-in blocks) through ``DAGExecutor``,
   ``AsyncDAGExecutor`` and ``DistributedExecutor`` on ``ThreadBackend``,
   ``ProcessBackend`` and ``DaskBackend``, tracing off and on, alternating (the async
   executor runs ``async def`` no-ops, the others plain functions). Reports
   the median wall time of each and the ratio on/off.
2. DaskBackend against plain Dask: N independent no-op nodes through
   ``DistributedExecutor`` (tracing off, and on) against ``client.submit`` of the same
   function N times and one ``client.gather`` (Dask's best case: everything in
   flight at once). Reports the per-node cost and the ratio to plain Dask.

Every run is checked: all nodes completed and, with tracing, the trace holds exactly
the expected events (and, on Dask, one source per worker process plus the driver).
The Dask cluster is a ``LocalCluster`` of 2 worker processes with 1 thread each, on
127.0.0.1, started here and closed at the end.

    python benches/bench_distributed.py [--nodes 10000] [--dask-nodes 1000]
        [--plain-nodes 500] [--rounds 3] [--workers 2] [--skip NAMES]
        [--markdown-out FILE]

Dask defaults to 1,000 nodes: on the 2-core development machine a no-op Dask task
costs milliseconds, so 10,000 nodes take minutes per run (``--dask-nodes 10000``).

Not a test: nothing here runs under pytest.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import time
from typing import Any, Callable, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import dagron  # noqa: E402
from _common import emit, markdown_table  # noqa: E402
from bench_executor import build_dag, no_op  # noqa: E402
from dagron.distributed import (  # noqa: E402
    DaskBackend,
    DistributedExecutor,
    ProcessBackend,
    ThreadBackend,
)

Runner = Callable[[dagron.DAG, dict[str, Any], bool], dagron.ExecutionResult]


def check(dag: dagron.DAG, result: dagron.ExecutionResult, traced: bool, sources: int) -> None:
    """Every node completed; a traced run holds exactly the expected events, from
    at least ``sources`` sources (processes)."""
    nodes = dag.node_count
    assert result.succeeded == nodes, result
    if traced:
        trace = result.trace
        assert trace is not None
        steps = len(dag.levels())
        assert len(trace.events) == 2 + 2 * steps + 2 * nodes
        assert len(trace.sources) >= sources, trace.sources
    else:
        assert result.trace is None


def timed_run(run: Runner, dag: dagron.DAG, tasks: dict[str, Any], traced: bool) -> tuple:
    gc.collect()
    began = time.perf_counter()
    result = run(dag, tasks, traced)
    return time.perf_counter() - began, result


async def async_no_op() -> None:
    return None


def overhead(
    name: str, run: Runner, dag: dagron.DAG, rounds: int, sources: int, task: Any = no_op
) -> dict[str, Any]:
    """Alternating untraced/traced runs of ``dag``; medians and their ratio."""
    tasks = dict.fromkeys(dag.nodes, task)
    for traced in (False, True):  # warm-up (pools, imports, the DAG's name table)
        check(dag, timed_run(run, dag, tasks, traced)[1], traced, sources)
    wall: dict[bool, list[float]] = {False: [], True: []}
    for r in range(rounds):
        for traced in (False, True) if r % 2 == 0 else (True, False):
            seconds, result = timed_run(run, dag, tasks, traced)
            check(dag, result, traced, sources)
            wall[traced].append(seconds)
        print(f"  {name} round {r + 1}: off {wall[False][-1]:.3f}s on {wall[True][-1]:.3f}s")
    off, on = statistics.median(wall[False]), statistics.median(wall[True])
    return {"executor": name, "nodes": dag.node_count, "off": off, "on": on, "ratio": on / off}


def dask_against_plain(client: Any, nodes: int, rounds: int) -> dict[str, float]:
    """Per-node seconds: plain submit + gather, and DaskBackend untraced and traced."""
    dag = dagron.DAG()
    dag.add_nodes([f"n{i}" for i in range(nodes)])
    tasks = dict.fromkeys(dag.nodes, no_op)
    backend = DaskBackend(client=client)

    def plain() -> float:
        gc.collect()
        began = time.perf_counter()
        futures = [client.submit(no_op, pure=False) for _ in range(nodes)]
        values = client.gather(futures)
        elapsed = time.perf_counter() - began
        assert values == [None] * nodes
        return elapsed

    def through_dagron(traced: bool) -> float:
        executor = DistributedExecutor(dag, backend, trace=traced)
        seconds, result = timed_run(lambda d, t, tr: executor.execute(t), dag, tasks, traced)
        check(dag, result, traced, 2)
        return seconds

    plain()
    through_dagron(True)  # warm-up
    times: dict[str, list[float]] = {"plain": [], "off": [], "on": []}
    for r in range(rounds):
        order = ["plain", "off", "on"]
        order = order[r % 3 :] + order[: r % 3]
        for kind in order:
            times[kind].append(plain() if kind == "plain" else through_dagron(kind == "on"))
        print(
            f"  dask vs plain round {r + 1}: "
            + ", ".join(f"{k} {times[k][-1] / nodes * 1e6:.0f}us/node" for k in order)
        )
    return {kind: statistics.median(values) / nodes for kind, values in times.items()}


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--dask-nodes", type=int, default=1_000)
    parser.add_argument("--plain-nodes", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip", default="", help="comma-separated executors to skip")
    parser.add_argument("--markdown-out", default=None)
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))

    import distributed

    workers = args.workers
    dag = build_dag(args.nodes)
    dask_dag = dag if args.dask_nodes == args.nodes else build_dag(args.dask_nodes)
    print(
        f"DAG: {dag.node_count} nodes, {dag.edge_count} edges, {len(dag.levels())} steps; "
        f"{workers} workers; {args.rounds} rounds; machine: {os.cpu_count()} CPUs"
    )
    rows = []
    with ThreadBackend(workers) as threads, ProcessBackend(workers) as processes:
        runners: list[tuple[str, Runner, int, Any]] = [
            (
                "DAGExecutor",
                lambda d, t, tr: dagron.DAGExecutor(d, workers, trace=tr).execute(t),
                1,
                no_op,
            ),
            (
                "AsyncDAGExecutor (async def tasks)",
                lambda d, t, tr: asyncio.run(
                    dagron.AsyncDAGExecutor(d, workers, trace=tr).execute(t)
                ),
                1,
                async_no_op,
            ),
            (
                "DistributedExecutor + ThreadBackend",
                lambda d, t, tr: DistributedExecutor(d, threads, trace=tr).execute(t),
                1,
                no_op,
            ),
            (
                "DistributedExecutor + ProcessBackend",
                lambda d, t, tr: DistributedExecutor(d, processes, trace=tr).execute(t),
                2,
                no_op,
            ),
        ]
        for name, run, sources, task in runners:
            if not skip & {name, name.split(" + ")[-1], name.split(" ")[0]}:
                rows.append(overhead(name, run, dag, args.rounds, sources, task))
    per_node: Optional[dict[str, float]] = None
    if not skip >= {"DaskBackend", "plain"}:
        with (
            distributed.LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=":0",
                silence_logs=40,
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            client.wait_for_workers(workers)
            backend = DaskBackend(client=client)
            if "DaskBackend" not in skip:
                rows.append(
                    overhead(
                        "DistributedExecutor + DaskBackend",
                        lambda d, t, tr: DistributedExecutor(d, backend, trace=tr).execute(t),
                        dask_dag,
                        args.rounds,
                        2,
                    )
                )
            if "plain" not in skip:
                per_node = dask_against_plain(client, args.plain_nodes, args.rounds)
    emit(report_text(rows, per_node, args), args.markdown_out)
    return 0


def report_text(
    rows: list[dict[str, Any]], per_node: Optional[dict[str, float]], args: Any
) -> str:
    report = [
        "### Tracing overhead per executor (no-op nodes, medians of "
        f"{args.rounds} alternating rounds, {args.workers} workers)",
        "",
        markdown_table(
            ["executor", "nodes", "untraced s", "traced s", "traced / untraced"],
            [
                [
                    row["executor"],
                    f"{row['nodes']:,}",
                    f"{row['off']:.3f}",
                    f"{row['on']:.3f}",
                    f"{row['ratio']:.3f}",
                ]
                for row in rows
            ],
        ),
        "",
    ]
    if per_node is not None:
        report += [
            f"### DaskBackend against plain Dask ({args.plain_nodes:,} independent no-op "
            f"nodes, medians of {args.rounds} rounds)",
            "",
            markdown_table(
                ["how", "per node us", "/ plain Dask"],
                [
                    [
                        label,
                        f"{per_node[kind] * 1e6:.0f}",
                        f"{per_node[kind] / per_node['plain']:.2f}",
                    ]
                    for label, kind in (
                        ("client.submit x N + client.gather", "plain"),
                        ("DistributedExecutor + DaskBackend, untraced", "off"),
                        ("DistributedExecutor + DaskBackend, traced", "on"),
                    )
                ],
            ),
            "",
        ]
    return "\n".join(report)


if __name__ == "__main__":
    sys.exit(main())
