"""Execution tracing: the documented ``dagron.execution.tracing`` API.

``TraceEventType`` and ``TraceEvent`` are the documented pure-Python types.
``ExecutionTrace`` is a thin subclass of the Rust recorder
(:class:`dagron._core.TraceRecorder`): ``record``, ``events``,
``events_for_node``, ``node_runs``, ``to_json``, ``to_chrome_trace``, ``summary`` and
the copy and pickle protocol all run in Rust with no Python frame in between.
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal, Optional, TypeVar, Union

from dagron import _core

__all__ = ["ExecutionTrace", "TraceEvent", "TraceEventType", "TraceOrigin"]


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


#: One row per run of a node, as columns: what ``ExecutionTrace.node_runs()``
#: returns (see ``docs/node-runs.md``). Importable from here, but outside
#: ``__all__``, which names the documented module's names only.
NodeRuns = _core.NodeRuns

_Trace = TypeVar("_Trace", bound="ExecutionTrace")
# Above this many node runs a notebook shows a trace's repr, not its report.
_INLINE_RUNS = 200_000


@dataclass(frozen=True)
class TraceOrigin:
    """Where and when a trace's first event was recorded.

    ``monotonic_ns`` is the instant on the clock ``time.monotonic_ns()`` reads and
    ``wall_ns`` the same instant in Unix nanoseconds (``time.time_ns()``), read
    together; ``host`` and ``pid`` name the process. ``(host, pid)`` identifies a
    source in a merged trace.
    """

    host: str
    pid: int
    monotonic_ns: int
    wall_ns: int


class ExecutionTrace(_core.TraceRecorder):
    """A structured timeline log that collects events during DAG execution.

    Every method is implemented by the Rust base class; this subclass only gives the
    documented name and module, wraps origins in ``TraceOrigin``, and adds
    :meth:`load`, :meth:`to_otel` and :meth:`write_html`.
    """

    @property
    def origin(self) -> Optional[TraceOrigin]:
        """Where and when the first event was recorded (None before any event)."""
        origin = self._origin()
        return None if origin is None else TraceOrigin(*origin)

    @property
    def sources(self) -> list[TraceOrigin]:
        """The distinct (host, pid) sources of the events, in order of first
        appearance: ``[origin]`` for a trace recorded in one process, ``[]`` when
        empty. ``event_sources()`` gives each event's index into this list."""
        return [TraceOrigin(*source) for source in self._sources()]

    @classmethod
    def load(cls: type[_Trace], path: Union[str, os.PathLike[str]]) -> _Trace:
        """Read back a journal (whole, or cut: then a ``TraceJournalWarning`` says
        how many bytes were dropped) or a ``write_json`` file (``.gz`` too).

        Raises ``dagron.errors.TraceFileError`` (a ``ValueError``) naming the file and
        the offset for a damaged, foreign or empty file, ``OSError`` if it cannot be
        read.
        """
        from dagron.execution import _files

        return _files.load(cls, path)

    def to_otel(self, tracer_provider: Any = None, *, service_name: str = "dagron") -> Any:
        """Send this trace as OpenTelemetry spans (``pip install 'dagron-trace[otel]'``);
        see :mod:`dagron.execution.otel`. Returns the root span's ``SpanContext``."""
        from dagron.execution.otel import export_trace

        return export_trace(self, tracer_provider, service_name=service_name)

    def to_pandas(self, *, kind: Literal["events", "node_runs"] = "events") -> Any:
        """The events table (or ``kind="node_runs"``: the node-runs table) of
        :meth:`to_arrow` as a pandas ``DataFrame`` (needs
        ``pip install 'dagron-trace[arrow]' pandas``); see ``docs/tables.md``."""
        from dagron.execution import _tables

        return _tables.to_pandas(self.to_arrow(kind=kind))

    def to_polars(self, *, kind: Literal["events", "node_runs"] = "events") -> Any:
        """The table of :meth:`to_arrow` as a polars ``DataFrame`` (needs
        ``pip install polars``)."""
        from dagron.execution import _tables

        return _tables.to_polars(self.to_arrow(kind=kind))

    def write_parquet(self, dest: Any, *, kind: Literal["events", "node_runs"] = "events") -> None:
        """Write the table of :meth:`to_arrow` to ``dest`` (a path, replaced
        atomically, or a binary file object) as Parquet (needs
        ``pip install 'dagron-trace[arrow]'``)."""
        from dagron.execution import _tables

        _tables.write_parquet(self.to_arrow(kind=kind), dest)

    def write_html(
        self,
        path: Union[str, bytes, os.PathLike[str], os.PathLike[bytes]],
        *,
        dag: Any = None,
        title: Optional[str] = None,
    ) -> None:
        """Write a one-file HTML report of this trace to ``path`` (replaced
        atomically): a Gantt chart of the node runs per source, the running count,
        the critical path and tables; see :mod:`dagron.report`. With ``dag`` (the
        :class:`dagron.DAG` that ran), also the structural critical path and the
        bottlenecks with their slack (``profile_execution``)."""
        from dagron import report

        report.write_html(self, path, dag=dag, title=title)

    def _repr_html_(self) -> Optional[str]:
        """Jupyter shows a trace as its compact report (up to 200,000 node runs)."""
        from dagron import report

        if len(self.node_runs()) > _INLINE_RUNS:
            return None
        return report.display(self)._repr_html_()


# The Rust core needs the enum members (to map them to compact codes) and the
# dataclass (to build ``TraceEvent`` objects for ``events``).
_core._register_types(TraceEventType, TraceEvent)
# Journals write in the background: a normal exit writes what is left.
atexit.register(_core._flush_journals)
