"""One run of a DAG, as every executor walks it: the rules, the per-node state and the
trace's frame, shared by :class:`~dagron.DAGExecutor`, :class:`~dagron.AsyncDAGExecutor`
and :class:`~dagron.distributed.DistributedExecutor`.

:class:`StepPlan` decides, step by step, which nodes run and which are skipped or
cancelled and why (the rules :mod:`dagron.executor` documents). Its
:class:`dagron._core.RunState` (``plan.state``) is the only writer of the node
states: it makes every transition, records its event, and frames the run.
:func:`run_steps` is the skeleton of every run: the steps inside ``with plan.state:``
(so that whatever escapes, and wherever an interrupt lands, the trace ends with one
``EXECUTION_COMPLETED`` and the open step is completed once), each step's runnable
nodes handed to the executor's :class:`Runner`, which only says how they run::

    with plan.state:
        for runnable in plan.steps():
            runner.run_step(runnable)  # plan.state.start / complete, plan.fail

The result types are :mod:`dagron.results`'; the checks of what an executor is given
are :mod:`dagron._validation`'s.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Callable, Optional, Protocol

from dagron import _core
from dagron._validation import (
    check_callbacks,
    check_costs,
    check_max_workers,
    check_timeout,
    describe,
    order_by_cost,
    resolve_tasks,
)
from dagron.dag import DAG
from dagron.execution.tracing import ExecutionTrace
from dagron.results import ExecutionCallbacks, ExecutionResult, NodeResult, NodeStatus

__all__ = [
    "ExecutorSettings",
    "Runner",
    "StepPlan",
    "run_steps",
    "run_steps_async",
]


PENDING = NodeStatus.PENDING
RUNNING = NodeStatus.RUNNING
COMPLETED = NodeStatus.COMPLETED
FAILED = NodeStatus.FAILED
SKIPPED = NodeStatus.SKIPPED
TIMED_OUT = NodeStatus.TIMED_OUT
CANCELLED = NodeStatus.CANCELLED

#: Returned by :meth:`StepPlan.failed` for a node that had already ended.
ENDED: Any = type("Ended", (), {"__repr__": lambda self: "ENDED"})()

#: Why the nodes that have not started will not run: (their status, the reason).
Stop = tuple[NodeStatus, str]


class ExecutorSettings:
    """What every executor keeps: the DAG, the options (checked), and ``last_trace``
    (the latest run's trace, set as soon as the run starts)."""

    def __init__(
        self,
        dag: DAG,
        max_workers: Optional[int] = None,
        costs: Optional[Mapping[str, float]] = None,
        callbacks: Optional[ExecutionCallbacks] = None,
        fail_fast: bool = True,
        enable_tracing: bool = False,
        *,
        trace: bool = False,
    ) -> None:
        if not isinstance(dag, DAG):
            raise TypeError(f"dag must be a dagron.DAG, not {type(dag).__name__}")
        self.dag = dag
        self.max_workers = check_max_workers(max_workers)
        self.costs = check_costs(costs)
        self.callbacks = check_callbacks(callbacks)
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
        checked_timeout = check_timeout(timeout)
        trace = ExecutionTrace(_node_names=self.dag._node_names()) if self.tracing else None
        return StepPlan(
            names,
            succs,
            order_by_cost(names, levels, self.costs),
            callables,
            trace,
            fail_fast=self.fail_fast,
            cancel_event=cancel_event,
            timeout=checked_timeout,
            callbacks=self.callbacks,
        )


class StepPlan:
    """One run's node states and rules, walked step by step (see the module doc).

    ``status``, ``results``, ``errors`` and ``durations`` are indexed like ``names``;
    only ``state`` writes them (and records the events): this class reads them to
    apply the rules. ``stop`` is ``None`` while nodes may still start, else why they
    no longer may.
    """

    __slots__ = (
        "cancel_event",
        "durations",
        "errors",
        "fail_fast",
        "levels",
        "names",
        "on_failure",
        "on_skip",
        "results",
        "state",
        "status",
        "stop",
        "succs",
        "tainted",
        "tasks",
        "timeout",
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
        callbacks: Optional[ExecutionCallbacks] = None,
    ) -> None:
        count = len(names)
        self.names = names
        self.trace = trace
        self.succs = succs
        self.levels = levels
        self.tasks = tasks
        self.fail_fast = fail_fast
        self.cancel_event = cancel_event
        self.timeout = timeout
        self.timeout_text = f"{timeout}"
        self.on_skip = callbacks.on_skip if callbacks is not None else None
        self.on_failure = callbacks.on_failure if callbacks is not None else None
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
        # tainted[i] is set once an ancestor of node i has failed or timed out (only
        # with fail_fast).
        self.tainted = bytearray(count)
        self.stop: Optional[Stop] = None

    def stop_reason(self) -> Optional[Stop]:
        """Whether nodes that have not started must now be cancelled, and why: the
        one place that checks the cancel event."""
        if self.cancel_event is not None and self.cancel_event.is_set():
            return (CANCELLED, "cancelled")
        return None

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
        tasks = self.tasks
        tainted = self.tainted
        for i in level:
            if tainted[i]:
                self._skip(i, "fail_fast")
            elif tasks[i] is None:
                self._skip(i, "no_task")
            else:
                runnable.append(i)
        return runnable

    def _skip(self, i: int, reason: str) -> None:
        self.state.give_up(i, SKIPPED, reason)
        if self.on_skip is not None:
            self.on_skip(self.names[i])

    def _close_step(self, level: list[int]) -> None:
        """With ``fail_fast``, taint the successors of the nodes of ``level`` that
        failed, timed out or were tainted themselves."""
        if not self.fail_fast or self.stop is not None:
            return
        status = self.status
        tainted = self.tainted
        succs = self.succs
        for i in level:
            if tainted[i] or status[i] is FAILED or status[i] is TIMED_OUT:
                for j in succs[i]:
                    tainted[j] = 1

    def fail(self, i: int, exc: BaseException) -> Any:
        """Running node ``i``'s task (or its ``on_start`` / ``on_complete``) raised
        ``exc``: the node is ``FAILED``; see :meth:`failed` for what this returns."""
        return self.failed(i, exc, self.state.fail(i, exc, describe(exc)))

    def failed(self, i: int, exc: BaseException, ended_now: bool) -> Any:
        """What follows node ``i``'s failure with ``exc``, once ``RunState`` has ended
        it (``ended_now``) or found it already ended (timed out meanwhile): the one
        rule for every executor. Returns :data:`ENDED` (nothing done) in the latter
        case; else calls ``on_failure`` and returns the exception that must escape
        from ``execute`` (one ``on_failure`` raised, or ``exc`` itself when it is no
        ``Exception``: ``KeyboardInterrupt``, ``SystemExit``), or None."""
        if not ended_now:
            return ENDED
        if self.on_failure is not None:
            try:
                self.on_failure(self.names[i], exc)
            except BaseException as raised:
                return raised
        return None if isinstance(exc, Exception) else exc

    def give_up_unstarted(self, nodes: list[int]) -> None:
        """The nodes of ``nodes`` still pending after their step ran were left by
        the workers for the cancel event: they are cancelled, and so is the rest of
        the run."""
        left = [i for i in nodes if self.status[i] is PENDING]
        if not left:
            return
        self.stop = (CANCELLED, "cancelled")
        for i in left:
            self.state.give_up(i, *self.stop)

    def overdue(self, nodes: list[int]) -> tuple[list[int], Optional[float]]:
        """Time out the nodes of ``nodes`` running for ``timeout`` seconds or more
        (``RunState.time_out_overdue``): the nodes timed out, and the seconds until
        the next may be (``timeout`` when none runs). Only with a ``timeout``."""
        assert self.timeout is not None
        ended, left = self.state.time_out_overdue(nodes, self.timeout, self.timeout_text)
        return ended, self.timeout if left is None else left

    def result(
        self, trace: Optional[ExecutionTrace], kind: type[ExecutionResult] = ExecutionResult
    ) -> Any:
        """The run's result (after ``with plan.state:``), as a ``kind``."""
        status = self.status
        node_results = {
            name: NodeResult(name, state, value, error, duration)
            for name, state, value, error, duration in zip(
                self.names, status, self.results, self.errors, self.durations
            )
        }
        return kind(
            node_results=node_results,
            succeeded=status.count(COMPLETED),
            failed=status.count(FAILED),
            skipped=status.count(SKIPPED),
            timed_out=status.count(TIMED_OUT),
            cancelled=status.count(CANCELLED),
            total_duration_seconds=self.state.duration or 0.0,
            trace=trace,
        )


class Runner(Protocol):
    """How an executor runs a step's nodes (threads, an event loop, a backend): the
    one thing in which the executors differ. :func:`run_steps` drives it."""

    def run_step(self, runnable: list[int]) -> None:
        """Run ``runnable`` (a step's nodes that may run) until each has ended
        (``RunState`` writes the outcome) or the cancel event left it pending."""

    def close(self, escaping: Optional[BaseException]) -> None:
        """The run is over (``escaping``: the exception leaving it, if any): release
        what the runner holds; ``RunState.__exit__`` then ends what is left open."""


class AsyncRunner(Protocol):
    """:class:`Runner` on an event loop."""

    async def run_step(self, runnable: list[int]) -> None: ...

    def close(self, escaping: Optional[BaseException]) -> None: ...


def run_steps(plan: StepPlan, runner: Runner, started: Callable[[], None]) -> None:
    """The skeleton of every run: the frame (``with plan.state:``: whatever escapes
    and wherever an interrupt lands, the run is closed and ``EXECUTION_COMPLETED``
    recorded once), ``started()`` as soon as it is open (the executor sets its
    ``last_trace``), the steps, and the runner closed on the way out."""
    with plan.state:
        started()
        try:
            for runnable in plan.steps():
                runner.run_step(runnable)
        except BaseException as exc:
            runner.close(exc)
            raise
        runner.close(None)


async def run_steps_async(
    plan: StepPlan, runner: AsyncRunner, started: Callable[[], None]
) -> None:
    """:func:`run_steps` for a runner on an event loop."""
    with plan.state:
        started()
        try:
            for runnable in plan.steps():
                await runner.run_step(runnable)
        except BaseException as exc:
            runner.close(exc)
            raise
        runner.close(None)
