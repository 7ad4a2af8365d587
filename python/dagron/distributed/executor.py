"""Run the tasks of a :class:`~dagron.DAG` on a backend: threads, processes, Dask.

:class:`DistributedExecutor` walks the DAG's steps on this process (the driver) with
the rules of :class:`~dagron.DAGExecutor` (statuses, skips, ``fail_fast``,
``cancel_event``; see :mod:`dagron.executor`) and hands each runnable node to its
backend, never more at once than the backend has slots (``Backend.slots``).

Traced where they run: each node's ``NODE_STARTED`` and end event are recorded by
the worker that ran it, on its clock, and merged into the run's trace on the
driver's clock through the worker trace's origin (see
:mod:`dagron.distributed._traces`). The driver records the execution and step
events, ``NODE_SKIPPED`` / ``NODE_CANCELLED``, and the end of a node whose worker
never reported back: lost (``NODE_FAILED``, :class:`WorkerLostError`), past
``node_timeout`` (``NODE_TIMED_OUT``), or interrupted (``NODE_FAILED``). Such a node's
real start died with its worker, so its ``NODE_STARTED`` is placed at its submission
and says so (``metadata={"start": "submitted"}``).
"""

from __future__ import annotations

import pickle
import threading
import time
from collections import deque
from collections.abc import Mapping
from queue import Empty, SimpleQueue
from typing import Any, Callable, Optional, cast

from dagron._steps import (
    COMPLETED,
    FAILED,
    PENDING,
    RUNNING,
    TIMED_OUT,
    ExecutionResult,
    NodeStatus,
    StepPlan,
    check_timeout,
    describe,
    resolve_tasks,
)
from dagron.dag import DAG
from dagron.distributed._traces import SyntheticStart, WorkerTraces, merge_run
from dagron.distributed._worker import NodeOutcome, dumps, run_node
from dagron.distributed.backends import Backend
from dagron.execution.tracing import ExecutionTrace

__all__ = ["DistributedExecutor"]


class _DistributedRun:
    """One ``execute`` call's driver-side state."""

    def __init__(
        self,
        plan: StepPlan,
        backend: Backend,
        payloads: list[Any],
        tracing: bool,
        node_timeout: Optional[float],
    ) -> None:
        self.plan = plan
        self.backend = backend
        self.payloads = payloads
        self.tracing = tracing
        self.node_timeout = node_timeout
        self.serialized = backend.serializes
        self.slots = backend.slots()
        # handle -> (node index, monotonic ns at submission)
        self.inflight: dict[Any, tuple[int, int]] = {}
        self.done: SimpleQueue[Any] = SimpleQueue()
        self.parts = WorkerTraces()
        self.starts: list[SyntheticStart] = []

    def run_step(self, runnable: list[int]) -> None:
        plan = self.plan
        backend = self.backend
        inflight = self.inflight
        names = plan.names
        queue = deque(runnable)
        slots = self.slots
        args_tail = (self.tracing, self.serialized)
        while True:
            while queue and len(inflight) < slots and plan.stop_reason() is None:
                i = queue[0]
                submitted = time.monotonic_ns()
                handle = backend.submit(
                    run_node, (names[i], self.payloads[i], *args_tail), self.done.put
                )
                queue.popleft()
                # In flight before RUNNING: an interrupt between the two leaves a
                # node that abandon() ends (with its submission as its start).
                inflight[handle] = (i, submitted)
                plan.status[i] = RUNNING
            if not inflight:
                break
            try:
                first = self.done.get(timeout=self._wait_for())
            except Empty:
                pass
            else:
                self._take_done([first])
            if self.node_timeout is not None:
                self._time_out()
        plan.give_up_unstarted(runnable)  # those left by the cancel event

    def _take_done(self, handles: Optional[list[Any]] = None) -> None:
        """Take the outcomes of ``handles`` and of every other handle reported done
        so far, in one backend call (Dask fetches their results in one round trip)."""
        handles = handles or []
        while True:
            try:
                handles.append(self.done.get_nowait())
            except Empty:
                break
        entries = []
        for handle in handles:
            entry = self.inflight.pop(handle, None)
            if entry is not None:  # else: given up on already
                entries.append((handle, *entry))
        if not entries:
            return
        names = self.plan.names
        outcomes = self.backend.outcomes(
            [handle for handle, _, _ in entries], [names[i] for _, i, _ in entries]
        )
        for (_, i, submitted), outcome in zip(entries, outcomes):
            self._finish(i, submitted, outcome)

    def _wait_for(self) -> Optional[float]:
        """Seconds until the first in-flight node's ``node_timeout`` expires."""
        if self.node_timeout is None:
            return None
        first = min(submitted for _, submitted in self.inflight.values())
        return max(0.0, (first - time.monotonic_ns()) / 1e9 + self.node_timeout)

    def _finish(self, i: int, submitted: int, outcome: Any) -> None:
        """A node ended: ``outcome`` is what ``run_node`` returned for it, or the
        exception that stands for it (a lost worker)."""
        plan = self.plan
        try:
            if isinstance(outcome, BaseException):
                raise outcome
            completed, value, _, duration, part = cast(NodeOutcome, outcome)
            if self.serialized:
                value = pickle.loads(value)
        except Exception as exc:  # lost worker, or the outcome could not come back
            self._give_up_running(i, submitted, FAILED, exc)
            return
        if part is not None:
            self.parts.add(part)
        plan.durations[i] = duration
        if completed:
            plan.status[i] = COMPLETED
            plan.results[i] = value
        else:
            plan.status[i] = FAILED
            plan.errors[i] = value
            plan.any_failed = True

    def _give_up_running(
        self, i: int, submitted: int, outcome: NodeStatus, error: BaseException
    ) -> None:
        """End a submitted node on the driver's side (its worker never reported)."""
        duration = (time.monotonic_ns() - submitted) / 1e9
        if self.tracing:
            self.starts.append((self.plan.names[i], submitted))
        self.plan.end_running(i, outcome, error, duration)

    def _time_out(self) -> None:
        assert self.node_timeout is not None
        now = time.monotonic_ns()
        limit = int(self.node_timeout * 1e9)
        for handle, (i, submitted) in list(self.inflight.items()):
            if now - submitted >= limit:
                del self.inflight[handle]
                self.backend.cancel(handle)
                error = TimeoutError(
                    f"node {self.plan.names[i]!r} was still running after its "
                    f"{self.node_timeout}s node timeout"
                )
                self._give_up_running(i, submitted, TIMED_OUT, error)

    def abandon(self, escaping: BaseException) -> None:
        """An exception escapes ``execute``: give up on every node in flight (the
        driver records their ends, and their starts at submission). The run's frame
        then cancels the rest and closes the step. Nodes that have ended keep their
        outcome."""
        self._take_done()
        for handle, (i, submitted) in list(self.inflight.items()):
            self.backend.cancel(handle)
            error = RuntimeError(f"execution interrupted by {type(escaping).__name__}")
            self._give_up_running(i, submitted, FAILED, error)
        self.inflight.clear()


class DistributedExecutor:
    """Execute one callable per node of ``dag`` on ``backend``, in topological steps.

    Parameters
    ----------
    dag:
        The :class:`~dagron.DAG` to run.
    backend:
        A :class:`~dagron.distributed.ThreadBackend`,
        :class:`~dagron.distributed.ProcessBackend` or
        :class:`~dagron.distributed.DaskBackend`. The executor shuts it down when
        used as a context manager (``with DistributedExecutor(...) as executor:``) or
        by :meth:`shutdown`.
    trace, enable_tracing:
        Either one ``True`` turns tracing on (``ExecutionResult.trace``).
    fail_fast:
        As for :class:`~dagron.DAGExecutor`.
    node_timeout:
        Seconds a node may take, counted from its submission to the backend (the
        executor submits no more nodes than the backend has slots: for threads and
        processes a submitted node starts at once; ``DaskBackend`` queues a few per
        worker thread). A node not ended by then is ``TIMED_OUT``
        (``NODE_TIMED_OUT``), and counts as failed for ``fail_fast``; the backend is
        asked to cancel it, and what it returns later is ignored. ``None``: no limit.

    ``last_trace`` holds the latest run's trace (also when an exception escapes).
    """

    def __init__(
        self,
        dag: DAG,
        backend: Backend,
        *,
        trace: bool = False,
        enable_tracing: bool = False,
        fail_fast: bool = True,
        node_timeout: Optional[float] = None,
    ) -> None:
        if not isinstance(dag, DAG):
            raise TypeError(f"dag must be a dagron.DAG, not {type(dag).__name__}")
        if not isinstance(backend, Backend):
            raise TypeError(
                "backend must be a dagron.distributed backend (ThreadBackend, "
                f"ProcessBackend, DaskBackend), not {type(backend).__name__}"
            )
        self.dag = dag
        self.backend = backend
        self.tracing = bool(trace or enable_tracing)
        self.fail_fast = bool(fail_fast)
        self.node_timeout = check_timeout(node_timeout, "node_timeout")
        self.last_trace: Optional[ExecutionTrace] = None

    def __enter__(self) -> DistributedExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        """Shut the backend down (what it started: pools, an embedded cluster)."""
        self.backend.shutdown()

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

    def execute(
        self,
        tasks: Mapping[str, Optional[Callable[[], Any]]],
        cancel_event: Optional[threading.Event] = None,
    ) -> ExecutionResult:
        """Run ``tasks`` (node name -> callable without arguments) over the DAG.

        Missing tasks are ``SKIPPED``; a key that is not a node, a value that is not
        callable, or (for backends that cross processes) a task that cannot be
        pickled raises before anything runs. A task's exception makes its node
        ``FAILED`` (``NODE_FAILED``, ``error="ExcType: message"``, recorded where it
        ran); so does a lost worker. Once ``cancel_event`` is set, nodes not yet
        submitted are ``CANCELLED``. An exception escaping on the driver (e.g.
        ``KeyboardInterrupt``) gives up on the nodes in flight (``FAILED``) and
        cancels the rest, and the trace is closed and merged before it propagates.
        """
        self.last_trace = None
        names, succs, levels = self.dag._compile()
        callables = resolve_tasks(names, tasks)
        payloads = self._payloads(names, callables)
        # Made with the DAG's names, as RunState needs; nodes' own events come from
        # the workers' traces.
        driver = ExecutionTrace(_node_names=self.dag._node_names()) if self.tracing else None
        plan = StepPlan(
            names,
            succs,
            levels,
            callables,
            driver,
            fail_fast=self.fail_fast,
            cancel_event=cancel_event,
        )
        run = _DistributedRun(plan, self.backend, payloads, self.tracing, self.node_timeout)
        try:
            # As in DAGExecutor: whatever escapes, RunState.__exit__ ends what is
            # left and closes the driver's trace once.
            with plan.state:
                self.last_trace = driver
                try:
                    for runnable in plan.steps():
                        run.run_step(runnable)
                except BaseException as exc:
                    run.abandon(exc)
                    raise
        finally:
            if driver is not None and self.last_trace is driver:
                self.last_trace = merge_run(driver, run.parts, run.starts)
        assert all(state is not PENDING for state in plan.status)
        return plan.result(self.last_trace)
