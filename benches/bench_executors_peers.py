"""Benchmark: this project's DAGExecutor against its peers on one workload (issue 23, part 6).

20,000 no-op nodes in 1,000 layers of 20 (each node depends on two nodes of the layer
before), 4 workers, traced where the executor traces:

- ``dagron`` (this project): ``DAGExecutor(dag, 4, trace=True)``;
- ``upstream``: upstream dagron 0.1.1, ``DAGExecutor(dag, 4, enable_tracing=True)``, in
  its own CPython 3.12 venv (scripts/upstream_venv.py; left out where it cannot be had);
- ``graphlib``: ``graphlib.TopologicalSorter`` feeding a ``ThreadPoolExecutor(4)``,
  each node's (name, start, end) appended to a list by its worker (the least a trace
  holds);
- ``dask``: ``dask.threaded.get`` with ``num_workers=4`` (no trace).

Each contender runs in a subprocess of its interpreter: ``--python`` (default: a CPython
3.12, else this interpreter) for all but upstream, with this checkout's ``python/`` on
``PYTHONPATH`` (the extension is abi3, so a build for 3.9+ loads on 3.12) and dask
where that interpreter has it (``--dask-python`` to take dask from another). Rounds
go round-robin over the contenders after a warm-up run of each, every run is checked
(all nodes completed; the trace's node events), and the script prints the median
us/node of each and its ratio to this project's.

    python benches/bench_executors_peers.py [--rounds 5] [--python PY] [--markdown FILE]
        [--baseline OTHER_CHECKOUT/python]

Not a test: nothing here runs under pytest.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

ROOT = Path(__file__).resolve().parent.parent
LAYERS, WIDTH, WORKERS = 1000, 20, 4


def edges() -> list[tuple[str, str]]:
    """Node (k, i) depends on (k-1, i) and (k-1, (i+1) % WIDTH)."""
    out = []
    for k in range(1, LAYERS):
        for i in range(WIDTH):
            out.append((f"n{k - 1}_{i}", f"n{k}_{i}"))
            out.append((f"n{k - 1}_{(i + 1) % WIDTH}", f"n{k}_{i}"))
    return out


def names() -> list[str]:
    return [f"n{k}_{i}" for k in range(LAYERS) for i in range(WIDTH)]


def no_op() -> None:
    return None


# -- the contenders: each returns a function doing one checked run -----------------------


def dagron_run(upstream: bool) -> Callable[[], None]:
    import dagron

    dag = dagron.DAG()
    dag.add_nodes(names())
    dag.add_edges(edges())
    tasks = {name: no_op for name in names()}
    if upstream:
        executor = dagron.DAGExecutor(dag, WORKERS, enable_tracing=True)
    else:
        executor = dagron.DAGExecutor(dag, WORKERS, trace=True)
    count = LAYERS * WIDTH

    def run() -> None:
        result = executor.execute(tasks)
        assert result.succeeded == count, result.succeeded
        ends = sum(e.event_type.value == "node_completed" for e in result.trace.events)
        assert ends == count, ends

    return run


def graphlib_run() -> Callable[[], None]:
    import graphlib
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    deps: dict[str, list[str]] = {name: [] for name in names()}
    for a, b in edges():
        deps[b].append(a)
    clock = time.perf_counter

    def run() -> None:
        events: list[tuple[str, float, float]] = []

        def call(name: str) -> str:
            began = clock()
            no_op()
            events.append((name, began, clock()))
            return name

        sorter = graphlib.TopologicalSorter(deps)
        sorter.prepare()
        with ThreadPoolExecutor(WORKERS) as pool:
            running = set()
            while sorter.is_active():
                running.update(pool.submit(call, name) for name in sorter.get_ready())
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    sorter.done(future.result())
        assert len(events) == LAYERS * WIDTH

    return run


def dask_run() -> Callable[[], None]:
    import dask.threaded

    deps: dict[str, list[str]] = {name: [] for name in names()}
    for a, b in edges():
        deps[b].append(a)

    def task(*_inputs: Any) -> None:
        return None

    graph = {name: (task, *inputs) for name, inputs in deps.items()}
    keys = names()

    def run() -> None:
        out = dask.threaded.get(graph, keys, num_workers=WORKERS)
        assert len(out) == LAYERS * WIDTH

    return run


def worker(kind: str, runs: int) -> None:
    """In the contender's interpreter: a warm-up run, then ``runs`` timed ones."""
    make = {
        "dagron": lambda: dagron_run(False),
        "baseline": lambda: dagron_run(False),
        "upstream": lambda: dagron_run(True),
        "graphlib": graphlib_run,
        "dask": dask_run,
    }[kind]
    run = make()
    run()
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    version = ".".join(map(str, sys.version_info[:3]))
    print(json.dumps({"times": times, "python": version}))


# -- the driver ---------------------------------------------------------------------------


def find_python312() -> Optional[str]:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from upstream_venv import find_python312 as find
    finally:
        sys.path.pop(0)
    return find()


def upstream_python() -> Optional[str]:
    made = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "upstream_venv.py")],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if made.returncode != 0:
        print(f"upstream left out: {made.stdout.strip()}")
        return None
    return made.stdout.strip().splitlines()[-1]


def has_module(python: str, module: str) -> bool:
    probe = subprocess.run([python, "-c", f"import {module}"], capture_output=True, check=False)
    return probe.returncode == 0


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--python", help="interpreter for dagron, graphlib and dask")
    parser.add_argument("--dask-python", help="interpreter with dask (default: --python)")
    parser.add_argument("--markdown", help="append the results table to this file")
    parser.add_argument(
        "--baseline",
        help="another checkout's python/ directory (with its built extension), run as "
        "'baseline' beside this one: an A/B of two builds in the same rounds",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.runs)
        return 0

    ours = args.python or find_python312() or sys.executable
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    pythons = {"dagron": ours, "graphlib": ours}
    if args.baseline:
        pythons["baseline"] = ours
    up = upstream_python()
    if up:
        pythons["upstream"] = up
    dask_python = args.dask_python or ours
    if has_module(dask_python, "dask"):
        pythons["dask"] = dask_python
    else:
        print(f"dask left out: {dask_python} has no dask (--dask-python)")
    times: dict[str, list[float]] = {kind: [] for kind in pythons}
    versions: dict[str, str] = {}
    for _ in range(args.rounds):
        for kind, python in pythons.items():
            run_env = None if kind == "upstream" else env
            if kind == "baseline":
                run_env = dict(os.environ, PYTHONPATH=str(Path(args.baseline).resolve()))
            out = subprocess.run(
                [python, __file__, "--worker", kind, "--runs", "1"],
                capture_output=True,
                text=True,
                env=run_env,
                timeout=600,
                check=False,
            )
            if out.returncode != 0:
                raise SystemExit(f"{kind} failed: {out.stderr.strip()[-2000:]}")
            reply = json.loads(out.stdout.strip().splitlines()[-1])
            times[kind] += reply["times"]
            versions[kind] = reply["python"]
    count = LAYERS * WIDTH
    base = statistics.median(times["dagron"])
    header = "| executor | CPython | median us/node | ratio to dagron | runs |"
    rows = [header, "|---|---|---:|---:|---:|"]
    for kind, samples in times.items():
        median = statistics.median(samples)
        rows.append(
            f"| {kind} | {versions[kind]} | {median / count * 1e6:.1f} | "
            f"{median / base:.2f}x | {len(samples)} |"
        )
    table = "\n".join(rows)
    print(table)
    if args.markdown:
        with open(args.markdown, "a") as out_file:
            out_file.write(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
