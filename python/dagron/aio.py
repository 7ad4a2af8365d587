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
from collections import deque
from collections.abc import Mapping
from typing import Any, Callable, Optional

from dagron._steps import (
    FAILED,
    ExecutionResult,
    ExecutorSettings,
    StepPlan,
    default_max_workers,
)

__all__ = ["AsyncDAGExecutor"]

#: Returned by a thread that found the run closed before its node could start.
_NOT_STARTED = object()


class _AsyncRun:
    """What one ``execute`` call shares with its worker coroutines: the
    :class:`~dagron._steps.StepPlan`, the queue of a step's nodes, the workers.

    ``plan.state`` makes each start and end of a node, and records its event, in one
    call, as in ``DAGExecutor``: plain callables start and end in executor threads,
    and once the run is closed nothing is started or recorded.
    """

    def __init__(self, plan: StepPlan) -> None:
        self.plan = plan
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
        if not self.plan.state.start(i):
            return _NOT_STARTED
        return self.plan.tasks[i]()  # type: ignore[misc]

    async def _drain(self) -> None:
        """One worker: run queued nodes until none is left or the run stops."""
        plan = self.plan
        pending = self.pending
        state = plan.state
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
                plan.fail(i, exc)  # raised by the task itself
                continue
            except BaseException as exc:
                plan.fail(i, exc)
                if not isinstance(exc, Exception):
                    # KeyboardInterrupt, SystemExit...: the node failed, and the
                    # exception escapes from ``execute``.
                    self.fatal = exc
                    return
                continue
            state.complete(i, value)  # False (nothing done) if timed out meanwhile

    async def run_step(self, runnable: list[int], workers: int) -> None:
        """Run one step's runnable nodes on ``workers`` worker coroutines."""
        plan = self.plan
        self.pending.extend(runnable)
        loop = asyncio.get_running_loop()
        self.workers = {loop.create_task(self._drain()) for _ in range(workers)}
        waiting = set(self.workers)
        while waiting:
            done, waiting = await asyncio.wait(
                waiting, timeout=plan.time_left(), return_when=asyncio.FIRST_COMPLETED
            )
            if self.fatal is not None:
                raise self.fatal
            for worker in done:
                if not worker.cancelled() and worker.exception() is not None:
                    raise worker.exception()  # type: ignore[misc]
            if not done:  # the deadline passed
                plan.time_out(runnable)
                self.stop_workers()
                return
        self.workers = set()
        # Nodes the workers left queued because of the cancel event or the timeout.
        plan.give_up_unstarted(runnable)
        self.pending.clear()

    def stop_workers(self) -> None:
        """Cancel the worker coroutines (not awaited) and drop the queued nodes."""
        self.closing = True
        for worker in self.workers:
            worker.cancel()
        self.workers = set()
        self.pending.clear()

    def cancelled(self) -> None:
        """The task awaiting ``execute`` was cancelled: running nodes end ``FAILED``
        with ``CancelledError("execution cancelled")`` (the rest is left to the
        run's frame)."""
        plan = self.plan
        for i in plan.state.close(FAILED):
            error = asyncio.CancelledError("execution cancelled")
            plan.end_running(i, FAILED, error, plan.durations[i])


class AsyncDAGExecutor(ExecutorSettings):
    """Execute one task per node of ``dag``, in topological steps, on asyncio.

    Parameters are those of :class:`~dagron.DAGExecutor`: ``max_workers`` bounds how
    many nodes run at once (``None``: as many as the widest step, capped at
    ``min(32, os.cpu_count() + 4)``), ``trace=True`` or ``enable_tracing=True`` turns
    tracing on, ``fail_fast`` says whether a failure skips every later step or only
    the nodes that depend on it. ``last_trace`` holds the latest run's trace, also
    when an exception (or cancellation) escapes from ``execute``.
    """

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
        plan = self._plan(tasks, timeout, cancel_event)
        run = _AsyncRun(plan)
        cap = self.max_workers if self.max_workers is not None else default_max_workers()
        # As in DAGExecutor: whatever escapes (an exception, a cancellation, an
        # interrupt), RunState.__exit__ ends what is left and closes the trace once.
        with plan.state:
            self.last_trace = plan.trace
            try:
                for runnable in plan.steps():
                    await run.run_step(runnable, min(cap, len(runnable)))
            except asyncio.CancelledError:
                run.cancelled()
                raise
            finally:
                run.stop_workers()
        return plan.result(plan.trace)
