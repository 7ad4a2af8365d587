"""dagron.distributed.RayBackend on a local Ray instance (runs only where ``ray`` is
installed: it is not in the ``test`` extra, being large)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import cloudpickle
import pytest

ray = pytest.importorskip("ray")

from dagron import NodeStatus  # noqa: E402
from dagron.distributed import DistributedExecutor, RayBackend, WorkerLostError  # noqa: E402
from dagron.execution.tracing import TraceEventType  # noqa: E402
from executor_scenarios import (  # noqa: E402  # noqa: E402
    build,
    check_inside_times,
    check_trace,
    kill_own_process,
    overlap,
    raise_value_error,
    statuses,
    timed,
)

S = NodeStatus
T = TraceEventType


@pytest.fixture(scope="module")
def ray_backend() -> Iterator[RayBackend]:
    # Ray's workers cannot import the test modules: send their tasks by value.
    for module in ("test_distributed", "test_ray"):
        cloudpickle.register_pickle_by_value(sys.modules[module])
    backend = RayBackend(num_cpus=2, log_to_driver=False)
    # Ray starts worker processes on demand (seconds on a busy machine): have both
    # running before the timing checks.
    pid = ray.remote(timed("warm-up", 0.5))
    for _ in range(10):
        if len({ray.get(ref)[1] for ref in [pid.remote(), pid.remote()]}) == 2:
            break
    yield backend
    backend.shutdown()
    for module in ("test_distributed", "test_ray"):
        cloudpickle.unregister_pickle_by_value(sys.modules[module])


def test_ray_nodes_traced_where_they_ran(ray_backend: RayBackend) -> None:
    dag = build(("a", "b"), ("a", "c"))
    tasks = {n: timed(n, 0.3) for n in dag.nodes}
    result = DistributedExecutor(dag, ray_backend, trace=True).execute(tasks)
    assert result.succeeded == 3
    pids = {name: node.result[1] for name, node in result.node_results.items()}
    assert os.getpid() not in pids.values() and pids["b"] != pids["c"]
    assert overlap(result.trace, "b", "c")
    check_inside_times(result)
    check_trace(result.trace, dag, result)
    sources = result.trace.sources
    assert sources[0].pid == os.getpid()
    assert {s.pid for s in sources[1:]} == set(pids.values())


def test_ray_failure_text_and_lost_worker(ray_backend: RayBackend) -> None:
    dag = build(("victim", "after"), nodes=("bad", "fine"))
    tasks = {
        "victim": kill_own_process,
        "after": timed("after", 0),
        "bad": raise_value_error,
        "fine": timed("fine", 0),
    }
    result = DistributedExecutor(dag, ray_backend, trace=True, fail_fast=False).execute(tasks)
    assert statuses(result) == {
        "victim": S.FAILED,
        "after": S.SKIPPED,
        "bad": S.FAILED,
        "fine": S.COMPLETED,
    }
    assert result.trace.events_for_node("bad")[-1].error == "ValueError: bad input 7"
    error = result.node_results["victim"].error
    assert isinstance(error, WorkerLostError)
    assert str(error).startswith("the worker running node 'victim' was lost: ")
    started, failed = result.trace.events_for_node("victim")
    assert started.metadata == {"start": "submitted"}
    assert failed.event_type is T.NODE_FAILED
    check_trace(result.trace, dag, result)
