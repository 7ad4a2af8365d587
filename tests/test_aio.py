"""dagron.AsyncDAGExecutor: parity with DAGExecutor, and what asyncio adds."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Callable

import dagron
import pytest
from dagron import AsyncDAGExecutor, DAGExecutor, NodeStatus
from dagron.execution.tracing import ExecutionTrace, TraceEventType
from executor_scenarios import build, check_trace, statuses

T = TraceEventType
S = NodeStatus


def node_events(trace: ExecutionTrace, dag: dagron.DAG) -> dict[str, list[tuple[Any, ...]]]:
    """Each node's events without their times: (type, error, metadata, has duration)."""
    return {
        name: [
            (e.event_type, e.error, e.metadata, e.duration is not None)
            for e in trace.events_for_node(name)
        ]
        for name in dag.nodes
    }


def run_events(trace: ExecutionTrace) -> list[tuple[Any, ...]]:
    """The events that belong to no node: execution and steps, in order."""
    return [(e.event_type, e.step_index) for e in trace.events if e.node_name is None]


def as_coroutine(fn: Callable[[], Any]) -> Callable[[], Any]:
    async def task() -> Any:
        return fn()

    return task


def fail(message: str) -> Callable[[], Any]:
    def task() -> Any:
        raise ValueError(message)

    return task


def run_async(dag: dagron.DAG, tasks: dict[str, Any], **options: Any) -> dagron.ExecutionResult:
    execute_options = {k: options.pop(k) for k in ("timeout", "cancel_event") if k in options}
    executor = AsyncDAGExecutor(dag, trace=True, **options)
    return asyncio.run(executor.execute(tasks, **execute_options))


def run_threads(dag: dagron.DAG, tasks: dict[str, Any], **options: Any) -> dagron.ExecutionResult:
    execute_options = {k: options.pop(k) for k in ("timeout", "cancel_event") if k in options}
    return DAGExecutor(dag, trace=True, **options).execute(tasks, **execute_options)


# The outcomes AsyncDAGExecutor shares with the other executors (statuses, skips,
# fail_fast, timeouts, cancel events, callbacks; each with the same per-node events as
# DAGExecutor) are in test_executor_contract.py; this file keeps what asyncio adds.


def test_failure_text_and_durations() -> None:
    dag = build(("a", "b"))

    async def boom() -> None:
        await asyncio.sleep(0.02)
        raise KeyError("missing")

    result = run_async(dag, {"a": boom, "b": lambda: 2})
    a = result.node_results["a"]
    assert a.status is S.FAILED and isinstance(a.error, KeyError)
    (started, failed) = result.trace.events_for_node("a")
    assert (started.event_type, failed.event_type) == (T.NODE_STARTED, T.NODE_FAILED)
    assert failed.error == "KeyError: 'missing'"
    # The node's duration is the time between its two events' clock readings.
    assert failed.duration == a.duration_seconds
    assert failed.timestamp - started.timestamp == pytest.approx(failed.duration, abs=2e-6)
    assert a.duration_seconds >= 0.02


def test_max_workers_bounds_concurrency_and_nodes_overlap() -> None:
    names = [f"n{i}" for i in range(8)]
    dag = build(nodes=tuple(names))
    running = 0
    peak = 0

    async def task() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.03)
        running -= 1

    result = run_async(dag, dict.fromkeys(names, task), max_workers=3)
    assert result.succeeded == 8 and peak == 3
    events = check_trace(result.trace, dag, result)
    open_now = 0
    most = 0
    for e in events:
        if e.event_type is T.NODE_STARTED:
            open_now += 1
            most = max(most, open_now)
        elif e.event_type is T.NODE_COMPLETED:
            open_now -= 1
    assert most == 3


def test_plain_callables_run_in_executor_threads() -> None:
    dag = build(nodes=("a", "b"))
    loop_thread = threading.get_ident()
    seen: dict[str, int] = {}
    barrier = threading.Barrier(2, timeout=5)

    def task(name: str) -> Callable[[], str]:
        def run() -> str:
            seen[name] = threading.get_ident()
            barrier.wait()  # both run at once, or this times out
            return name

        return run

    async def main() -> dagron.ExecutionResult:
        nonlocal loop_thread
        loop_thread = threading.get_ident()
        return await AsyncDAGExecutor(dag, trace=True).execute({"a": task("a"), "b": task("b")})

    result = asyncio.run(main())
    assert {n: r.result for n, r in result.node_results.items()} == {"a": "a", "b": "b"}
    assert loop_thread not in seen.values() and seen["a"] != seen["b"]


def test_plain_callable_returning_a_coroutine_is_awaited() -> None:
    async def later() -> int:
        await asyncio.sleep(0)
        return 7

    result = run_async(build(nodes=("a",)), {"a": lambda: later()})
    assert result.node_results["a"].result == 7


def test_timeout_cancels_the_running_coroutine() -> None:
    dag = build(nodes=("slow",))
    cancelled = []

    async def slow() -> None:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def main() -> dagron.ExecutionResult:
        result = await AsyncDAGExecutor(dag, trace=True).execute({"slow": slow}, timeout=0.05)
        await asyncio.sleep(0.01)  # let the cancelled coroutine run its handler
        return result

    result = asyncio.run(main())
    assert result.timed_out == 1 and cancelled == [True]
    # Nothing is recorded after EXECUTION_COMPLETED by the late cancellation.
    assert result.trace.events[-1].event_type is T.EXECUTION_COMPLETED


def test_cancelling_execute_records_running_nodes_and_reraises() -> None:
    dag = build(("a", "c"), nodes=("b",))
    started = asyncio.Event()
    cancelled_inside = []

    async def a() -> None:
        started.set()
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled_inside.append("a")
            raise

    executor = AsyncDAGExecutor(dag, trace=True)

    async def main() -> None:
        run = asyncio.ensure_future(executor.execute({"a": a, "b": lambda: 1, "c": lambda: 1}))
        await started.wait()
        await asyncio.sleep(0.05)  # b (a thread) is done by now
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        await asyncio.sleep(0.01)

    asyncio.run(main())
    assert cancelled_inside == ["a"]
    trace = executor.last_trace
    assert trace is not None
    events = check_trace(trace, dag, steps_run=1)
    ends = {
        e.node_name: e
        for e in events
        if e.node_name is not None and e.event_type is not T.NODE_STARTED
    }
    assert ends["a"].event_type is T.NODE_FAILED
    assert ends["a"].error == "RuntimeError: execution interrupted by CancelledError"
    assert ends["a"].duration is not None and ends["a"].duration >= 0.05
    assert ends["b"].event_type is T.NODE_COMPLETED
    assert (ends["c"].event_type, ends["c"].metadata) == (
        T.NODE_CANCELLED,
        {"reason": "interrupted"},
    )
    assert run_events(trace) == [
        (T.EXECUTION_STARTED, None),
        (T.STEP_STARTED, 0),
        (T.STEP_COMPLETED, 0),
        (T.EXECUTION_COMPLETED, None),
    ]


def test_keyboard_interrupt_from_a_task_escapes_like_dag_executor() -> None:
    dag = build(("a", "b"))

    def interrupt() -> None:
        raise KeyboardInterrupt

    def run_both(executor: Any, call: Callable[[], Any]) -> list[tuple[Any, ...]]:
        with pytest.raises(KeyboardInterrupt):
            call()
        return run_events(executor.last_trace) + list(
            node_events(executor.last_trace, dag).items()
        )

    threads = DAGExecutor(dag, trace=True)
    aio = AsyncDAGExecutor(dag, trace=True)
    tasks = {"a": interrupt, "b": lambda: 1}
    expected = run_both(threads, lambda: threads.execute(tasks))
    got = run_both(aio, lambda: asyncio.run(aio.execute(tasks)))
    assert got == expected
    assert aio.last_trace.events_for_node("a")[-1].error == "KeyboardInterrupt"


def test_task_raising_cancelled_error_fails_its_node_only() -> None:
    dag = build(("a", "b"), nodes=("c",))

    async def a() -> None:
        raise asyncio.CancelledError("by the task")

    result = run_async(dag, {"a": a, "b": lambda: 1, "c": lambda: 1}, fail_fast=False)
    assert statuses(result) == {"a": S.FAILED, "b": S.COMPLETED, "c": S.COMPLETED}
    assert result.trace.events_for_node("a")[-1].error == "CancelledError: by the task"


def test_asyncio_event_as_cancel_event() -> None:
    dag = build(("a", "b"))

    async def main() -> dagron.ExecutionResult:
        event = asyncio.Event()

        async def a() -> None:
            event.set()

        return await AsyncDAGExecutor(dag).execute({"a": a, "b": lambda: 1}, cancel_event=event)

    result = asyncio.run(main())
    assert statuses(result) == {"a": S.COMPLETED, "b": S.CANCELLED}
    assert result.trace is None


def test_bad_arguments() -> None:
    dag = build(("a", "b"))
    with pytest.raises(TypeError, match="dag must be a dagron.DAG"):
        AsyncDAGExecutor("dag")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_workers must be at least 1"):
        AsyncDAGExecutor(dag, max_workers=0)
    executor = AsyncDAGExecutor(dag)
    with pytest.raises(ValueError, match=r"tasks given for nodes not in the DAG: \['z'\]"):
        asyncio.run(executor.execute({"z": lambda: 1}))
    with pytest.raises(TypeError, match="the task for node 'a' is not callable"):
        asyncio.run(executor.execute({"a": 3}))
    with pytest.raises(ValueError, match="timeout must be >= 0"):
        asyncio.run(executor.execute({}, timeout=-1))
