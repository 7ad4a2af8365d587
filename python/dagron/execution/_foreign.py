"""A trace of another type copied into the core, so that every reader of node runs
(OpenTelemetry, profiling) pairs a trace's starts and ends by the core's one rule.

Such a trace has ``events`` (``TraceEvent``-like objects) and, when it knows them,
``sources`` with ``event_sources()``. The copy keeps each event's type, timestamp,
node name, duration and error, and the sources' hosts and pids; events out of time
order are put in it (ties keep their order), as the core holds them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

from dagron import _core

__all__ = ["Sources", "as_recorder", "sources_of"]

#: ``(sources, source index per event)``.
Sources = Optional[tuple[list[Any], list[int]]]


def sources_of(trace: Any, count: int) -> Sources:
    """``(sources, source index per event)`` of a trace that knows its sources
    (``trace.sources`` and ``trace.event_sources()``), else None."""
    sources = getattr(trace, "sources", None)
    event_sources = getattr(trace, "event_sources", None)
    if sources is None or not callable(event_sources):
        return None
    indices = list(event_sources())
    if len(indices) != count:
        return None
    return list(sources), indices


def as_recorder(trace: Any, events: list[Any]) -> _core.TraceRecorder:
    """A core trace holding ``events`` (those of ``trace``, with its sources)."""
    order: Sequence[int] = range(len(events))
    if any(events[i].timestamp > events[i + 1].timestamp for i in range(len(events) - 1)):
        order = sorted(order, key=lambda i: events[i].timestamp)
    saved = [
        (e.event_type.value, e.timestamp, e.node_name, None, e.duration, e.error, None)
        for e in map(events.__getitem__, order)
    ]
    origin, origins, indices = ("", 0, 0, 0), None, None
    sources = sources_of(trace, len(events))
    if sources is not None and sources[0]:
        known, by_event = sources
        origins = [(str(getattr(s, "host", "")), int(getattr(s, "pid", 0)), 0, 0) for s in known]
        indices = [by_event[i] for i in order]
        origin = origins[indices[0]] if indices else origins[0]
    copy = _core.TraceRecorder.__new__(_core.TraceRecorder)
    copy.__setstate__(_core._trace_state(saved, origin, 0, origins, indices))
    return copy
