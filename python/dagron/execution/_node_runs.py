"""``ExecutionTrace.node_runs()``: one row per run of a node (a first version in
Python; the pairing rule is the Perfetto export's compact lanes).

Per source, in event order: a ``NODE_STARTED`` opens a run on the lowest free lane;
an end (completed, failed, timed out) closes the newest open run of its node; gate
waits and resource holds take lanes the same way (they share them with runs); a
skipped or cancelled node, or an end with no open run, is an instant on the lane of
the node's newest open slice, else on the lowest free lane.
"""

from __future__ import annotations

import heapq
import math
from typing import Any, Optional

__all__ = ["NodeRuns", "node_runs"]

_BEGIN = {"node_started": 0, "node_gate_waiting": 1, "resource_acquired": 2}
_END = {
    "node_completed": 0,
    "node_failed": 0,
    "node_timed_out": 0,
    "node_gate_resolved": 1,
    "resource_released": 2,
}
_STATUS = {
    "node_completed": "completed",
    "node_failed": "failed",
    "node_timed_out": "timed_out",
    "node_skipped": "skipped",
    "node_cancelled": "cancelled",
}
_POINTS = ("node_skipped", "node_cancelled", "node_cache_hit", "node_cache_miss")


class NodeRuns:
    """One row per run of a node, as index-aligned columns (see docs/node-runs.md)."""

    __slots__ = (
        "names",
        "sources",
        "node",
        "source",
        "lane",
        "start",
        "end",
        "duration",
        "status",
        "error",
        "start_event",
        "end_event",
    )

    def __init__(self) -> None:
        self.names: list[str] = []
        self.sources: list[str] = []
        self.node: list[int] = []
        self.source: list[int] = []
        self.lane: list[int] = []
        self.start: list[float] = []
        self.end: list[float] = []
        self.duration: list[float] = []
        self.status: list[str] = []
        self.error: list[Optional[str]] = []
        self.start_event: list[int] = []
        self.end_event: list[int] = []

    def __len__(self) -> int:
        return len(self.node)

    def __repr__(self) -> str:
        return f"<NodeRuns: {len(self)} runs of {len(self.names)} nodes>"


class _Lanes:
    """One source's compact lanes."""

    def __init__(self) -> None:
        self.count = 0
        self.free: list[int] = []
        self.open: dict[tuple[str, int], list[tuple[int, int]]] = {}  # -> [(lane, row)]

    def take(self) -> int:
        if self.free:
            return heapq.heappop(self.free)
        self.count += 1
        return self.count - 1

    def instant(self, node: str) -> int:
        for kind in range(3):
            opened = self.open.get((node, kind))
            if opened:
                return opened[-1][0]
        if not self.free:
            heapq.heappush(self.free, self.take())
        return self.free[0]


def node_runs(trace: Any) -> NodeRuns:
    events = trace.events
    event_sources = trace.event_sources()
    runs = NodeRuns()
    runs.sources = [f"{s.host}:{s.pid}" for s in trace.sources]
    name_index: dict[str, int] = {}
    lanes: dict[int, _Lanes] = {}
    nan = math.nan

    def row(name: str, source: int, lane: int, start: float, at: int) -> int:
        node = name_index.get(name)
        if node is None:
            node = name_index[name] = len(runs.names)
            runs.names.append(name)
        runs.node.append(node)
        runs.source.append(source)
        runs.lane.append(lane)
        runs.start.append(start)
        runs.end.append(nan)
        runs.duration.append(nan)
        runs.status.append("open")
        runs.error.append(None)
        runs.start_event.append(at)
        runs.end_event.append(-1)
        return len(runs.node) - 1

    def close(index: int, event: Any, at: int, kind: str) -> None:
        runs.end[index] = event.timestamp
        runs.end_event[index] = at
        runs.status[index] = _STATUS[kind]
        runs.error[index] = event.error
        runs.duration[index] = (
            event.duration if event.duration is not None else event.timestamp - runs.start[index]
        )

    for at, event in enumerate(events):
        name = event.node_name
        kind = event.event_type.value
        if name is None or kind not in _BEGIN and kind not in _END and kind not in _POINTS:
            continue
        source = event_sources[at] if at < len(event_sources) else 0
        state = lanes.setdefault(source, _Lanes())
        if kind in _BEGIN:
            lane = state.take()
            index = row(name, source, lane, event.timestamp, at) if kind == "node_started" else -1
            state.open.setdefault((name, _BEGIN[kind]), []).append((lane, index))
        elif kind in _END and state.open.get((name, _END[kind])):
            lane, index = state.open[(name, _END[kind])].pop()
            heapq.heappush(state.free, lane)
            if index >= 0:
                close(index, event, at, kind)
        elif kind in _STATUS:
            # An instant: skipped, cancelled, or an end whose start is not held.
            index = row(name, source, state.instant(name), event.timestamp, at)
            if kind in _END:
                runs.start_event[index] = -1
                close(index, event, at, kind)
            else:
                runs.end[index] = event.timestamp
                runs.end_event[index] = at
                runs.duration[index] = 0.0
                runs.status[index] = _STATUS[kind]
                runs.error[index] = event.error
        else:
            state.instant(name)  # cache hit/miss: may add a lane, as Perfetto draws it
    return runs
