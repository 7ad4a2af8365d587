"""Run the tasks of a :class:`~dagron.DAG` on an asyncio event loop.

:class:`AsyncDAGExecutor` is :class:`~dagron.DAGExecutor` for asyncio: the same steps,
statuses, skip and cancel rules, and the same trace events with the same meaning
(see :mod:`dagron.executor`), with ``await executor.execute(tasks)``.

Tasks are coroutine functions (``async def``, detected with
:func:`inspect.iscoroutinefunction`) or plain callables. A coroutine function's node
starts (``NODE_STARTED``) when its coroutine starts on the loop and ends when it
returns or raises. A plain callable runs in the loop's default executor (a thread);
its node starts when that thread starts calling it, so time spent waiting for a free
executor thread is not counted. A plain callable that returns an awaitable has it
awaited on the loop, as part of the node.

At most ``max_workers`` nodes run at once. Differences that come from asyncio:

- When ``timeout`` expires, running coroutines are cancelled (threads cannot be: a
  plain callable keeps its executor thread until it returns, and what it returns is
  discarded); the nodes are ``TIMED_OUT`` as with threads.
- Cancelling the task that awaits ``execute`` cancels the running nodes, ends them as
  ``FAILED`` with ``asyncio.CancelledError("execution cancelled")`` (``NODE_FAILED``,
  ``error="CancelledError: execution cancelled"``; not ``CANCELLED``, which is kept for
  nodes that never started, so that each ``NODE_STARTED`` keeps its end event),
  cancels the nodes not started (``reason="interrupted"``), records the end of the open
  step and ``EXECUTION_COMPLETED``, and re-raises ``CancelledError``.
- ``cancel_event`` may be a :class:`threading.Event` or an :class:`asyncio.Event`.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections import deque
from collections.abc import Mapping
from typing import Any, Callable, Optional

from dagron import _core
from dagron._steps import (
    CANCELLED,
    COMPLETED,
    FAILED,
    PENDING,
    RUNNING,
    TIMED_OUT,
    StepPlan,
    check_max_workers,
    check_timeout,
    describe,
    resolve_tasks,
)
from dagron.dag import DAG
from dagron.execution.tracing import ExecutionTrace, TraceEventType
from dagron.executor import ExecutionResult, NodeStatus, default_max_workers

__all__ = ["AsyncDAGExecutor"]

_T = TraceEventType

#: Returned by a thread that found the run closed before its node could start.
_NOT_STARTED = object()


class _AsyncRun:
    """The state one ``execute`` call shares with its worker coroutines.

    ``state`` (a :class:`dagron._core.RunState` over the plan's lists) makes each
    start and end of a node, and records its event, in one call, as in
    ``DAGExecutor``: plain callables start and end in executor threads, and after
    ``state.close`` nothing is started or recorded.
    """

    def __init__(self, plan: StepPlan, trace: Optional[ExecutionTrace]) -> None:
        self.plan = plan
        self.state = _core.RunState(
            plan.status,
            plan.results,
            plan.errors,
            plan.durations,
            RUNNING,
            COMPLETED,
            FAILED,
            trace,
        )
        self.is_coroutine = [
            task is not None and inspect.iscoroutinefunction(task) for task in plan.tasks
        ]
        self.pending: deque[int] = deque()
        self.workers: set[asyncio.Task[None]] = set()
        self.fatal: Optional[BaseException] = None
        # Set before this run cancels its own workers: a CancelledError seen by a
        # worker is then ours, not one raised by a task.
        self.closing = False

    def _call_in_thread(self, i: int) -> Any:
        if not self.state.start(i):
            return _NOT_STARTED
        return self.plan.tasks[i]()  # type: ignore[misc]

    async def _drain(self) -> None:
        """One worker: run queued nodes until none is left or the run stops."""
        plan = self.plan
        pending = self.pending
        state = self.state
        tasks = plan.tasks
        loop = asyncio.get_running_loop()
        while plan.stop_reason() is None:
            try:
                i = pending.popleft()
            except IndexError:
                return
            try:
                if self.is_coroutine[i]:
                    if not state.start(i):
                        return
                    value = await tasks[i]()  # type: ignore[misc]
                else:
                    value = await loop.run_in_executor(None, self._call_in_thread, i)
                    if value is _NOT_STARTED:
                        return
                    if inspect.isawaitable(value):
                        value = await value
            except asyncio.CancelledError as exc:
                if self.closing:
                    raise
                self._fail(i, exc)  # raised by the task itself
                continue
            except BaseException as exc:
                self._fail(i, exc)
                if not isinstance(exc, Exception):
                    # KeyboardInterrupt, SystemExit...: the node failed, and the
                    # exception escapes from ``execute``.
                    self.fatal = exc
                    return
                continue
            state.complete(i, value)  # False (nothing done) if timed out meanwhile

    def _fail(self, i: int, exc: BaseException) -> None:
        if self.state.fail(i, exc, describe(exc)):
            self.plan.any_failed = True

    async def run_step(self, runnable: list[int], workers: int, timeout: Optional[float]) -> None:
        """Run one step's runnable nodes on ``workers`` worker coroutines."""
        plan = self.plan
        self.pending.extend(runnable)
        loop = asyncio.get_running_loop()
        self.workers = {loop.create_task(self._drain()) for _ in range(workers)}
        waiting = set(self.workers)
        while waiting:
            done, waiting = await asyncio.wait(
                waiting, timeout=plan.remaining(), return_when=asyncio.FIRST_COMPLETED
            )
            if self.fatal is not None:
                raise self.fatal
            for worker in done:
                if not worker.cancelled() and worker.exception() is not None:
                    raise worker.exception()  # type: ignore[misc]
            if not done:  # the deadline passed
                self.close(
                    TIMED_OUT,
                    lambda name: TimeoutError(
                        f"node {name!r} was still running when the "
                        f"{timeout}s execution timeout expired"
                    ),
                )
                plan.cancel_left(runnable, (CANCELLED, "timeout"))
                self.pending.clear()
                return
        self.workers = set()
        # Nodes the workers left queued because of the cancel event or the timeout.
        if any(plan.status[i] is PENDING for i in runnable):
            plan.cancel_left(runnable)
        self.pending.clear()

    def close(self, outcome: NodeStatus, error: Callable[[str], BaseException]) -> None:
        """Stop the run now: running nodes end as ``outcome`` with ``error(name)``,
        worker coroutines are cancelled (not awaited)."""
        plan = self.plan
        record = plan.record
        for i in self.state.close(outcome):
            exc = plan.errors[i] = error(plan.names[i])
            if record is not None:
                kind = _T.NODE_TIMED_OUT if outcome is TIMED_OUT else _T.NODE_FAILED
                record(
                    kind,
                    node_name=plan.names[i],
                    duration=plan.durations[i],
                    error=describe(exc),
                )
        self.closing = True
        for worker in self.workers:
            worker.cancel()
        self.workers = set()
        self.pending.clear()

    def abandon(self, escaping: BaseException) -> None:
        """An exception escapes ``execute``: end every unfinished node and the step."""
        if isinstance(escaping, asyncio.CancelledError):
            self.close(FAILED, lambda name: asyncio.CancelledError("execution cancelled"))
        else:
            cause = self.fatal if self.fatal is not None else escaping
            self.close(
                FAILED,
                lambda name: RuntimeError(f"execution interrupted by {type(cause).__name__}"),
            )
        self.plan.abandon()


class AsyncDAGExecutor:
    """Execute one task per node of ``dag``, in topological steps, on asyncio.

    Parameters are those of :class:`~dagron.DAGExecutor`: ``max_workers`` bounds how
    many nodes run at once (``None``: as many as the widest step, capped at
    ``min(32, os.cpu_count() + 4)``), ``trace=True`` or ``enable_tracing=True`` turns
    tracing on, ``fail_fast`` says whether a failure skips every later step or only
    the nodes that depend on it. ``last_trace`` holds the latest run's trace, also
    when an exception (or cancellation) escapes from ``execute``.
    """

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

    async def execute(
        self,
        tasks: Mapping[str, Optional[Callable[[], Any]]],
        timeout: Optional[float] = None,
        cancel_event: Any = None,
    ) -> ExecutionResult:
        """Run ``tasks`` (node name -> coroutine function or callable, no arguments).

        Same rules as :meth:`dagron.DAGExecutor.execute`: missing tasks are
        ``SKIPPED``; ``timeout`` (seconds, whole run) ends running nodes as
        ``TIMED_OUT`` and cancels the rest; once ``cancel_event`` is set, nodes not
        started are ``CANCELLED`` and running ones are waited for; an exception a task
        raises makes its node ``FAILED``, except ``KeyboardInterrupt``/``SystemExit``,
        which escape after the trace is closed. See the module doc for cancellation.
        """
        self.last_trace = None
        names, succs, levels = self.dag._compile()
        callables = resolve_tasks(names, tasks)
        timeout = check_timeout(timeout)
        trace = ExecutionTrace(_node_names=self.dag._node_names()) if self.tracing else None
        self.last_trace = trace
        began = time.perf_counter()
        deadline = None if timeout is None else time.monotonic() + timeout
        plan = StepPlan(
            names,
            succs,
            levels,
            callables,
            trace,
            fail_fast=self.fail_fast,
            cancel_event=cancel_event,
            deadline=deadline,
        )
        run = _AsyncRun(plan, trace)
        cap = self.max_workers if self.max_workers is not None else default_max_workers()
        record = plan.record
        if record is not None:
            record(_T.EXECUTION_STARTED)
        try:
            for step in range(len(levels)):
                runnable = plan.begin_step(step)
                if runnable:
                    await run.run_step(runnable, min(cap, len(runnable)), timeout)
                plan.end_step()
        except BaseException as exc:
            run.abandon(exc)
            raise
        finally:
            total = time.perf_counter() - began
            if record is not None:
                record(_T.EXECUTION_COMPLETED, duration=total)
        return plan.result(total, trace)
