"""The executors' contract, once for all of them (behaviour.md section 5).

Every scenario runs on each executor: ``DAGExecutor`` (threads), ``AsyncDAGExecutor``
(plain callables, and coroutine functions), and ``DistributedExecutor`` on a
``ThreadBackend``, a ``ProcessBackend`` and a backend written to upstream's
``DistributedBackend`` protocol. Each must give the statuses, counts, errors and
per-node events the contract says, and the same per-node events as ``DAGExecutor``.
Dask runs here on an embedded cluster of threads; tests/test_distributed.py covers
what is its own (worker processes, lost workers).
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Optional

import dagron
import pytest
from dagron import AsyncDAGExecutor, DAGExecutor, ExecutionCallbacks, NodeStatus
from dagron.distributed import DistributedExecutor, ProcessBackend, ThreadBackend
from dagron.execution.tracing import ExecutionTrace, TraceEventType
from executor_scenarios import build, check_trace, statuses
from hypothesis import given, settings
from hypothesis import strategies as st

T = TraceEventType
S = NodeStatus

KINDS = [
    "threads",
    "async",
    "async-coroutines",
    "thread-backend",
    "process-backend",
    "dask",
    "protocol",
]


class UpstreamStyleBackend:
    """A user's backend written to upstream's protocol only (no dagron base class)."""

    name = "mine"

    def __init__(self, max_workers: int = 4) -> None:
        self._pool = ThreadPoolExecutor(max_workers)
        self.max_workers = max_workers
        self.submitted = 0

    def submit(self, fn: Any, *args: Any, **kwargs: Any) -> Future[Any]:
        self.submitted += 1
        return self._pool.submit(fn, *args, **kwargs)

    def result(self, future: Future[Any], timeout: Optional[float] = None) -> Any:
        return future.result(timeout=timeout)

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait)


@pytest.fixture(scope="module")
def process_backend() -> Iterator[ProcessBackend]:
    with ProcessBackend(2) as backend:
        yield backend


@pytest.fixture(scope="module")
def dask_backend() -> Iterator[Any]:
    # An embedded cluster of threads in this process: cheap to start, and the same
    # executor code as a real cluster (tests/test_distributed.py has the processes).
    pytest.importorskip("distributed")
    from dagron.distributed import DaskBackend

    with DaskBackend(n_workers=1, threads_per_worker=2, processes=False) as backend:
        yield backend


# Module-level tasks: they travel to the process backend's workers by reference.
def ok() -> int:
    return 1


def raise_value_error(message: str) -> None:
    raise ValueError(message)


def raise_base(kind: str) -> None:
    raise {"SystemExit": SystemExit, "KeyboardInterrupt": KeyboardInterrupt}[kind]("stop")


def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def as_coroutine(fn: Callable[[], Any]) -> Callable[[], Any]:
    async def task() -> Any:
        return fn()

    return task


def async_nap(seconds: float) -> Callable[[], Any]:
    async def task() -> float:
        await asyncio.sleep(seconds)
        return seconds

    return task


class Runner:
    """Runs a DAG on one kind of executor, with the constructor and ``execute``
    options of the contract (``timeout``, ``cancel_event`` go to ``execute``)."""

    def __init__(self, kind: str, backend: Any = None) -> None:
        self.kind = kind
        self.shared_backend = backend
        self.executor: Any = None

    def make(self, dag: dagron.DAG, **options: Any) -> Any:
        max_workers = options.pop("max_workers", None)
        if self.kind == "threads":
            return DAGExecutor(dag, max_workers, trace=True, **options)
        if self.kind.startswith("async"):
            return AsyncDAGExecutor(dag, max_workers, trace=True, **options)
        options.pop("costs", None)
        backend: Any
        if self.kind == "thread-backend":
            backend = ThreadBackend(max_workers or 4)
        elif self.kind in ("process-backend", "dask"):
            backend = self.shared_backend
        else:
            backend = UpstreamStyleBackend(max_workers or 4)
        return DistributedExecutor(dag, backend, trace=True, **options)

    def tasks(self, tasks: dict[str, Any]) -> dict[str, Any]:
        if self.kind != "async-coroutines":
            return tasks
        out: dict[str, Any] = {}
        for name, task in tasks.items():
            if isinstance(task, functools.partial) and task.func is nap:
                out[name] = async_nap(*task.args)
            else:
                out[name] = None if task is None else as_coroutine(task)
        return out

    def run(self, dag: dagron.DAG, tasks: dict[str, Any], **options: Any) -> Any:
        execute = {k: options.pop(k) for k in ("timeout", "cancel_event") if k in options}
        self.executor = executor = self.make(dag, **options)
        tasks = self.tasks(tasks)
        if self.kind.startswith("async"):
            return asyncio.run(executor.execute(tasks, **execute))
        return executor.execute(tasks, **execute)


@pytest.fixture(params=KINDS)
def runner(request: pytest.FixtureRequest) -> Runner:
    kind = request.param
    shared = {"process-backend": "process_backend", "dask": "dask_backend"}.get(kind)
    return Runner(kind, request.getfixturevalue(shared) if shared else None)


def node_events(trace: ExecutionTrace, dag: dagron.DAG) -> dict[str, list[tuple[Any, ...]]]:
    """Each node's events without times or sources: (type, error, reason, has duration)."""
    return {
        name: [
            (
                e.event_type,
                e.error,
                (e.metadata or {}).get("reason"),
                e.duration is not None,
            )
            for e in trace.events_for_node(name)
        ]
        for name in dag.nodes
    }


def run_events(trace: ExecutionTrace) -> list[tuple[Any, ...]]:
    """The events that belong to no node: execution and steps, in order."""
    return [(e.event_type, e.step_index) for e in trace.events if e.node_name is None]


def counts(result: dagron.ExecutionResult) -> tuple[int, ...]:
    return (result.succeeded, result.failed, result.skipped, result.timed_out, result.cancelled)


DIAMOND = build(("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), nodes=("e",))
WIDE = build(("a", "b"), ("a", "c"), ("x", "y"), ("b", "z"), ("c", "z"), ("y", "z2"))
CHAIN = build(("a", "b"), ("b", "c"))

BOOM = functools.partial(raise_value_error, "boom")
SCENARIOS: dict[str, tuple[dagron.DAG, dict[str, Any], dict[str, Any], dict[str, NodeStatus]]] = {
    "all_complete": (DIAMOND, dict.fromkeys("abcde", ok), {}, dict.fromkeys("abcde", S.COMPLETED)),
    # fail_fast: the failed node's descendants are skipped, and only they.
    "fail_fast": (
        WIDE,
        {**dict.fromkeys(WIDE.nodes, ok), "a": BOOM},
        {},
        {
            "a": S.FAILED,
            **dict.fromkeys("bcz", S.SKIPPED),
            **dict.fromkeys(["x", "y", "z2"], S.COMPLETED),
        },
    ),
    # Without fail_fast every node that has a task runs, whatever its ancestors did.
    "no_fail_fast": (
        WIDE,
        {**dict.fromkeys(WIDE.nodes, ok), "a": BOOM},
        {"fail_fast": False},
        {"a": S.FAILED, **{n: S.COMPLETED for n in WIDE.nodes if n != "a"}},
    ),
    # A node without a task is skipped and holds nothing back.
    "missing_tasks": (
        DIAMOND,
        {"a": ok, "c": ok, "d": ok, "e": None},
        {},
        {"a": S.COMPLETED, "b": S.SKIPPED, "c": S.COMPLETED, "d": S.COMPLETED, "e": S.SKIPPED},
    ),
    # The skip is transitive, through a node without a task too.
    "transitive": (
        build(("a", "b"), ("b", "c"), ("c", "d"), nodes=("e",)),
        {"a": BOOM, "c": ok, "d": ok, "e": ok},
        {},
        {"a": S.FAILED, "b": S.SKIPPED, "c": S.SKIPPED, "d": S.SKIPPED, "e": S.COMPLETED},
    ),
    "empty_message": (
        DIAMOND,
        {**dict.fromkeys("acde", ok), "b": functools.partial(raise_value_error, "")},
        {"max_workers": 1},
        {"a": S.COMPLETED, "b": S.FAILED, "c": S.COMPLETED, "d": S.SKIPPED, "e": S.COMPLETED},
    ),
    # timeout is per node: a chain longer than the timeout, each node shorter.
    "timeout_per_node": (
        CHAIN,
        dict.fromkeys("abc", functools.partial(nap, 0.15)),
        {"timeout": 0.45},
        dict.fromkeys("abc", S.COMPLETED),
    ),
}

SKIP_REASONS = {
    "fail_fast": dict.fromkeys("bcz", "fail_fast"),
    "missing_tasks": {"b": "no_task", "e": "no_task"},
    "transitive": dict.fromkeys("bcd", "fail_fast"),
    "empty_message": {"d": "fail_fast"},
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_outcomes(name: str, runner: Runner) -> None:
    dag, tasks, options, expected = SCENARIOS[name]
    got = runner.run(dag, tasks, **options)
    assert statuses(got) == expected
    assert counts(got) == tuple(
        list(expected.values()).count(s)
        for s in (S.COMPLETED, S.FAILED, S.SKIPPED, S.TIMED_OUT, S.CANCELLED)
    )
    check_trace(got.trace, dag, got)
    reasons = {
        e.node_name: e.metadata["reason"]
        for e in got.trace.events
        if e.event_type is T.NODE_SKIPPED
    }
    assert reasons == SKIP_REASONS.get(name, {})
    for n, r in got.node_results.items():
        if r.status is S.FAILED:
            assert type(r.error) is ValueError
            assert got.trace.events_for_node(n)[-1].error == (
                "ValueError: boom" if name != "empty_message" else "ValueError"
            )
        assert got[n] is r and n in got
    assert "nope" not in got
    if runner.kind != "threads":  # the same events and values as DAGExecutor
        expected_run = Runner("threads", None).run(dag, tasks, **dict(options))
        assert node_events(got.trace, dag) == node_events(expected_run.trace, dag)
        assert run_events(got.trace) == run_events(expected_run.trace)
        for n, r in got.node_results.items():
            assert r.result == expected_run[n].result
            assert type(r.error) is type(expected_run[n].error)


def let_slow_tasks_end(runner: Runner, began: float) -> None:
    """A shared backend cannot stop a timed-out task: wait until the slow task has
    ended, so that it does not hold a worker of the next test."""
    if runner.shared_backend is not None:
        time.sleep(max(0.0, began + SLOW + 0.1 - time.monotonic()))


SLOW = 1.5


def test_timeout_ends_a_slow_node_and_execute_does_not_wait(runner: Runner) -> None:
    dag = build(("slow", "after"), nodes=("quick",))
    tasks = {"slow": functools.partial(nap, SLOW), "after": ok, "quick": ok}
    began = time.monotonic()
    got = runner.run(dag, tasks, timeout=0.2)
    elapsed = time.monotonic() - began
    let_slow_tasks_end(runner, began)
    if runner.kind != "async":  # a plain callable keeps asyncio.run's executor busy
        assert elapsed < 1.2
    assert statuses(got) == {"slow": S.TIMED_OUT, "after": S.SKIPPED, "quick": S.COMPLETED}
    error = got["slow"].error
    assert isinstance(error, TimeoutError)
    assert str(error) == "node 'slow' was still running 0.2s after it started"
    ended = got.trace.events_for_node("slow")[-1]
    assert ended.event_type is T.NODE_TIMED_OUT
    assert ended.error == f"TimeoutError: {error}"
    assert 0.2 <= got["slow"].duration_seconds < 1.2
    assert got.trace.events_for_node("after")[-1].metadata == {"reason": "fail_fast"}
    check_trace(got.trace, dag, got)


def test_timeout_without_fail_fast_runs_the_dependents(runner: Runner) -> None:
    dag = build(("slow", "after"))
    tasks = {"slow": functools.partial(nap, SLOW), "after": ok}
    began = time.monotonic()
    got = runner.run(dag, tasks, timeout=0.2, fail_fast=False)
    let_slow_tasks_end(runner, began)
    assert statuses(got) == {"slow": S.TIMED_OUT, "after": S.COMPLETED}


def test_a_timed_out_worker_is_replaced(runner: Runner) -> None:
    # One worker: the queued node still runs once the first has timed out (on a new
    # thread or coroutine; a backend, which cannot stop the slow task, once its slot
    # is free again).
    if runner.kind in ("process-backend", "dask"):
        pytest.skip("the shared backend has two workers")
    dag = build(nodes=("slow", "next"))
    got = runner.run(
        dag, {"slow": functools.partial(nap, 1.5), "next": ok}, timeout=0.2, max_workers=1
    )
    assert statuses(got) == {"slow": S.TIMED_OUT, "next": S.COMPLETED}


def test_cancel_event(runner: Runner) -> None:
    event = threading.Event()
    event.set()
    got = runner.run(DIAMOND, dict.fromkeys("abcde", ok), cancel_event=event)
    assert statuses(got) == dict.fromkeys("abcde", S.CANCELLED)
    assert {e.metadata["reason"] for e in got.trace.events if e.node_name} == {"cancelled"}
    check_trace(got.trace, DIAMOND, got)


def test_cancel_event_set_by_a_task(runner: Runner) -> None:
    if runner.kind == "process-backend":
        pytest.skip("a task in another process cannot set this process's event")
    if runner.kind == "dask":
        pytest.skip("Dask pickles the task: its event would be a copy")
    event = threading.Event()
    tasks: dict[str, Any] = {**dict.fromkeys("acde", ok), "b": event.set}
    got = runner.run(DIAMOND, tasks, cancel_event=event, max_workers=1)
    assert statuses(got) == {
        "a": S.COMPLETED,
        "b": S.COMPLETED,
        "c": S.CANCELLED,
        "d": S.CANCELLED,
        "e": S.COMPLETED,
    }


@pytest.mark.parametrize("kind", ["SystemExit", "KeyboardInterrupt"])
def test_base_exception_from_a_task_fails_the_node_and_escapes(runner: Runner, kind: str) -> None:
    dag = build(("a", "b"), nodes=("c",))
    tasks = {"a": functools.partial(raise_base, kind), "b": ok, "c": ok}
    with pytest.raises(BaseException) as raised:
        runner.run(dag, tasks, max_workers=1)
    assert type(raised.value).__name__ == kind
    trace = runner.executor.last_trace
    events = check_trace(trace, dag, steps_run=1)
    ends = {e.node_name: e for e in events if e.node_name and e.event_type is not T.NODE_STARTED}
    assert ends["a"].event_type is T.NODE_FAILED
    assert ends["a"].error == f"{kind}: stop"
    assert (ends["b"].event_type, ends["b"].metadata) == (
        T.NODE_CANCELLED,
        {"reason": "interrupted"},
    )


def test_callbacks(runner: Runner) -> None:
    calls: list[tuple[Any, ...]] = []
    lock = threading.Lock()

    def note(*call: Any) -> None:
        with lock:
            calls.append(call)

    callbacks = ExecutionCallbacks(
        on_start=lambda n: note("start", n),
        on_complete=lambda n, v: note("complete", n, v),
        on_failure=lambda n, e: note("failure", n, type(e).__name__, str(e)),
        on_skip=lambda n: note("skip", n),
    )
    dag = build(("a", "b"), ("c", "d"), nodes=("e",))
    tasks = {"a": BOOM, "b": ok, "c": ok, "d": ok}
    got = runner.run(dag, tasks, callbacks=callbacks)
    assert statuses(got)["b"] is S.SKIPPED
    assert sorted(calls) == sorted(
        [
            ("start", "a"),
            ("failure", "a", "ValueError", "boom"),
            ("skip", "b"),
            ("start", "c"),
            ("complete", "c", 1),
            ("start", "d"),
            ("complete", "d", 1),
            ("skip", "e"),
        ]
    )
    # Each node's calls come in order.
    assert [c for c in calls if c[1] == "c"] == [("start", "c"), ("complete", "c", 1)]


def test_a_raising_callback(runner: Runner) -> None:
    def refuse(name: str, value: Any) -> None:
        raise RuntimeError(f"refused {name}")

    dag = build(("a", "b"))
    got = runner.run(dag, {"a": ok, "b": ok}, callbacks=ExecutionCallbacks(on_complete=refuse))
    assert statuses(got) == {"a": S.FAILED, "b": S.SKIPPED}
    assert str(got["a"].error) == "refused a"
    assert got.trace.events_for_node("a")[-1].error == "RuntimeError: refused a"
    check_trace(got.trace, dag, got)

    def skip_fails(name: str) -> None:
        raise LookupError(name)

    with pytest.raises(LookupError, match="b"):
        runner.run(dag, {"a": ok}, callbacks=ExecutionCallbacks(on_skip=skip_fails))
    assert runner.executor.last_trace.events[-1].event_type is T.EXECUTION_COMPLETED


def test_costs_order_a_step_longest_first() -> None:
    dag = build(nodes=("a", "b", "c", "d"))
    costs = {"a": 1.0, "b": 5.0, "c": 3.0}  # d: 1.0, after a (the DAG's order)
    for executor in (
        DAGExecutor(dag, 1, costs, trace=True),
        AsyncDAGExecutor(dag, 1, costs, trace=True),
    ):
        run = executor.execute(dict.fromkeys("abcd", ok))
        result = asyncio.run(run) if asyncio.iscoroutine(run) else run
        started = [e.node_name for e in result.trace.events if e.event_type is T.NODE_STARTED]
        assert started == ["b", "c", "a", "d"]
    with pytest.raises(ValueError, match=r"costs given for nodes not in the DAG: \['z'\]"):
        DAGExecutor(dag, costs={"z": 1.0}).execute({})
    with pytest.raises(ValueError, match="the cost of node 'a' must be a number >= 0"):
        DAGExecutor(dag, costs={"a": -1})


def test_upstream_positional_parameters() -> None:
    dag = build(("a", "b"))
    callbacks = ExecutionCallbacks()
    # (dag, max_workers, costs, callbacks, fail_fast, enable_tracing)
    for cls in (DAGExecutor, AsyncDAGExecutor):
        executor = cls(dag, 2, {"a": 1.0}, callbacks, False, True)
        assert (executor.max_workers, executor.fail_fast, executor.tracing) == (2, False, True)
        assert executor.costs == {"a": 1.0}
    # (dag, backend, callbacks, fail_fast, enable_tracing, node_timeout)
    with ThreadBackend(1) as backend:
        executor = DistributedExecutor(dag, backend, callbacks, False, True, 0.5)
        assert (executor.fail_fast, executor.tracing, executor.node_timeout) == (False, True, 0.5)
    with pytest.raises(TypeError, match="callbacks must be an ExecutionCallbacks"):
        DAGExecutor(dag, callbacks=print)  # type: ignore[arg-type]


def test_distributed_result_and_protocol_backend() -> None:
    backend = UpstreamStyleBackend(2)
    with DistributedExecutor(CHAIN, backend) as executor:
        result = executor.execute(dict.fromkeys("abc", ok))
    assert isinstance(result, dagron.DistributedExecutionResult)
    assert result.execution_result is result and result.succeeded == 3
    assert result.backend_name == "mine" and backend.submitted == 3
    assert result.dispatch_info == {n: {"backend": "mine"} for n in "abc"}
    assert result.trace is None


# -- the rules on random DAGs, against a model of upstream's ----------------------------


def model(dag: dagron.DAG, kinds: dict[str, str], fail_fast: bool) -> dict[str, NodeStatus]:
    """Upstream's rules: with fail_fast, a node with a failed ancestor is skipped;
    else a node without a task is skipped; else its task decides."""
    preds: dict[str, set[str]] = {n: set() for n in dag.nodes}
    for u, v in dag.edges:
        preds[v].add(u)
    ancestors: dict[str, set[str]] = {}
    for n in dag.topological_sort():
        ancestors[n] = set().union(*[ancestors[p] | {p} for p in preds[n]])
    failed: set[str] = set()
    out = {}
    for n in dag.topological_sort():
        if fail_fast and ancestors[n] & failed or kinds[n] == "missing":
            out[n] = S.SKIPPED
        elif kinds[n] == "raise":
            out[n] = S.FAILED
            failed.add(n)
        else:
            out[n] = S.COMPLETED
    return out


@st.composite
def runs(draw: Any) -> tuple[dagron.DAG, dict[str, str], bool]:
    count = draw(st.integers(1, 10))
    names = [f"n{i}" for i in range(count)]
    pairs = [(names[i], names[j]) for i in range(count) for j in range(i + 1, count)]
    edges = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=15)) if pairs else []
    kinds = {n: draw(st.sampled_from(["ok", "raise", "missing"])) for n in names}
    return build(*edges, nodes=tuple(names)), kinds, draw(st.booleans())


@settings(max_examples=60, deadline=None)
@given(runs())
def test_random_runs_follow_upstreams_rules(run: tuple[dagron.DAG, dict[str, str], bool]) -> None:
    dag, kinds, fail_fast = run
    tasks = {n: (ok if k == "ok" else BOOM) for n, k in kinds.items() if k != "missing"}
    expected = model(dag, kinds, fail_fast)
    with ThreadBackend(2) as backend:
        for executor in (
            DAGExecutor(dag, 2, fail_fast=fail_fast, trace=True),
            AsyncDAGExecutor(dag, 2, fail_fast=fail_fast, trace=True),
            DistributedExecutor(dag, backend, fail_fast=fail_fast, trace=True),
        ):
            run_ = executor.execute(tasks)
            result = asyncio.run(run_) if asyncio.iscoroutine(run_) else run_
            assert statuses(result) == expected, type(executor).__name__
            check_trace(result.trace, dag, result)
