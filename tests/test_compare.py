"""``dagron.compare``: per-node figures, the noise test, the critical paths and the
makespan breakdown, on synthetic runs with chosen times (tests/compare_traces.py)."""

from __future__ import annotations

import itertools
import json
import math
import random

import dagron
import pytest
from compare_traces import DURATIONS, EDGES, crafted, jittered, layout, run
from dagron import DAG, ExecutionTrace
from dagron.comparison import GateError, parse_gate
from dagron.comparison._stats import mann_whitney, smallest_p


def slowed(node: str, by: float, base: dict[str, float] = DURATIONS) -> dict[str, float]:
    durations = dict(base)
    durations[node] += by
    return durations


def diamond_dag() -> DAG:
    dag = DAG()
    for node in EDGES:
        dag.add_node(node)
    for node, preds in EDGES.items():
        for pred in preds:
            dag.add_edge(pred, node)
    return dag


def parts_total(result: dagron.RunComparison) -> float:
    b = result.breakdown
    return math.fsum([*b.nodes.values(), b.scheduling_delay, b.idle])


# --------------------------------------------------------------- makespan breakdown


def test_a_slowed_critical_node_takes_the_whole_makespan_change(tmp_path):
    base = run(tmp_path / "b.json", DURATIONS)
    cand = run(tmp_path / "c.json", slowed("train", 0.2))
    result = dagron.compare(base, cand)
    assert result.baseline.critical_path == ["extract", "clean", "train", "report"]
    assert result.candidate.critical_path == ["extract", "clean", "train", "report"]
    assert result.makespan_change == pytest.approx(0.2)
    assert result.breakdown.total == pytest.approx(0.2)
    assert result.breakdown.share("train") >= 0.95
    assert parts_total(result) == pytest.approx(result.breakdown.total, abs=1e-12)
    train = result.node("train")
    assert (train.change, train.relative) == (pytest.approx(0.2), pytest.approx(0.4))
    assert train.makespan_effect == pytest.approx(0.2)
    assert train.verdict == "too few runs" and not train.absorbed_by_slack
    assert result.node("stats").change == 0.0


def test_with_repeats_and_jitter_the_slowed_node_still_takes_95_percent(tmp_path):
    rng = random.Random(7)
    base = [run(tmp_path / f"b{k}.json", jittered(rng, DURATIONS, 0.01)) for k in range(5)]
    cand = [
        run(tmp_path / f"c{k}.json", jittered(rng, slowed("train", 0.2), 0.01)) for k in range(5)
    ]
    result = dagron.compare(base, cand)
    assert result.breakdown.share("train") >= 0.95
    assert parts_total(result) == pytest.approx(result.breakdown.total, abs=1e-12)
    assert result.node("train").verdict == "changed"
    assert result.node("train").p_value == pytest.approx(2 / 252)  # complete separation
    assert result.makespan_verdict == "changed"
    # The breakdown explains the median runs; its total is their makespan change.
    assert result.breakdown.total == pytest.approx(result.makespan_change, abs=1e-12)


def test_a_node_slowed_within_its_slack_moves_nothing_and_is_reported(tmp_path):
    base = run(tmp_path / "b.json", DURATIONS)
    cand = run(tmp_path / "c.json", slowed("stats", 0.3))  # slack: 0.8 - 0.1 = 0.7
    result = dagron.compare(base, cand)
    assert abs(result.makespan_change) < 1e-9
    stats = result.node("stats")
    assert stats.change == pytest.approx(0.3)
    assert stats.makespan_effect == 0.0 and stats.absorbed_by_slack
    assert "had slack" in result.summary()
    (row,) = [n for n in result.to_dict()["nodes"] if n["name"] == "stats"]
    assert row["absorbed_by_slack"] is True
    with_dag = dagron.compare(base, cand, dag=diamond_dag())
    stats = with_dag.node("stats")
    assert stats.baseline is not None and stats.candidate is not None
    assert stats.baseline.slack == pytest.approx(0.7)
    assert stats.candidate.slack == pytest.approx(0.4)
    assert "had slack (700.0ms)" in with_dag.summary()


def test_a_node_that_joins_the_path_is_counted_and_the_parts_still_add_up(tmp_path):
    base = run(tmp_path / "b.json", DURATIONS)
    cand = run(tmp_path / "c.json", slowed("stats", 1.0))  # now longer than clean + train
    result = dagron.compare(base, cand)
    assert result.candidate.critical_path == ["extract", "stats", "report"]
    nodes = result.breakdown.nodes
    assert nodes["stats"] == pytest.approx(1.1)
    assert nodes["clean"] == pytest.approx(-0.3) and nodes["train"] == pytest.approx(-0.5)
    assert parts_total(result) == pytest.approx(result.makespan_change, abs=1e-12)
    assert result.makespan_change == pytest.approx(0.3 - 0.001)  # one scheduling gap fewer


def test_scheduling_delay_and_idle_split_the_gaps(tmp_path):
    base = layout(DURATIONS)
    late = [dict(e) for e in base]
    for event in late:  # report starts 50 ms after train ends: idle, nothing runs
        if event.get("node_name") == "report" or event["event_type"] == "execution_completed":
            event["timestamp"] += 0.05
    result = dagron.compare(crafted(base), crafted(late))
    assert result.breakdown.idle == pytest.approx(0.05)
    assert result.breakdown.scheduling_delay == pytest.approx(0.0, abs=1e-12)
    assert result.breakdown.nodes["report"] == pytest.approx(0.0, abs=1e-12)
    # A gap while another node runs is scheduling delay.
    busy = [dict(e) for e in base]
    for event in busy:
        if event.get("node_name") == "clean" or event.get("node_name") in ("train", "report"):
            event["timestamp"] += 0.05  # clean waits 50 ms while stats runs (100 ms)
        if event["event_type"] == "execution_completed":
            event["timestamp"] += 0.05
    result = dagron.compare(crafted(base), crafted(busy))
    assert result.breakdown.scheduling_delay == pytest.approx(0.05)
    assert result.breakdown.idle == pytest.approx(0.0, abs=1e-12)


def test_with_a_dag_the_observed_and_structural_paths(tmp_path):
    base = run(tmp_path / "b.json", DURATIONS)
    cand = run(tmp_path / "c.json", slowed("stats", 1.0))
    result = dagron.compare(base, cand, dag=diamond_dag())
    assert result.baseline.critical_path == ["extract", "clean", "train", "report"]
    assert result.candidate.critical_path == ["extract", "stats", "report"]
    assert result.baseline.structural_path == ["extract", "clean", "train", "report"]
    assert result.candidate.structural_path == ["extract", "stats", "report"]
    assert result.candidate.structural_length == pytest.approx(1.4)
    data = result.to_dict()
    assert data["candidate"]["structural_critical_path"] == ["extract", "stats", "report"]
    with pytest.raises(TypeError, match="dag must be a dagron.DAG"):
        dagron.compare(base, cand, dag="not a dag")


# ------------------------------------------------------------------------ noise


def test_twenty_reruns_of_a_noisy_pipeline_never_fire_the_node_gate():
    rng = random.Random(2024)
    edges = {f"n{i}": [f"n{j}" for j in (i - 1, i - 3) if j >= 0] for i in range(30)}
    durations = {node: 0.05 + 0.01 * (i % 5) for i, node in enumerate(edges)}
    gate = parse_gate("node:* > +25%")

    def noisy() -> ExecutionTrace:
        # Each node's duration off by a normal 10% (sigma), independently.
        times = {k: v * max(0.5, rng.gauss(1.0, 0.10)) for k, v in durations.items()}
        return crafted(layout(times, edges))

    fired = []
    for _ in range(20):
        result = dagron.compare([noisy() for _ in range(5)], [noisy() for _ in range(5)])
        fired.append(gate.check(result))
    assert fired == [[]] * 20
    # The same gate does fire on a real change of the same size in that noise.
    slow = dict(durations, n7=durations["n7"] * 1.5)
    base = [noisy() for _ in range(5)]
    cand = []
    for _ in range(5):
        times = {k: v * max(0.5, rng.gauss(1.0, 0.10)) for k, v in slow.items()}
        cand.append(crafted(layout(times, edges)))
    assert [r.split()[1] for r in gate.check(dagron.compare(base, cand))] == ["n7"]


def brute_force_p(a: list[float], b: list[float]) -> float:
    """The two-sided permutation p-value of U, by enumerating every split."""
    values = a + b
    u = sum((y > x) + 0.5 * (y == x) for x in a for y in b)
    centre = len(a) * len(b) / 2
    hits = total = 0
    for picked in itertools.combinations(range(len(values)), len(a)):
        first = [values[i] for i in picked]
        second = [values[i] for i in range(len(values)) if i not in picked]
        other = sum((y > x) + 0.5 * (y == x) for x in first for y in second)
        hits += abs(other - centre) >= abs(u - centre) - 1e-9
        total += 1
    return hits / total


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ([1.0, 2.0, 3.0, 4.0, 5.0], [6.0, 7.0, 8.0, 9.0, 10.0]),
        ([1.0, 3.0, 5.0, 7.0], [2.0, 4.0, 6.0, 8.0, 9.0]),
        ([0.5, 0.9, 1.3], [0.4, 1.0, 1.1, 1.2, 2.0, 2.5]),
    ],
)
def test_mann_whitney_is_exact_without_ties(a, b):
    u, p = mann_whitney(sorted(a), sorted(b))
    assert u == sum(y > x for x in a for y in b)
    assert p == pytest.approx(brute_force_p(a, b))


def test_mann_whitney_with_ties_uses_the_corrected_normal_approximation():
    a, b = [1.0, 2.0, 2.0, 3.0, 4.0], [2.0, 3.0, 3.0, 5.0, 6.0]
    u, p = mann_whitney(a, b)
    assert u == 19.0  # 2 + 3.5 + 3.5 + 5 + 5
    # Two tie groups of three (2s and 3s): z = (|19 - 12.5| - 0.5) / sigma, by hand.
    sigma = math.sqrt(25 / 12 * (11 - (24 + 24) / 90))
    assert p == pytest.approx(math.erfc((6.5 - 0.5) / sigma / math.sqrt(2)))
    assert mann_whitney([1.0, 1.0], [1.0, 1.0]) == (2.0, 1.0)
    assert mann_whitney([], [1.0]) == (0.0, None)


# ------------------------------------------------------------- statuses, errors


def test_status_changes_new_and_removed_nodes(tmp_path):
    base_edges = {k: v for k, v in EDGES.items() if k != "report"}
    base_edges["legacy"] = ["extract"]
    base = crafted(layout({**DURATIONS, "legacy": 0.05}, base_edges, status={"clean": "failed"}))
    cand = crafted(layout(DURATIONS, status={"stats": "failed", "train": "skipped"}))
    result = dagron.compare(base, cand)
    assert result.new_nodes == ["report"]
    assert result.removed_nodes == ["legacy"]
    assert result.newly_failing == ["stats"]
    assert result.no_longer_failing == ["clean"]
    assert result.newly_skipped == ["train"]
    stats = result.node("stats")
    assert stats.status_changes == ["newly failing"]
    assert stats.candidate is not None and stats.candidate.statuses == {"failed": 1}
    assert result.node("report").presence == "new"
    assert result.node("legacy").presence == "removed" and result.node("legacy").change is None
    text = result.summary()
    assert "1 new, 1 removed, 1 newly failing, 1 newly skipped" in text
    # Status changes come first in the table.
    top = [node.name for node in result.top(3)]
    assert set(top[:3]) == {"clean", "stats", "train"}


def test_sides_that_share_no_node_are_an_error():
    base = crafted(layout({"a": 0.1}, {"a": []}))
    cand = crafted(layout({"b": 0.1}, {"b": []}))
    expected = r"share no node.*baseline: 'a' \(1 node\); candidate: 'b' \(1 node\)"
    with pytest.raises(ValueError, match=expected):
        dagron.compare(base, cand)


def test_empty_traces_and_bad_sides_are_errors():
    full = crafted(layout(DURATIONS))
    with pytest.raises(ValueError, match="candidate trace 1: no node runs"):
        dagron.compare(full, ExecutionTrace())
    with pytest.raises(ValueError, match="baseline: no traces given"):
        dagron.compare([], full)
    with pytest.raises(TypeError, match="baseline must be an ExecutionTrace or a list of them"):
        dagron.compare("trace.json", full)
    with pytest.raises(ValueError, match="alpha must be between 0 and 1"):
        dagron.compare(full, full, alpha=1.5)


def test_a_bounded_trace_that_dropped_events_is_warned_about():
    events = layout(DURATIONS)
    kept = events[4:]  # the two oldest node events and more let go
    result = dagron.compare(crafted(events), crafted(kept, dropped=4))
    (warning,) = result.warnings
    assert warning.startswith("candidate trace 1: a bounded trace that let go of its 4 oldest")
    assert "cover only the part of the run it kept" in warning
    assert result.to_dict()["candidate"]["traces"][0]["dropped"] == 4


def test_merged_traces_from_several_workers_compare_as_one_run_each():
    def workers(durations: dict[str, float]) -> ExecutionTrace:
        events = layout(durations)
        first = [e for e in events if e.get("node_name") in ("extract", "clean", "train")]
        second = [e for e in events if e.get("node_name") in ("stats", "report")]
        return ExecutionTrace.merge([crafted(first, pid=1), crafted(second, pid=2)])

    result = dagron.compare(workers(DURATIONS), workers(slowed("train", 0.2)))
    assert result.baseline.critical_path == ["extract", "clean", "train", "report"]
    assert result.breakdown.share("train") >= 0.95
    assert result.notes == [
        f"{side} trace 1: merged from 2 sources, read as one run of the pipeline on the "
        "merged clock"
        for side in ("baseline", "candidate")
    ]
    assert result.to_dict()["baseline"]["traces"][0]["sources"] == 2


def test_repeated_runs_of_a_node_in_one_trace_are_each_a_sample():
    def retried(durations: list[float]) -> ExecutionTrace:
        events, now = [], 0.0
        for took in durations:
            events.append({"event_type": "node_started", "timestamp": now, "node_name": "x"})
            now += took
            events.append({"event_type": "node_completed", "timestamp": now, "node_name": "x"})
        return crafted(events)

    result = dagron.compare(retried([0.1, 0.2, 0.3]), retried([0.3, 0.4, 0.5]))
    x = result.node("x")
    assert x.baseline is not None and x.candidate is not None
    assert (x.baseline.runs, x.baseline.median, x.baseline.spread) == (
        3,
        pytest.approx(0.2),
        pytest.approx(0.1),
    )
    assert x.change == pytest.approx(0.2)
    assert x.verdict == "too few runs"  # 3 vs 3 cannot reach p <= 0.05


# ------------------------------------------------------------------------ output


def test_to_dict_has_every_figure_and_is_json(tmp_path):
    base = [run(tmp_path / f"b{k}.json", DURATIONS) for k in range(2)]
    cand = [run(tmp_path / f"c{k}.json", slowed("train", 0.2)) for k in range(2)]
    data = json.loads(json.dumps(dagron.compare(base, cand).to_dict(), allow_nan=False))
    assert set(data) == {
        "schema", "test", "alpha", "baseline", "candidate", "makespan", "breakdown",
        "new_nodes", "removed_nodes", "newly_failing", "no_longer_failing", "newly_skipped",
        "newly_cancelled", "nodes", "warnings", "notes",
    }  # fmt: skip
    assert data["schema"] == "dagron.compare/1"
    assert data["makespan"]["change"] == pytest.approx(0.2)
    train = next(n for n in data["nodes"] if n["name"] == "train")
    assert train["baseline"]["runs"] == 2 and train["baseline"]["median"] == pytest.approx(0.5)
    assert train["noise"]["test"] == "Mann-Whitney U, two-sided"
    assert set(data["breakdown"]) == {
        "total", "nodes", "scheduling_delay", "idle", "baseline", "candidate"
    }  # fmt: skip


def test_summary_html_and_rich_show_the_table(tmp_path):
    result = dagron.compare(
        run(tmp_path / "b.json", DURATIONS), run(tmp_path / "c.json", slowed("train", 0.2))
    )
    text = result.summary(top=2)
    assert "Makespan: 1.103s -> 1.303s  +200.0ms (+18.1%)" in text
    assert "Critical path (candidate): extract -> clean -> train -> report" in text
    rows = [line.split() for line in text.splitlines() if line.startswith("  train ")]
    assert rows[0] == ["train", "+200.0ms"]  # the breakdown
    assert rows[1][:6] == ["train", "1/1", "500.0ms", "700.0ms", "+200.0ms", "+40.0%"]
    assert "<table>" in result._repr_html_() and "train" in result._repr_html_()
    rich = pytest.importorskip("rich.console")
    console = rich.Console(record=True, width=160, color_system=None)
    console.print(result)
    assert "+200.0ms" in console.export_text()


# ------------------------------------------------------------------------- gates


@pytest.mark.parametrize(
    ("expression", "holds"),
    [
        ("makespan > +10%", True),
        ("makespan > +20%", False),
        ("makespan > 150ms", True),
        ("makespan > 0.1s and < 0.3s", True),
        ("node:* > +25% and > 50ms", True),
        ("node:* > +25% and > 250ms", False),
        ("node:train >= 199ms", True),
        ("node:tr?in > +39%", True),
        ('node:"stats" > 0us', False),
        ("new_failures > 0", False),
        ("removed_nodes >= 0", True),
        ("node:* < -1%", False),
    ],
)
def test_gate_conditions(tmp_path, expression, holds):
    result = dagron.compare(
        run(tmp_path / "b.json", DURATIONS), run(tmp_path / "c.json", slowed("train", 0.2))
    )
    assert bool(parse_gate(expression).check(result)) is holds


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("latency > 5%", "expected makespan, node:PATTERN"),
        ("makespan > 10", "10 needs a unit"),
        ("makespan >> 10%", "expected a comparison like '> +10%' at '>> 10%'"),
        ("makespan > 10% or > 5ms", "expected 'and' or the end at 'or > 5ms'"),
        ("new_failures > 1%", "new_failures is a count"),
        ("makespan", "expected a comparison like '> +10%' at 'the end'"),
    ],
)
def test_gate_expressions_outside_the_grammar_are_errors(expression, message):
    with pytest.raises(GateError, match=message.replace("(", r"\(").replace("+", r"\+")):
        parse_gate(expression)


def test_a_node_gate_that_matches_no_node_is_an_error(tmp_path):
    base, cand = run(tmp_path / "b.json", DURATIONS), run(tmp_path / "c.json", DURATIONS)
    result = dagron.compare(base, cand)
    with pytest.raises(GateError, match="no node of either side matches 'trian'"):
        parse_gate("node:trian > 5%").check(result)


def test_the_smallest_p_value_sets_how_many_runs_the_test_needs():
    assert smallest_p(1, 1) == 1.0 and smallest_p(3, 3) == pytest.approx(0.1)
    assert smallest_p(4, 4) == pytest.approx(2 / 70)  # 4 runs a side can reach 0.05
    assert smallest_p(0, 9) == 1.0 and smallest_p(30, 30) == 0.0  # normal approximation


def test_a_recorded_flight_recorder_trace_names_its_bound():
    from dagron import TraceEventType as T

    def record(max_events):
        trace = ExecutionTrace(max_events=max_events)
        for node in ("a", "b", "c", "d"):
            trace.record(T.NODE_STARTED, node_name=node)
            trace.record(T.NODE_COMPLETED, node_name=node, duration=0.001)
        return trace

    full, bounded = record(None), record(4)
    assert bounded.dropped > 0
    result = dagron.compare(full, bounded)
    assert result.removed_nodes == ["a", "b"]
    (warning,) = result.warnings
    assert warning.startswith(
        f"candidate trace 1: a bounded trace (max_events=4) that let go of its "
        f"{bounded.dropped} oldest events"
    )


class RunsOnly:
    """A trace of another library: only ``node_runs()``."""

    def __init__(self, trace: ExecutionTrace) -> None:
        self._trace = trace

    def node_runs(self):
        return self._trace.node_runs()


def test_node_times_are_read_off_the_runs_exactly(tmp_path):
    # "a" ran twice (its first start and last end count), "b" is still open (busy until
    # the trace's end), "c" was skipped (its instant bounds the trace, nothing ran), "d"
    # ran 0 s; busy intervals merge where they overlap. Both readings (a trace of this
    # package, off the core's pass, and any object with node_runs()) agree.
    from dagron.comparison._path import node_times, split_path, trace_path

    events = [
        {"event_type": "node_started", "timestamp": 1.0, "node_name": "a"},
        {"event_type": "node_failed", "timestamp": 2.0, "node_name": "a", "error": "x"},
        {"event_type": "node_started", "timestamp": 2.5, "node_name": "a"},
        {"event_type": "node_started", "timestamp": 3.0, "node_name": "b"},
        {"event_type": "node_completed", "timestamp": 4.0, "node_name": "a"},
        {"event_type": "node_started", "timestamp": 6.0, "node_name": "d"},
        {"event_type": "node_completed", "timestamp": 6.0, "node_name": "d"},
        {"event_type": "node_skipped", "timestamp": 9.0, "node_name": "c"},
    ]
    (tmp_path / "t.json").write_text(json.dumps(events))
    trace = ExecutionTrace.load(tmp_path / "t.json")
    for source in (trace, RunsOnly(trace)):
        index, table = {"d": 0}, ["d"]
        times = node_times(source, index, table)
        assert table == ["d", "a", "b", "c"] and index == {"d": 0, "a": 1, "b": 2, "c": 3}
        assert list(times.started) == [1, 2, 0] and list(times.ended) == [1, 0]
        assert [times.start[n] for n in times.started] == [1.0, 3.0, 6.0]
        assert [times.end[n] for n in times.ended] == [4.0, 6.0]
        assert all(map(math.isnan, (times.start[3], times.end[2], times.end[3])))
        assert (times.busy_from, times.busy_to) == ([1.0, 2.5], [2.0, 9.0])
        assert (times.run_start, times.run_end) == (1.0, 9.0)
        path = trace_path(times)
        assert path == [1, 0]
        split = split_path(times, path)
        assert split.span == {1: 3.0, 0: 0.0}
        assert (split.makespan, split.scheduling_delay, split.idle) == (8.0, 5.0, 0.0)


def test_traces_of_another_library_compare_as_this_packages(tmp_path):
    rng = random.Random(5)
    base = [run(tmp_path / f"b{i}.json", jittered(rng, DURATIONS, 0.05)) for i in range(5)]
    slow = {**DURATIONS, "train": 0.9}
    cand = [run(tmp_path / f"c{i}.json", jittered(rng, slow, 0.05)) for i in range(5)]
    ours = dagron.compare(base, cand).to_dict()
    theirs = dagron.compare([RunsOnly(t) for t in base], [RunsOnly(t) for t in cand]).to_dict()
    assert theirs == ours
    assert ours["candidate"]["critical_path"] == ["extract", "clean", "train", "report"]
