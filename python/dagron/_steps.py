"""One run of a DAG, as every executor walks it: the rules, the per-node state and the
trace's frame, shared by :class:`~dagron.DAGExecutor`, :class:`~dagron.AsyncDAGExecutor`
and :class:`~dagron.distributed.DistributedExecutor`.

:class:`StepPlan` decides, step by step, which nodes run, which are skipped or
cancelled and why, and when ``fail_fast`` stops the run (the rules
:mod:`dagron.executor` documents). Its :class:`dagron._core.RunState` (``plan.state``)
writes every node transition and records its event, and frames the run: an executor
runs the steps inside ``with plan.state:``, so that whatever escapes, and wherever an
interrupt lands, the trace ends with one ``EXECUTION_COMPLETED`` and the open step is
completed once. An executor only says how a step's runnable nodes are run::

    with plan.state:
        for runnable in plan.steps():
            ...  # run them: plan.state.start / complete, plan.fail

The public result types live here too (re-exported by :mod:`dagron.executor`, where
they are documented) so that this module depends on no executor.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Optional

from dagron import _core
from dagron.dag import DAG
from dagron.execution.tracing import ExecutionTrace, TraceEventType

__all__ = [
    "ExecutionResult",
    "NodeResult",
    "NodeStatus",
    "StepPlan",
    "check_max_workers",
    "check_timeout",
    "default_max_workers",
    "describe",
    "resolve_tasks",
]


class NodeStatus(Enum):
    """The state of one node in a run; every node ends in one of the last five."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"


@dataclass
class NodeResult:
    """The outcome of one node.

    ``result`` is the task's return value (``None`` unless ``COMPLETED``). ``error`` is
    the exception the task raised (``FAILED``), or a ``TimeoutError`` describing the
    expired timeout (``TIMED_OUT``); otherwise ``None``. ``duration_seconds`` is the
    task's wall time: until it returned or raised, or until the timeout for
    ``TIMED_OUT``; ``0.0`` for nodes that never started.
    """

    name: str
    status: NodeStatus
    result: Any = None
    error: Optional[BaseException] = None
    duration_seconds: float = 0.0


@dataclass
class ExecutionResult:
    """The outcome of :meth:`DAGExecutor.execute`.

    ``node_results`` maps every node name (in DAG insertion order) to its
    :class:`NodeResult`; ``succeeded``, ``failed``, ``skipped``, ``timed_out`` and
    ``cancelled`` count the nodes that ended ``COMPLETED``, ``FAILED``, ``SKIPPED``,
    ``TIMED_OUT`` and ``CANCELLED``. ``total_duration_seconds`` is the run's wall time.
    ``trace`` is the run's :class:`~dagron.execution.tracing.ExecutionTrace`, or
    ``None`` when tracing is off.
    """

    node_results: dict[str, NodeResult]
    succeeded: int
    failed: int
    skipped: int
    timed_out: int
    cancelled: int
    total_duration_seconds: float
    trace: Optional[ExecutionTrace] = None


# Documented, shown and pickled as dagron.executor's (which re-exports them).
for _public in (NodeStatus, NodeResult, ExecutionResult):
    _public.__module__ = "dagron.executor"

PENDING = NodeStatus.PENDING
RUNNING = NodeStatus.RUNNING
COMPLETED = NodeStatus.COMPLETED
FAILED = NodeStatus.FAILED
SKIPPED = NodeStatus.SKIPPED
TIMED_OUT = NodeStatus.TIMED_OUT
CANCELLED = NodeStatus.CANCELLED

#: Why the nodes that have not started will not run: (their status, the reason).
Stop = tuple[NodeStatus, str]

_T = TraceEventType


def default_max_workers() -> int:
    """The thread cap used when ``max_workers`` is None (as ``ThreadPoolExecutor``)."""
    return min(32, (os.cpu_count() or 1) + 4)


def describe(exc: BaseException) -> str:
    """``"ExcType: message"``, or just ``"ExcType"`` when the message is empty."""
    name = type(exc).__name__
    try:
        message = str(exc)
    except Exception:  # a broken __str__ must not kill the worker
        message = "<exception str() failed>"
    return f"{name}: {message}" if message else name


def resolve_tasks(
    names: list[str], tasks: Mapping[str, Optional[Callable[[], Any]]]
) -> list[Optional[Callable[[], Any]]]:
    """The task of each node (``None`` when missing); a clear error for a key that is
    not a node or a value that is not callable."""
    if not isinstance(tasks, Mapping):
        raise TypeError(f"tasks must be a mapping, not {type(tasks).__name__}")
    known = set(names)
    unknown = [key for key in tasks if key not in known]
    callables = list(map(tasks.get, names))
    if unknown:
        # A node is its text (see dagron.dag): a str subclass key that its own
        # __eq__/__hash__ kept from matching still names the node of its text.
        index = {name: i for i, name in enumerate(names)}
        for key in unknown:
            i = index.get(str.__str__(key)) if isinstance(key, str) else None
            if i is None:
                raise ValueError(f"tasks given for nodes not in the DAG: {unknown!r}")
            if callables[i] is not None:
                raise ValueError(f"tasks given twice for node {names[i]!r}")
            callables[i] = tasks[key]
    for name, task in zip(names, callables):
        if task is not None and not callable(task):
            raise TypeError(f"the task for node {name!r} is not callable: {task!r}")
    return callables


def check_timeout(timeout: object, what: str = "timeout") -> Optional[float]:
    """``timeout`` as seconds, or None for no deadline (``None`` or infinity)."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"{what} must be a number of seconds, not {timeout!r}")
    if not timeout >= 0:
        raise ValueError(f"{what} must be >= 0, not {timeout!r}")
    return None if math.isinf(timeout) else timeout


def check_max_workers(max_workers: object) -> Optional[int]:
    if max_workers is not None and (
        not isinstance(max_workers, int) or isinstance(max_workers, bool)
    ):
        raise TypeError(f"max_workers must be an int or None, not {max_workers!r}")
    if max_workers is not None and max_workers < 1:
        raise ValueError(f"max_workers must be at least 1, not {max_workers}")
    return max_workers


class ExecutorSettings:
    """The constructor ``DAGExecutor`` and ``AsyncDAGExecutor`` share: it checks and
    keeps the DAG and the options; ``last_trace`` starts empty."""

    def __init__(
        self,
        dag: DAG,
        max_workers: Optional[int] = None,
        *,
        trace: bool = False,
        enable_tracing: bool = False,
        fail_fast: bool = True,
    ) -> None:
        if not isinstance(dag, DAG):
            raise TypeError(f"dag must be a dagron.DAG, not {type(dag).__name__}")
        self.dag = dag
        self.max_workers = check_max_workers(max_workers)
        self.tracing = bool(trace or enable_tracing)
        self.fail_fast = bool(fail_fast)
        self.last_trace: Optional[ExecutionTrace] = None

    def _plan(self, tasks: Any, timeout: object, cancel_event: Any) -> StepPlan:
        """A run's checked tasks and its plan; a traced run starts from the DAG's
        cached name table, so recording a node neither looks up nor interns its name
        while the tasks run."""
        self.last_trace = None
        names, succs, levels = self.dag._compile()
        callables = resolve_tasks(names, tasks)
        trace = ExecutionTrace(_node_names=self.dag._node_names()) if self.tracing else None
        return StepPlan(
            names,
            succs,
            levels,
            callables,
            trace,
            fail_fast=self.fail_fast,
            cancel_event=cancel_event,
            timeout=check_timeout(timeout),
        )


class StepPlan:
    """One run's node states and rules, walked step by step (see the module doc).

    ``status``, ``results``, ``errors`` and ``durations`` are indexed like ``names``;
    ``state`` writes them (a node's start and end, a node given up, a timeout) and
    records the events. ``stop`` is ``None`` while nodes may still start, else why
    they no longer may.
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
        "record",
        "results",
        "state",
        "status",
        "stop",
        "succs",
        "tasks",
        "timeout_text",
        "trace",
    )

    def __init__(
        self,
        names: list[str],
        succs: list[list[int]],
        levels: list[list[int]],
        tasks: list[Optional[Callable[[], Any]]],
        trace: Optional[ExecutionTrace],
        *,
        fail_fast: bool,
        cancel_event: Any = None,
        timeout: Optional[float] = None,
    ) -> None:
        count = len(names)
        self.names = names
        self.trace = trace
        self.succs = succs
        self.levels = levels
        self.tasks = tasks
        self.fail_fast = fail_fast
        self.cancel_event = cancel_event
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.timeout_text = f"{timeout}"
        self.status = [PENDING] * count
        self.results: list[Any] = [None] * count
        self.errors: list[Optional[BaseException]] = [None] * count
        self.durations = [0.0] * count
        # ``trace`` must be made with the DAG's ``_node_names`` (RunState records by
        # node index).
        self.state = _core.RunState(
            self.status,
            self.results,
            self.errors,
            self.durations,
            RUNNING,
            COMPLETED,
            FAILED,
            trace,
            names=names,
            pending=PENDING,
            skipped=SKIPPED,
            cancelled=CANCELLED,
            timed_out=TIMED_OUT,
        )
        self.record = trace.record if trace is not None else None
        # blocked[i] is set once a predecessor of node i has ended without completing.
        self.blocked = bytearray(count)
        self.any_failed = False
        self.stop: Optional[Stop] = None

    def stop_reason(self) -> Optional[Stop]:
        """Whether nodes that have not started must now be cancelled, and why: the
        one place that checks the cancel event and the deadline."""
        if self.cancel_event is not None and self.cancel_event.is_set():
            return (CANCELLED, "cancelled")
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return (CANCELLED, "timeout")
        return None

    def time_left(self) -> Optional[float]:
        """Seconds left until the deadline (``None``: no deadline)."""
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    def steps(self) -> Iterator[list[int]]:
        """Walk the steps (call inside ``with plan.state:``): each step is started,
        its nodes that will not run are given up, the others are yielded for the
        executor to run (nothing is yielded when none may run), and the step is
        completed once they have ended."""
        state = self.state
        for step, level in enumerate(self.levels):
            state.step_started(step)
            runnable = self._runnable(level)
            if runnable:
                yield runnable
            self._close_step(level)
            state.step_completed()

    def _runnable(self, level: list[int]) -> list[int]:
        """The nodes of ``level`` that run; the others are given up here."""
        give_up = self.state.give_up
        if self.stop is None:
            self.stop = self.stop_reason()
        if self.stop is not None:
            for i in level:
                give_up(i, *self.stop)
            return []
        runnable = []
        for i in level:
            if self.tasks[i] is None:
                give_up(i, SKIPPED, "no_task")
            elif self.blocked[i]:
                give_up(i, SKIPPED, "dependency_not_completed")
            else:
                runnable.append(i)
        return runnable

    def _close_step(self, level: list[int]) -> None:
        """Apply ``fail_fast``, and block the successors of the nodes that did not
        complete."""
        if self.stop is None and self.fail_fast and self.any_failed:
            self.stop = (SKIPPED, "fail_fast")
        if self.stop is None:
            status = self.status
            blocked = self.blocked
            for i in level:
                if status[i] is not COMPLETED:
                    for j in self.succs[i]:
                        blocked[j] = 1

    def fail(self, i: int, exc: BaseException) -> None:
        """Running node ``i``'s task raised ``exc``: ``FAILED`` (unless it already
        ended, timed out meanwhile)."""
        if self.state.fail(i, exc, describe(exc)):
            self.any_failed = True

    def give_up_unstarted(self, nodes: list[int], stop: Optional[Stop] = None) -> None:
        """The nodes of ``nodes`` that have not started will not: they are given up
        for ``stop``, or, when some are left, for the current stop reason (the cancel
        event or the timeout stopped the workers), which then stops the run."""
        left = [i for i in nodes if self.status[i] is PENDING]
        if stop is None:
            if not left:
                return
            stop = self.stop_reason() or (CANCELLED, "cancelled")
        self.stop = stop
        for i in left:
            self.state.give_up(i, *stop)

    def time_out(self, nodes: list[int]) -> None:
        """The run's timeout expired while ``nodes`` ran: the run is closed, running
        nodes end ``TIMED_OUT`` and those of ``nodes`` not started are cancelled."""
        self.state.time_out(self.timeout_text)
        self.give_up_unstarted(nodes, (CANCELLED, "timeout"))

    def end_running(
        self, i: int, outcome: NodeStatus, error: BaseException, duration: float
    ) -> None:
        """End running node ``i``, whose task this process did not see end (closed
        with ``state.close``, or run elsewhere), as ``outcome`` (``TIMED_OUT`` or
        ``FAILED``) with ``error``, recording ``NODE_TIMED_OUT`` or ``NODE_FAILED``."""
        self.status[i] = outcome
        self.errors[i] = error
        self.durations[i] = duration
        self.any_failed = True  # for fail_fast, a timed-out node counts as failed
        if self.record is not None:
            kind = _T.NODE_TIMED_OUT if outcome is TIMED_OUT else _T.NODE_FAILED
            self.record(kind, node_name=self.names[i], duration=duration, error=describe(error))

    def result(self, trace: Optional[ExecutionTrace]) -> ExecutionResult:
        """The run's result (after ``with plan.state:``)."""
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
            total_duration_seconds=self.state.duration or 0.0,
            trace=trace,
        )
