"""Execution tracing: the documented ``dagron.execution.tracing`` API.

``TraceEventType`` and ``TraceEvent`` are the documented pure-Python types.
``ExecutionTrace`` is a thin subclass of the Rust recorder
(:class:`dagron._core.TraceRecorder`): ``record``, ``events``,
``events_for_node``, ``to_json``, ``to_chrome_trace``, ``summary`` and the copy and
pickle protocol all run in Rust with no Python frame in between.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Optional

from dagron import _core

__all__ = ["ExecutionTrace", "TraceEvent", "TraceEventType"]


class TraceEventType(Enum):
    """Every event type that can be recorded during DAG execution."""

    EXECUTION_STARTED = "execution_started"
    STEP_STARTED = "step_started"
    NODE_STARTED = "node_started"
    NODE_COMPLETED = "node_completed"
    NODE_FAILED = "node_failed"
    NODE_SKIPPED = "node_skipped"
    NODE_TIMED_OUT = "node_timed_out"
    NODE_CANCELLED = "node_cancelled"
    STEP_COMPLETED = "step_completed"
    EXECUTION_COMPLETED = "execution_completed"
    NODE_GATE_WAITING = "node_gate_waiting"
    NODE_GATE_RESOLVED = "node_gate_resolved"
    RESOURCE_ACQUIRED = "resource_acquired"
    RESOURCE_RELEASED = "resource_released"
    NODE_CACHE_HIT = "node_cache_hit"
    NODE_CACHE_MISS = "node_cache_miss"


@dataclass
class TraceEvent:
    """A single trace event captured during execution."""

    event_type: TraceEventType
    timestamp: float
    node_name: Optional[str] = None
    step_index: Optional[int] = None
    duration: Optional[float] = None
    error: Optional[str] = None
    metadata: dict[str, Any] = field(default_factory=dict)


class ExecutionTrace(_core.TraceRecorder):
    """A structured timeline log that collects events during DAG execution.

    Every method is implemented by the Rust base class; this subclass only gives the
    documented name and module, and :meth:`to_otel`.
    """

    def to_otel(self, tracer_provider: Any = None, *, service_name: str = "dagron") -> Any:
        """Send this trace as OpenTelemetry spans (``pip install 'dagron[otel]'``);
        see :mod:`dagron.execution.otel`. Returns the root span's ``SpanContext``."""
        from dagron.execution.otel import export_trace

        return export_trace(self, tracer_provider, service_name=service_name)


# The Rust core needs the enum members (to map them to compact codes) and the
# dataclass (to build ``TraceEvent`` objects for ``events``).
_core._register_types(TraceEventType, TraceEvent)
