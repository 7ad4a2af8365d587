"""The observed critical path of one trace and how its wall time splits along it.

A trace's wall time runs from its first node run's start to its last run's end. The
observed critical path is the chain of nodes whose ends gated the next starts, ending
with the node that ended last:

- with a DAG, ``dagron._core.GraphIndex.observe`` finds it, as ``profile_execution``
  does: from the node that ended last, back through the predecessor that ended last no
  later than the current node started;
- without one, the trace does not say which nodes a node waited for, so each step goes
  back to the node that ended last no later than the current node started (the latest
  end that could have gated it).

Along the path c1 .. ck the wall time is exactly
``(c1.start - run start) + sum(ci.end - ci.start) + sum(c(i+1).start - ci.end) +
(run end - ck.end)``. Each node's term is its span (first start to last end in the
trace); every gap (the head and tail included) is split into *idle* (the part when no
node at all was running) and *scheduling delay* (the rest: other nodes ran, but the
path's next node had not started). The idle parts add up to the trace's whole idle
time, as every moment outside the path's nodes lies in one of its gaps.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dagron import _core

__all__ = ["NodeTimes", "PathSplit", "node_times", "split_path", "trace_path"]


@dataclass
class NodeTimes:
    """Per node of one trace (by the comparison's node numbers): first start and last
    end (NaN when it has none), the nodes that have each in the order first met, and
    the busy intervals of the trace (merged, sorted)."""

    start: Sequence[float]
    end: Sequence[float]
    started: Sequence[int]
    ended: Sequence[int]
    busy_from: list[float]
    busy_to: list[float]
    run_start: float
    run_end: float


@dataclass
class PathSplit:
    """One trace's wall time split along its observed critical path."""

    path: list[int] = field(default_factory=list)  # node ids, first to last
    span: dict[int, float] = field(default_factory=dict)  # node -> end - start
    scheduling_delay: float = 0.0
    idle: float = 0.0
    makespan: float = 0.0


def node_times(trace: Any, index: dict[str, int], table: list[str]) -> NodeTimes:
    """Node-level times and busy intervals of one trace, read off its node runs by
    the core (``dagron_core::spans``), its nodes numbered through ``index`` (name ->
    number) and ``table`` (the names by number), which gain the names they lack."""
    if isinstance(trace, _core.TraceRecorder):
        spans = _core._trace_spans_of(trace, index, table)
    else:
        spans = _core._trace_spans(trace.node_runs(), index, table)
    starts, started, ends, ended, busy_from, busy_to, run_start, run_end = spans
    return NodeTimes(
        _array("d", starts),
        _array("d", ends),
        _array("I", started),
        _array("I", ended),
        busy_from,
        busy_to,
        run_start,
        run_end,
    )


def _array(kind: str, data: bytes) -> array[Any]:
    """An array of ``kind`` values from the core's native-endian bytes."""
    values: array[Any] = array(kind)
    values.frombytes(data)
    return values


def trace_path(times: NodeTimes) -> list[int]:
    """The observed critical path without a DAG (see the module's documentation)."""
    end = times.end  # every node with an end has a start
    # By end; between equal ends, in the order the nodes were first met.
    ended = sorted(times.ended, key=end.__getitem__)
    if not ended:
        return []
    finishes = list(map(end.__getitem__, ended))
    position = len(ended) - 1
    path = [ended[position]]
    while True:
        began = times.start[path[-1]]
        # The last end no later than this start, strictly before the current node in
        # end order (so zero-length runs cannot loop).
        position = min(bisect_right(finishes, began), position) - 1
        if position < 0:
            break
        path.append(ended[position])
    path.reverse()
    return path


def _idle_within(times: NodeTimes, began: float, ended: float) -> float:
    """Seconds of ``began..ended`` during which no node was running."""
    if ended <= began:
        return 0.0
    covered = 0.0
    busy_from, busy_to = times.busy_from, times.busy_to
    k = bisect_right(busy_to, began)
    while k < len(busy_from) and busy_from[k] < ended:
        covered += min(busy_to[k], ended) - max(busy_from[k], began)
        k += 1
    return (ended - began) - covered


def split_path(times: NodeTimes, path: list[int]) -> PathSplit:
    """Split the trace's wall time along ``path`` (see the module's documentation)."""
    split = PathSplit(path=path)
    makespan = times.run_end - times.run_start
    if not path or makespan != makespan:
        split.makespan = makespan if makespan == makespan else 0.0
        split.idle = split.makespan
        return split
    gaps = 0.0
    idle = 0.0
    previous_end = times.run_start
    for node in path:
        began, ended = times.start[node], times.end[node]
        split.span[node] = ended - began
        gaps += began - previous_end
        idle += _idle_within(times, previous_end, began)
        previous_end = ended
    gaps += times.run_end - previous_end
    idle += _idle_within(times, previous_end, times.run_end)
    split.makespan = makespan
    split.scheduling_delay = gaps - idle
    # The idle figure takes the rounding, so the parts add up to the wall time.
    split.idle = makespan - math.fsum(split.span.values()) - split.scheduling_delay
    return split
