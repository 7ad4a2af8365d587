"""Pure-Python baseline for the benchmarks: ``ExecutionTrace`` as the original
pure-Python ``dagron.execution.tracing`` would write it.

It keeps a Python list of ``TraceEvent`` dataclasses behind a ``threading.Lock`` and
exports with the standard library's ``json``, following behaviour.md sections 4.1-4.3,
so that, given the same events, its ``to_json``, ``to_chrome_trace`` and ``summary``
produce exactly the text of the Rust-backed module. ``TraceEventType`` and
``TraceEvent`` are the very classes of ``dagron.execution.tracing``, so events of the
two implementations compare equal.

Deliberately plain: no argument validation in ``record`` (the documented module's
natural code does none; skipping it only makes the baseline faster), no ``__slots__``
tricks, no caching. It is a yardstick, not part of the package.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from typing import Any, Optional

from dagron.execution.tracing import TraceEvent, TraceEventType

__all__ = ["ExecutionTrace", "TraceEvent", "TraceEventType"]

_END_TYPES = frozenset(
    (TraceEventType.NODE_COMPLETED, TraceEventType.NODE_FAILED, TraceEventType.NODE_TIMED_OUT)
)
_EXECUTION_PHASES = {
    TraceEventType.EXECUTION_STARTED: "B",
    TraceEventType.EXECUTION_COMPLETED: "E",
}


class ExecutionTrace:
    """A list of ``TraceEvent`` objects guarded by a lock."""

    def __init__(self) -> None:
        self._events: list[TraceEvent] = []
        self._lock = threading.Lock()
        self._start: Optional[float] = None

    @classmethod
    def from_events(cls, events: Iterable[TraceEvent]) -> ExecutionTrace:
        """A trace holding ``events`` as they are (timestamps included).

        Benchmark helper: it lets the baseline export exactly the events another
        implementation recorded, so the two outputs can be compared byte for byte.
        """
        trace = cls()
        trace._events = list(events)
        if trace._events:
            trace._start = time.monotonic() - trace._events[-1].timestamp
        return trace

    def record(
        self,
        event_type: TraceEventType,
        *,
        node_name: Optional[str] = None,
        step_index: Optional[int] = None,
        duration: Optional[float] = None,
        error: Optional[str] = None,
        metadata: Optional[dict[str, Any]] = None,
    ) -> None:
        if duration is not None and type(duration) is not float:
            duration = float(duration)
        with self._lock:
            # Read the clock under the lock so that timestamps never decrease in
            # list order, whatever the threads do.
            now = time.monotonic()
            if self._start is None:
                self._start = now
            self._events.append(
                TraceEvent(
                    event_type=event_type,
                    timestamp=now - self._start,
                    node_name=node_name,
                    step_index=step_index,
                    duration=duration,
                    error=error,
                    metadata=metadata if metadata else {},
                )
            )

    @property
    def events(self) -> list[TraceEvent]:
        with self._lock:
            return list(self._events)

    def events_for_node(self, name: str) -> list[TraceEvent]:
        with self._lock:
            return [e for e in self._events if e.node_name == name]

    def to_json(self) -> str:
        return json.dumps(json_records(self.events), indent=2)

    def to_chrome_trace(self) -> str:
        return json.dumps({"traceEvents": chrome_records(self.events)}, indent=2)

    def summary(self) -> str:
        events = self.events
        counts: dict[TraceEventType, int] = {}
        nodes = set()
        for e in events:
            counts[e.event_type] = counts.get(e.event_type, 0) + 1
            if e.node_name is not None:
                nodes.add(e.node_name)
        duration = events[-1].timestamp - events[0].timestamp if events else 0.0
        return "\n".join(
            [
                "Execution Trace Summary",
                f"  Total events: {len(events)}",
                f"  Unique nodes: {len(nodes)}",
                f"  Completed: {counts.get(TraceEventType.NODE_COMPLETED, 0)}",
                f"  Failed: {counts.get(TraceEventType.NODE_FAILED, 0)}",
                f"  Skipped: {counts.get(TraceEventType.NODE_SKIPPED, 0)}",
                f"  Timed out: {counts.get(TraceEventType.NODE_TIMED_OUT, 0)}",
                f"  Cancelled: {counts.get(TraceEventType.NODE_CANCELLED, 0)}",
                f"  Duration: {duration:.4f}s",
            ]
        )


def json_records(events: Iterable[TraceEvent]) -> list[dict[str, Any]]:
    """One dict per event, keys in the order of behaviour.md 4.1."""
    records = []
    for e in events:
        rec: dict[str, Any] = {"event_type": e.event_type.value, "timestamp": e.timestamp}
        if e.node_name is not None:
            rec["node_name"] = e.node_name
        if e.step_index is not None:
            rec["step_index"] = e.step_index
        if e.duration is not None:
            rec["duration"] = e.duration
        if e.error is not None:
            rec["error"] = e.error
        if e.metadata:
            rec["metadata"] = e.metadata
        records.append(rec)
    return records


def chrome_records(events: Iterable[TraceEvent]) -> list[dict[str, Any]]:
    """The ``traceEvents`` list of behaviour.md 4.2."""
    tids: dict[str, int] = {}
    out: list[dict[str, Any]] = []
    for e in events:
        name = e.node_name
        if name is None:
            tid = 0
        else:
            tid = tids.get(name)
            if tid is None:
                tid = tids[name] = len(tids) + 1
        kind = e.event_type
        if kind is TraceEventType.NODE_STARTED:
            out.append(
                {
                    "name": name,
                    "cat": "node",
                    "ph": "B",
                    "ts": e.timestamp * 1_000_000,
                    "pid": 1,
                    "tid": tid,
                }
            )
        elif kind in _END_TYPES:
            args: dict[str, Any] = {"status": kind.value}
            if isinstance(e.error, str) and e.error:
                args["error"] = e.error
            out.append(
                {
                    "name": name,
                    "cat": "node",
                    "ph": "E",
                    "ts": e.timestamp * 1_000_000,
                    "pid": 1,
                    "tid": tid,
                    "args": args,
                }
            )
        elif kind in _EXECUTION_PHASES:
            out.append(
                {
                    "name": "execution",
                    "cat": "execution",
                    "ph": _EXECUTION_PHASES[kind],
                    "ts": e.timestamp * 1_000_000,
                    "pid": 1,
                    "tid": 0,
                }
            )
    return out
