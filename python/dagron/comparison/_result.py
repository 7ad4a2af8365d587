"""What ``compare`` returns: ``RunComparison`` and the per-node ``NodeComparison``.

Per-node figures are held as index-aligned columns (a comparison of a 100,000-node
pipeline holds a few lists, not 100,000 objects); ``node(name)``, ``nodes`` and
``to_dict()`` build the per-node objects when asked.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from dagron.comparison._path import PathSplit
from dagron.comparison._sides import TraceInfo

__all__ = [
    "Breakdown",
    "NodeColumns",
    "NodeComparison",
    "NodeSide",
    "RunComparison",
    "SideFigures",
    "SCHEMA",
    "TEST",
]

SCHEMA = "dagron.compare/1"
TEST = "Mann-Whitney U, two-sided"
_FAILED = ("failed", "timed_out")


def _clean(value: Any) -> Any:
    """NaN as None, for JSON."""
    if isinstance(value, float) and value != value:
        return None
    return value


class SideStats:
    """Per-node columns of one side."""

    def __init__(self) -> None:
        self.ended: Sequence[int] = []
        self.median: Sequence[float] = []
        self.p25: Sequence[float] = []
        self.p75: Sequence[float] = []
        self.low: Sequence[float] = []
        self.high: Sequence[float] = []
        self.completed: Sequence[int] = []
        self.other_status: dict[int, dict[str, int]] = {}
        self.present: bytearray = bytearray()
        self.slack: Optional[dict[int, float]] = None  # with dag= only

    def statuses(self, node: int) -> dict[str, int]:
        counts = {"completed": self.completed[node]} if self.completed[node] else {}
        counts.update(self.other_status.get(node, {}))
        return counts

    def failures(self, node: int) -> int:
        other = self.other_status.get(node)
        return sum(other.get(state, 0) for state in _FAILED) if other else 0

    def count(self, node: int, state: str) -> int:
        other = self.other_status.get(node)
        return other.get(state, 0) if other else 0


class NodeColumns:
    """Both sides' per-node columns and the change between them."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.baseline = SideStats()
        self.candidate = SideStats()
        self.change: Sequence[float] = []
        self.relative: Sequence[float] = []
        self.p_value: Sequence[float] = []
        self.u: Sequence[float] = []
        self.verdict: list[Optional[str]] = []


@dataclass
class SideFigures:
    """One side as a whole."""

    traces: list[TraceInfo]
    makespans: list[float]
    makespan: float  # the median trace's wall time (the lower middle one for an even count)
    makespan_p25: float
    makespan_p75: float
    median_trace: int
    critical_path: list[str] = field(default_factory=list)
    path_span: dict[str, float] = field(default_factory=dict)
    scheduling_delay: float = 0.0
    idle: float = 0.0
    structural_path: Optional[list[str]] = None
    structural_length: Optional[float] = None
    outside_dag: int = 0

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "traces": [
                {
                    "label": t.label,
                    "runs": t.runs,
                    "nodes": t.nodes,
                    "sources": t.sources,
                    "dropped": t.dropped,
                    "max_events": t.max_events,
                    "open_runs": t.open_runs,
                    "makespan": _clean(t.makespan),
                }
                for t in self.traces
            ],
            "makespan": {
                "median": _clean(self.makespan),
                "p25": _clean(self.makespan_p25),
                "p75": _clean(self.makespan_p75),
                "runs": [_clean(x) for x in self.makespans],
            },
            "median_trace": self.median_trace,
            "critical_path": self.critical_path,
            "critical_path_spans": self.path_span,
            "scheduling_delay": self.scheduling_delay,
            "idle": self.idle,
        }
        if self.structural_path is not None:
            data["structural_critical_path"] = self.structural_path
            data["structural_critical_path_length"] = self.structural_length
        return data


@dataclass
class Breakdown:
    """The makespan change split by node plus scheduling delay and idle: the parts add
    up to ``total`` (see docs/compare.md, "How the makespan change is explained")."""

    total: float
    nodes: dict[str, float]  # only nodes on either side's critical path; largest first
    scheduling_delay: float
    idle: float
    baseline: PathSplit
    candidate: PathSplit

    @classmethod
    def between(cls, base: PathSplit, cand: PathSplit, names: list[str]) -> Breakdown:
        ids = list(dict.fromkeys([*base.path, *cand.path]))
        deltas = {i: cand.span.get(i, 0.0) - base.span.get(i, 0.0) for i in ids}
        ordered = sorted(ids, key=lambda i: -abs(deltas[i]))
        return cls(
            total=cand.makespan - base.makespan,
            nodes={names[i]: deltas[i] for i in ordered},
            scheduling_delay=cand.scheduling_delay - base.scheduling_delay,
            idle=cand.idle - base.idle,
            baseline=base,
            candidate=cand,
        )

    def share(self, name: str) -> float:
        """The fraction of the makespan change that ``name`` accounts for."""
        return self.nodes.get(name, 0.0) / self.total if self.total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "nodes": dict(self.nodes),
            "scheduling_delay": self.scheduling_delay,
            "idle": self.idle,
            "baseline": {
                "makespan": self.baseline.makespan,
                "critical_path_time": math.fsum(self.baseline.span.values()),
                "scheduling_delay": self.baseline.scheduling_delay,
                "idle": self.baseline.idle,
            },
            "candidate": {
                "makespan": self.candidate.makespan,
                "critical_path_time": math.fsum(self.candidate.span.values()),
                "scheduling_delay": self.candidate.scheduling_delay,
                "idle": self.candidate.idle,
            },
        }


@dataclass
class NodeSide:
    """One node on one side."""

    runs: int
    ended: int
    median: Optional[float]
    p25: Optional[float]
    p75: Optional[float]
    min: Optional[float]
    max: Optional[float]
    statuses: dict[str, int]
    critical_path_time: float
    slack: Optional[float] = None

    @property
    def spread(self) -> Optional[float]:
        """The interquartile range of the durations (None without an ended run)."""
        return None if self.p25 is None or self.p75 is None else self.p75 - self.p25

    def to_dict(self) -> dict[str, Any]:
        data = {
            "runs": self.runs,
            "ended": self.ended,
            "median": self.median,
            "p25": self.p25,
            "p75": self.p75,
            "spread": self.spread,
            "min": self.min,
            "max": self.max,
            "statuses": self.statuses,
            "critical_path_time": self.critical_path_time,
        }
        if self.slack is not None:
            data["slack"] = self.slack
        return data


@dataclass
class NodeComparison:
    """One node compared (times in seconds; None where a figure does not apply)."""

    name: str
    presence: str  # "both", "new" (candidate only) or "removed" (baseline only)
    baseline: Optional[NodeSide]
    candidate: Optional[NodeSide]
    change: Optional[float]  # candidate median minus baseline median
    relative: Optional[float]  # change over the baseline median
    u: Optional[float]
    p_value: Optional[float]
    verdict: Optional[str]  # "changed", "noise", "too few runs"; None without both
    status_changes: list[str]
    makespan_effect: float  # its term in the makespan breakdown
    absorbed_by_slack: bool  # slowed, yet off the candidate's critical path

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "presence": self.presence,
            "baseline": None if self.baseline is None else self.baseline.to_dict(),
            "candidate": None if self.candidate is None else self.candidate.to_dict(),
            "change": self.change,
            "relative": self.relative,
            "noise": {"test": TEST, "u": self.u, "p_value": self.p_value, "verdict": self.verdict},
            "status_changes": self.status_changes,
            "makespan_effect": self.makespan_effect,
            "absorbed_by_slack": self.absorbed_by_slack,
        }


class RunComparison:
    """Candidate runs compared with baseline runs; see docs/compare.md."""

    def __init__(
        self,
        *,
        names: list[str],
        columns: NodeColumns,
        baseline: SideFigures,
        candidate: SideFigures,
        alpha: float,
    ) -> None:
        self.names = names
        self.columns = columns
        self.baseline = baseline
        self.candidate = candidate
        self.alpha = alpha
        self.makespan_change = 0.0
        self.makespan_relative = math.nan
        self.makespan_p_value = math.nan
        self.makespan_verdict = "too few runs"
        self.breakdown: Breakdown
        self.warnings: list[str] = []
        self.notes: list[str] = []
        self._index: Optional[dict[str, int]] = None
        self._statuses: Optional[dict[str, list[str]]] = None

    # Per node ---------------------------------------------------------------

    def node(self, name: str) -> NodeComparison:
        """The comparison of node ``name`` (``KeyError`` when neither side ran it)."""
        if self._index is None:
            self._index = {n: i for i, n in enumerate(self.names)}
        return self._node(self._index[name])

    @property
    def nodes(self) -> dict[str, NodeComparison]:
        """Every node of either side, by name (built on each call)."""
        return {name: self._node(i) for i, name in enumerate(self.names)}

    def _side(self, stats: Any, node: int, span: dict[int, float]) -> Optional[NodeSide]:
        if not stats.present[node]:
            return None
        statuses = stats.statuses(node)
        slack = None if stats.slack is None else stats.slack.get(node)
        return NodeSide(
            runs=sum(statuses.values()),
            ended=stats.ended[node],
            median=_clean(stats.median[node]),
            p25=_clean(stats.p25[node]),
            p75=_clean(stats.p75[node]),
            min=_clean(stats.low[node]),
            max=_clean(stats.high[node]),
            statuses=statuses,
            critical_path_time=span.get(node, 0.0),
            slack=slack,
        )

    def _node(self, i: int) -> NodeComparison:
        cols = self.columns
        b = self._side(cols.baseline, i, self.breakdown.baseline.span)
        c = self._side(cols.candidate, i, self.breakdown.candidate.span)
        presence = "both" if b and c else ("new" if c else "removed")
        effect = self.breakdown.nodes.get(self.names[i], 0.0)
        change = _clean(cols.change[i])
        slowed = change is not None and change > 0 and cols.verdict[i] != "noise"
        return NodeComparison(
            name=self.names[i],
            presence=presence,
            baseline=b,
            candidate=c,
            change=change,
            relative=_clean(cols.relative[i]),
            u=_clean(cols.u[i]),
            p_value=_clean(cols.p_value[i]),
            verdict=cols.verdict[i],
            status_changes=self._status_changes(i),
            makespan_effect=effect,
            absorbed_by_slack=bool(
                slowed and c is not None and c.critical_path_time == 0.0 and abs(effect) < 1e-12
            ),
        )

    def _status_changes(self, i: int) -> list[str]:
        b, c = self.columns.baseline, self.columns.candidate
        found = []
        if c.failures(i) and not b.failures(i):
            found.append("newly failing")
        if b.failures(i) and c.present[i] and not c.failures(i):
            found.append("no longer failing")
        if c.count(i, "skipped") and not b.count(i, "skipped"):
            found.append("newly skipped")
        if c.count(i, "cancelled") and not b.count(i, "cancelled"):
            found.append("newly cancelled")
        return found

    # Status lists -------------------------------------------------------------

    def _status_lists(self) -> dict[str, list[str]]:
        if self._statuses is None:
            b, c = self.columns.baseline, self.columns.candidate
            lists: dict[str, list[str]] = {
                "new_nodes": [],
                "removed_nodes": [],
                "newly_failing": [],
                "no_longer_failing": [],
                "newly_skipped": [],
                "newly_cancelled": [],
            }
            for i, name in enumerate(self.names):
                if c.present[i] and not b.present[i]:
                    lists["new_nodes"].append(name)
                elif b.present[i] and not c.present[i]:
                    lists["removed_nodes"].append(name)
            touched = sorted({*b.other_status, *c.other_status})
            for i in touched:
                for change in self._status_changes(i):
                    lists[change.replace(" ", "_")].append(self.names[i])
            self._statuses = lists
        return self._statuses

    @property
    def new_nodes(self) -> list[str]:
        """Nodes only the candidate ran."""
        return self._status_lists()["new_nodes"]

    @property
    def removed_nodes(self) -> list[str]:
        """Nodes only the baseline ran."""
        return self._status_lists()["removed_nodes"]

    @property
    def newly_failing(self) -> list[str]:
        """Nodes with failed or timed-out runs in the candidate and none in the baseline."""
        return self._status_lists()["newly_failing"]

    @property
    def no_longer_failing(self) -> list[str]:
        return self._status_lists()["no_longer_failing"]

    @property
    def newly_skipped(self) -> list[str]:
        return self._status_lists()["newly_skipped"]

    @property
    def newly_cancelled(self) -> list[str]:
        return self._status_lists()["newly_cancelled"]

    # Ranking ------------------------------------------------------------------

    def top(self, n: int = 10) -> list[NodeComparison]:
        """The ``n`` nodes that matter most: status changes first, then the largest of
        a node's makespan effect and its duration change (a change within noise counts
        as none), new and removed nodes after status changes."""
        cols = self.columns
        flagged = {
            name
            for key in ("newly_failing", "newly_skipped", "newly_cancelled", "no_longer_failing")
            for name in self._status_lists()[key]
        }
        index = {name: i for i, name in enumerate(self.names)} if flagged else {}
        effects = self.breakdown.nodes
        first = [index[name] for name in sorted(flagged)]

        def score(i: int) -> float:
            change = cols.change[i]
            moved = abs(change) if change == change and cols.verdict[i] != "noise" else 0.0
            effect = abs(effects.get(self.names[i], 0.0))
            present = cols.baseline.present[i] and cols.candidate.present[i]
            return max(moved, effect) if present else math.inf

        rest = heapq.nlargest(
            n + len(first),
            (i for i in range(len(self.names))),
            key=score,
        )
        chosen = first + [i for i in rest if self.names[i] not in flagged]
        return [self._node(i) for i in chosen[:n]]

    # Output -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Every figure as plain data (NaN as None), in the shape docs/compare.md gives."""
        lists = self._status_lists()
        return {
            "schema": SCHEMA,
            "test": TEST,
            "alpha": self.alpha,
            "baseline": self.baseline.to_dict(),
            "candidate": self.candidate.to_dict(),
            "makespan": {
                "baseline": _clean(self.baseline.makespan),
                "candidate": _clean(self.candidate.makespan),
                "change": _clean(self.makespan_change),
                "relative": _clean(self.makespan_relative),
                "p_value": _clean(self.makespan_p_value),
                "verdict": self.makespan_verdict,
            },
            "breakdown": self.breakdown.to_dict(),
            **{key: list(value) for key, value in lists.items()},
            "nodes": [self._node(i).to_dict() for i in range(len(self.names))],
            "warnings": list(self.warnings),
            "notes": list(self.notes),
        }

    def summary(self, top: int = 10) -> str:
        """A plain-text report: the makespan, its breakdown, the ``top`` nodes."""
        from dagron.comparison._render import plain

        return plain(self, top)

    def _repr_html_(self) -> str:
        from dagron.comparison._render import html

        return html(self, 10)

    def __rich__(self) -> Any:
        from dagron.comparison._render import rich_renderable

        return rich_renderable(self, 10)

    def __repr__(self) -> str:
        return (
            f"<RunComparison: {len(self.baseline.traces)} baseline / "
            f"{len(self.candidate.traces)} candidate runs, {len(self.names)} nodes, "
            f"makespan {self.makespan_change:+.6f}s>"
        )
