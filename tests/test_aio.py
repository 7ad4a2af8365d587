"""dagron.AsyncDAGExecutor: parity with DAGExecutor, and what asyncio adds."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Callable

import dagron
import pytest
from dagron import AsyncDAGExecutor, DAGExecutor, NodeStatus
from dagron.execution.tracing import ExecutionTrace, TraceEventType
from test_executor import build, check_trace, statuses

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


DIAMOND = build(("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), nodes=("e",))
WIDE = build(("a", "b"), ("a", "c"), ("x", "y"), ("b", "z"), ("c", "z"), ("y", "z2"))


def scenario(name: str) -> tuple[dagron.DAG, dict[str, Any], dict[str, Any]]:
    ok = lambda: 1  # noqa: E731
    if name == "all_complete":
        return DIAMOND, {n: ok for n in DIAMOND.nodes}, {}
    if name == "fail_fast":
        return WIDE, {**{n: ok for n in WIDE.nodes}, "a": fail("boom")}, {}
    if name == "no_fail_fast":
        return WIDE, {**{n: ok for n in WIDE.nodes}, "a": fail("boom")}, {"fail_fast": False}
    if name == "missing_tasks":
        return DIAMOND, {"a": ok, "c": ok, "d": ok, "e": None}, {"fail_fast": False}
    if name == "empty_message":
        return DIAMOND, {n: ok for n in DIAMOND.nodes} | {"b": fail("")}, {"max_workers": 1}
    if name == "cancelled_before":
        event = threading.Event()
        event.set()
        return DIAMOND, {n: ok for n in DIAMOND.nodes}, {"cancel_event": event}
    if name == "cancelled_by_task":
        event = threading.Event()
        tasks = {n: ok for n in DIAMOND.nodes}
        tasks["b"] = lambda: event.set()
        return DIAMOND, tasks, {"cancel_event": event, "max_workers": 1}
    raise AssertionError(name)


SCENARIOS = [
    "all_complete",
    "fail_fast",
    "no_fail_fast",
    "missing_tasks",
    "empty_message",
    "cancelled_before",
    "cancelled_by_task",
]

EXPECTED_STATUSES = {
    "all_complete": dict.fromkeys("abcde", S.COMPLETED),
    "fail_fast": {"a": S.FAILED, "x": S.COMPLETED}
    | dict.fromkeys(["b", "c", "y", "z", "z2"], S.SKIPPED),
    "no_fail_fast": {"a": S.FAILED, "x": S.COMPLETED, "y": S.COMPLETED, "z2": S.COMPLETED}
    | dict.fromkeys(["b", "c", "z"], S.SKIPPED),
    "missing_tasks": {"a": S.COMPLETED, "b": S.SKIPPED, "c": S.COMPLETED, "d": S.SKIPPED}
    | {"e": S.SKIPPED},
    "empty_message": {"a": S.COMPLETED, "b": S.FAILED, "c": S.COMPLETED, "d": S.SKIPPED}
    | {"e": S.COMPLETED},
    "cancelled_before": dict.fromkeys("abcde", S.CANCELLED),
    "cancelled_by_task": {"a": S.COMPLETED, "b": S.COMPLETED, "c": S.CANCELLED}
    | {"d": S.CANCELLED, "e": S.COMPLETED},
}


@pytest.mark.parametrize("coroutines", [False, True], ids=["callables", "coroutines"])
@pytest.mark.parametrize("name", SCENARIOS)
def test_parity_with_dag_executor(name: str, coroutines: bool) -> None:
    dag, tasks, options = scenario(name)
    expected = run_threads(dag, tasks, **dict(options))
    if "cancel_event" in options and name == "cancelled_by_task":
        dag, tasks, options = scenario(name)  # a fresh, unset event
    if coroutines:
        tasks = {n: None if t is None else as_coroutine(t) for n, t in tasks.items()}
    got = run_async(dag, tasks, **options)
    assert statuses(got) == statuses(expected) == EXPECTED_STATUSES[name]
    assert node_events(got.trace, dag) == node_events(expected.trace, dag)
    assert run_events(got.trace) == run_events(expected.trace)
    for field in ("succeeded", "failed", "skipped", "timed_out", "cancelled"):
        assert getattr(got, field) == getattr(expected, field)
    for n, r in got.node_results.items():
        assert r.result == expected.node_results[n].result
        assert type(r.error) is type(expected.node_results[n].error)
    check_trace(got.trace, dag, got)


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


@pytest.mark.parametrize("coroutines", [False, True], ids=["callables", "coroutines"])
def test_timeout_parity(coroutines: bool) -> None:
    dag = build(("slow", "after"), nodes=("quick",))

    def slow() -> None:
        time.sleep(0.4)

    async def aslow() -> None:
        await asyncio.sleep(0.4)

    tasks: dict[str, Any] = {"slow": slow, "after": lambda: 1, "quick": lambda: 1}
    expected = run_threads(dag, tasks, timeout=0.1)
    if coroutines:
        tasks = {"slow": aslow, "after": as_coroutine(lambda: 1), "quick": as_coroutine(lambda: 1)}
    began = time.monotonic()
    got = run_async(dag, tasks, timeout=0.1)
    if coroutines:  # a coroutine is cancelled at the deadline, asyncio.run does not wait
        assert time.monotonic() - began < 0.35
    expected_statuses = {"slow": S.TIMED_OUT, "after": S.CANCELLED, "quick": S.COMPLETED}
    assert statuses(got) == statuses(expected) == expected_statuses
    assert node_events(got.trace, dag) == node_events(expected.trace, dag)
    assert run_events(got.trace) == run_events(expected.trace)
    timed_out = got.trace.events_for_node("slow")[-1]
    assert timed_out.error == "TimeoutError: node 'slow' was still running when the 0.1s " + (
        "execution timeout expired"
    )
    assert isinstance(got.node_results["slow"].error, TimeoutError)
    # From the node's real start (a thread may pick it up late on a busy machine)
    # until the deadline.
    assert 0.0 < got.node_results["slow"].duration_seconds <= 0.1 + 0.2
    check_trace(got.trace, dag, got)


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
    assert ends["a"].error == "CancelledError: execution cancelled"
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
    assert statuses(result) == {"a": S.FAILED, "b": S.SKIPPED, "c": S.COMPLETED}
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
