"""One side of a comparison: its traces' node runs, reduced to what the comparison reads.

Each trace's ``node_runs()`` (computed once, in the core) is reduced by one more pass
in the core (``_core._trace_column``) and let go: per node, the durations of its runs
that ended (completed, failed or timed out) and how many runs ended in each other
status; per trace, its wall time (first run start to last run end). The runs of the
trace whose wall time is the side's median are read again for its critical path.

Node names are shared by both sides through one name table (``Names``), so per-node
figures of the two sides line up by index. Durations are kept as the core gives them:
float64 bytes per trace, indexed by node (NaN where the node ended no run in that trace;
a trace read before others added nodes has a shorter column), so a side of many runs
costs 8 bytes a node a trace.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from dagron import _core
from dagron.comparison._path import NodeTimes, node_times

__all__ = ["Names", "Side", "TraceInfo", "read_side"]

_NAN = math.nan


class Names:
    """The node-name table both sides index into."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.names: list[str] = []

    def __len__(self) -> int:
        return len(self.names)


@dataclass
class TraceInfo:
    """What one trace of a side says as a whole."""

    label: str
    runs: int
    nodes: int
    sources: int
    dropped: int
    max_events: Optional[int]
    start: float
    end: float
    open_runs: int

    @property
    def makespan(self) -> float:
        return self.end - self.start


@dataclass
class Side:
    """A side of the comparison, reduced (see the module's documentation)."""

    name: str
    traces: list[TraceInfo] = field(default_factory=list)
    # Per trace, per node: the duration of its run in that trace (NaN: none ended);
    # a node with several ended runs in a trace keeps them in ``extra``.
    durations: list[bytes] = field(default_factory=list)  # float64s, as the core gave them
    extra: dict[int, list[float]] = field(default_factory=dict)
    filled: list[int] = field(default_factory=list)  # per trace: nodes with a duration
    # node -> {status: count} for statuses other than "completed" (completed runs
    # are the ended ones less the failed and timed out).
    other_status: dict[int, dict[str, int]] = field(default_factory=dict)
    median_trace: int = 0
    median_times: Optional[NodeTimes] = None  # the median trace's node times


def read_side(
    name: str, traces: Sequence[Any], names: Names, labels: Optional[Sequence[str]] = None
) -> Side:
    """Reduce ``traces`` (each with ``node_runs()``) to a :class:`Side`; ``labels`` name
    them in messages (default: "baseline trace 1", ...)."""
    side = Side(name)
    for position, trace in enumerate(traces):
        label = labels[position] if labels else f"{name} trace {position + 1}"
        # One trace's runs at a time: memory stays flat in the number of traces.
        side.traces.append(_read_trace(side, trace, names, label))
    spans = sorted(range(len(side.traces)), key=lambda i: side.traces[i].makespan)
    side.median_trace = spans[(len(spans) - 1) // 2] if spans else 0
    if spans:
        # The median trace's runs again (the critical path is read from them).
        side.median_times = node_times(traces[side.median_trace], names.index, names.names)
    return side


def _read_trace(side: Side, trace: Any, names: Names, label: str) -> TraceInfo:
    # One pass in the core (rust/core/src/compare.rs, trace_column): the names numbered
    # through ``names`` (which gains the new ones), each node's first ended duration,
    # the rest. A trace of this package is read straight off the core's runs, with no
    # ``NodeRuns`` lists made; any other object through its ``node_runs()``.
    if isinstance(trace, _core.TraceRecorder):
        column, run_count, node_count, source_count = _core._trace_column_of(
            trace, names.index, names.names
        )
    else:
        runs = trace.node_runs()
        column = _core._trace_column(runs, names.index, names.names)
        run_count, node_count, source_count = len(runs), len(runs.names), len(runs.sources)
    data, filled, extra, other, start, end, open_runs = column
    for node, took in extra:
        side.extra.setdefault(node, []).append(took)
    for node, state in other:
        counts = side.other_status.setdefault(node, {})
        counts[state] = counts.get(state, 0) + 1
    side.durations.append(data)
    side.filled.append(filled)
    return TraceInfo(
        label=label,
        runs=run_count,
        nodes=node_count,
        sources=source_count,
        dropped=int(getattr(trace, "dropped", 0) or 0),
        max_events=getattr(trace, "max_events", None),
        start=start,
        end=end,
        open_runs=open_runs,
    )
