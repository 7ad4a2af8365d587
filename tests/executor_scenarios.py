"""Shared by the executor tests: DAGs, the invariants every run's trace keeps
(``check_trace``), and tasks that run in other processes (importable there by name)."""

from __future__ import annotations

import os
import signal
import time
from typing import Callable

import chrome_validator
import dagron
from dagron import NodeStatus
from dagron.execution.tracing import ExecutionTrace, TraceEvent, TraceEventType

T = TraceEventType

TERMINAL = {
    T.NODE_COMPLETED: NodeStatus.COMPLETED,
    T.NODE_FAILED: NodeStatus.FAILED,
    T.NODE_SKIPPED: NodeStatus.SKIPPED,
    T.NODE_TIMED_OUT: NodeStatus.TIMED_OUT,
    T.NODE_CANCELLED: NodeStatus.CANCELLED,
}


def build(*edges: tuple[str, str], nodes: tuple[str, ...] = ()) -> dagron.DAG:
    return dagron.DAG.builder().add_nodes(nodes).add_edges(edges).build()


def check_trace(
    trace: ExecutionTrace,
    dag: dagron.DAG,
    result: dagron.ExecutionResult | None = None,
    *,
    steps_run: int | None = None,
) -> list[TraceEvent]:
    """The invariants every trace of a run keeps; returns its events.

    With ``result``, each node's terminal event must match its status there.
    ``steps_run`` is how many steps started (all of them unless an exception escaped).
    """
    events = trace.events
    assert events[0].event_type is T.EXECUTION_STARTED
    assert events[-1].event_type is T.EXECUTION_COMPLETED
    assert [e.event_type for e in events].count(T.EXECUTION_COMPLETED) == 1
    times = [e.timestamp for e in events]
    assert times == sorted(times)
    # Each node ends exactly once, and every start is closed.
    by_node: dict[str, list[TraceEventType]] = {name: [] for name in dag.nodes}
    for e in events:
        if e.node_name is not None:
            by_node[e.node_name].append(e.event_type)
    for name, kinds in by_node.items():
        assert sum(kind in TERMINAL for kind in kinds) == 1, (name, kinds)
        if T.NODE_STARTED in kinds:
            assert kinds[0] is T.NODE_STARTED
            assert kinds[1] in (T.NODE_COMPLETED, T.NODE_FAILED, T.NODE_TIMED_OUT)
    if result is not None:
        ends = terminal_events(events)
        assert {n: TERMINAL[ends[n].event_type] for n in dag.nodes} == statuses(result)
    # Steps open and close in order and do not overlap.
    steps = [(e.event_type, e.step_index) for e in events if e.step_index is not None]
    expected = []
    for k in range(len(dag.levels()) if steps_run is None else steps_run):
        expected += [(T.STEP_STARTED, k), (T.STEP_COMPLETED, k)]
    assert steps == expected
    chrome = chrome_validator.validate(trace.to_chrome_trace())
    started = {e.node_name for e in events if e.event_type is T.NODE_STARTED}
    assert sorted(s.name for s in chrome.spans if s.name != "execution") == sorted(started)
    assert len(chrome.spans_named("execution")) == 1
    return events


def statuses(result: dagron.ExecutionResult) -> dict[str, NodeStatus]:
    return {name: r.status for name, r in result.node_results.items()}


def terminal_events(events: list[TraceEvent]) -> dict[str, TraceEvent]:
    return {e.node_name: e for e in events if e.event_type in TERMINAL}  # type: ignore[misc]


S = NodeStatus


def epoch_ns(trace: ExecutionTrace) -> int:
    """Monotonic ns of the trace's first event (its origin)."""
    assert trace.origin is not None
    return trace.origin.monotonic_ns


def timed(name: str, seconds: float) -> Callable[[], tuple[str, int, int, int]]:
    """A task that sleeps and returns (name, pid, start ns, end ns) read inside it."""

    def task() -> tuple[str, int, int, int]:
        began = time.monotonic_ns()
        time.sleep(seconds)
        return (name, os.getpid(), began, time.monotonic_ns())

    return task


def raise_value_error() -> None:
    raise ValueError("bad input 7")


def kill_own_process() -> None:
    time.sleep(0.05)
    os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(10)  # not reached


def check_inside_times(result: dagron.ExecutionResult, tolerance: float = 0.005) -> None:
    """Each node's events sit where the task measured its own start and end."""
    trace = result.trace
    assert trace is not None
    epoch = epoch_ns(trace)
    for name, node in result.node_results.items():
        if node.status is not S.COMPLETED:
            continue
        _, _, began, ended = node.result
        started, completed = trace.events_for_node(name)
        assert (started.event_type, completed.event_type) == (T.NODE_STARTED, T.NODE_COMPLETED)
        assert abs(started.timestamp - (began - epoch) / 1e9) < tolerance, name
        assert abs(completed.timestamp - (ended - epoch) / 1e9) < tolerance, name
        assert completed.duration == node.duration_seconds


def overlap(trace: ExecutionTrace, a: str, b: str) -> bool:
    (a0, a1), (b0, b1) = ([e.timestamp for e in trace.events_for_node(n)] for n in (a, b))
    return a0 < b1 and b0 < a1
