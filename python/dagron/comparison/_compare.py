"""``compare(baseline, candidate)``: read both sides, then every per-node figure, the
noise test, the critical paths and the makespan breakdown (see docs/compare.md)."""

from __future__ import annotations

import math
import operator
from bisect import bisect_left
from collections.abc import Iterator
from itertools import islice, repeat
from operator import add, itemgetter, mul, sub, truediv
from typing import Any, Optional

from dagron.comparison._path import NodeTimes, PathSplit, node_times, split_path, trace_path
from dagron.comparison._result import (
    Breakdown,
    NodeColumns,
    RunComparison,
    SideFigures,
    SideStats,
)
from dagron.comparison._sides import Names, Side, pad, read_side
from dagron.comparison._stats import (
    EXACT_LIMIT,
    exact_p_values,
    mann_whitney,
    median,
    quantile,
    smallest_p,
)

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
    pad(base, count)
    pad(cand, count)
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


def _uniform(side: Side, count: int) -> bool:
    """Whether every node ended exactly one run in every trace of ``side``."""
    return not side.extra and all(filled == count for filled in side.filled)


def _gathered(side: Side, count: int) -> Iterator[list[float]]:
    """Each node's ended-run durations on ``side``, sorted, in node order."""
    extra = side.extra
    for node, values in enumerate(zip(*side.durations)):
        picked = [x for x in values if x == x]
        more = extra.get(node)
        if more:
            picked.extend(more)
        picked.sort()
        yield picked


def _node_columns(base: Side, cand: Side, count: int, alpha: float) -> NodeColumns:
    cols = NodeColumns(count)
    if _uniform(base, count) and _uniform(cand, count):
        _uniform_columns(cols, base, cand, alpha)
    else:
        _general_columns(cols, base, cand, count, alpha)
    for side, stats in ((base, cols.baseline), (cand, cols.candidate)):
        stats.other_status = side.other_status
        stats.present = bytearray(
            1 if ended or node in side.other_status else 0
            for node, ended in enumerate(stats.ended)
        )
        stats.completed = [
            ended - stats.failures(node) if node in side.other_status else ended
            for node, ended in enumerate(stats.ended)
        ]
    return cols


_CHUNK = 4096


def _uniform_columns(cols: NodeColumns, base: Side, cand: Side, alpha: float) -> None:
    """Every node has one duration per trace on both sides: the statistics of a chunk
    of nodes at a time through ``map`` (no Python frame per node), the rank test's
    p-value from the exact table (a node with ties takes the normal approximation)."""
    m, n = len(base.durations), len(cand.durations)
    b_rows = zip(*base.durations)
    c_rows = zip(*cand.durations)
    exact = m + n <= EXACT_LIMIT
    able = smallest_p(m, n) <= alpha
    two_sided = exact_p_values(m, n) if exact and able else None
    for stats, size in ((cols.baseline, m), (cols.candidate, n)):
        stats.ended = [size] * cols.count
    while True:
        b = list(map(sorted, islice(b_rows, _CHUNK)))
        if not b:
            break
        c = list(map(sorted, islice(c_rows, len(b))))
        b_median = _order_stats(cols.baseline, b, m)
        c_median = _order_stats(cols.candidate, c, n)
        change = list(map(sub, c_median, b_median))
        cols.change.extend(change)
        if 0.0 in b_median or any(x < 0 for x in b_median):
            cols.relative.extend(d / x if x > 0 else _NAN for d, x in zip(change, b_median))
        else:
            cols.relative.extend(map(truediv, change, b_median))
        if not able:
            cols.u.extend(repeat(_NAN, len(b)))
            cols.p_value.extend(repeat(_NAN, len(b)))
            cols.verdict.extend(repeat("too few runs", len(b)))
            continue
        # U: pairs where the candidate's value is larger (ties resolved below).
        u: list[Any] = list(map(sum, map(map, repeat(bisect_left), map(repeat, b), c)))
        distinct = list(map(len, map(set, map(add, b, c))))
        if two_sided is not None and distinct.count(m + n) == len(b):
            p = list(map(two_sided.__getitem__, u))
        else:
            p = []
            for k, (a, bb) in enumerate(zip(b, c)):
                if two_sided is not None and distinct[k] == m + n:
                    p.append(two_sided[u[k]])
                else:
                    u[k], value = mann_whitney(a, bb)
                    p.append(_NAN if value is None else value)
        cols.u.extend(map(float, u))
        cols.p_value.extend(p)
        cols.verdict.extend(["changed" if x <= alpha else "noise" for x in p])


def _order_stats(stats: SideStats, rows: list[list[float]], size: int) -> list[float]:
    """Append the median, quartiles and extremes of ``rows`` (each sorted, ``size``
    values) to ``stats``; return the medians."""
    half = size >> 1
    if size & 1:
        medians = list(map(itemgetter(half), rows))
    else:
        sums = map(add, map(itemgetter(half - 1), rows), map(itemgetter(half), rows))
        medians = list(map(mul, sums, repeat(0.5)))
    stats.median.extend(medians)
    for column, q in ((stats.p25, 0.25), (stats.p75, 0.75)):
        position = (size - 1) * q
        low = int(position)
        fraction = position - low
        if low + 1 >= size or fraction == 0.0:
            column.extend(map(itemgetter(low), rows))
        else:
            lows = list(map(itemgetter(low), rows))
            highs = map(itemgetter(low + 1), rows)
            column.extend(map(add, lows, map(mul, map(sub, highs, lows), repeat(fraction))))
    stats.low.extend(map(itemgetter(0), rows))
    stats.high.extend(map(itemgetter(size - 1), rows))
    return medians


def _general_columns(cols: NodeColumns, base: Side, cand: Side, count: int, alpha: float) -> None:
    """Any mix of missing nodes, repeated runs and failures: one node at a time."""
    b_stats, c_stats = cols.baseline, cols.candidate
    change, relative, p_values, verdicts = cols.change, cols.relative, cols.p_value, cols.verdict
    u_values = cols.u
    testable: dict[tuple[int, int], bool] = {}
    nan = _NAN
    for b, c in zip(_gathered(base, count), _gathered(cand, count)):
        for stats, values in ((b_stats, b), (c_stats, c)):
            stats.ended.append(len(values))
            if values:
                stats.median.append(median(values))
                stats.p25.append(quantile(values, 0.25))
                stats.p75.append(quantile(values, 0.75))
                stats.low.append(values[0])
                stats.high.append(values[-1])
            else:
                stats.median.append(nan)
                stats.p25.append(nan)
                stats.p75.append(nan)
                stats.low.append(nan)
                stats.high.append(nan)
        if not b or not c:
            change.append(nan)
            relative.append(nan)
            p_values.append(nan)
            u_values.append(nan)
            verdicts.append(None)
            continue
        delta = c_stats.median[-1] - b_stats.median[-1]
        before = b_stats.median[-1]
        change.append(delta)
        relative.append(delta / before if before > 0 else nan)
        sizes = (len(b), len(c))
        able = testable.get(sizes)
        if able is None:
            able = testable[sizes] = smallest_p(*sizes) <= alpha
        if not able:
            p_values.append(nan)
            u_values.append(nan)
            verdicts.append("too few runs")
            continue
        u, p = mann_whitney(b, c)
        p_values.append(nan if p is None else p)
        u_values.append(u)
        verdicts.append("changed" if p is not None and p <= alpha else "noise")


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
        times = node_times(side.median_runs, side.median_map)
        path = trace_path(times) if dag is None else _dag_path(times, names, dag, figures)
        split = split_path(times, path)
        figures.critical_path = [names[i] for i in path]
        figures.scheduling_delay = split.scheduling_delay
        figures.idle = split.idle
        figures.path_span = {names[i]: span for i, span in split.span.items()}
        splits.append(split)
        side.median_runs = None  # read; let it go
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
    for node, began in times.start.items():
        d = index.get(names[node])
        if d is None:
            outside += 1
            continue
        starts[d] = began
        to_global[d] = node
        finish = times.end.get(node)
        if finish is not None:
            ends[d] = finish
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
