"""Run the callables of a :class:`~dagron.DAG` level by level on a thread pool.

:class:`DAGExecutor` runs one task (a callable without arguments) per node, in
topological steps, and returns an :class:`ExecutionResult`. With tracing on it records
the run into a :class:`dagron.execution.tracing.ExecutionTrace`.

How a run proceeds
------------------
Step *k* holds the nodes whose longest path from a root has *k* edges (see
:meth:`dagron.DAG.levels`); a step starts when every node of the previous one has
finished. Within a step, the nodes that may run are queued at once and pulled by the
run's worker threads, so at most ``max_workers`` tasks run at any moment. Every node
ends in exactly one terminal :class:`NodeStatus`:

- ``COMPLETED``: the task returned; ``NodeResult.result`` holds its value.
- ``FAILED``: the task raised; ``NodeResult.error`` holds the exception.
- ``SKIPPED``: the node has no task; or one of its predecessors did not complete
  (whatever ``fail_fast`` is: a node never runs without its inputs); or, with
  ``fail_fast=True``, an earlier step had a failure.
- ``TIMED_OUT``: the task was still running when the run's ``timeout`` expired.
- ``CANCELLED``: the task had not started when ``cancel_event`` was set or when the
  ``timeout`` expired. (Not ``TIMED_OUT``: in the Chrome export ``NODE_TIMED_OUT``
  closes the span that ``NODE_STARTED`` opened, so it is kept for tasks that ran.)

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
(``duration``, ``error``) is recorded when the timeout expires. ``NODE_SKIPPED`` and
``NODE_CANCELLED`` are recorded when the node's step starts or when the cause is
noticed, with ``metadata={"reason": reason}``, where ``reason`` is ``"no_task"``,
``"dependency_not_completed"`` or ``"fail_fast"`` (skipped), or ``"cancelled"``,
``"timeout"`` or ``"interrupted"`` (cancelled).

Every node gets exactly one terminal event, and every ``NODE_STARTED`` is closed by
``NODE_COMPLETED``, ``NODE_FAILED`` or ``NODE_TIMED_OUT``, so every Chrome ``B`` has its
``E``. When an exception escapes from ``execute`` (see :meth:`DAGExecutor.execute`),
the open step is closed and the steps that never started get no step events.
"""

from __future__ import annotations

import _thread
import math
import os
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from queue import Empty, SimpleQueue
from typing import Any, Callable, Optional

from dagron import _core
from dagron.dag import DAG
from dagron.execution.tracing import ExecutionTrace

__all__ = ["DAGExecutor", "ExecutionResult", "NodeResult", "NodeStatus"]


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


def default_max_workers() -> int:
    """The thread cap used when ``max_workers`` is None (as ``ThreadPoolExecutor``)."""
    return min(32, (os.cpu_count() or 1) + 4)


def _describe(exc: BaseException) -> str:
    """``"ExcType: message"``, or just ``"ExcType"`` when the message is empty."""
    name = type(exc).__name__
    try:
        message = str(exc)
    except Exception:  # a broken __str__ must not kill the worker thread
        message = "<exception str() failed>"
    return f"{name}: {message}" if message else name


_PENDING = NodeStatus.PENDING
_RUNNING = NodeStatus.RUNNING
_COMPLETED = NodeStatus.COMPLETED
_FAILED = NodeStatus.FAILED
_SKIPPED = NodeStatus.SKIPPED
_TIMED_OUT = NodeStatus.TIMED_OUT
_CANCELLED = NodeStatus.CANCELLED


class _Run:
    """The state one :meth:`DAGExecutor.execute` call shares with its worker threads.

    Per-node state lives in lists indexed like ``names``. ``state`` (a
    :class:`dagron._core.RunState`) makes every transition of a node, and records its
    event when tracing, in one call: a worker starting or ending a task cannot
    interleave with the main thread closing the run (timeout or an escaping
    exception), and after the run is closed no task starts and no late end is
    recorded, so nothing is recorded after ``EXECUTION_COMPLETED``. (A
    ``threading.Lock`` around the same steps made the threads convoy: a context
    switch per node.) ``state`` also frames the run (``with run.state:``): an
    interrupt that lands anywhere in ``execute`` still leaves a closed trace.
    """

    __slots__ = (
        "any_failed",
        "blocked",
        "cancel_event",
        "deadline",
        "done",
        "durations",
        "errors",
        "names",
        "pending",
        "pool",
        "pool_size",
        "results",
        "state",
        "status",
        "stop",
        "tasks",
        "timeout_text",
    )

    def __init__(
        self,
        names: list[str],
        tasks: list[Optional[Callable[[], Any]]],
        trace: Optional[ExecutionTrace],
        cancel_event: Optional[threading.Event],
        timeout: Optional[float],
        pool_size: int,
    ) -> None:
        count = len(names)
        self.names = names
        self.tasks = tasks
        self.cancel_event = cancel_event
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.timeout_text = f"{timeout}"
        self.status = [_PENDING] * count
        self.results: list[Any] = [None] * count
        self.errors: list[Optional[BaseException]] = [None] * count
        self.durations = [0.0] * count
        self.state = _core.RunState(
            self.status,
            self.results,
            self.errors,
            self.durations,
            _RUNNING,
            _COMPLETED,
            _FAILED,
            trace,
            names=names,
            pending=_PENDING,
            skipped=_SKIPPED,
            cancelled=_CANCELLED,
            timed_out=_TIMED_OUT,
        )
        self.any_failed = False
        self.pending: deque[int] = deque()
        self.done: SimpleQueue[Optional[BaseException]] = SimpleQueue()
        # blocked[i] is set once a predecessor of node i has ended without completing.
        self.blocked = bytearray(count)
        # (outcome, reason) for every node not started yet, once the run must stop.
        self.stop: Optional[tuple[NodeStatus, str]] = None
        self.pool: Optional[_Pool] = None
        self.pool_size = pool_size

    # -- main side ----------------------------------------------------------------

    def stop_reason(self) -> Optional[tuple[NodeStatus, str]]:
        """Whether nodes that have not started must now be cancelled, and why: the
        one place that checks the cancel event and the deadline."""
        if self.cancel_event is not None and self.cancel_event.is_set():
            return (_CANCELLED, "cancelled")
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return (_CANCELLED, "timeout")
        return None

    def run_level(self, level: list[int], succs: list[list[int]], fail_fast: bool) -> None:
        """Run one step's nodes, or give them up once the run must stop."""
        if self.stop is None:
            self.stop = self.stop_reason()
        if self.stop is not None:
            for i in level:
                self.state.give_up(i, *self.stop)
            return
        runnable = [i for i in level if self._may_run(i)]
        if runnable:
            self.stop = self._run_step(runnable)
        if self.stop is None and fail_fast and self.any_failed:
            self.stop = (_SKIPPED, "fail_fast")
        if self.stop is None:
            for i in level:
                if self.status[i] is not _COMPLETED:
                    for j in succs[i]:
                        self.blocked[j] = 1

    def _may_run(self, i: int) -> bool:
        """Whether node ``i`` runs; if not, it is skipped here."""
        if self.tasks[i] is None:
            self.state.give_up(i, _SKIPPED, "no_task")
        elif self.blocked[i]:
            self.state.give_up(i, _SKIPPED, "dependency_not_completed")
        else:
            return True
        return False

    def _run_step(self, runnable: list[int]) -> Optional[tuple[NodeStatus, str]]:
        """Run ``runnable`` on the pool. Returns None, or why the nodes that have not
        started yet must be cancelled (the cancel event, or the timeout)."""
        if self.pool is None:
            self.pool = _Pool(self.pool_size)
            self.pool.start(self.done)
        self.pending.extend(runnable)
        workers = min(self.pool_size, len(runnable))
        for _ in range(workers):
            self.pool.jobs.put(self)
        for _ in range(workers):
            try:
                fatal = self.done.get(timeout=self._time_left())
            except Empty:
                self.state.time_out(self.timeout_text)
                self._give_up_pending(runnable, (_CANCELLED, "timeout"))
                return (_CANCELLED, "timeout")
            if fatal is not None:
                raise fatal
        if all(self.status[i] is not _PENDING for i in runnable):
            return None
        # Nodes the workers left queued because of the cancel event or the timeout.
        stop = self.stop_reason() or (_CANCELLED, "cancelled")
        self._give_up_pending(runnable, stop)
        return stop

    def _time_left(self) -> Optional[float]:
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    def _give_up_pending(self, nodes: list[int], stop: tuple[NodeStatus, str]) -> None:
        for i in nodes:
            if self.status[i] is _PENDING:
                self.state.give_up(i, *stop)
        self.pending.clear()

    def result(self, trace: Optional[ExecutionTrace]) -> ExecutionResult:
        status = self.status
        node_results = {
            name: NodeResult(name, state, value, error, duration)
            for name, state, value, error, duration in zip(
                self.names, status, self.results, self.errors, self.durations
            )
        }
        return ExecutionResult(
            node_results=node_results,
            succeeded=status.count(_COMPLETED),
            failed=status.count(_FAILED),
            skipped=status.count(_SKIPPED),
            timed_out=status.count(_TIMED_OUT),
            cancelled=status.count(_CANCELLED),
            total_duration_seconds=self.state.duration or 0.0,
            trace=trace,
        )

    # -- worker side --------------------------------------------------------------

    def drain(self) -> None:
        """Worker side: run queued nodes until the queue is empty or the run stops,
        then report to the main thread (with the exception that must escape, if any).

        This is the per-node hot path: locals only, and one ``state`` call per event.
        """
        pending = self.pending
        tasks = self.tasks
        start = self.state.start
        complete = self.state.complete
        may_stop = self.cancel_event is not None or self.deadline is not None
        stop_reason = self.stop_reason
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
                    self._fail(i, exc)
                    if not isinstance(exc, Exception):
                        # KeyboardInterrupt, SystemExit...: the node failed, and the
                        # exception escapes from ``execute`` in the main thread.
                        fatal = exc
                        break
                    continue
                complete(i, value)  # False (nothing done) if timed out meanwhile
        finally:
            self.done.put(fatal)

    def _fail(self, i: int, exc: BaseException) -> None:
        if self.state.fail(i, exc, _describe(exc)):
            self.any_failed = True


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
        _start_threads(self.threads, failures)

    @staticmethod
    def _work(jobs: SimpleQueue[Optional[_Run]]) -> None:
        while True:
            run = jobs.get()
            if run is None:
                jobs.put(None)  # for the next worker
                return
            run.drain()


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


class DAGExecutor:
    """Execute one callable per node of ``dag``, in topological steps, on threads.

    Parameters
    ----------
    dag:
        The :class:`~dagron.DAG` to run. Its structure is read when ``execute`` starts.
    max_workers:
        The most tasks that run at once (an ``int`` >= 1). ``None`` means as many as
        the widest step needs, capped at ``min(32, os.cpu_count() + 4)`` like
        ``concurrent.futures.ThreadPoolExecutor``.
    trace, enable_tracing:
        Either one ``True`` turns tracing on: each run then records an
        :class:`~dagron.execution.tracing.ExecutionTrace`, returned as
        ``ExecutionResult.trace``.
    fail_fast:
        With ``True`` (the default), once a step has a failed node, every node of the
        later steps is ``SKIPPED`` (the failing step itself runs to its end). With
        ``False``, only the nodes that depend, directly or not, on a node that did not
        complete are ``SKIPPED``; independent branches keep running.

    ``last_trace`` holds the trace of the latest ``execute`` call (``None`` when
    tracing is off). It is set when the run starts, so it is also available when an
    exception such as ``KeyboardInterrupt`` escapes from ``execute``.
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
        if max_workers is not None and (
            not isinstance(max_workers, int) or isinstance(max_workers, bool)
        ):
            raise TypeError(f"max_workers must be an int or None, not {max_workers!r}")
        if max_workers is not None and max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, not {max_workers}")
        self.dag = dag
        self.max_workers = max_workers
        self.tracing = bool(trace or enable_tracing)
        self.fail_fast = bool(fail_fast)
        self.last_trace: Optional[ExecutionTrace] = None

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

        ``timeout`` is in seconds for the whole run: when it expires, the tasks still
        running are ``TIMED_OUT`` and every node not started yet is ``CANCELLED``, and
        ``execute`` returns at once without waiting for the running threads (they are
        daemon threads and do not delay interpreter exit; what they return is
        discarded).

        Once ``cancel_event`` is set, nodes that have not started are ``CANCELLED``;
        tasks already running are waited for and end normally.

        An exception raised by a task never escapes (the node is ``FAILED``), except
        one that is not an ``Exception`` (``KeyboardInterrupt``, ``SystemExit``): that
        one escapes at once, after the trace has recorded the node's failure, the nodes
        still running as ``NODE_FAILED`` and the rest as ``NODE_CANCELLED``, and
        ``EXECUTION_COMPLETED``.
        """
        self.last_trace = None
        names, succs, levels = self.dag._compile()
        callables = _resolve_tasks(names, tasks)
        timeout = _check_timeout(timeout)
        # A traced run starts from the DAG's cached name table, so recording a node
        # neither looks up nor interns its name while the tasks run.
        trace = ExecutionTrace(_node_names=self.dag._node_names()) if self.tracing else None
        cap = self.max_workers if self.max_workers is not None else default_max_workers()
        pool_size = min(cap, max(map(len, levels), default=1))
        run = _Run(names, callables, trace, cancel_event, timeout, pool_size)
        # EXECUTION_STARTED; on the way out, whatever escapes and wherever an interrupt
        # lands, the run is closed (RunState.__exit__) and EXECUTION_COMPLETED recorded
        # once.
        with run.state:
            self.last_trace = trace
            try:
                for step, level in enumerate(levels):
                    run.state.step_started(step)
                    run.run_level(level, succs, self.fail_fast)
                    run.state.step_completed()
            finally:
                if run.pool is not None:
                    run.pool.jobs.put(None)  # stops the workers: one C call (see _Pool)
        return run.result(trace)


def _resolve_tasks(
    names: list[str], tasks: Mapping[str, Optional[Callable[[], Any]]]
) -> list[Optional[Callable[[], Any]]]:
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


def _check_timeout(timeout: object) -> Optional[float]:
    """``timeout`` as seconds, or None for no deadline (``None`` or infinity)."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"timeout must be a number of seconds, not {timeout!r}")
    if not timeout >= 0:
        raise ValueError(f"timeout must be >= 0, not {timeout!r}")
    return None if math.isinf(timeout) else timeout
