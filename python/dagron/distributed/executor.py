"""Run the tasks of a :class:`~dagron.DAG` on a backend: threads, processes, Dask.

:class:`DistributedExecutor` walks the DAG's steps on this process (the driver) with
the rules of :class:`~dagron.DAGExecutor` (statuses, skips, ``fail_fast``, the
per-node ``timeout``, ``cancel_event``; see :mod:`dagron.executor`), through the same
skeleton (:func:`dagron._run.run_steps`), and hands each runnable node to its
backend, never more at once than the backend has slots (``Backend.slots``).

Traced where they run: each node's ``NODE_STARTED`` and end event are recorded by
the worker that ran it, on its clock, and merged into the run's trace on the
driver's clock through the worker trace's origin (see
:mod:`dagron.distributed._traces`). The driver records the execution and step
events, ``NODE_SKIPPED`` / ``NODE_CANCELLED``, and the end of a node whose worker
never reported back: lost (``NODE_FAILED``, :class:`WorkerLostError`), past its
``timeout`` (``NODE_TIMED_OUT``), or interrupted (``NODE_FAILED``). Such a node's
real start died with its worker, so its ``NODE_STARTED`` is placed at its submission
and says so (``metadata={"start": "submitted"}``). The node's state itself is only
written by the run's ``RunState``, as for the other executors: ``start_elsewhere``
at submission, ``settle`` with what the worker reported.
"""

from __future__ import annotations

import pickle
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from queue import Empty, SimpleQueue
from typing import Any, Callable, Optional, cast

from dagron._run import ENDED, FAILED, TIMED_OUT, ExecutorSettings, StepPlan, run_steps
from dagron._validation import check_timeout, describe
from dagron.dag import DAG
from dagron.distributed._traces import WorkerTraces, merge_run
from dagron.distributed._worker import NodeOutcome, dumps, loads_failure, run_node
from dagron.distributed.backends import Backend, ProtocolBackend
from dagron.execution.tracing import ExecutionTrace
from dagron.results import ExecutionCallbacks, ExecutionResult

__all__ = ["DistributedExecutionResult", "DistributedExecutor"]


@dataclass
class DistributedExecutionResult(ExecutionResult):
    """An :class:`~dagron.ExecutionResult` with what upstream's distributed result
    adds: ``backend_name`` (the backend's ``name``) and ``dispatch_info`` (node name
    -> ``{"backend": backend_name}`` for each node that completed).
    ``execution_result`` is the result itself, for code written for upstream (where
    it wraps an ``ExecutionResult``)."""

    backend_name: str = ""
    dispatch_info: dict[str, Any] = field(default_factory=dict)

    @property
    def execution_result(self) -> DistributedExecutionResult:
        return self


class _DistributedRun:
    """The backend runner (a :class:`~dagron._run.Runner`): one ``execute``
    call's driver-side state."""

    def __init__(
        self,
        plan: StepPlan,
        backend: Backend,
        payloads: list[Any],
        tracing: bool,
        callbacks: Optional[ExecutionCallbacks],
    ) -> None:
        self.plan = plan
        self.backend = backend
        self.payloads = payloads
        self.tracing = tracing
        self.on_start = callbacks.on_start if callbacks is not None else None
        self.on_complete = callbacks.on_complete if callbacks is not None else None
        self.serialized = backend.serializes
        self.slots = backend.slots()
        self.inflight: dict[Any, int] = {}  # handle -> node
        self.handles: dict[int, Any] = {}  # node -> handle
        # Handles of timed-out nodes whose worker has not reported yet: the backend
        # cannot stop them, so they still hold a slot.
        self.overdue: set[Any] = set()
        # node -> monotonic ns at submission, until its worker's trace is taken; the
        # nodes left at the end get their NODE_STARTED there.
        self.submitted: dict[int, int] = {}
        self.done: SimpleQueue[Any] = SimpleQueue()
        self.parts = WorkerTraces()
        self.dispatch_info: dict[str, Any] = {}

    def run_step(self, runnable: list[int]) -> None:
        plan = self.plan
        state = plan.state
        backend = self.backend
        inflight = self.inflight
        names = plan.names
        queue = deque(runnable)
        slots = self.slots
        args_tail = (self.tracing, self.serialized)
        wait = plan.timeout
        while True:
            while (
                queue and len(inflight) + len(self.overdue) < slots and plan.stop_reason() is None
            ):
                i = queue.popleft()
                if self.on_start is not None:
                    try:
                        self.on_start(names[i])
                    except Exception as exc:  # the node fails, as if its task raised
                        self.submitted[i] = time.monotonic_ns()
                        state.start_elsewhere(i)
                        fatal = plan.fail(i, exc)
                        if fatal is not None and fatal is not ENDED:
                            raise fatal from exc
                        continue
                submitted = time.monotonic_ns()
                handle = backend.submit_node(
                    run_node, (names[i], self.payloads[i], *args_tail), self.done.put
                )
                # In flight before RUNNING: an interrupt between the two leaves a
                # node that the run's frame cancels (its late outcome is ignored).
                inflight[handle] = i
                self.handles[i] = handle
                self.submitted[i] = submitted
                state.start_elsewhere(i)
            if not inflight and not (queue and self.overdue):
                break
            try:
                first = self.done.get(timeout=wait)
            except Empty:
                pass
            else:
                self._take_done([first])
            if plan.timeout is not None:
                ended, wait = plan.overdue(list(self.handles))
                for i in ended:
                    handle = self.handles.pop(i)
                    del inflight[handle]
                    backend.cancel(handle)
                    self.overdue.add(handle)
        plan.give_up_unstarted(runnable)  # those left by the cancel event

    def _take_done(self, handles: list[Any]) -> None:
        """Take the outcomes of ``handles`` and of every other handle reported done
        so far, in one backend call (Dask fetches their results in one round trip).
        A task's ``KeyboardInterrupt`` or ``SystemExit`` is raised once all are
        taken."""
        while True:
            try:
                handles.append(self.done.get_nowait())
            except Empty:
                break
        entries = []
        for handle in handles:
            i = self.inflight.pop(handle, None)
            self.overdue.discard(handle)
            if i is not None:  # else: given up on already
                del self.handles[i]
                entries.append((handle, i))
        if not entries:
            return
        names = self.plan.names
        outcomes = self.backend.outcomes(
            [handle for handle, _ in entries], [names[i] for _, i in entries]
        )
        fatal = None
        for (_, i), outcome in zip(entries, outcomes):
            escaping = self._finish(i, outcome)
            fatal = fatal or escaping
        if fatal is not None:
            raise fatal

    def _finish(self, i: int, outcome: Any) -> Optional[BaseException]:
        """A node ended: ``outcome`` is what ``run_node`` returned for it, or the
        exception that stands for it (a lost worker). Returns the exception that
        must escape from ``execute`` (the task's ``KeyboardInterrupt``...), if any."""
        plan = self.plan
        name = plan.names[i]
        if isinstance(outcome, BaseException):  # the worker never reported
            return self._escaping(plan.fail(i, outcome))
        completed, value, text, duration, part = cast(NodeOutcome, outcome)
        if self.serialized:
            if not completed:
                value = loads_failure(value, text)
            else:
                try:
                    value = pickle.loads(value)
                except Exception as exc:  # the value cannot be rebuilt here
                    error = TypeError(
                        f"the result of node {name!r} cannot be unpickled: {describe(exc)}"
                    )
                    return self._escaping(plan.fail(i, error))
        if completed and self.on_complete is not None:
            try:
                self.on_complete(name, value)
            except Exception as exc:  # the node fails (the driver records it)
                return self._escaping(plan.fail(i, exc))
        if part is not None:
            self.parts.add(part)
            del self.submitted[i]
        if completed:
            plan.state.settle(i, True, value, duration)
            self.dispatch_info[name] = {"backend": self.backend.name}
            return None
        return self._escaping(plan.failed(i, value, plan.state.settle(i, False, value, duration)))

    @staticmethod
    def _escaping(fatal: Any) -> Optional[BaseException]:
        return None if fatal is ENDED else cast(Optional[BaseException], fatal)

    def close(self, escaping: Optional[BaseException]) -> None:
        """Give up on every node in flight (the run's frame ends them); nodes that
        have ended keep their outcome."""
        for handle in self.inflight:
            self.backend.cancel(handle)
        self.inflight.clear()
        self.handles.clear()


def as_backend(backend: object) -> Backend:
    """``backend`` as the executor drives it: one of ours, or one written to
    upstream's ``DistributedBackend`` protocol (adapted by ``ProtocolBackend``)."""
    if isinstance(backend, Backend):
        return backend
    if all(callable(getattr(backend, m, None)) for m in ("submit", "result", "shutdown")):
        return ProtocolBackend(backend)
    raise TypeError(
        "backend must be a dagron.distributed backend (ThreadBackend, ProcessBackend, "
        "DaskBackend) or follow upstream's DistributedBackend protocol (submit, result, "
        f"shutdown, name), not {type(backend).__name__}"
    )


class DistributedExecutor:
    """Execute one callable per node of ``dag`` on ``backend``, in topological steps.

    Parameters (upstream dagron's, in its order; ``trace`` is this project's name
    for ``enable_tracing``)
    ----------
    dag:
        The :class:`~dagron.DAG` to run.
    backend:
        A :class:`~dagron.distributed.ThreadBackend`,
        :class:`~dagron.distributed.ProcessBackend` or
        :class:`~dagron.distributed.DaskBackend`, or a backend of your own written to
        upstream's :class:`~dagron.distributed.DistributedBackend` protocol. The
        executor shuts it down when used as a context manager
        (``with DistributedExecutor(...) as executor:``) or by :meth:`shutdown`.
    callbacks:
        An :class:`~dagron.ExecutionCallbacks`; every call is made on the driver:
        ``on_start`` when the node is submitted, ``on_complete`` / ``on_failure``
        when its outcome comes back, ``on_skip`` when it is skipped.
    fail_fast:
        As for :class:`~dagron.DAGExecutor`.
    enable_tracing, trace:
        Either one ``True`` turns tracing on (``ExecutionResult.trace``).
    node_timeout:
        The default of ``execute``'s ``timeout``.

    ``last_trace`` holds the latest run's trace (also when an exception escapes).
    """

    def __init__(
        self,
        dag: DAG,
        backend: Any,
        callbacks: Optional[ExecutionCallbacks] = None,
        fail_fast: bool = True,
        enable_tracing: bool = False,
        node_timeout: Optional[float] = None,
        *,
        trace: bool = False,
    ) -> None:
        self._settings = ExecutorSettings(
            dag, None, None, callbacks, fail_fast, enable_tracing, trace=trace
        )
        self.dag = dag
        self.backend = as_backend(backend)
        self.tracing = self._settings.tracing
        self.fail_fast = self._settings.fail_fast
        self.callbacks = self._settings.callbacks
        self.node_timeout = check_timeout(node_timeout, "node_timeout")
        self._last_trace: Optional[ExecutionTrace] = None
        # (driver trace, run) of the latest run until its trace is merged.
        self._unmerged: Optional[tuple[ExecutionTrace, _DistributedRun]] = None

    @property
    def last_trace(self) -> Optional[ExecutionTrace]:
        """The latest run's trace (``None`` when tracing is off), merged with its
        workers' traces once the run has ended. Merged when first read, so that an
        interrupt landing at any moment of ``execute`` cannot leave it unmerged."""
        unmerged = self._unmerged
        if unmerged is not None:
            driver, run = unmerged
            if run.plan.state.duration is None:  # still running
                return driver
            self._last_trace = self._merge(driver, run)
            self._unmerged = None
        return self._last_trace

    @last_trace.setter
    def last_trace(self, trace: Optional[ExecutionTrace]) -> None:
        self._unmerged = None
        self._last_trace = trace

    def __enter__(self) -> DistributedExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def shutdown(self, wait: bool = True) -> None:
        """Shut the backend down (what it started: pools, an embedded cluster)."""
        self.backend.shutdown(wait)

    def _payloads(self, names: list[str], callables: list[Optional[Any]]) -> list[Any]:
        """The tasks as the backend takes them: pickled when it crosses processes,
        with an error naming the node whose task cannot be pickled."""
        if not self.backend.serializes:
            return callables
        payloads: list[Any] = []
        for name, task in zip(names, callables):
            if task is None:
                payloads.append(None)
                continue
            try:
                payloads.append(dumps(task))
            except Exception as exc:
                raise TypeError(
                    f"the task for node {name!r} cannot be pickled to run on "
                    f"{type(self.backend).__name__}: {describe(exc)}"
                ) from exc
        return payloads

    @staticmethod
    def _merge(driver: ExecutionTrace, run: _DistributedRun) -> ExecutionTrace:
        """The driver's trace merged with the workers' (the nodes the driver ended,
        lost, timed out or interrupted, get their NODE_STARTED at their
        submission)."""
        plan = run.plan
        ended_here = (FAILED, TIMED_OUT)
        starts = [
            (plan.names[i], ns) for i, ns in run.submitted.items() if plan.status[i] in ended_here
        ]
        return merge_run(driver, run.parts, starts)

    def execute(
        self,
        tasks: Mapping[str, Optional[Callable[[], Any]]],
        timeout: Optional[float] = None,
        cancel_event: Optional[threading.Event] = None,
    ) -> DistributedExecutionResult:
        """Run ``tasks`` (node name -> callable without arguments) over the DAG.

        The rules of :meth:`dagron.DAGExecutor.execute`: missing tasks are
        ``SKIPPED``; a key that is not a node, a value that is not callable, or (for
        backends that cross processes) a task that cannot be pickled raises before
        anything runs. A task's exception makes its node ``FAILED``
        (``NODE_FAILED``, ``error="ExcType: message"``, recorded where it ran); so
        does a lost worker. ``timeout`` (default: ``node_timeout``) is per node,
        counted from its submission (the executor submits no more nodes than the
        backend has slots: for threads and processes a submitted node starts at
        once); the backend is asked to cancel a timed-out node, and what it returns
        later is ignored. Once ``cancel_event`` is set, nodes not yet submitted are
        ``CANCELLED``. A task's ``KeyboardInterrupt`` or ``SystemExit`` fails its
        node and then escapes, as does an exception escaping on the driver: the
        nodes in flight are given up (``FAILED``), the rest cancelled, and the
        trace is closed and merged before it propagates.
        """
        self.last_trace = None
        if timeout is None:
            timeout = self.node_timeout
        plan = self._settings._plan(tasks, timeout, cancel_event)
        payloads = self._payloads(plan.names, plan.tasks)
        # The driver's trace; nodes' own events come from the workers' traces.
        driver = plan.trace
        run = _DistributedRun(plan, self.backend, payloads, self.tracing, self.callbacks)

        def started() -> None:  # the run's frame is open: one assignment
            if driver is not None:
                self._unmerged = (driver, run)

        run_steps(plan, run, started)
        result = plan.result(self.last_trace, DistributedExecutionResult)
        result.backend_name = self.backend.name
        result.dispatch_info = run.dispatch_info
        return cast(DistributedExecutionResult, result)
