"""An interrupt (``KeyboardInterrupt`` from a signal handler) landing at any moment of
``DAGExecutor.execute``: only the interrupt escapes, and ``last_trace`` is a closed
trace (one ``EXECUTION_COMPLETED``, last; every step started is completed once; every
node ends once and every start is closed).

The interrupt comes from ``SIGALRM`` at a random moment of each run. Bounded here
(a few hundred runs); ``DAGRON_STRESS=1`` runs thousands.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import threading
import time
from collections import Counter
from typing import Any

import dagron
import pytest
from dagron.execution.tracing import TraceEventType

T = TraceEventType
TERMINAL = {
    T.NODE_COMPLETED,
    T.NODE_FAILED,
    T.NODE_SKIPPED,
    T.NODE_TIMED_OUT,
    T.NODE_CANCELLED,
}
RUNS = 5_000 if os.environ.get("DAGRON_STRESS") == "1" else 300

pytestmark = pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs signal.setitimer")


def check_closed(trace: dagron.ExecutionTrace, dag: dagron.DAG) -> None:
    events = trace.events
    kinds = [e.event_type for e in events]
    assert kinds[0] is T.EXECUTION_STARTED
    assert kinds[-1] is T.EXECUTION_COMPLETED
    assert kinds.count(T.EXECUTION_COMPLETED) == 1
    steps = [(e.event_type, e.step_index) for e in events if e.step_index is not None]
    started = sum(1 for kind, _ in steps if kind is T.STEP_STARTED)
    expected = []
    for k in range(started):
        expected += [(T.STEP_STARTED, k), (T.STEP_COMPLETED, k)]
    assert steps == expected
    by_node: dict[str, list[TraceEventType]] = {name: [] for name in dag.nodes}
    for e in events:
        if e.node_name is not None:
            by_node[e.node_name].append(e.event_type)
    for name, node_kinds in by_node.items():
        assert sum(kind in TERMINAL for kind in node_kinds) == 1, (name, node_kinds)
        if T.NODE_STARTED in node_kinds:
            assert node_kinds[0] is T.NODE_STARTED, (name, node_kinds)
            assert node_kinds[1] in (T.NODE_COMPLETED, T.NODE_FAILED, T.NODE_TIMED_OUT)
        if node_kinds[-1] in (T.NODE_COMPLETED, T.NODE_FAILED, T.NODE_TIMED_OUT):
            assert node_kinds[0] is T.NODE_STARTED, (name, node_kinds)
    # No duration longer than the run (issue 23: one as long as the machine's uptime).
    total = events[-1].duration
    assert total is not None
    for e in events:
        if e.node_name is not None and e.duration is not None:
            assert 0.0 <= e.duration <= total + 0.01, (e, total)


@pytest.mark.parametrize("kind", ["threads", "thread-backend"])
def test_random_interrupts_leave_a_closed_trace(kind: str) -> None:
    # Three steps: a fan-out of short tasks, then a join.
    dag = (
        dagron.DAG.builder()
        .add_edges(
            [("root", f"mid{i}") for i in range(4)] + [(f"mid{i}", "join") for i in range(4)]
        )
        .build()
    )
    tasks = {name: (lambda: time.sleep(0.0005)) for name in dag.nodes}
    executor: Any = (
        dagron.DAGExecutor(dag, max_workers=3, trace=True)
        if kind == "threads"
        # Interrupts also land while the driver collects outcomes (Backend.outcomes).
        else dagron.DistributedExecutor(dag, dagron.ThreadBackend(3), trace=True)
    )
    # How long one run takes here, so the alarms spread over a whole run.
    began = time.perf_counter()
    for _ in range(5):
        executor.execute(tasks)
    run_seconds = (time.perf_counter() - began) / 5

    armed = False

    def interrupt(signum: int, frame: object) -> None:
        nonlocal armed
        if armed:
            armed = False
            raise KeyboardInterrupt

    # A signal handler runs at the next bytecode of any Python code, which can be a
    # weakref callback or __del__ that a collection runs inside a C call: there the
    # KeyboardInterrupt is "ignored" (sys.unraisablehook) and the run goes on, as
    # anywhere in CPython. Counted, not failed; anything else unraisable fails.
    unraisable: list[object] = []
    previous_hook = sys.unraisablehook
    sys.unraisablehook = unraisable.append

    rng = random.Random(14)
    outcomes: Counter[str] = Counter()
    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        for _ in range(RUNS):
            executor.last_trace = None
            delay = rng.uniform(1e-6, run_seconds * 1.2)
            try:
                try:
                    armed = True
                    signal.setitimer(signal.ITIMER_REAL, delay)
                    executor.execute(tasks)
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                    armed = False
                outcomes["completed"] += 1
            except KeyboardInterrupt:
                outcomes["interrupted"] += 1
            trace = executor.last_trace
            if trace is None:
                outcomes["no trace"] += 1
                continue
            check_closed(trace, dag)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        sys.unraisablehook = previous_hook
    outcomes["ignored in a finalizer"] = len(unraisable)
    print(dict(outcomes), f"run {run_seconds * 1e3:.2f} ms", file=sys.stderr)
    assert all(u.exc_type is KeyboardInterrupt for u in unraisable), unraisable  # type: ignore[attr-defined]
    assert outcomes["interrupted"] >= RUNS // 10  # the alarms did land inside runs


def test_interrupt_while_waiting_for_a_step() -> None:
    """The main thread blocked on a running step: the node running is ended as
    failed, the rest cancelled, the step closed."""
    dag = dagron.DAG.builder().add_edges([("slow", "after")]).build()
    release = threading.Event()
    executor = dagron.DAGExecutor(dag, trace=True)

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        with pytest.raises(KeyboardInterrupt):
            executor.execute({"slow": lambda: release.wait(5.0), "after": lambda: 1})
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        release.set()
    trace = executor.last_trace
    assert trace is not None
    check_closed(trace, dag)
    ends = {e.node_name: e for e in trace.events if e.event_type in TERMINAL}
    assert (ends["slow"].event_type, ends["slow"].error) == (
        T.NODE_FAILED,
        "RuntimeError: execution interrupted by KeyboardInterrupt",
    )
    assert (ends["after"].event_type, ends["after"].metadata) == (
        T.NODE_CANCELLED,
        {"reason": "interrupted"},
    )
    assert [(e.event_type, e.step_index) for e in trace.events if e.step_index is not None] == [
        (T.STEP_STARTED, 0),
        (T.STEP_COMPLETED, 0),
    ]


# --- The other executors: the same run frame (StepPlan over RunState) -----------------

ASYNC_RUNS = 1_000 if os.environ.get("DAGRON_STRESS") == "1" else 60


def fan_dag() -> dagron.DAG:
    return (
        dagron.DAG.builder()
        .add_edges(
            [("root", f"mid{i}") for i in range(4)] + [(f"mid{i}", "join") for i in range(4)]
        )
        .build()
    )


def mixed_tasks(dag: dagron.DAG) -> dict[str, Any]:
    """Coroutines for half the nodes, plain callables (executor threads) for the rest."""

    async def nap() -> None:
        await asyncio.sleep(0.0005)

    return {
        name: nap if i % 2 else (lambda: time.sleep(0.0005)) for i, name in enumerate(dag.nodes)
    }


def test_async_random_cancellations_leave_a_closed_trace() -> None:
    """The task awaiting ``execute`` cancelled at a random moment of the run."""
    dag = fan_dag()
    tasks = mixed_tasks(dag)
    executor = dagron.AsyncDAGExecutor(dag, max_workers=3, trace=True)
    rng = random.Random(11)
    outcomes: Counter[str] = Counter()

    async def main() -> None:
        began = time.perf_counter()
        await executor.execute(tasks)
        run_seconds = time.perf_counter() - began
        for _ in range(ASYNC_RUNS):
            executor.last_trace = None
            run = asyncio.ensure_future(executor.execute(tasks))
            await asyncio.sleep(rng.uniform(0, run_seconds))
            run.cancel()
            try:
                await run
                outcomes["completed"] += 1
            except asyncio.CancelledError:
                outcomes["cancelled"] += 1
            assert executor.last_trace is not None
            check_closed(executor.last_trace, dag)

    asyncio.run(main())
    print(dict(outcomes), file=sys.stderr)
    assert outcomes["cancelled"] >= ASYNC_RUNS // 10


def test_async_keyboard_interrupt_from_a_random_task() -> None:
    dag = fan_dag()
    executor = dagron.AsyncDAGExecutor(dag, max_workers=3, trace=True)
    rng = random.Random(12)
    nodes = list(dag.nodes)

    def interrupt() -> None:
        raise KeyboardInterrupt

    async def ainterrupt() -> None:
        await asyncio.sleep(0)
        raise KeyboardInterrupt

    for _ in range(ASYNC_RUNS // 2):
        tasks = mixed_tasks(dag)
        tasks[rng.choice(nodes)] = rng.choice([interrupt, ainterrupt])
        executor.last_trace = None
        with pytest.raises(KeyboardInterrupt):
            asyncio.run(executor.execute(tasks))
        assert executor.last_trace is not None
        check_closed(executor.last_trace, dag)
