"""Post-run analysis: why did a run take as long as it did?

:func:`profile_execution` reads an :class:`~dagron.ExecutionResult` against its
:class:`~dagron.DAG` and returns a :class:`ProfileReport`, with the names and meanings
of upstream dagron's ``dagron.profiling`` (so code written for it runs unchanged):

- Over the nodes that completed, with their measured ``duration_seconds`` and the
  edges between them, a forward pass gives each node's earliest start (the latest
  ``earliest_start + duration`` among its predecessors, 0 without one) and the
  makespan (the latest earliest finish); a backward pass gives its latest start (the
  earliest latest start among its successors, or the makespan, minus its duration);
  ``slack`` is latest minus earliest start.
- ``critical_path``: the longest chain of completed nodes by duration (see
  :meth:`dagron.DAG.critical_path`), and ``critical_path_duration`` its total.
- ``blocked_descendants``: how many completed nodes are descendants of the node in
  the DAG (through any nodes).
- ``bottlenecks``: the five completed nodes with the highest
  ``duration * (1 + blocked_descendants)``, highest first (ties in topological order).
- ``parallelism_efficiency``: the total duration of the completed nodes over the
  makespan (0.0 when it is 0); ``actual_max_parallelism``: the most completed nodes in
  one topological level (one executor step).

Beyond upstream, when the result carries a trace (``trace=True``), the recorded times:

- ``observed_critical_path``: the chain of nodes that really decided the wall-clock
  time: from the node that ended last, back through the predecessor that ended last
  no later than the current node started, listed first to last.
- ``scheduling_delay``: per node that started, its start minus the latest end among
  its predecessors (minus the run's start for a node without an ended predecessor).
- ``idle``: seconds of the run (``EXECUTION_STARTED`` to ``EXECUTION_COMPLETED``)
  during which no node was running (``None`` without a trace).

Every pass runs in Rust (``dagron._core.GraphIndex``) in O(V + E), except the
descendant counts: exact reachability sets built in reverse topological order, each a
bit window plus a fully-reached suffix of the order, so their cost is O(V + E) times
the width of the window (a few levels in DAGs that fan back in; O(V * E / 64) at worst).
The recorded times of an ``ExecutionTrace`` are read off the core's node runs (the
pass behind ``trace.node_runs()``), without a Python object per event; a trace of
another type is read through its ``events``.
"""

from __future__ import annotations

import gc
import math
from dataclasses import dataclass, field
from typing import Any, Optional

from dagron import _core
from dagron.dag import DAG, _check_duration
from dagron.execution.tracing import TraceEvent, TraceEventType
from dagron.executor import ExecutionResult, NodeStatus

__all__ = ["NodeProfile", "ProfileReport", "profile_execution"]


@dataclass
class NodeProfile:
    """The profile of one completed node (times in seconds)."""

    # Slots: a report on a large run holds one of these per node.
    __slots__ = (
        "name",
        "duration",
        "earliest_start",
        "latest_start",
        "slack",
        "on_critical_path",
        "blocked_descendants",
    )

    name: str
    duration: float
    earliest_start: float
    latest_start: float
    slack: float
    on_critical_path: bool
    blocked_descendants: int


@dataclass
class ProfileReport:
    """What :func:`profile_execution` found; see the module's documentation."""

    node_profiles: dict[str, NodeProfile] = field(default_factory=dict)
    critical_path: list[str] = field(default_factory=list)
    critical_path_duration: float = 0.0
    bottlenecks: list[str] = field(default_factory=list)
    parallelism_efficiency: float = 0.0
    actual_max_parallelism: int = 0
    observed_critical_path: list[str] = field(default_factory=list)
    scheduling_delay: dict[str, float] = field(default_factory=dict)
    idle: Optional[float] = None

    def summary(self) -> str:
        """Seven lines, as upstream dagron writes them."""
        return "\n".join(
            [
                "Profile Report",
                f"  Nodes profiled: {len(self.node_profiles)}",
                f"  Critical path: {' -> '.join(self.critical_path)}",
                f"  Critical path duration: {self.critical_path_duration:.4f}s",
                f"  Parallelism efficiency: {self.parallelism_efficiency:.2f}",
                f"  Max parallelism: {self.actual_max_parallelism}",
                f"  Bottlenecks: {', '.join(self.bottlenecks[:5])}",
            ]
        )

    def to_dict(self) -> dict[str, Any]:
        """The upstream report as plain data (the trace-based figures are attributes
        only, so the shape stays upstream's)."""
        return {
            "node_profiles": {
                name: {
                    "duration": p.duration,
                    "earliest_start": p.earliest_start,
                    "latest_start": p.latest_start,
                    "slack": p.slack,
                    "on_critical_path": p.on_critical_path,
                    "blocked_descendants": p.blocked_descendants,
                }
                for name, p in self.node_profiles.items()
            },
            "critical_path": self.critical_path,
            "critical_path_duration": self.critical_path_duration,
            "bottlenecks": self.bottlenecks,
            "parallelism_efficiency": self.parallelism_efficiency,
            "actual_max_parallelism": self.actual_max_parallelism,
        }


_BOTTLENECKS = 5
_COMPLETED = TraceEventType.NODE_COMPLETED
_FAILED = TraceEventType.NODE_FAILED
_TIMED_OUT = TraceEventType.NODE_TIMED_OUT
_NODE_STARTED = TraceEventType.NODE_STARTED
_EXECUTION_STARTED = TraceEventType.EXECUTION_STARTED
_EXECUTION_COMPLETED = TraceEventType.EXECUTION_COMPLETED


def profile_execution(dag: DAG, result: ExecutionResult) -> ProfileReport:
    """Profile ``result`` (from running ``dag``): see the module's documentation.

    ``result.node_results`` must name nodes of ``dag`` (``ValueError`` otherwise), and
    completed nodes need finite, non-negative ``duration_seconds``. The cyclic garbage
    collector is paused while the report is built (it holds no reference cycles).
    """
    if not isinstance(dag, DAG):
        raise TypeError(f"dag must be a dagron.DAG, not {type(dag).__name__}")
    node_results = getattr(result, "node_results", None)
    if not isinstance(node_results, dict):
        raise TypeError(
            f"result must be an ExecutionResult with node_results, not {type(result).__name__}"
        )
    # A report on a large run is a million small objects; each would count towards
    # the next cyclic-GC pass, which walks the whole heap. None of them forms a cycle.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _profile(dag, node_results, getattr(result, "trace", None))
    finally:
        if collecting:
            gc.enable()


def _profile(dag: DAG, node_results: dict[str, Any], trace: Any) -> ProfileReport:
    names, graph = dag._graph_index()
    order = graph.order()
    index = dag._index  # name -> node index; read only
    count = len(names)
    durations = [0.0] * count
    completed = bytearray(count)
    work = []  # durations in result order, summed as upstream sums them
    done = NodeStatus.COMPLETED
    inf = math.inf
    for name, node in node_results.items():
        i = index.get(name)
        if i is None:
            raise ValueError(f"result.node_results names {name!r}, which is not a node of dag")
        if node.status == done:
            duration = node.duration_seconds
            if type(duration) is not float or not 0.0 <= duration < inf:
                duration = _check_duration(name, duration)  # converts, or raises
            durations[i] = duration
            completed[i] = 1
            work.append(duration)

    report = ProfileReport()
    if work:
        flags = bytes(completed)
        earliest, latest, slack, makespan = graph.schedule(durations, flags)
        path, path_total = graph.critical_path(durations, flags, names)
        blocked = graph.descendant_counts(flags)
        scores = [d * (1 + b) for d, b in zip(durations, blocked)]
        on_path = set(path)
        report.node_profiles = {
            names[i]: NodeProfile(
                names[i], durations[i], earliest[i], latest[i], slack[i], i in on_path, blocked[i]
            )
            for i in order
            if completed[i]
        }
        report.critical_path = [names[i] for i in path]
        report.critical_path_duration = path_total
        report.bottlenecks = [names[i] for i in graph.top(scores, flags, _BOTTLENECKS)]
        total_work = sum(work)
        report.parallelism_efficiency = total_work / makespan if makespan > 0 else 0.0
        report.actual_max_parallelism = graph.widest_level(flags)

    if isinstance(trace, _core.TraceRecorder):
        # The core's node runs: no Python object per event.
        observed = graph.observe_trace(trace, names, index)
        if observed is not None:
            path, report.scheduling_delay, report.idle = observed
            report.observed_critical_path = [names[i] for i in path]
    elif trace is not None:
        _observe_events(report, trace.events, names, index, graph, order)
    return report


def _observe_events(
    report: ProfileReport,
    events: list[TraceEvent],
    names: list[str],
    index: dict[str, int],
    graph: _core.GraphIndex,
    order: list[int],
) -> None:
    """Fill the trace-based figures of ``report`` from the run's ``events`` (a trace
    that is not an ``ExecutionTrace``, only has ``events``)."""
    if not events:
        return
    starts, ends, run_start, run_end = graph.node_times(
        events if type(events) is list else list(events),
        index,
        _NODE_STARTED,
        (_COMPLETED, _FAILED, _TIMED_OUT),
        _EXECUTION_STARTED,
        _EXECUTION_COMPLETED,
    )
    path, delays, idle = graph.observe(starts, ends, run_start, run_end)
    report.observed_critical_path = [names[i] for i in path]
    report.scheduling_delay = {names[i]: delays[i] for i in order if starts[i] == starts[i]}
    report.idle = idle
