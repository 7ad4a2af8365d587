"""Run the callables of a :class:`~dagron.DAG` level by level on a thread pool.

:class:`DAGExecutor` runs one task (a callable without arguments) per node, in
topological steps, and returns an :class:`ExecutionResult`. With tracing on it records
the run into a :class:`dagron.execution.tracing.ExecutionTrace`. Its constructor and
``execute`` take upstream dagron's parameters, in upstream's order, with the same
meaning (see ``docs/executors.md``).

How a run proceeds
------------------
Step *k* holds the nodes whose longest path from a root has *k* edges (see
:meth:`dagron.DAG.levels`); a step starts when every node of the previous one has
ended. Within a step, the nodes that may run are queued at once (the costliest first
when ``costs`` are given) and pulled by the run's worker threads, so at most
``max_workers`` tasks run at any moment. Every node ends in exactly one terminal
:class:`NodeStatus`:

- ``COMPLETED``: the task returned; ``NodeResult.result`` holds its value.
- ``FAILED``: the task raised; ``NodeResult.error`` holds the exception.
- ``SKIPPED``: the node has no task (reason ``"no_task"``; this holds nothing back:
  its dependents run), or, with ``fail_fast=True``, one of its ancestors (direct or
  not) failed or timed out (reason ``"fail_fast"``). With ``fail_fast=False`` every
  node that has a task runs, whatever its ancestors did.
- ``TIMED_OUT``: the task was still running ``timeout`` seconds after it started
  (``timeout`` is per node). ``execute`` does not wait for it; for ``fail_fast`` it
  counts as failed.
- ``CANCELLED``: the task had not started when ``cancel_event`` was set (reason
  ``"cancelled"``), or an exception escaping from ``execute`` left it unstarted
  (reason ``"interrupted"``).

The trace of a run
------------------
``EXECUTION_STARTED`` comes first and ``EXECUTION_COMPLETED`` (``duration`` = the run's
seconds) last, even when an exception escapes. Each step is framed by ``STEP_STARTED``
and ``STEP_COMPLETED`` (``step_index``; the latter also has the step's ``duration``),
including the steps whose nodes are all skipped or cancelled.
A task's worker thread records ``NODE_STARTED`` just before calling it and
``NODE_COMPLETED`` (``duration``) or ``NODE_FAILED`` (``duration``,
``error="ExcType: message"``) just after, so the Chrome export shows the true overlap
of parallel tasks. A node's ``duration`` (in the event and in its ``NodeResult``) is
the time between the clock readings that stamp these two events. ``NODE_TIMED_OUT``
(``duration``, ``error``) is recorded when the node's timeout is noticed.
``NODE_SKIPPED`` and ``NODE_CANCELLED`` are recorded when the node's step starts or
when the cause is noticed, with ``metadata={"reason": reason}`` (the reasons above).

Every node gets exactly one terminal event, and every ``NODE_STARTED`` is closed by
``NODE_COMPLETED``, ``NODE_FAILED`` or ``NODE_TIMED_OUT``, so every Chrome ``B`` has its
``E``. When an exception escapes from ``execute`` (see :meth:`DAGExecutor.execute`),
the open step is closed and the steps that never started get no step events.
"""

from __future__ import annotations

import _thread
import os
import threading
from collections import deque
from collections.abc import Mapping
from queue import Empty, SimpleQueue
from typing import Any, Callable, Optional

from dagron._run import ENDED, ExecutorSettings, StepPlan, run_steps
from dagron._validation import default_max_workers
from dagron.results import ExecutionCallbacks, ExecutionResult, NodeResult, NodeStatus

__all__ = ["DAGExecutor", "ExecutionCallbacks", "ExecutionResult", "NodeResult", "NodeStatus"]


class _Run:
    """The thread pool runner (a :class:`~dagron._run.Runner`): what one
    :meth:`DAGExecutor.execute` call shares with its worker threads: the
    :class:`~dagron._run.StepPlan` (rules, node lists, ``RunState``), the queue of
    a step's nodes, and the pool.

    ``plan.state`` makes every transition of a node, and records its event when
    tracing, in one call: a worker starting or ending a task cannot interleave with
    the main thread timing it out or closing the run, and after the run is closed no
    task starts and no late end is recorded, so nothing is recorded after
    ``EXECUTION_COMPLETED``. (A ``threading.Lock`` around the same steps made the
    threads convoy: a context switch per node.)

    A worker whose node timed out is left to its task and ends when the task does,
    without reporting; a new thread takes its place in the pool.
    """

    __slots__ = ("done", "pending", "plan", "pool", "pool_size", "tasks")

    def __init__(self, plan: StepPlan, pool_size: int, callbacks: Optional[ExecutionCallbacks]):
        self.plan = plan
        self.pending: deque[int] = deque()
        self.done: SimpleQueue[Optional[BaseException]] = SimpleQueue()
        self.pool: Optional[_Pool] = None
        self.pool_size = pool_size
        self.tasks = _with_callbacks(plan, callbacks)

    # -- main side ----------------------------------------------------------------

    def run_step(self, runnable: list[int]) -> None:
        """Run ``runnable`` on the pool until each node has ended (or was left
        queued for the cancel event, then given up)."""
        plan = self.plan
        if self.pool is None:
            self.pool = _Pool(self.pool_size)
            self.pool.start(self.done)
        pool = self.pool
        self.pending.extend(runnable)
        waiting = min(self.pool_size, len(runnable))  # workers yet to report
        for _ in range(waiting):
            pool.jobs.put(self)
        timed = plan.timeout is not None
        wait = plan.timeout
        while waiting:
            try:
                fatal = self.done.get(timeout=wait)
            except Empty:
                pass
            else:
                if fatal is not None:
                    raise fatal
                waiting -= 1
            if timed:
                ended, wait = plan.overdue(runnable)
                for _ in ended:
                    # Its worker stays with the task, will not report, and ends with
                    # it: a new thread takes its place in the pool.
                    pool.add_thread()
                    if self.pending:
                        pool.jobs.put(self)
                    else:
                        waiting -= 1
        # Nodes the workers left queued because of the cancel event.
        plan.give_up_unstarted(runnable)
        self.pending.clear()

    def close(self, escaping: Optional[BaseException]) -> None:
        if self.pool is not None:
            self.pool.jobs.put(None)  # stops the workers: one C call (see _Pool)

    # -- worker side --------------------------------------------------------------

    def drain(self) -> bool:
        """Worker side: run queued nodes until the queue is empty or the run stops,
        then report to the main thread (with the exception that must escape, if any)
        and return True; return False, without reporting, when this worker's node
        ended without it (timed out, or the run was closed): the worker then ends.

        This is the per-node hot path: locals only, and one ``state`` call per event.
        """
        plan = self.plan
        pending = self.pending
        tasks = self.tasks
        start = plan.state.start
        complete = plan.state.complete
        fail = plan.fail
        may_stop = plan.cancel_event is not None
        stop_reason = plan.stop_reason
        fatal = None
        try:
            while True:
                if may_stop and stop_reason() is not None:
                    break
                try:
                    i = pending.popleft()
                except IndexError:
                    break
                if not start(i):  # the run was closed
                    break
                try:
                    value = tasks[i]()  # type: ignore[misc]
                except BaseException as exc:
                    fatal = fail(i, exc)
                    if fatal is None:
                        continue
                    if fatal is ENDED:
                        return False  # timed out meanwhile: replaced
                    break  # it escapes from ``execute`` in the main thread
                if not complete(i, value):
                    return False  # timed out meanwhile: replaced
        except BaseException as exc:  # an interrupt between two calls above
            fatal = exc
        self.done.put(fatal)
        return True


def _with_callbacks(
    plan: StepPlan, callbacks: Optional[ExecutionCallbacks]
) -> list[Optional[Callable[[], Any]]]:
    """The callables the workers call: the tasks themselves, or, with ``on_start`` or
    ``on_complete``, each wrapped to call them around its task (so that a run without
    callbacks pays nothing for them)."""
    if callbacks is None or (callbacks.on_start is None and callbacks.on_complete is None):
        return plan.tasks
    on_start = callbacks.on_start
    on_complete = callbacks.on_complete

    def wrap(name: str, task: Callable[[], Any]) -> Callable[[], Any]:
        def call() -> Any:
            if on_start is not None:
                on_start(name)
            value = task()
            if on_complete is not None:
                on_complete(name, value)
            return value

        return call

    return [
        None if task is None else wrap(name, task) for name, task in zip(plan.names, plan.tasks)
    ]


class _Pool:
    """Daemon worker threads that live for one run and run :meth:`_Run.drain` jobs.

    Daemon threads (rather than ``concurrent.futures``, whose workers are joined at
    interpreter exit) let ``execute`` return on a timeout without waiting for a task
    that never ends. They are started by a helper thread (see :func:`_start_threads`)
    and stopped by one ``jobs.put(None)``, a single C call that an interrupt cannot
    cut short (each worker passes the ``None`` on and ends); they are not joined. Both
    because ``threading`` waits on a ``Condition`` to start and to join a thread, and
    a ``KeyboardInterrupt`` landing in such a wait in the main thread can break it
    (``RuntimeError: release unlocked lock``, or a thread that never starts) on
    CPython 3.11.
    """

    def __init__(self, size: int) -> None:
        self.jobs: SimpleQueue[Optional[_Run]] = SimpleQueue()
        self.threads = [
            threading.Thread(
                target=self._work, args=(self.jobs,), name=f"dagron-worker-{n}", daemon=True
            )
            for n in range(size)
        ]

    def start(self, failures: SimpleQueue[Optional[BaseException]]) -> None:
        """Start the threads; an error starting one is put in ``failures``."""
        self.failures = failures
        _start_threads(self.threads, failures)

    def add_thread(self) -> None:
        """Start one more thread, to take the place of one whose node timed out."""
        thread = threading.Thread(
            target=self._work,
            args=(self.jobs,),
            name=f"dagron-worker-{len(self.threads)}",
            daemon=True,
        )
        self.threads.append(thread)
        _start_threads([thread], self.failures)

    @staticmethod
    def _work(jobs: SimpleQueue[Optional[_Run]]) -> None:
        while True:
            run = jobs.get()
            if run is None:
                jobs.put(None)  # for the next worker
                return
            if not run.drain():
                return  # replaced (its node timed out), or the run is over


# (pid, requests) of the thread that starts worker threads for this process.
_starter: Optional[tuple[int, SimpleQueue[Any]]] = None


def _start_threads(
    threads: list[threading.Thread], failures: SimpleQueue[Optional[BaseException]]
) -> None:
    """Have a helper thread start ``threads``: signal handlers run only in the main
    thread, so no interrupt lands in the waits of ``Thread.start`` there. The helper
    is a low-level thread (``_thread.start_new_thread`` returns without waiting), one
    per process (made again in a forked child)."""
    global _starter
    starter = _starter
    if starter is None or starter[0] != os.getpid():
        requests: SimpleQueue[Any] = SimpleQueue()
        _thread.start_new_thread(_start_forever, (requests,))
        starter = _starter = (os.getpid(), requests)
    starter[1].put((threads, failures))


def _start_forever(requests: SimpleQueue[Any]) -> None:
    while True:
        threads, failures = requests.get()
        for thread in threads:
            try:
                thread.start()
            except BaseException as exc:  # e.g. "can't start new thread"
                failures.put(exc)  # the run's main thread raises it
                break


class DAGExecutor(ExecutorSettings):
    """Execute one callable per node of ``dag``, in topological steps, on threads.

    Parameters (upstream dagron's, in its order; ``trace`` is this project's name
    for ``enable_tracing``)
    ----------
    dag:
        The :class:`~dagron.DAG` to run. Its structure is read when ``execute`` starts.
    max_workers:
        The most tasks that run at once (an ``int`` >= 1). ``None`` means as many as
        the widest step needs, capped at ``min(32, os.cpu_count() + 4)`` like
        ``concurrent.futures.ThreadPoolExecutor``.
    costs:
        Estimated seconds per node name (a node not named counts 1.0): each step
        queues its nodes the costliest first. ``None``: the DAG's order.
    callbacks:
        An :class:`ExecutionCallbacks`, called as nodes start, complete, fail or are
        skipped (see there, also for a callback that raises).
    fail_fast:
        With ``True`` (the default), a node with a failed or timed-out ancestor is
        ``SKIPPED``. With ``False``, every node that has a task runs.
    enable_tracing, trace:
        Either one ``True`` turns tracing on: each run then records an
        :class:`~dagron.execution.tracing.ExecutionTrace`, returned as
        ``ExecutionResult.trace``.

    ``last_trace`` holds the trace of the latest ``execute`` call (``None`` when
    tracing is off). It is set when the run starts, so it is also available when an
    exception such as ``KeyboardInterrupt`` escapes from ``execute``.
    """

    def execute(
        self,
        tasks: Mapping[str, Optional[Callable[[], Any]]],
        timeout: Optional[float] = None,
        cancel_event: Optional[threading.Event] = None,
    ) -> ExecutionResult:
        """Run ``tasks`` (node name -> callable without arguments) over the DAG.

        A node missing from ``tasks`` (or mapped to ``None``) is ``SKIPPED``; a key
        that is not a node raises ``ValueError`` and a value that is not callable
        ``TypeError``, before anything runs.

        ``timeout`` is in seconds, per node: a task still running ``timeout`` seconds
        after it started is ``TIMED_OUT``, and nothing waits for it (its thread is a
        daemon thread, which does not delay interpreter exit; what it returns is
        discarded; another thread takes its place). ``execute`` returns as soon as
        every other node has ended.

        Once ``cancel_event`` is set, nodes that have not started are ``CANCELLED``;
        tasks already running are waited for and end normally.

        An exception raised by a task never escapes (the node is ``FAILED``), except
        one that is not an ``Exception`` (``KeyboardInterrupt``, ``SystemExit``): that
        one escapes at once, after the trace has recorded the node's failure, the nodes
        still running as ``NODE_FAILED`` and the rest as ``NODE_CANCELLED``, and
        ``EXECUTION_COMPLETED``. So does one raised by ``on_failure`` or ``on_skip``.
        """
        plan = self._plan(tasks, timeout, cancel_event)
        cap = self.max_workers if self.max_workers is not None else default_max_workers()
        run = _Run(plan, min(cap, max(map(len, plan.levels), default=1)), self.callbacks)
        run_steps(plan, run, lambda: setattr(self, "last_trace", plan.trace))
        return plan.result(plan.trace)
