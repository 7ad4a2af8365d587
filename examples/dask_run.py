"""A traced run on Dask: a small pipeline on an embedded LocalCluster (2 worker
processes), its trace written as a Perfetto trace (or, for an OUT ending in
``.json``, Chrome JSON with named lanes).

    python3 examples/dask_run.py [OUT]     # default dask_run.perfetto-trace
                                           # needs: pip install 'dagron-trace[dask]'

Each node's NODE_STARTED and NODE_COMPLETED are recorded by the worker process that
ran it and merged on this process's clock; the summary lists where each node ran.
The export draws one process group per process, named ``host:pid``: this one with
the run and its steps, and each worker with the lanes of the nodes it ran.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Callable

import dagron
from dagron.distributed import DaskBackend, DistributedExecutor


def work(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def task(seconds: float) -> Callable[[], int]:
    return lambda: work(seconds)


def main(out: str) -> None:
    dag = (
        dagron.DAG.builder()
        .add_edges([("extract", f"clean_{i}") for i in range(4)])
        .add_edges([(f"clean_{i}", "join") for i in range(4)])
        .add_edges([("join", "train"), ("join", "report")])
        .build()
    )
    seconds = {"extract": 0.2, "join": 0.15, "train": 0.4, "report": 0.1}
    seconds.update({f"clean_{i}": 0.1 + 0.05 * i for i in range(4)})
    tasks = {name: task(seconds[name]) for name in dag.nodes}
    with DistributedExecutor(
        dag, DaskBackend(n_workers=2, threads_per_worker=1), trace=True
    ) as executor:
        result = executor.execute(tasks)
    trace = result.trace
    assert trace is not None and result.succeeded == dag.node_count
    if out.endswith((".json", ".json.gz")):
        trace.write_chrome_trace(out, named=True)
    else:
        trace.write_perfetto(out)
    print(trace.summary())
    names = {i: f"{s.host}:{s.pid}" for i, s in enumerate(trace.sources)}
    for event, source in zip(trace.events, trace.event_sources()):
        if event.event_type is dagron.TraceEventType.NODE_STARTED:
            print(f"  {event.node_name:<8} on {names[source]} at {event.timestamp:.3f}s")
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "dask_run.perfetto-trace")
