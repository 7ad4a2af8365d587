"""The public result types of a run: :class:`NodeStatus`, :class:`NodeResult`,
:class:`ExecutionResult` and :class:`ExecutionCallbacks` (importable from
:mod:`dagron`, :mod:`dagron.executor` and :mod:`dagron.execution`, as upstream's)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Optional

from dagron.execution.tracing import ExecutionTrace

__all__ = ["ExecutionCallbacks", "ExecutionResult", "NodeResult", "NodeStatus"]


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
    task's wall time: until it returned or raised, or until it timed out for
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
    :class:`NodeResult`; ``result[name]`` is ``result.node_results[name]`` and
    ``name in result`` asks whether the run had that node. ``succeeded``, ``failed``,
    ``skipped``, ``timed_out`` and ``cancelled`` count the nodes that ended
    ``COMPLETED``, ``FAILED``, ``SKIPPED``, ``TIMED_OUT`` and ``CANCELLED``.
    ``total_duration_seconds`` is the run's wall time. ``trace`` is the run's
    :class:`~dagron.execution.tracing.ExecutionTrace`, or ``None`` when tracing is off.
    """

    node_results: dict[str, NodeResult] = field(default_factory=dict)
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    timed_out: int = 0
    cancelled: int = 0
    total_duration_seconds: float = 0.0
    trace: Optional[ExecutionTrace] = None

    def __getitem__(self, node: Any) -> NodeResult:
        """The :class:`NodeResult` of ``node`` (its name, or an object with a
        ``name``); ``KeyError`` for a node the run did not have."""
        return self.node_results[node if isinstance(node, str) else node.name]

    def __contains__(self, node: object) -> bool:
        name = node if isinstance(node, str) else getattr(node, "name", None)
        return isinstance(name, str) and name in self.node_results


@dataclass
class ExecutionCallbacks:
    """Functions an executor calls as a run proceeds (each optional).

    ``on_start(name)`` just before a node's task is called, where it runs (a worker
    thread, the event loop); ``on_complete(name, value)`` once it returned, before
    the node is ``COMPLETED``; ``on_failure(name, exc)`` once it is ``FAILED``;
    ``on_skip(name)`` when it is ``SKIPPED``. A timed-out or cancelled node gets no
    call. :class:`~dagron.distributed.DistributedExecutor` makes every call on the
    driver (``on_start`` when it submits the node).

    A callback that raises: from ``on_start`` or ``on_complete``, the node is
    ``FAILED`` with that exception (as if its task had raised it, and
    ``on_failure`` is called with it); from ``on_failure`` or ``on_skip``, the
    exception escapes from ``execute`` once the run is closed (the trace then ends
    with ``EXECUTION_COMPLETED``), like a task's ``KeyboardInterrupt``.
    """

    on_start: Optional[Callable[[str], Any]] = None
    on_complete: Optional[Callable[[str, Any], Any]] = None
    on_failure: Optional[Callable[[str, BaseException], Any]] = None
    on_skip: Optional[Callable[[str], Any]] = None
