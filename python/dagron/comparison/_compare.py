"""``compare(baseline, candidate)``: read both sides, then every per-node figure, the
noise test, the critical paths and the makespan breakdown (see docs/compare.md)."""

from __future__ import annotations

import math
import operator
from array import array
from typing import Any, Optional

from dagron import _core
from dagron.comparison._path import NodeTimes, PathSplit, split_path, trace_path
from dagron.comparison._result import (
    Breakdown,
    NodeColumns,
    RunComparison,
    SideFigures,
)
from dagron.comparison._sides import Names, Side, read_side
from dagron.comparison._stats import mann_whitney, quantile, smallest_p

__all__ = ["compare", "compare_labelled"]

_NAN = math.nan


def compare(
    baseline: Any, candidate: Any, *, dag: Any = None, alpha: float = 0.05
) -> RunComparison:
    """Compare ``candidate`` runs with ``baseline`` runs.

    Each side is an ``ExecutionTrace`` or a list of them (repeated runs of the same
    pipeline). ``dag`` (a ``dagron.DAG``) adds the structural critical path and each
    node's slack, and lets the observed path follow the DAG's edges. ``alpha`` is the
    significance level of the noise test (two-sided Mann-Whitney U).

    Raises ``TypeError`` for a side that is not traces, ``ValueError`` for an empty side,
    a trace without node runs, or sides that share no node.
    """
    return compare_labelled(baseline, candidate, dag=dag, alpha=alpha)


def compare_labelled(
    baseline: Any,
    candidate: Any,
    *,
    dag: Any = None,
    alpha: float = 0.05,
    labels: tuple[Optional[list[str]], Optional[list[str]]] = (None, None),
) -> RunComparison:
    """:func:`compare`, with each trace named in messages by ``labels`` (file names)."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be between 0 and 1, not {alpha!r}")
    base_traces = _traces("baseline", baseline)
    cand_traces = _traces("candidate", candidate)
    names = Names()
    base = read_side("baseline", base_traces, names, labels[0])
    cand = read_side("candidate", cand_traces, names, labels[1])
    for side in (base, cand):
        for info in side.traces:
            if info.runs == 0:
                raise ValueError(
                    f"{info.label}: no node runs (an empty trace, or one without node "
                    "events): nothing to compare"
                )
    count = len(names)
    columns = _node_columns(base, cand, count, alpha)
    b_present, c_present = columns.baseline.present, columns.candidate.present
    shared = count - sum(map(operator.xor, b_present, c_present))
    if not any(map(operator.and_, b_present, c_present)):
        raise ValueError(
            "baseline and candidate share no node, so they do not describe the same "
            f"pipeline (baseline: {_some(names.names, b_present)}; candidate: "
            f"{_some(names.names, c_present)})"
        )
    result = RunComparison(
        names=names.names,
        columns=columns,
        baseline=_side_figures(base),
        candidate=_side_figures(cand),
        alpha=alpha,
    )
    _makespan(result, base, cand, alpha)
    _paths(result, base, cand, names.names, dag)
    _notes(result, base, cand, names.names, shared)
    return result


def _traces(side: str, value: Any) -> list[Any]:
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if not items:
        raise ValueError(f"{side}: no traces given")
    for item in items:
        if not callable(getattr(item, "node_runs", None)):
            raise TypeError(
                f"{side} must be an ExecutionTrace or a list of them, not {type(item).__name__}"
            )
    return items


def _some(names: list[str], present: bytearray, shown: int = 3) -> str:
    picked = [name for name, here in zip(names, present) if here]
    text = ", ".join(repr(name) for name in picked[:shown])
    more = len(picked) - shown
    return f"{text}{', ...' if more > 0 else ''} ({len(picked)} node{'s' * (len(picked) != 1)})"


_VERDICTS = (None, "too few runs", "noise", "changed")


def _node_columns(base: Side, cand: Side, count: int, alpha: float) -> NodeColumns:
    """Every node's statistics, computed in the core (``rust/compare.rs``)."""
    stats = _core._node_stats(
        base.durations,
        _pairs(base.extra),
        cand.durations,
        _pairs(cand.extra),
        count,
        alpha,
    )
    cols = NodeColumns(count)
    cols.change = _floats(stats["change"])
    cols.relative = _floats(stats["relative"])
    cols.u = _floats(stats["u"])
    cols.p_value = _floats(stats["p"])
    cols.verdict = list(map(_VERDICTS.__getitem__, stats["verdict"]))
    for name, side, side_stats in (
        ("baseline", base, cols.baseline),
        ("candidate", cand, cols.candidate),
    ):
        side_stats.ended = array("I")
        side_stats.ended.frombytes(stats[f"{name}_ended"])
        side_stats.median = _floats(stats[f"{name}_median"])
        side_stats.p25 = _floats(stats[f"{name}_p25"])
        side_stats.p75 = _floats(stats[f"{name}_p75"])
        side_stats.low = _floats(stats[f"{name}_min"])
        side_stats.high = _floats(stats[f"{name}_max"])
        side_stats.other_status = side.other_status
        other = side.other_status
        side_stats.present = bytearray(map(bool, side_stats.ended))
        for node in other:
            side_stats.present[node] = 1
        side_stats.completed = side_stats.ended
        if other:
            side_stats.completed = array("I", side_stats.ended)
            for node in other:
                side_stats.completed[node] -= side_stats.failures(node)
    return cols


def _floats(data: bytes) -> array[float]:
    column = array("d")
    column.frombytes(data)
    return column


def _pairs(extra: dict[int, list[float]]) -> list[tuple[int, float]]:
    return [(node, value) for node, values in extra.items() for value in values]


def _side_figures(side: Side) -> SideFigures:
    spans = sorted(info.makespan for info in side.traces)
    return SideFigures(
        traces=side.traces,
        makespans=[info.makespan for info in side.traces],
        makespan=side.traces[side.median_trace].makespan,
        makespan_p25=quantile(spans, 0.25),
        makespan_p75=quantile(spans, 0.75),
        median_trace=side.median_trace,
    )


def _makespan(result: RunComparison, base: Side, cand: Side, alpha: float) -> None:
    b = sorted(result.baseline.makespans)
    c = sorted(result.candidate.makespans)
    result.makespan_change = result.candidate.makespan - result.baseline.makespan
    before = result.baseline.makespan
    result.makespan_relative = result.makespan_change / before if before > 0 else _NAN
    if smallest_p(len(b), len(c)) <= alpha:
        _, p = mann_whitney(b, c)
        result.makespan_p_value = _NAN if p is None else p
        result.makespan_verdict = "changed" if p is not None and p <= alpha else "noise"
    else:
        result.makespan_verdict = "too few runs"


def _paths(result: RunComparison, base: Side, cand: Side, names: list[str], dag: Any) -> None:
    splits: list[PathSplit] = []
    for side, figures in ((base, result.baseline), (cand, result.candidate)):
        times = side.median_times
        assert times is not None  # a side has at least one trace
        path = trace_path(times) if dag is None else _dag_path(times, names, dag, figures)
        split = split_path(times, path)
        figures.critical_path = [names[i] for i in path]
        figures.scheduling_delay = split.scheduling_delay
        figures.idle = split.idle
        figures.path_span = {names[i]: span for i, span in split.span.items()}
        splits.append(split)
        side.median_times = None  # read; let it go
    result.breakdown = Breakdown.between(splits[0], splits[1], names)
    if dag is not None:
        _structural(result, base, cand, names, dag)


def _dag_index(dag: Any) -> tuple[list[str], Any, dict[str, int]]:
    from dagron.dag import DAG

    if not isinstance(dag, DAG):
        raise TypeError(f"dag must be a dagron.DAG, not {type(dag).__name__}")
    dag_names, graph = dag._graph_index()
    return dag_names, graph, dag._index


def _dag_path(times: NodeTimes, names: list[str], dag: Any, figures: SideFigures) -> list[int]:
    dag_names, graph, index = _dag_index(dag)
    count = len(dag_names)
    starts = [_NAN] * count
    ends = [_NAN] * count
    to_global: dict[int, int] = {}
    outside = 0
    for node in times.started:
        d = index.get(names[node])
        if d is None:
            outside += 1
            continue
        starts[d] = times.start[node]
        to_global[d] = node
        ends[d] = times.end[node]  # NaN when it has none
    figures.outside_dag = outside
    path, _delays, _idle = graph.observe(starts, ends, times.run_start, times.run_end)
    return [to_global[d] for d in path]


def _structural(result: RunComparison, base: Side, cand: Side, names: list[str], dag: Any) -> None:
    dag_names, graph, index = _dag_index(dag)
    count = len(dag_names)
    for stats, figures in (
        (result.columns.baseline, result.baseline),
        (result.columns.candidate, result.candidate),
    ):
        costs = [0.0] * count
        included = bytearray(count)
        for node, name in enumerate(names):
            d = index.get(name)
            value = stats.median[node]
            if d is not None and value == value:
                costs[d] = value
                included[d] = 1
        flags = bytes(included)
        path, total = graph.critical_path(costs, flags, dag_names)
        _earliest, _latest, slack, _span = graph.schedule(costs, flags)
        figures.structural_path = [dag_names[d] for d in path]
        figures.structural_length = total
        stats.slack = {
            node: slack[d]
            for node, name in enumerate(names)
            if (d := index.get(name)) is not None and included[d]
        }


def _notes(result: RunComparison, base: Side, cand: Side, names: list[str], shared: int) -> None:
    warnings = result.warnings
    for side in (base, cand):
        for info in side.traces:
            if info.dropped:
                bound = f" (max_events={info.max_events})" if info.max_events else ""
                warnings.append(
                    f"{info.label}: a bounded trace{bound} that "
                    f"let go of its {info.dropped} oldest events: runs that began before "
                    "its first kept event are missing or cut short, so its node counts, "
                    "wall time and critical path cover only the part of the run it kept, "
                    "and nodes missing from it may show as new or removed"
                )
            if info.open_runs:
                warnings.append(
                    f"{info.label}: {info.open_runs} node run(s) never ended: they have no "
                    "duration and count as running until the trace's last event"
                )
            if info.sources > 1:
                result.notes.append(
                    f"{info.label}: merged from {info.sources} sources, read as one run of "
                    "the pipeline on the merged clock"
                )
    for figures in (result.baseline, result.candidate):
        if figures.outside_dag:
            warnings.append(
                f"{figures.traces[figures.median_trace].label}: {figures.outside_dag} "
                "node(s) are not in dag and were left out of its observed critical path"
            )
    either = len(names)  # every node ran on at least one side
    if shared * 2 < either:
        warnings.append(
            f"the sides share only {shared} of {either} nodes: they may not describe the "
            "same pipeline"
        )
