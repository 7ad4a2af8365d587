"""dagron.DAGExecutor: results, statuses, the trace it records, and its Chrome export."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from typing import Any, Callable

import chrome_validator
import dagron
import pytest
from dagron import NodeStatus
from dagron.execution.tracing import ExecutionTrace, TraceEvent
from executor_scenarios import TERMINAL, T, build, check_trace, statuses, terminal_events


def sleeper(seconds: float, value: Any = None) -> Callable[[], Any]:
    def task() -> Any:
        time.sleep(seconds)
        return value

    return task


def fail(exc: BaseException) -> Callable[[], Any]:
    def task() -> Any:
        raise exc

    return task


def spans(events: list[TraceEvent]) -> dict[str, tuple[float, float]]:
    """Each node's (start, end) timestamps from NODE_STARTED and its closing event."""
    begins: dict[str, float] = {}
    out = {}
    for e in events:
        if e.event_type is T.NODE_STARTED:
            begins[e.node_name] = e.timestamp  # type: ignore[index]
        elif e.node_name in begins and e.event_type in TERMINAL:
            out[e.node_name] = (begins[e.node_name], e.timestamp)
    return out


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    # At equal times an end sorts before a start: a worker ends one task before it
    # starts the next.
    marks = sorted([(b, 1) for b, _ in intervals] + [(e, -1) for _, e in intervals])
    running = peak = 0
    for _, delta in marks:
        running += delta
        peak = max(peak, running)
    return peak


def worker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("dagron-worker-")]


# -- results and the basic trace ------------------------------------------------------


def test_chain_results_and_trace():
    dag = build(("a", "b"), ("b", "c"))
    executor = dagron.DAGExecutor(dag, trace=True)
    result = executor.execute({"a": lambda: 1, "b": lambda: "two", "c": lambda: [3]})
    assert isinstance(result, dagron.ExecutionResult)
    assert list(result.node_results) == ["a", "b", "c"]
    assert [(r.name, r.status, r.result, r.error) for r in result.node_results.values()] == [
        ("a", NodeStatus.COMPLETED, 1, None),
        ("b", NodeStatus.COMPLETED, "two", None),
        ("c", NodeStatus.COMPLETED, [3], None),
    ]
    assert (result.succeeded, result.failed, result.skipped) == (3, 0, 0)
    assert (result.timed_out, result.cancelled) == (0, 0)
    assert result.total_duration_seconds > 0
    assert all(isinstance(r, dagron.NodeResult) for r in result.node_results.values())
    assert isinstance(result.trace, ExecutionTrace)
    assert executor.last_trace is result.trace
    events = check_trace(result.trace, dag, result)
    assert [(e.event_type, e.node_name, e.step_index) for e in events] == [
        (T.EXECUTION_STARTED, None, None),
        (T.STEP_STARTED, None, 0),
        (T.NODE_STARTED, "a", None),
        (T.NODE_COMPLETED, "a", None),
        (T.STEP_COMPLETED, None, 0),
        (T.STEP_STARTED, None, 1),
        (T.NODE_STARTED, "b", None),
        (T.NODE_COMPLETED, "b", None),
        (T.STEP_COMPLETED, None, 1),
        (T.STEP_STARTED, None, 2),
        (T.NODE_STARTED, "c", None),
        (T.NODE_COMPLETED, "c", None),
        (T.STEP_COMPLETED, None, 2),
        (T.EXECUTION_COMPLETED, None, None),
    ]
    for e in events:
        if e.event_type in (T.NODE_COMPLETED, T.STEP_COMPLETED, T.EXECUTION_COMPLETED):
            assert isinstance(e.duration, float) and e.duration >= 0.0
    assert [e.event_type for e in result.trace.events_for_node("b")] == [
        T.NODE_STARTED,
        T.NODE_COMPLETED,
    ]
    completed = [e for e in events if e.event_type is T.NODE_COMPLETED]
    durations = [result.node_results[e.node_name].duration_seconds for e in completed]
    assert [e.duration for e in completed] == durations
    assert events[-1].duration == result.total_duration_seconds


def test_tasks_run_on_worker_threads():
    dag = build(nodes=("a", "b"))
    result = dagron.DAGExecutor(dag).execute(
        {"a": lambda: threading.current_thread().name, "b": threading.get_ident}
    )
    assert result.node_results["a"].result.startswith("dagron-worker-")
    assert result.node_results["b"].result != threading.get_ident()


def test_tracing_off_gives_no_trace():
    executor = dagron.DAGExecutor(build(("a", "b")))
    result = executor.execute({"a": lambda: 1, "b": lambda: 2})
    assert result.trace is None
    assert executor.last_trace is None
    assert result.succeeded == 2


def test_enable_tracing_also_turns_tracing_on():
    dag = build(("a", "b"))
    executor = dagron.DAGExecutor(dag, enable_tracing=True)
    assert executor.tracing is True
    result = executor.execute({"a": lambda: 1, "b": lambda: 2})
    events = check_trace(result.trace, dag, result)
    assert len(events) == 1 + 2 * 4 + 1


def test_each_execute_has_its_own_trace():
    dag = build(nodes=("a",))
    executor = dagron.DAGExecutor(dag, trace=True)
    first = executor.execute({"a": lambda: 1})
    second = executor.execute({"a": lambda: 2})
    assert first.trace is not second.trace
    assert executor.last_trace is second.trace
    assert len(first.trace.events) == len(second.trace.events) == 6


def test_empty_dag():
    result = dagron.DAGExecutor(dagron.DAG(), trace=True).execute({})
    assert result.node_results == {}
    assert (result.succeeded, result.failed, result.skipped) == (0, 0, 0)
    assert [e.event_type for e in result.trace.events] == [
        T.EXECUTION_STARTED,
        T.EXECUTION_COMPLETED,
    ]
    assert chrome_validator.validate(result.trace.to_chrome_trace()).spans_named("execution")


def test_wide_dag_every_node_once():
    names = [f"n{i}" for i in range(2000)]
    dag = dagron.DAG.builder().add_edges(("root", n) for n in names).build()
    tasks: dict[str, Any] = {n: (lambda n=n: n.upper()) for n in names}
    tasks["root"] = lambda: "r"
    result = dagron.DAGExecutor(dag, max_workers=4, trace=True).execute(tasks)
    assert result.succeeded == 2001
    assert all(result.node_results[n].result == n.upper() for n in names)
    events = check_trace(result.trace, dag, result)
    assert len(events) == 2 + 2 * 2 + 2 * 2001


# -- failures, skips and fail_fast ----------------------------------------------------


def test_failure_skips_downstream():
    dag = build(("a", "b"), ("b", "c"))
    result = dagron.DAGExecutor(dag, trace=True).execute(
        {"a": fail(ValueError("boom")), "b": lambda: 2, "c": lambda: 3}
    )
    assert statuses(result) == {
        "a": NodeStatus.FAILED,
        "b": NodeStatus.SKIPPED,
        "c": NodeStatus.SKIPPED,
    }
    error = result.node_results["a"].error
    assert isinstance(error, ValueError) and str(error) == "boom"
    assert result.node_results["b"].error is None
    assert (result.succeeded, result.failed, result.skipped) == (0, 1, 2)
    events = terminal_events(check_trace(result.trace, dag, result))
    assert events["a"].event_type is T.NODE_FAILED
    assert events["a"].error == "ValueError: boom"
    assert events["a"].duration is not None and events["a"].duration >= 0.0
    assert events["b"].event_type is T.NODE_SKIPPED
    assert events["b"].metadata == {"reason": "fail_fast"}
    chrome = chrome_validator.validate(result.trace.to_chrome_trace())
    (span,) = chrome.spans_named("a")
    assert span.args == {"status": "node_failed", "error": "ValueError: boom"}
    assert chrome.spans_named("b") == []


def test_error_string_without_a_message():
    dag = build(nodes=("a", "b"))
    result = dagron.DAGExecutor(dag, trace=True, fail_fast=False).execute(
        {"a": fail(RuntimeError()), "b": fail(KeyError("k"))}
    )
    events = terminal_events(check_trace(result.trace, dag, result))
    assert events["a"].error == "RuntimeError"
    assert events["b"].error == "KeyError: 'k'"
    assert result.failed == 2


def fan_dag() -> dagron.DAG:
    # Two independent branches: a -> b -> c and x -> y -> z.
    return build(("a", "b"), ("b", "c"), ("x", "y"), ("y", "z"))


def fan_tasks() -> dict[str, Callable[[], Any]]:
    tasks: dict[str, Callable[[], Any]] = {n: (lambda n=n: n) for n in "abcxyz"}
    tasks["a"] = fail(ValueError("boom"))
    return tasks


def test_fail_fast_skips_the_descendants_of_the_failed_node_only():
    dag = fan_dag()
    result = dagron.DAGExecutor(dag, trace=True).execute(fan_tasks())
    # As upstream: a node with a failed ancestor is skipped; the other branch runs.
    assert statuses(result) == {
        "a": NodeStatus.FAILED,
        "b": NodeStatus.SKIPPED,
        "c": NodeStatus.SKIPPED,
        "x": NodeStatus.COMPLETED,
        "y": NodeStatus.COMPLETED,
        "z": NodeStatus.COMPLETED,
    }
    events = terminal_events(check_trace(result.trace, dag, result))
    assert {n: events[n].metadata for n in "bc"} == {n: {"reason": "fail_fast"} for n in "bc"}


def test_without_fail_fast_every_node_with_a_task_runs():
    dag = fan_dag()
    result = dagron.DAGExecutor(dag, trace=True, fail_fast=False).execute(fan_tasks())
    assert statuses(result) == {
        "a": NodeStatus.FAILED,
        "b": NodeStatus.COMPLETED,
        "c": NodeStatus.COMPLETED,
        "x": NodeStatus.COMPLETED,
        "y": NodeStatus.COMPLETED,
        "z": NodeStatus.COMPLETED,
    }
    assert result.node_results["z"].result == "z"
    assert result.node_results["c"].result == "c"
    assert (result.succeeded, result.failed, result.skipped) == (5, 1, 0)
    check_trace(result.trace, dag, result)


def test_missing_task_is_skipped_and_holds_nothing_back():
    dag = build(("a", "b"), ("b", "c"), ("a", "d"))
    result = dagron.DAGExecutor(dag, trace=True).execute(
        {"a": lambda: 1, "c": lambda: 3, "d": None}
    )
    assert statuses(result) == {
        "a": NodeStatus.COMPLETED,
        "b": NodeStatus.SKIPPED,
        "c": NodeStatus.COMPLETED,
        "d": NodeStatus.SKIPPED,
    }
    assert result.skipped == 2 and result.node_results["c"].result == 3
    events = terminal_events(check_trace(result.trace, dag, result))
    assert events["b"].metadata == {"reason": "no_task"}
    assert events["d"].metadata == {"reason": "no_task"}
    # A skip is not a failure: fail_fast does not stop the run for it.
    assert result.failed == 0


# -- timeouts and cancellation ----------------------------------------------------------


def test_timeout_returns_promptly():
    release = threading.Event()
    dag = build(("slow", "after"), nodes=("quick",))

    def slow() -> str:
        release.wait(5.0)  # "sleeps" 5 s unless the test releases it earlier
        return "late"

    executor = dagron.DAGExecutor(dag, max_workers=2, trace=True)
    tasks = {"slow": slow, "quick": lambda: "q", "after": lambda: 1}
    try:
        began = time.perf_counter()
        result = executor.execute(tasks, timeout=0.2)
        elapsed = time.perf_counter() - began
    finally:
        release.set()
    assert 0.19 <= elapsed < 1.0
    assert statuses(result) == {
        "quick": NodeStatus.COMPLETED,
        "slow": NodeStatus.TIMED_OUT,
        "after": NodeStatus.SKIPPED,
    }
    assert (result.succeeded, result.timed_out, result.skipped) == (1, 1, 1)
    assert result.node_results["slow"].duration_seconds >= 0.15
    assert isinstance(result.node_results["slow"].error, TimeoutError)
    events = check_trace(result.trace, dag, result)
    ends = terminal_events(events)
    assert ends["slow"].event_type is T.NODE_TIMED_OUT
    assert (
        ends["slow"].error == "TimeoutError: node 'slow' was still running 0.2s after it started"
    )
    assert ends["slow"].duration is not None and ends["slow"].duration >= 0.15
    # A timed-out node counts as failed for fail_fast.
    assert ends["after"].event_type is T.NODE_SKIPPED
    assert ends["after"].metadata == {"reason": "fail_fast"}
    chrome = chrome_validator.validate(result.trace.to_chrome_trace())
    assert chrome.spans_named("slow")[0].args == {
        "status": "node_timed_out",
        "error": ends["slow"].error,
    }

    # The abandoned task ends later; nothing more is recorded and the result holds.
    deadline = time.monotonic() + 5.0
    while worker_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert worker_threads() == []
    assert result.trace.events == events
    assert result.node_results["slow"].result is None


def test_timeout_is_per_node_on_one_worker():
    # Each node gets its own timeout from its own start, one after the other on the
    # one worker (a new thread takes the place of the one left with a stuck task).
    dag = build(nodes=("first", "second", "third"))
    release = threading.Event()
    tasks = {n: (lambda: release.wait(5.0)) for n in ("first", "second", "third")}
    try:
        began = time.perf_counter()
        result = dagron.DAGExecutor(dag, max_workers=1, trace=True).execute(tasks, timeout=0.1)
        elapsed = time.perf_counter() - began
    finally:
        release.set()
    assert statuses(result) == dict.fromkeys(("first", "second", "third"), NodeStatus.TIMED_OUT)
    assert result.timed_out == 3 and 0.3 <= elapsed < 2.0
    events = check_trace(result.trace, dag, result)
    started = [e.node_name for e in events if e.event_type is T.NODE_STARTED]
    assert started == ["first", "second", "third"]
    assert max_overlap(list(spans(events).values())) == 1


def test_infinite_timeout_means_none():
    dag = build(("a", "b"))
    result = dagron.DAGExecutor(dag).execute(
        {"a": lambda: 1, "b": lambda: 2}, timeout=float("inf")
    )
    assert result.succeeded == 2


def test_a_stuck_task_does_not_block_interpreter_exit(tmp_path):
    script = tmp_path / "stuck.py"
    script.write_text(
        "import time, dagron\n"
        "dag = dagron.DAG.builder().add_node('stuck').build()\n"
        "tasks = {'stuck': lambda: time.sleep(60)}\n"
        "result = dagron.DAGExecutor(dag).execute(tasks, timeout=0.1)\n"
        "print(result.node_results['stuck'].status.name)\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=30
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "TIMED_OUT\n", "")
    assert time.perf_counter() - began < 20


def test_cancel_event_from_a_task():
    cancel = threading.Event()
    dag = build(("a", "b"), ("a", "c"), ("b", "d"))
    tasks = {"a": cancel.set, "b": lambda: 2, "c": lambda: 3, "d": lambda: 4}
    result = dagron.DAGExecutor(dag, trace=True).execute(tasks, cancel_event=cancel)
    assert statuses(result) == {
        "a": NodeStatus.COMPLETED,
        "b": NodeStatus.CANCELLED,
        "c": NodeStatus.CANCELLED,
        "d": NodeStatus.CANCELLED,
    }
    assert (result.succeeded, result.cancelled) == (1, 3)
    ends = terminal_events(check_trace(result.trace, dag, result))
    assert {n: (ends[n].event_type, ends[n].metadata) for n in "bcd"} == {
        n: (T.NODE_CANCELLED, {"reason": "cancelled"}) for n in "bcd"
    }


def test_cancel_within_a_step():
    cancel = threading.Event()
    dag = build(nodes=("s", "t", "u"))
    tasks = {"s": cancel.set, "t": lambda: 2, "u": lambda: 3}
    result = dagron.DAGExecutor(dag, max_workers=1, trace=True).execute(tasks, cancel_event=cancel)
    assert statuses(result) == {
        "s": NodeStatus.COMPLETED,
        "t": NodeStatus.CANCELLED,
        "u": NodeStatus.CANCELLED,
    }
    check_trace(result.trace, dag, result)


def test_cancel_waits_for_running_tasks():
    cancel = threading.Event()
    dag = build(("slow", "next"), nodes=("canceller",))

    def canceller() -> None:
        time.sleep(0.05)
        cancel.set()

    tasks = {"slow": sleeper(0.2, "finished"), "canceller": canceller, "next": lambda: 1}
    result = dagron.DAGExecutor(dag, max_workers=2).execute(tasks, cancel_event=cancel)
    assert result.node_results["slow"].status is NodeStatus.COMPLETED
    assert result.node_results["slow"].result == "finished"
    assert result.node_results["next"].status is NodeStatus.CANCELLED


def test_cancel_before_the_run():
    cancel = threading.Event()
    cancel.set()
    dag = build(("a", "b"))
    result = dagron.DAGExecutor(dag, trace=True).execute(
        {"a": lambda: 1, "b": lambda: 2}, cancel_event=cancel
    )
    assert result.cancelled == 2
    events = check_trace(result.trace, dag, result)
    assert not any(e.event_type is T.NODE_STARTED for e in events)


# -- concurrency ------------------------------------------------------------------------


@pytest.mark.parametrize("max_workers", [1, 3])
def test_max_workers_is_never_exceeded(max_workers):
    names = [f"n{i}" for i in range(12)]
    dag = dagron.DAG.builder().add_nodes(names).add_edges(("n0", n) for n in names[1:]).build()
    lock = threading.Lock()
    running = peak = 0

    def task() -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1

    result = dagron.DAGExecutor(dag, max_workers=max_workers, trace=True).execute(
        dict.fromkeys(names, task)
    )
    assert result.succeeded == 12
    assert peak == max_workers
    intervals = list(spans(check_trace(result.trace, dag, result)).values())
    assert len(intervals) == 12
    assert max_overlap(intervals) == max_workers


def test_default_max_workers():
    assert dagron.DAGExecutor(dagron.DAG()).max_workers is None
    from dagron.executor import default_max_workers

    assert default_max_workers() == min(32, (os.cpu_count() or 1) + 4)


def test_parallel_branches_overlap():
    dag = build(nodes=("left", "right"))
    tasks = {"left": sleeper(0.2), "right": sleeper(0.2)}
    began = time.perf_counter()
    result = dagron.DAGExecutor(dag, max_workers=2, trace=True).execute(tasks)
    assert time.perf_counter() - began < 0.39
    found = spans(check_trace(result.trace, dag, result))
    (l_begin, l_end), (r_begin, r_end) = found["left"], found["right"]
    assert l_begin < r_end and r_begin < l_end
    chrome = chrome_validator.validate(result.trace.to_chrome_trace())
    left, right = chrome.spans_named("left")[0], chrome.spans_named("right")[0]
    assert left.tid != right.tid
    assert left.begin < right.end and right.begin < left.end


def test_durations_are_measured():
    dag = build(nodes=("nap",))
    result = dagron.DAGExecutor(dag, trace=True).execute({"nap": sleeper(0.1)})
    assert result.node_results["nap"].duration_seconds >= 0.09
    assert result.total_duration_seconds >= 0.09
    (completed,) = [e for e in result.trace.events if e.event_type is T.NODE_COMPLETED]
    assert completed.duration is not None and completed.duration >= 0.09
    (span,) = chrome_validator.validate(result.trace.to_chrome_trace()).spans_named("nap")
    assert span.end - span.begin >= 90_000


def test_exception_with_a_broken_str():
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    dag = build(nodes=("a",))
    result = dagron.DAGExecutor(dag, trace=True).execute({"a": fail(Unprintable())})
    assert result.node_results["a"].status is NodeStatus.FAILED
    ends = terminal_events(check_trace(result.trace, dag, result))
    assert ends["a"].error == "Unprintable: <exception str() failed>"


# -- exceptions that escape ---------------------------------------------------------------


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
def test_base_exception_escapes_after_the_trace_is_closed(exc_type):
    release = threading.Event()
    dag = build(("boom", "after"), nodes=("busy",))
    executor = dagron.DAGExecutor(dag, max_workers=2, trace=True)

    busy_started = threading.Event()

    def busy() -> None:
        busy_started.set()
        release.wait(5.0)

    def boom() -> None:
        busy_started.wait(5.0)  # "busy" is running when the exception escapes
        raise exc_type()

    tasks = {"boom": boom, "busy": busy, "after": lambda: 1}
    began = time.perf_counter()
    try:
        with pytest.raises(exc_type):
            executor.execute(tasks)
    finally:
        release.set()
    assert time.perf_counter() - began < 2.0
    trace = executor.last_trace
    assert trace is not None
    events = check_trace(trace, dag, steps_run=1)
    ends = terminal_events(events)
    assert (ends["boom"].event_type, ends["boom"].error) == (T.NODE_FAILED, exc_type.__name__)
    assert (ends["busy"].event_type, ends["busy"].error) == (
        T.NODE_FAILED,
        f"RuntimeError: execution interrupted by {exc_type.__name__}",
    )
    assert (ends["after"].event_type, ends["after"].metadata) == (
        T.NODE_CANCELLED,
        {"reason": "interrupted"},
    )


def test_task_exceptions_never_escape():
    class Custom(Exception):
        pass

    dag = build(nodes=("a", "b", "c"))
    result = dagron.DAGExecutor(dag, fail_fast=False).execute(
        {"a": fail(Custom("x")), "b": fail(ZeroDivisionError("z")), "c": fail(StopIteration())}
    )
    assert result.failed == 3
    assert isinstance(result.node_results["a"].error, Custom)


# -- argument checks ----------------------------------------------------------------------


def test_argument_checks():
    dag = build(("a", "b"))
    with pytest.raises(TypeError, match="dag must be a dagron.DAG"):
        dagron.DAGExecutor({"a": []})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_workers must be at least 1"):
        dagron.DAGExecutor(dag, max_workers=0)
    with pytest.raises(TypeError, match="max_workers must be an int"):
        dagron.DAGExecutor(dag, max_workers=2.5)  # type: ignore[arg-type]
    executor = dagron.DAGExecutor(dag, trace=True)
    with pytest.raises(ValueError, match=r"tasks given for nodes not in the DAG: \['zz'\]"):
        executor.execute({"a": lambda: 1, "zz": lambda: 2})
    with pytest.raises(TypeError, match="the task for node 'b' is not callable: 3"):
        executor.execute({"a": lambda: 1, "b": 3})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="timeout must be >= 0"):
        executor.execute({}, timeout=-1)
    with pytest.raises(TypeError, match="timeout must be a number"):
        executor.execute({}, timeout="1")  # type: ignore[arg-type]
    # Nothing ran, so no trace was started; a rejected call also forgets the last one.
    assert executor.last_trace is None
    executor.execute({"a": lambda: 1})
    assert executor.last_trace is not None
    with pytest.raises(ValueError, match="not in the DAG"):
        executor.execute({"zz": lambda: 1})
    assert executor.last_trace is None
