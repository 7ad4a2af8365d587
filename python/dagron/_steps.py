"""Step planning shared by the executors outside ``dagron.executor``.

:class:`StepPlan` holds one run's per-node lists and decides, step by step, which
nodes may run, which are skipped or cancelled (and why), and records the step and
give-up events, with the meaning :mod:`dagron.executor` documents for
:class:`~dagron.DAGExecutor`. The executors built on it (:mod:`dagron.aio`,
:mod:`dagron.distributed`) only say how a step's runnable nodes are run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any, Optional

from dagron.execution.tracing import ExecutionTrace, TraceEventType
from dagron.executor import ExecutionResult, NodeResult, NodeStatus

__all__ = ["StepPlan", "check_max_workers", "check_timeout", "describe", "resolve_tasks"]

PENDING = NodeStatus.PENDING
RUNNING = NodeStatus.RUNNING
COMPLETED = NodeStatus.COMPLETED
FAILED = NodeStatus.FAILED
SKIPPED = NodeStatus.SKIPPED
TIMED_OUT = NodeStatus.TIMED_OUT
CANCELLED = NodeStatus.CANCELLED

_T = TraceEventType

#: Why the nodes that have not started will not run: (their status, the reason).
Stop = tuple[NodeStatus, str]


def describe(exc: BaseException) -> str:
    """``"ExcType: message"``, or just ``"ExcType"`` when the message is empty."""
    name = type(exc).__name__
    try:
        message = str(exc)
    except Exception:  # a broken __str__ must not break the run
        message = "<exception str() failed>"
    return f"{name}: {message}" if message else name


def resolve_tasks(names: list[str], tasks: Mapping[str, Any]) -> list[Optional[Any]]:
    """The task of each node (``None`` when missing); a clear error for a key that is
    not a node or a value that is not callable."""
    if not isinstance(tasks, Mapping):
        raise TypeError(f"tasks must be a mapping, not {type(tasks).__name__}")
    known = set(names)
    unknown = [key for key in tasks if key not in known]
    if unknown:
        raise ValueError(f"tasks given for nodes not in the DAG: {unknown!r}")
    callables = list(map(tasks.get, names))
    for name, task in zip(names, callables):
        if task is not None and not callable(task):
            raise TypeError(f"the task for node {name!r} is not callable: {task!r}")
    return callables


def check_timeout(timeout: Optional[float], what: str = "timeout") -> Optional[float]:
    """``timeout`` checked: ``None`` or a number of seconds >= 0 (infinity: ``None``)."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"{what} must be a number of seconds, not {timeout!r}")
    if not timeout >= 0:
        raise ValueError(f"{what} must be >= 0, not {timeout!r}")
    return None if math.isinf(timeout) else float(timeout)


def check_max_workers(max_workers: Optional[int]) -> Optional[int]:
    if max_workers is not None and (
        not isinstance(max_workers, int) or isinstance(max_workers, bool)
    ):
        raise TypeError(f"max_workers must be an int or None, not {max_workers!r}")
    if max_workers is not None and max_workers < 1:
        raise ValueError(f"max_workers must be at least 1, not {max_workers}")
    return max_workers


class StepPlan:
    """One run's node states, walked step by step.

    ``status``, ``results``, ``errors`` and ``durations`` are indexed like ``names``
    (they are the lists a :class:`dagron._core.RunState` may write). ``stop`` is
    ``None`` while nodes may still start, else why they no longer may. The caller
    drives it: :meth:`begin_step` (the nodes to run), run them, :meth:`end_step`;
    :meth:`abandon` when an exception escapes.
    """

    __slots__ = (
        "any_failed",
        "blocked",
        "cancel_event",
        "deadline",
        "durations",
        "errors",
        "fail_fast",
        "levels",
        "names",
        "open_step",
        "record",
        "results",
        "status",
        "step_began",
        "stop",
        "succs",
        "tasks",
    )

    def __init__(
        self,
        names: list[str],
        succs: list[list[int]],
        levels: list[list[int]],
        tasks: list[Optional[Any]],
        trace: Optional[ExecutionTrace],
        *,
        fail_fast: bool,
        cancel_event: Any = None,
        deadline: Optional[float] = None,
    ) -> None:
        count = len(names)
        self.names = names
        self.succs = succs
        self.levels = levels
        self.tasks = tasks
        self.record = trace.record if trace is not None else None
        self.fail_fast = fail_fast
        self.cancel_event = cancel_event
        self.deadline = deadline
        self.status = [PENDING] * count
        self.results: list[Any] = [None] * count
        self.errors: list[Optional[BaseException]] = [None] * count
        self.durations = [0.0] * count
        # blocked[i] is set once a predecessor of node i has ended without completing.
        self.blocked = bytearray(count)
        self.any_failed = False
        self.stop: Optional[Stop] = None
        self.open_step: Optional[int] = None
        self.step_began = 0.0

    def stop_reason(self) -> Optional[Stop]:
        """Whether nodes that have not started must now be cancelled, and why."""
        if self.cancel_event is not None and self.cancel_event.is_set():
            return (CANCELLED, "cancelled")
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return (CANCELLED, "timeout")
        return None

    def remaining(self) -> Optional[float]:
        """Seconds left until the deadline (``None``: no deadline)."""
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    def give_up(self, i: int, outcome: NodeStatus, reason: str) -> None:
        """End a node that will not run (``SKIPPED`` or ``CANCELLED``)."""
        self.status[i] = outcome
        if self.record is not None:
            kind = _T.NODE_SKIPPED if outcome is SKIPPED else _T.NODE_CANCELLED
            self.record(kind, node_name=self.names[i], metadata={"reason": reason})

    def begin_step(self, step: int) -> list[int]:
        """Open step ``step``: record ``STEP_STARTED``, give up the nodes that will
        not run, and return the others."""
        self.open_step = step
        self.step_began = time.perf_counter()
        if self.record is not None:
            self.record(_T.STEP_STARTED, step_index=step)
        level = self.levels[step]
        if self.stop is None:
            self.stop = self.stop_reason()
        if self.stop is not None:
            for i in level:
                self.give_up(i, *self.stop)
            return []
        runnable = []
        for i in level:
            if self.tasks[i] is None:
                self.give_up(i, SKIPPED, "no_task")
            elif self.blocked[i]:
                self.give_up(i, SKIPPED, "dependency_not_completed")
            else:
                runnable.append(i)
        return runnable

    def cancel_left(self, nodes: list[int], stop: Optional[Stop] = None) -> None:
        """The run stops (``stop``, or the current reason): nodes of ``nodes`` that
        have not started are cancelled."""
        stop = stop or self.stop_reason() or (CANCELLED, "cancelled")
        self.stop = stop
        for i in nodes:
            if self.status[i] is PENDING:
                self.give_up(i, *stop)

    def end_step(self) -> None:
        """Close the open step: apply ``fail_fast``, block the successors of nodes
        that did not complete, record ``STEP_COMPLETED``."""
        step = self.open_step
        assert step is not None
        if self.stop is None and self.fail_fast and self.any_failed:
            self.stop = (SKIPPED, "fail_fast")
        if self.stop is None:
            status = self.status
            blocked = self.blocked
            for i in self.levels[step]:
                if status[i] is not COMPLETED:
                    for j in self.succs[i]:
                        blocked[j] = 1
        if self.record is not None:
            self.record(
                _T.STEP_COMPLETED,
                step_index=step,
                duration=time.perf_counter() - self.step_began,
            )
        self.open_step = None

    def end_running(
        self,
        i: int,
        outcome: NodeStatus,
        error: BaseException,
        duration: Optional[float],
    ) -> None:
        """End running node ``i`` from the driver's side (timed out, lost, or
        interrupted), recording ``NODE_TIMED_OUT`` or ``NODE_FAILED``."""
        self.status[i] = outcome
        self.errors[i] = error
        if duration is not None:
            self.durations[i] = duration
        self.any_failed = True  # for fail_fast, a timed-out node counts as failed
        if self.record is not None:
            kind = _T.NODE_TIMED_OUT if outcome is TIMED_OUT else _T.NODE_FAILED
            self.record(kind, node_name=self.names[i], duration=duration, error=describe(error))

    def abandon(self) -> None:
        """An exception escapes the run: nodes not started are cancelled
        (``"interrupted"``) and the open step is closed. (Running nodes are the
        executor's to end first.)"""
        for i, state in enumerate(self.status):
            if state is PENDING:
                self.give_up(i, CANCELLED, "interrupted")
        if self.record is not None and self.open_step is not None:
            self.record(_T.STEP_COMPLETED, step_index=self.open_step)
        self.open_step = None

    def result(self, total: float, trace: Optional[ExecutionTrace]) -> ExecutionResult:
        status = self.status
        node_results = {
            name: NodeResult(name, state, value, error, duration)
            for name, state, value, error, duration in zip(
                self.names, status, self.results, self.errors, self.durations
            )
        }
        return ExecutionResult(
            node_results=node_results,
            succeeded=status.count(COMPLETED),
            failed=status.count(FAILED),
            skipped=status.count(SKIPPED),
            timed_out=status.count(TIMED_OUT),
            cancelled=status.count(CANCELLED),
            total_duration_seconds=total,
            trace=trace,
        )
