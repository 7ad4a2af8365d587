"""dagron.DistributedExecutor on threads, processes of this machine, and a Dask cluster.

The Dask tests share one ``LocalCluster`` (2 worker processes, 1 thread each, on
127.0.0.1) started by a module fixture and closed after; the killed-worker test runs
last and waits for the nanny to bring the worker back.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import distributed
import pytest
from dagron.distributed import (
    DaskBackend,
    DistributedExecutor,
    ProcessBackend,
    RemoteError,
    ThreadBackend,
    WorkerLostError,
)
from dagron.execution.tracing import ExecutionTrace
from executor_scenarios import (
    S,
    T,
    build,
    check_inside_times,
    check_trace,
    kill_own_process,
    overlap,
    raise_value_error,
    statuses,
    timed,
)
from perfetto_model import check as perfetto_check
from trace_streams import named_reference

# --- threads and processes of this machine -------------------------------------------


@pytest.fixture(scope="module")
def process_backend() -> Iterator[ProcessBackend]:
    with ProcessBackend(2) as backend:
        yield backend


# The outcomes every executor shares (statuses, skips, fail_fast, timeouts, cancel
# events, callbacks, a task's SystemExit; each with the same per-node events as
# DAGExecutor) are in test_executor_contract.py, on the thread and process backends.


def test_process_backend_runs_in_other_processes_with_worker_times(
    process_backend: ProcessBackend,
) -> None:
    dag = build(("a", "b"), nodes=("c",))
    tasks = {n: timed(n, 0.1) for n in dag.nodes}
    result = DistributedExecutor(dag, process_backend, trace=True).execute(tasks)
    assert result.succeeded == 3
    assert os.getpid() not in {node.result[1] for node in result.node_results.values()}
    check_inside_times(result)
    check_trace(result.trace, dag, result)


def test_process_backend_unpicklable_task_and_result(process_backend: ProcessBackend) -> None:
    dag = build(("a", "b"))
    lock = threading.Lock()
    executor = DistributedExecutor(dag, process_backend, trace=True, fail_fast=False)
    with pytest.raises(TypeError, match=r"the task for node 'b' cannot be pickled to run on "):
        executor.execute({"a": lambda: 1, "b": lambda: lock.locked()})
    assert executor.last_trace is None  # nothing ran

    result = executor.execute({"a": threading.Lock, "b": lambda: 1})
    assert statuses(result) == {"a": S.FAILED, "b": S.COMPLETED}
    error = result.node_results["a"].error
    assert isinstance(error, TypeError)
    assert str(error).startswith("the result of node 'a' cannot be pickled: TypeError: ")
    failed = result.trace.events_for_node("a")[-1]
    assert failed.event_type is T.NODE_FAILED and failed.error == f"TypeError: {error}"


def test_process_backend_lost_worker_fails_the_node_and_the_run_goes_on() -> None:
    dag = build(("victim", "after"), ("first", "victim"), nodes=("other",))
    tasks = {
        "first": timed("first", 0),
        "victim": kill_own_process,
        "after": timed("after", 0),
        "other": timed("other", 0),
    }
    with DistributedExecutor(dag, ProcessBackend(1), trace=True, fail_fast=False) as executor:
        result = executor.execute(tasks)
        again = executor.execute({"first": timed("first", 0)})  # a new pool
    assert statuses(result) == {
        "first": S.COMPLETED,
        "victim": S.FAILED,
        "after": S.COMPLETED,
        "other": S.COMPLETED,
    }
    error = result.node_results["victim"].error
    assert isinstance(error, WorkerLostError) and error.node == "victim"
    assert str(error).startswith("the worker running node 'victim' was lost: ")
    started, failed = result.trace.events_for_node("victim")
    assert started.metadata == {"start": "submitted"}
    assert failed.event_type is T.NODE_FAILED and failed.error == f"WorkerLostError: {error}"
    check_trace(result.trace, dag, result)
    assert again.node_results["first"].status is S.COMPLETED


def test_node_timeout() -> None:
    dag = build(("slow", "after"), nodes=("quick",))
    release = threading.Event()
    tasks = {"slow": lambda: release.wait(5), "after": lambda: 1, "quick": lambda: 2}
    began = time.monotonic()
    with DistributedExecutor(
        dag, ThreadBackend(2), trace=True, fail_fast=False, node_timeout=0.1
    ) as executor:
        result = executor.execute(tasks)
        release.set()
    assert time.monotonic() - began < 2
    # Per node, as upstream: without fail_fast the dependent runs.
    assert statuses(result) == {"slow": S.TIMED_OUT, "after": S.COMPLETED, "quick": S.COMPLETED}
    error = result.node_results["slow"].error
    assert str(error) == "node 'slow' was still running 0.1s after it started"
    started, timed_out = result.trace.events_for_node("slow")
    assert started.metadata == {"start": "submitted"}
    assert timed_out.event_type is T.NODE_TIMED_OUT
    assert 0.1 <= timed_out.duration < 1
    check_trace(result.trace, dag, result)


def test_keyboard_interrupt_on_the_driver_closes_the_trace(monkeypatch: Any) -> None:
    dag = build(("a", "b"), nodes=("c",))  # steps: [c, a], [b]
    release = threading.Event()
    backend = ThreadBackend(2)
    executor = DistributedExecutor(dag, backend, trace=True)
    real_submit = backend.submit_node

    def submit_node(fn: Any, args: Any, done: Any) -> Any:
        if args[0] == "a":
            raise KeyboardInterrupt
        return real_submit(fn, args, done)

    monkeypatch.setattr(backend, "submit_node", submit_node)
    with pytest.raises(KeyboardInterrupt):
        executor.execute({"a": lambda: 1, "b": lambda: 1, "c": lambda: release.wait(5)})
    release.set()
    executor.shutdown()
    trace = executor.last_trace
    assert trace is not None
    events = check_trace(trace, dag, steps_run=1)
    ends = {e.node_name: e for e in events if e.node_name and e.event_type is not T.NODE_STARTED}
    assert ends["c"].event_type is T.NODE_FAILED
    assert ends["c"].error == "RuntimeError: execution interrupted by KeyboardInterrupt"
    assert trace.events_for_node("c")[0].metadata == {"start": "submitted"}
    assert (ends["a"].event_type, ends["a"].metadata) == (
        T.NODE_CANCELLED,
        {"reason": "interrupted"},
    )
    assert ends["b"].metadata == {"reason": "interrupted"}


def test_bad_arguments() -> None:
    dag = build(("a", "b"))
    with pytest.raises(TypeError, match="backend must be a dagron.distributed backend"):
        DistributedExecutor(dag, object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="node_timeout must be >= 0"):
        DistributedExecutor(dag, ThreadBackend(), node_timeout=-1)
    with pytest.raises(ValueError, match="max_workers must be at least 1"):
        ThreadBackend(0)
    with pytest.raises(ValueError, match="a client or an address, not both"):
        DaskBackend(client=object(), address="tcp://127.0.0.1:1")


# --- Dask ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dask_client() -> Iterator[distributed.Client]:
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",
            # A task whose worker dies is not retried elsewhere: its node fails.
            scheduler_kwargs={"allowed_failures": 0},
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        client.wait_for_workers(2)
        yield client


def test_dask_nodes_run_on_both_workers_overlap_and_keep_worker_times(
    dask_client: distributed.Client,
) -> None:
    dag = build(("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), nodes=("e",))
    tasks = {n: timed(n, 0.3) for n in dag.nodes}
    with DistributedExecutor(dag, DaskBackend(client=dask_client), trace=True) as executor:
        result = executor.execute(tasks)
    assert dask_client.status == "running"  # a client passed in is left open
    assert result.succeeded == 5
    pids = {name: node.result[1] for name, node in result.node_results.items()}
    worker_pids = set(dask_client.run(os.getpid).values())
    assert set(pids.values()) == worker_pids and len(worker_pids) == 2
    assert pids["b"] != pids["c"] and pids["a"] != pids["e"]
    trace = result.trace
    assert overlap(trace, "b", "c") and overlap(trace, "a", "e")
    check_inside_times(result)
    check_trace(trace, dag, result)
    # One source per process: the driver first, then each worker.
    sources = trace.sources
    host = socket.gethostname()
    assert len(sources) == 3
    assert {(s.host, s.pid) for s in sources[1:]} == {(host, pid) for pid in worker_pids}
    assert (sources[0].host, sources[0].pid) == (host, os.getpid())
    for e, source in zip(trace.events, trace.event_sources()):
        assert sources[source].pid == (os.getpid() if e.node_name is None else pids[e.node_name])
    # The Perfetto export: a process group per process, the run on the driver's, each
    # node on its worker's own lanes (one, as each worker runs one node at a time).
    decoded = perfetto_check(trace)
    assert decoded.processes == [(f"{host}:{s.pid}", s.pid) for s in sources]
    assert decoded.children == [
        ["execution"],
        ["nodes", "running nodes"],
        ["nodes", "running nodes"],
    ]
    assert decoded.lanes_by_source == [[], ["lane 1"], ["lane 1"]]
    group_pids = [pid for _, pid in decoded.processes]
    node_slices = [r for r in decoded.records if r.phase == "B" and r.track[0] == "lane"]
    assert sorted(r.name for r in node_slices) == sorted(dag.nodes)
    assert all(group_pids[r.source] == pids[r.name] for r in node_slices)
    # Named Chrome JSON: the same groups, lanes named by node.
    assert trace.to_chrome_trace(named=True) == named_reference(
        trace.events, trace.event_sources(), decoded.processes
    )


def test_dask_failure_text_and_unpicklable(dask_client: distributed.Client) -> None:
    dag = build(("bad", "after"), nodes=("fine",))
    executor = DistributedExecutor(
        dag, DaskBackend(client=dask_client), trace=True, fail_fast=False
    )
    result = executor.execute(
        {"bad": raise_value_error, "after": lambda: 1, "fine": threading.Lock}
    )
    assert statuses(result) == {"bad": S.FAILED, "after": S.COMPLETED, "fine": S.FAILED}
    error = result.node_results["bad"].error
    assert type(error) is ValueError and error.args == ("bad input 7",)
    started, failed = result.trace.events_for_node("bad")
    assert started.metadata == {}  # a real start, recorded on the worker
    assert (failed.event_type, failed.error) == (T.NODE_FAILED, "ValueError: bad input 7")
    fine = result.trace.events_for_node("fine")[-1]
    assert fine.error is not None
    assert fine.error.startswith("TypeError: the result of node 'fine' cannot be pickled: ")
    check_trace(result.trace, dag, result)

    lock = threading.Lock()
    with pytest.raises(TypeError, match="the task for node 'after' cannot be pickled to run on "):
        executor.execute({"after": lambda: lock})


def test_dask_backend_by_address(dask_client: distributed.Client) -> None:
    address = dask_client.scheduler.address
    dag = build(("a", "b"))
    with DistributedExecutor(dag, DaskBackend(address=address), trace=True) as executor:
        result = executor.execute({"a": timed("a", 0), "b": timed("b", 0)})
        own_client = executor.backend.client  # type: ignore[attr-defined]
    assert result.succeeded == 2
    assert own_client.status == "closed"  # the backend closes the client it opened
    check_inside_times(result)


def test_dask_backend_embedded_cluster() -> None:
    dag = build(("a", "b"))
    backend = DaskBackend(n_workers=1, threads_per_worker=1, processes=False)
    with DistributedExecutor(dag, backend, trace=True) as executor:
        result = executor.execute({"a": timed("a", 0), "b": timed("b", 0)})
    assert result.succeeded == 2
    assert backend.client.status == "closed"
    check_trace(result.trace, dag, result)


def test_dask_killed_worker(dask_client: distributed.Client) -> None:
    # Runs last: the nanny restarts each killed worker, waited for below.
    # Steps: [first], [victim, survivor], [after, later].
    dag = build(("first", "victim"), ("first", "survivor"), ("victim", "after"))
    dag.add_node("later")
    dag.add_edge("survivor", "later")
    tasks = {
        "first": timed("first", 0),
        "victim": kill_own_process,
        "after": timed("after", 0),
        "survivor": timed("survivor", 0.3),
        "later": timed("later", 0),
    }
    expected = {
        "first": S.COMPLETED,
        "victim": S.FAILED,
        "after": S.COMPLETED,
        "survivor": S.COMPLETED,
        "later": S.COMPLETED,
    }
    for fail_fast in (False, True):
        dask_client.wait_for_workers(2, timeout=60)
        with DistributedExecutor(
            dag, DaskBackend(client=dask_client), trace=True, fail_fast=fail_fast
        ) as executor:
            result = executor.execute(tasks)
        if fail_fast:  # only the lost node's descendants are skipped
            expected["after"] = S.SKIPPED
        assert statuses(result) == expected
        error = result.node_results["victim"].error
        assert isinstance(error, WorkerLostError)
        assert str(error).startswith("the worker running node 'victim' was lost: KilledWorker: ")
        started, failed = result.trace.events_for_node("victim")
        assert started.metadata == {"start": "submitted"}
        assert failed.event_type is T.NODE_FAILED and failed.error == f"WorkerLostError: {error}"
        # What the workers had recorded is all there, on their clocks.
        check_inside_times(result)
        check_trace(result.trace, dag, result)
        reason = result.trace.events_for_node("after")[-1].metadata.get("reason")
        assert reason == ("fail_fast" if fail_fast else None)
    dask_client.wait_for_workers(2, timeout=60)


def test_worker_traces_merge_in_batches_like_one_merge() -> None:
    from dagron.distributed._traces import WorkerTraces
    from dagron.distributed._worker import run_node

    parts = [run_node(f"n{i}", lambda: None, True, False)[4] for i in range(50)]
    assert all(part is not None for part in parts)
    workers = WorkerTraces(batch=4)
    for part in parts:
        workers.add(part)  # type: ignore[arg-type]
    held = workers.traces()
    assert len(held) <= 4 + 6  # a few merged traces (sizes 32, 16) and the last ones
    assert len(workers.pending) < 4
    sizes = [size for _, size in workers.merged]
    assert sizes == sorted(sizes, reverse=True) and sum(sizes) + len(workers.pending) == 50
    merged = ExecutionTrace.merge(held)
    expected = ExecutionTrace.merge(parts)  # type: ignore[arg-type]
    got, want = merged.events, expected.events
    # Same events in the same order; a re-merged timestamp may differ in its last bit.
    assert [dataclasses.replace(e, timestamp=0.0) for e in got] == [
        dataclasses.replace(e, timestamp=0.0) for e in want
    ]
    assert [e.timestamp for e in got] == pytest.approx([e.timestamp for e in want], abs=1e-9)
    assert merged.sources == expected.sources


# --- faults (issue 23) -----------------------------------------------------------------


class QuotaError(Exception):
    """An exception whose class cannot be rebuilt from its args (two-argument init)."""

    def __init__(self, user: str, limit: int) -> None:
        super().__init__(f"{user} is over the quota of {limit}")


def raise_quota_error() -> None:
    raise QuotaError("ann", 3)


def test_process_backend_exception_that_cannot_be_unpickled(
    process_backend: ProcessBackend,
) -> None:
    dag = build(("a", "b"), nodes=("c",))
    result = DistributedExecutor(dag, process_backend, trace=True).execute(
        {"a": raise_quota_error, "b": timed("b", 0), "c": timed("c", 0)}
    )
    assert statuses(result) == {"a": S.FAILED, "b": S.SKIPPED, "c": S.COMPLETED}
    error = result.node_results["a"].error
    assert isinstance(error, RemoteError)
    assert (error.type_name, error.message) == ("QuotaError", "ann is over the quota of 3")
    assert str(error) == "QuotaError: ann is over the quota of 3"
    # The worker's own trace is kept: its real start and its failure.
    started, failed = result.trace.events_for_node("a")
    assert started.metadata == {}
    assert (failed.event_type, failed.error) == (
        T.NODE_FAILED,
        "QuotaError: ann is over the quota of 3",
    )
    assert failed.duration == result.node_results["a"].duration_seconds
    check_trace(result.trace, dag, result)


def test_keyboard_interrupt_while_collecting_outcomes(monkeypatch: Any) -> None:
    # Ctrl-C landing in Backend.outcomes: the nodes whose outcomes were being taken
    # end FAILED with their NODE_STARTED (at submission) and a duration from there.
    dag = build(nodes=("a", "b"))
    backend = ThreadBackend(2)
    executor = DistributedExecutor(dag, backend, trace=True)

    def outcomes(handles: Any, nodes: Any) -> Any:
        time.sleep(0.05)
        raise KeyboardInterrupt

    monkeypatch.setattr(backend, "outcomes", outcomes)
    began = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        executor.execute({"a": timed("a", 0), "b": timed("b", 0)})
    elapsed = time.monotonic() - began
    backend.shutdown()
    trace = executor.last_trace
    assert trace is not None
    events = check_trace(trace, dag, steps_run=1)
    for name in ("a", "b"):
        started, failed = trace.events_for_node(name)
        assert started.event_type is T.NODE_STARTED
        assert started.metadata == {"start": "submitted"}
        assert failed.event_type is T.NODE_FAILED
        assert failed.error == "RuntimeError: execution interrupted by KeyboardInterrupt"
        assert 0.0 <= failed.duration <= elapsed
    assert events[-1].event_type is T.EXECUTION_COMPLETED


def test_dask_backend_after_shutdown(dask_client: distributed.Client) -> None:
    backend = DaskBackend(client=dask_client)
    backend.shutdown()
    dag = build(("a", "b"))
    with pytest.raises(RuntimeError, match="this DaskBackend was shut down; make a new one"):
        DistributedExecutor(dag, backend).execute({"a": timed("a", 0)})
    with pytest.raises(RuntimeError, match="this DaskBackend was shut down"):
        backend.submit(print)


@pytest.mark.parametrize("bad", ["8", 2.0, True])
def test_per_slot_counts_reject_a_non_int_alike(bad: Any, dask_client: distributed.Client) -> None:
    with pytest.raises(TypeError, match=f"nodes_per_thread must be an int, not {bad!r}"):
        DaskBackend(client=dask_client, nodes_per_thread=bad)
    with pytest.raises(ValueError, match="nodes_per_thread must be >= 1, not 0"):
        DaskBackend(client=dask_client, nodes_per_thread=0)
    from dagron.distributed.backends import _check_per_slot

    # RayBackend checks nodes_per_cpu with the same function (Ray is not installed).
    with pytest.raises(TypeError, match=f"nodes_per_cpu must be an int, not {bad!r}"):
        _check_per_slot(bad, "nodes_per_cpu")
