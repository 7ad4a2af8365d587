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

The whole report is computed in one call into the Rust core
(``dagron._core._profile_run``) in O(V + E), except the descendant counts: exact
reachability sets built in reverse topological order, each a bit window plus a
fully-reached suffix of the order, so their cost is O(V + E) times the width of the
window (a few levels in DAGs that fan back in; O(V * E / 64) at worst). On a large
graph the counts (and the trace's node runs) are computed on a second thread while
the ``NodeProfile`` objects are built. The recorded times of an ``ExecutionTrace``
are read off the core's node runs (the pass behind ``trace.node_runs()``), without a
Python object per event; a trace of another type (only ``events``) is copied into
the core first, so both pair starts with ends by the one rule.
The DAG's compact index is built once and kept until the DAG grows.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field, fields
from typing import Any, Optional

from dagron import _core
from dagron.dag import DAG, _check_duration
from dagron.execution._foreign import as_recorder
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
#: NodeProfile's fields in ``__init__`` order: the core builds each profile by them.
_PROFILE_FIELDS = tuple(f.name for f in fields(NodeProfile))


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
    index = dag._index  # name -> node index; read only
    # The observed figures come off the core's node runs (no Python object per
    # event); a trace of another type is copied into the core for them.
    recorder = trace
    if trace is not None and not isinstance(trace, _core.TraceRecorder):
        events = trace.events
        recorder = as_recorder(trace, events if type(events) is list else list(events))
    profiled, observed = _core._profile_run(
        graph,
        node_results,
        index,
        NodeStatus.COMPLETED,
        _check_duration,
        names,
        NodeProfile,
        _PROFILE_FIELDS,
        _BOTTLENECKS,
        recorder,
    )
    report = ProfileReport()
    if profiled is not None:
        (
            report.node_profiles,
            report.critical_path,
            report.critical_path_duration,
            report.bottlenecks,
            work,
            makespan,
            report.actual_max_parallelism,
        ) = profiled
        total_work = sum(work)  # in result order, summed as upstream sums them
        report.parallelism_efficiency = total_work / makespan if makespan > 0 else 0.0
    if observed is not None:
        report.observed_critical_path, report.scheduling_delay, report.idle = observed
    return report
