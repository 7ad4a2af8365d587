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

- A node still running ``timeout`` seconds after it started (``timeout`` is per
  node) is ``TIMED_OUT`` as with threads: a coroutine is cancelled; a plain
  callable cannot be, so it keeps its executor thread until it returns, and what it
  returns is discarded.
- Cancelling the task that awaits ``execute`` cancels the running nodes, which end
  ``FAILED`` with ``RuntimeError("execution interrupted by CancelledError")``
  (``NODE_FAILED``; not ``CANCELLED``, which is kept for nodes that never started,
  so that each ``NODE_STARTED`` keeps its end event), cancels the nodes not started
  (``reason="interrupted"``), records the end of the open step and
  ``EXECUTION_COMPLETED``, and re-raises ``CancelledError``, as any exception
  escaping from ``execute`` does.
- ``cancel_event`` may be a :class:`threading.Event` or an :class:`asyncio.Event`.
- Callbacks (``callbacks=``) are called on the loop, except ``on_start`` for a plain
  callable, which its executor thread calls just before the callable.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import Mapping
from typing import Any, Callable, Optional

from dagron._run import ENDED, ExecutorSettings, StepPlan, run_steps_async
from dagron._validation import default_max_workers
from dagron.results import ExecutionResult

__all__ = ["AsyncDAGExecutor"]

#: Returned by a thread that found the run closed before its node could start.
_NOT_STARTED = object()


class _AsyncRun:
    """The event loop runner (a :class:`~dagron._run.AsyncRunner`): what one
    ``execute`` call shares with its worker coroutines: the
    :class:`~dagron._run.StepPlan`, the queue of a step's nodes, the workers.

    ``plan.state`` makes each start and end of a node, and records its event, in one
    call, as in ``DAGExecutor``: plain callables start and end in executor threads,
    and once the run is closed nothing is started or recorded. A worker whose node
    timed out is cancelled, and a new one takes its place while nodes are queued.
    """

    def __init__(self, plan: StepPlan, cap: int, executor: AsyncDAGExecutor) -> None:
        self.plan = plan
        self.cap = cap
        callbacks = executor.callbacks
        self.on_start = callbacks.on_start if callbacks is not None else None
        self.on_complete = callbacks.on_complete if callbacks is not None else None
        self.is_coroutine = [
            task is not None and inspect.iscoroutinefunction(task) for task in plan.tasks
        ]
        self.pending: deque[int] = deque()
        self.workers: set[asyncio.Task[None]] = set()
        # The node each worker is running (for timeouts), and the workers this run
        # cancelled: a CancelledError seen by one of them is ours, not the task's.
        self.running_on: dict[int, Optional[asyncio.Task[None]]] = {}
        self.dropped: set[Optional[asyncio.Task[None]]] = set()
        self.fatal: Optional[BaseException] = None
        self.closing = False

    def _call_in_thread(self, i: int) -> Any:
        if not self.plan.state.start(i):
            return _NOT_STARTED
        if self.on_start is not None:
            self.on_start(self.plan.names[i])
        return self.plan.tasks[i]()  # type: ignore[misc]

    async def _drain(self) -> None:
        """One worker: run queued nodes until none is left or the run stops."""
        plan = self.plan
        pending = self.pending
        state = plan.state
        tasks = plan.tasks
        me = asyncio.current_task()
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
                    self.running_on[i] = me
                    if self.on_start is not None:
                        self.on_start(plan.names[i])
                    value = await tasks[i]()  # type: ignore[misc]
                else:
                    self.running_on[i] = me
                    value = await loop.run_in_executor(None, self._call_in_thread, i)
                    if value is _NOT_STARTED:
                        return
                    if inspect.isawaitable(value):
                        value = await value
                if self.on_complete is not None:
                    self.on_complete(plan.names[i], value)
            except BaseException as exc:
                if isinstance(exc, asyncio.CancelledError) and (
                    self.closing or me in self.dropped
                ):
                    raise  # this run cancelled the worker
                self.running_on.pop(i, None)
                fatal = plan.fail(i, exc)
                if isinstance(exc, asyncio.CancelledError) and fatal is exc:
                    fatal = None  # raised by the task itself: its node fails, no more
                if fatal is None:
                    continue
                if fatal is not ENDED:
                    self.fatal = fatal  # it escapes from ``execute``
                return
            self.running_on.pop(i, None)
            if not state.complete(i, value):
                return

    async def run_step(self, runnable: list[int]) -> None:
        """Run one step's runnable nodes on at most ``cap`` worker coroutines."""
        plan = self.plan
        self.pending.extend(runnable)
        loop = asyncio.get_running_loop()
        self.workers = {
            loop.create_task(self._drain()) for _ in range(min(self.cap, len(runnable)))
        }
        waiting = set(self.workers)
        wait = plan.timeout
        while waiting:
            done, waiting = await asyncio.wait(
                waiting, timeout=wait, return_when=asyncio.FIRST_COMPLETED
            )
            if self.fatal is not None:
                raise self.fatal
            for worker in done:
                if not worker.cancelled() and worker.exception() is not None:
                    raise worker.exception()  # type: ignore[misc]
            if plan.timeout is not None:
                ended, wait = plan.overdue(runnable)
                for i in ended:
                    stuck = self.running_on.pop(i, None)
                    if stuck is not None:
                        self.dropped.add(stuck)
                        stuck.cancel()
                        waiting.discard(stuck)
                    if self.pending:
                        fresh = loop.create_task(self._drain())
                        self.workers.add(fresh)
                        waiting.add(fresh)
        self.workers = set()
        # Nodes the workers left queued because of the cancel event.
        plan.give_up_unstarted(runnable)
        self.pending.clear()

    def close(self, escaping: Optional[BaseException]) -> None:
        """Cancel the worker coroutines (not awaited) and drop the queued nodes; the
        run's frame ends the nodes left running."""
        self.closing = True
        for worker in self.workers:
            worker.cancel()
        self.workers = set()
        self.pending.clear()


class AsyncDAGExecutor(ExecutorSettings):
    """Execute one task per node of ``dag``, in topological steps, on asyncio.

    Parameters are those of :class:`~dagron.DAGExecutor` (upstream's, in its order):
    ``max_workers`` bounds how many nodes run at once (``None``: as many as the
    widest step, capped at ``min(32, os.cpu_count() + 4)``), ``costs`` orders each
    step's nodes, ``callbacks`` are called as nodes start and end, ``fail_fast``
    says whether a node with a failed or timed-out ancestor is skipped,
    ``enable_tracing=True`` or ``trace=True`` turns tracing on. ``last_trace`` holds
    the latest run's trace, also when an exception (or cancellation) escapes from
    ``execute``.
    """

    async def execute(
        self,
        tasks: Mapping[str, Optional[Callable[[], Any]]],
        timeout: Optional[float] = None,
        cancel_event: Any = None,
    ) -> ExecutionResult:
        """Run ``tasks`` (node name -> coroutine function or callable, no arguments).

        Same rules as :meth:`dagron.DAGExecutor.execute`: missing tasks are
        ``SKIPPED``; ``timeout`` (seconds, per node) ends a node still running that
        long after it started as ``TIMED_OUT``; once ``cancel_event`` is set, nodes
        not started are ``CANCELLED`` and running ones are waited for; an exception
        a task raises makes its node ``FAILED``, except ``KeyboardInterrupt`` /
        ``SystemExit``, which escape after the trace is closed. See the module doc
        for cancellation.
        """
        plan = self._plan(tasks, timeout, cancel_event)
        cap = self.max_workers if self.max_workers is not None else default_max_workers()
        await run_steps_async(
            plan, _AsyncRun(plan, cap, self), lambda: setattr(self, "last_trace", plan.trace)
        )
        return plan.result(plan.trace)
