"""profile_execution, ProfileReport, NodeProfile and the DAG methods they use
(ancestors, descendants, critical_path, topological_levels): hand-made DAGs with
known answers, and random DAGs against the plain-Python reference below."""

from __future__ import annotations

import dataclasses
import math
import random
import time
from dataclasses import dataclass, field

import dagron
import pytest
from dagron import (
    DAG,
    ExecutionResult,
    NodeNotFoundError,
    NodeProfile,
    NodeResult,
    NodeStatus,
    ProfileReport,
    TraceEvent,
    TraceEventType,
    profile_execution,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

T = TraceEventType
DONE, FAILED, SKIPPED = NodeStatus.COMPLETED, NodeStatus.FAILED, NodeStatus.SKIPPED


@dataclass
class FakeTrace:
    """A trace with chosen timestamps: profile_execution only reads ``events``."""

    events: list[TraceEvent] = field(default_factory=list)


def result_of(dag: DAG, outcomes: dict[str, tuple[NodeStatus, float]], trace=None):
    nodes = {
        name: NodeResult(name, status, None, None, seconds)
        for name, (status, seconds) in outcomes.items()
    }
    count = [status for status, _ in outcomes.values()].count
    return ExecutionResult(
        nodes, count(DONE), count(FAILED), count(SKIPPED), 0, 0, 1.0, trace=trace
    )


def diamond() -> DAG:
    """a -> b -> d, a -> c -> d, and e on its own."""
    dag = DAG()
    dag.add_nodes(["a", "b", "c", "d", "e"])
    dag.add_edges([("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")])
    return dag


DIAMOND_TIMES = {"a": 1.0, "b": 5.0, "c": 2.0, "d": 1.0, "e": 0.5}


# -- plain-Python reference, straight from the definitions ----------------------------


def reference_critical_path(dag, cost, included):
    order = [n for n in dag.topological_sort() if n in included]
    bottom = {}
    for n in reversed(order):
        below = [bottom[s] for s in dag.successors(n) if s in included]
        bottom[n] = cost[n] + max([0.0, *below])
    if not order:
        return [], 0.0
    # Largest bottom level first, then the smaller name.
    start = min(order, key=lambda n: (-bottom[n], n))
    path = [start]
    while True:
        nxt = [s for s in dag.successors(path[-1]) if s in included]
        if not nxt:
            return path, bottom[start]
        path.append(min(nxt, key=lambda n: (-bottom[n], n)))


def reference_profile(dag: DAG, result: ExecutionResult) -> ProfileReport:
    durations = {n: r.duration_seconds for n, r in result.node_results.items() if r.status == DONE}
    report = ProfileReport()
    topo = [n for n in dag.topological_sort() if n in durations]
    if topo:
        preds = {n: [p for p in dag.predecessors(n) if p in durations] for n in topo}
        succs = {n: [s for s in dag.successors(n) if s in durations] for n in topo}
        es = {}
        for n in topo:
            es[n] = max(es[p] + durations[p] for p in preds[n]) if preds[n] else 0.0
        makespan = max(es[n] + durations[n] for n in topo)
        ls = {}
        for n in reversed(topo):
            latest = (min(ls[s] for s in succs[n]) if succs[n] else makespan) - durations[n]
            ls[n] = max(latest, es[n])  # rounding never puts it before the earliest start
        path, total = reference_critical_path(dag, durations, set(durations))
        blocked = {n: sum(d in durations for d in dag.descendants(n)) for n in topo}
        report.node_profiles = {
            n: NodeProfile(n, durations[n], es[n], ls[n], ls[n] - es[n], n in path, blocked[n])
            for n in topo
        }
        report.critical_path, report.critical_path_duration = path, total
        ranked = sorted(topo, key=lambda n: durations[n] * (1 + blocked[n]), reverse=True)
        report.bottlenecks = ranked[:5]
        work = sum(durations.values())
        report.parallelism_efficiency = work / makespan if makespan > 0 else 0.0
        report.actual_max_parallelism = max(
            sum(n in durations for n in level) for level in dag.topological_levels()
        )
    trace = result.trace
    if trace is not None and trace.events:
        events = trace.events
        start, end = {}, {}
        for e in events:
            if e.event_type is T.NODE_STARTED:
                start.setdefault(e.node_name, e.timestamp)
            elif e.event_type in (T.NODE_COMPLETED, T.NODE_FAILED, T.NODE_TIMED_OUT):
                end[e.node_name] = e.timestamp
        kinds = [e.event_type for e in events]
        run_start = (
            events[kinds.index(T.EXECUTION_STARTED)].timestamp
            if T.EXECUTION_STARTED in kinds
            else events[0].timestamp
        )
        ends_of_run = [e.timestamp for e in events if e.event_type is T.EXECUTION_COMPLETED]
        run_end = ends_of_run[-1] if ends_of_run else events[-1].timestamp
        index = {n: i for i, n in enumerate(dag.nodes)}
        # Observed path: ties go to the node added first.
        chain = []
        current = min(end, key=lambda n: (-end[n], index[n])) if end else None
        while current is not None:
            chain.append(current)
            began = start.get(current)
            done = [p for p in dag.predecessors(current) if p in end and began is not None]
            done = [p for p in done if end[p] <= began]
            current = min(done, key=lambda n: (-end[n], index[n])) if done else None
        report.observed_critical_path = chain[::-1]
        report.scheduling_delay = {}
        for n in dag.topological_sort():
            if n in start:
                ends = [end[p] for p in dag.predecessors(n) if p in end]
                report.scheduling_delay[n] = start[n] - (max(ends) if ends else run_start)
        # Idle: elementary segments between all interval ends, each either covered or not.
        spans = []
        for n, began in start.items():
            finish = min(end.get(n, run_end), run_end)
            began = max(began, run_start)
            if began < finish:
                spans.append((began, finish))
        points = sorted({run_start, run_end, *(t for span in spans for t in span)})
        busy = 0.0
        for lo, hi in zip(points, points[1:]):
            if any(a <= lo and hi <= b for a, b in spans):
                busy += hi - lo
        report.idle = max(0.0, run_end - run_start - busy)
    return report


# -- hand-made DAGs with known answers -------------------------------------------------


def test_diamond_all_completed():
    dag = diamond()
    result = result_of(dag, {n: (DONE, t) for n, t in DIAMOND_TIMES.items()})
    report = profile_execution(dag, result)
    assert report.node_profiles == {
        "a": NodeProfile("a", 1.0, 0.0, 0.0, 0.0, True, 3),
        "e": NodeProfile("e", 0.5, 0.0, 6.5, 6.5, False, 0),
        "b": NodeProfile("b", 5.0, 1.0, 1.0, 0.0, True, 1),
        "c": NodeProfile("c", 2.0, 1.0, 4.0, 3.0, False, 1),
        "d": NodeProfile("d", 1.0, 6.0, 6.0, 0.0, True, 0),
    }
    assert list(report.node_profiles) == ["a", "e", "b", "c", "d"]  # topological
    assert report.critical_path == ["a", "b", "d"]
    assert report.critical_path_duration == 7.0
    # Scores: b 10, a 4, c 4 (a first: earlier in topological order), d 1, e 0.5.
    assert report.bottlenecks == ["b", "a", "c", "d", "e"]
    assert report.parallelism_efficiency == 9.5 / 7.0
    assert report.actual_max_parallelism == 2
    assert report.observed_critical_path == [] and report.scheduling_delay == {}
    assert report.idle is None
    assert report == reference_profile(dag, result)
    assert report.summary() == (
        "Profile Report\n"
        "  Nodes profiled: 5\n"
        "  Critical path: a -> b -> d\n"
        "  Critical path duration: 7.0000s\n"
        "  Parallelism efficiency: 1.36\n"
        "  Max parallelism: 2\n"
        "  Bottlenecks: b, a, c, d, e"
    )
    as_dict = report.to_dict()
    assert list(as_dict) == [
        "node_profiles",
        "critical_path",
        "critical_path_duration",
        "bottlenecks",
        "parallelism_efficiency",
        "actual_max_parallelism",
    ]
    assert as_dict["node_profiles"]["c"] == {
        "duration": 2.0,
        "earliest_start": 1.0,
        "latest_start": 4.0,
        "slack": 3.0,
        "on_critical_path": False,
        "blocked_descendants": 1,
    }
    assert as_dict["critical_path"] == ["a", "b", "d"]
    assert as_dict["parallelism_efficiency"] == 9.5 / 7.0


def test_only_completed_nodes_count():
    dag = diamond()
    outcomes = {n: (DONE, t) for n, t in DIAMOND_TIMES.items()}
    outcomes["c"] = (FAILED, 2.0)
    outcomes["d"] = (SKIPPED, 0.0)
    report = profile_execution(dag, result_of(dag, outcomes))
    assert report.node_profiles == {
        "a": NodeProfile("a", 1.0, 0.0, 0.0, 0.0, True, 1),
        "e": NodeProfile("e", 0.5, 0.0, 5.5, 5.5, False, 0),
        "b": NodeProfile("b", 5.0, 1.0, 1.0, 0.0, True, 0),
    }
    assert (report.critical_path, report.critical_path_duration) == (["a", "b"], 6.0)
    assert report.bottlenecks == ["b", "a", "e"]
    assert report.parallelism_efficiency == 6.5 / 6.0
    assert report.actual_max_parallelism == 2


def test_descendants_count_through_nodes_that_did_not_complete():
    # a -> x -> b: x failed, yet b is still a (completed) descendant of a.
    dag = DAG.builder().add_edges([("a", "x"), ("x", "b")]).build()
    outcomes = {"a": (DONE, 1.0), "x": (FAILED, 1.0), "b": (DONE, 2.0)}
    report = profile_execution(dag, result_of(dag, outcomes))
    assert report.node_profiles["a"].blocked_descendants == 1
    # The schedule only links completed nodes: a and b are unconnected there.
    assert report.node_profiles["b"].earliest_start == 0.0
    assert report.critical_path == ["b"]


def test_nothing_completed_gives_the_empty_report():
    dag = diamond()
    report = profile_execution(dag, result_of(dag, {n: (FAILED, 1.0) for n in dag.nodes}))
    assert report == ProfileReport()
    assert report.summary() == (
        "Profile Report\n  Nodes profiled: 0\n  Critical path: \n"
        "  Critical path duration: 0.0000s\n  Parallelism efficiency: 0.00\n"
        "  Max parallelism: 0\n  Bottlenecks: "
    )


def test_slack_is_never_negative_through_rounding():
    # (e + d) - d can round below e: for about a third of these diamonds upstream's
    # formula (this package's before) gave a critical node a slack (and node a a
    # latest start) of about -1e-18, which upstream's own test_profile_slack rejects.
    dag = diamond()
    rng = random.Random(23)
    for _ in range(300):
        times = {n: 0.05 + rng.random() * 0.01 for n in "abcd"}
        outcomes = {n: (DONE, t) for n, t in times.items()}
        for p in profile_execution(dag, result_of(dag, outcomes)).node_profiles.values():
            assert p.slack >= 0.0, (times, p)
            assert p.latest_start >= p.earliest_start >= 0.0, (times, p)


def test_zero_durations_give_zero_efficiency():
    dag = diamond()
    report = profile_execution(dag, result_of(dag, {n: (DONE, 0.0) for n in dag.nodes}))
    assert report.parallelism_efficiency == 0.0
    # All bottom levels tie at 0: the smallest name starts, then the smaller successor.
    assert report.critical_path == ["a", "b", "d"]


def test_observed_figures_from_a_trace():
    dag = diamond()
    times = {"a": (0.0, 1.0), "e": (0.0, 0.5), "b": (1.25, 6.25), "c": (1.5, 3.5)}
    times["d"] = (6.5, 7.5)
    events = [TraceEvent(T.EXECUTION_STARTED, 0.0)]
    for name, (began, ended) in times.items():
        events.append(TraceEvent(T.NODE_STARTED, began, node_name=name))
        kind = T.NODE_FAILED if name == "c" else T.NODE_COMPLETED
        events.append(TraceEvent(kind, ended, node_name=name))
    events.append(TraceEvent(T.EXECUTION_COMPLETED, 8.0))
    events.sort(key=lambda e: e.timestamp)
    outcomes = {n: (DONE, b - a) for n, (a, b) in times.items()}
    result = result_of(dag, outcomes, trace=FakeTrace(events))
    report = profile_execution(dag, result)
    assert report.observed_critical_path == ["a", "b", "d"]
    assert report.scheduling_delay == {"a": 0.0, "e": 0.0, "b": 0.25, "c": 0.5, "d": 0.25}
    # Running: 0-1, 1.25-6.25, 6.5-7.5 (c inside b): 7 of the run's 8 seconds.
    assert report.idle == 1.0
    assert report == reference_profile(dag, result)


def test_a_foreign_trace_out_of_time_order_reads_as_in_order():
    # A trace of another type is copied into the core (one pairing rule for all
    # readers); its events are put in time order first, ties keeping their order.
    dag = diamond()
    events = [
        TraceEvent(T.NODE_STARTED, 0.0, node_name="a"),
        TraceEvent(T.NODE_COMPLETED, 1.0, node_name="a"),
        TraceEvent(T.NODE_STARTED, 1.5, node_name="b"),
        TraceEvent(T.NODE_COMPLETED, 4.0, node_name="b"),
        TraceEvent(T.EXECUTION_COMPLETED, 5.0),
    ]
    shuffled = [events[3], events[0], events[4], events[2], events[1]]
    outcomes = {"a": (DONE, 1.0), "b": (DONE, 2.5)}
    in_order = profile_execution(dag, result_of(dag, outcomes, trace=FakeTrace(events)))
    report = profile_execution(dag, result_of(dag, outcomes, trace=FakeTrace(shuffled)))
    assert report.observed_critical_path == ["a", "b"]
    assert report.scheduling_delay == {"a": 0.0, "b": 0.5}
    assert report.idle == 1.5  # 1.0-1.5 and 4.0-5.0
    assert report == in_order


def test_observed_figures_when_the_trace_lost_its_ends():
    # A node with a start and no end runs to the run's end; the run spans the events.
    dag = diamond()
    events = [
        TraceEvent(T.NODE_STARTED, 1.0, node_name="a"),
        TraceEvent(T.NODE_COMPLETED, 2.0, node_name="a"),
        TraceEvent(T.NODE_STARTED, 3.0, node_name="b"),
        TraceEvent(T.STEP_COMPLETED, 5.0, step_index=1),
    ]
    result = result_of(dag, {"a": (DONE, 1.0)}, trace=FakeTrace(events))
    report = profile_execution(dag, result)
    assert report.observed_critical_path == ["a"]
    assert report.scheduling_delay == {"a": 0.0, "b": 1.0}
    assert report.idle == 1.0  # 2.0-3.0
    assert report == reference_profile(dag, result)


def assert_matches_reference(report: ProfileReport, expected: ProfileReport) -> None:
    """Equal in every figure; idle up to rounding (the two sum gaps in different orders)."""
    if report.idle is not None and expected.idle is not None:
        assert report.idle == pytest.approx(expected.idle, abs=1e-9)
        report.idle = expected.idle
    assert report == expected


def test_a_real_traced_run():
    dag = diamond()
    sleeps = {"a": 0.02, "b": 0.06, "c": 0.01, "d": 0.02, "e": 0.005}
    tasks = {n: (lambda s=s: time.sleep(s)) for n, s in sleeps.items()}
    result = dagron.DAGExecutor(dag, trace=True).execute(tasks)
    report = profile_execution(dag, result)
    assert_matches_reference(report, reference_profile(dag, result))
    assert report.critical_path == ["a", "b", "d"]
    assert report.observed_critical_path == ["a", "b", "d"]
    assert set(report.scheduling_delay) == set(dag.nodes)
    assert all(delay >= 0.0 for delay in report.scheduling_delay.values())
    assert report.idle is not None and 0.0 <= report.idle < result.total_duration_seconds


def observed(report: ProfileReport) -> tuple:
    return report.observed_critical_path, report.scheduling_delay, report.idle


def test_every_reading_of_a_trace_gives_the_same_observed_figures(tmp_path):
    # An executor's trace is read off the core's node runs, names matched by identity
    # (60,001 nodes: beside the profiles, on the second thread); the same trace
    # loaded from JSON by name lookups; and its events one by one (the reading for
    # traces of other types). All three agree.
    pairs = 30_000
    dag = pairs_dag(pairs)
    result = dagron.DAGExecutor(dag, trace=True).execute({n: (lambda: None) for n in dag.nodes})
    trace = result.trace
    assert trace is not None
    report = profile_execution(dag, result)
    assert len(report.scheduling_delay) == 1 + 2 * pairs
    assert report.observed_critical_path[0] == "root"
    trace.write_json(tmp_path / "run.json")
    loaded = dagron.ExecutionTrace.load(tmp_path / "run.json")
    for other in (loaded, FakeTrace(list(trace.events))):
        again = dataclasses.replace(result, trace=other)
        assert observed(profile_execution(dag, again)) == observed(report)


def test_bad_input():
    dag = diamond()
    with pytest.raises(TypeError, match="dag must be a dagron.DAG"):
        profile_execution("dag", result_of(dag, {}))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="result must be an ExecutionResult"):
        profile_execution(dag, None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'zz', which is not a node of dag"):
        profile_execution(dag, result_of(dag, {"zz": (DONE, 1.0)}))
    with pytest.raises(ValueError, match="node 'a' must be finite and >= 0, not -1.0"):
        profile_execution(dag, result_of(dag, {"a": (DONE, -1.0)}))
    with pytest.raises(TypeError, match="node 'a' must be a number, not str"):
        profile_execution(dag, result_of(dag, {"a": (DONE, "1")}))  # type: ignore[arg-type]


def test_int_durations_and_results_out_of_dag_order():
    # Results keyed by equal but not identical names, in another order, with an int
    # duration: each is found by name, and the int counts as its float.
    dag = diamond()
    results = {
        "".join(["d"]): NodeResult("d", DONE, None, None, 1),
        "b": NodeResult("b", DONE, None, None, 5.0),
        "a": NodeResult("a", DONE, None, None, 1.0),
    }
    report = profile_execution(dag, ExecutionResult(results, 3, 0, 0, 0, 0, 7.0))
    assert report.node_profiles == {
        "a": NodeProfile("a", 1.0, 0.0, 0.0, 0.0, True, 2),
        "b": NodeProfile("b", 5.0, 1.0, 1.0, 0.0, True, 1),
        "d": NodeProfile("d", 1.0, 6.0, 6.0, 0.0, True, 0),
    }
    assert type(report.node_profiles["d"].duration) is float
    assert report.critical_path == ["a", "b", "d"]


def pairs_dag(pairs: int) -> DAG:
    """``root`` before each ``a{i}``, and ``a{i}`` before ``b{i}``."""
    dag = DAG()
    dag.add_node("root")
    dag.add_nodes(f"a{i}" for i in range(pairs))
    dag.add_nodes(f"b{i}" for i in range(pairs))
    dag.add_edges(("root", f"a{i}") for i in range(pairs))
    dag.add_edges((f"a{i}", f"b{i}") for i in range(pairs))
    return dag


def test_a_large_run_counts_descendants_beside_building_the_profiles():
    # From 50,000 nodes on the descendant counts run on a thread of their own while
    # the profiles are built: 30,000 pairs a_i -> b_i plus a root before every a_i.
    pairs = 30_000
    dag = pairs_dag(pairs)
    outcomes = {"root": (DONE, 1.0)}
    outcomes.update({f"a{i}": (DONE, 1.0 + (i == 7)) for i in range(pairs)})
    outcomes.update({f"b{i}": (DONE if i % 2 else FAILED, 1.0) for i in range(pairs)})
    report = profile_execution(dag, result_of(dag, outcomes))
    profiles = report.node_profiles
    assert len(profiles) == 1 + pairs + pairs // 2
    assert list(profiles)[:3] == ["root", "a0", "a1"]
    assert profiles["root"] == NodeProfile("root", 1.0, 0.0, 0.0, 0.0, True, pairs + pairs // 2)
    assert profiles["a7"] == NodeProfile("a7", 2.0, 1.0, 1.0, 0.0, True, 1)
    assert profiles["a8"] == NodeProfile("a8", 1.0, 1.0, 3.0, 2.0, False, 0)
    assert profiles["a9"] == NodeProfile("a9", 1.0, 1.0, 2.0, 1.0, False, 1)
    assert profiles["b9"] == NodeProfile("b9", 1.0, 2.0, 3.0, 1.0, False, 0)
    assert "b8" not in profiles
    assert report.critical_path == ["root", "a7", "b7"]
    assert report.bottlenecks == ["root", "a7", "a1", "a3", "a5"]
    assert report.actual_max_parallelism == pairs


def test_profiles_of_a_class_without_slots_are_set_by_attribute():
    # The core writes NodeProfile's slots directly; a class whose fields are not
    # slots is built attribute by attribute, and one with its own __setattr__ (which
    # that would skip) is refused.
    @dataclass
    class Plain:
        name: str
        duration: float
        earliest_start: float
        latest_start: float
        slack: float
        on_critical_path: bool
        blocked_descendants: int

    class Watched(Plain):
        def __setattr__(self, name: str, value: object) -> None:
            super().__setattr__(name, value)

    dag = diamond()
    names, graph = dag._graph_index()
    results = result_of(dag, {"a": (DONE, 1.0), "b": (DONE, 5.0)}).node_results
    fields = tuple(Plain.__dataclass_fields__)

    def profile(cls: type) -> object:
        return dagron._core._profile_run(
            graph, results, dag._index, DONE, lambda n, v: v, names, cls, fields, 5
        )[0]

    out = profile(Plain)
    assert out is not None
    assert out[0] == {
        "a": Plain("a", 1.0, 0.0, 0.0, 0.0, True, 1),
        "b": Plain("b", 5.0, 1.0, 1.0, 0.0, True, 0),
    }
    assert out[1:4] == (["a", "b"], 6.0, ["b", "a"])
    with pytest.raises(TypeError, match="Watched must be a Python class that uses object"):
        profile(Watched)


# -- the DAG methods ------------------------------------------------------------------------


def test_dag_ancestors_descendants_levels():
    dag = diamond()
    assert dag.ancestors("d") == ["a", "b", "c"]
    assert dag.descendants("a") == ["b", "c", "d"]
    assert dag.ancestors("a") == [] and dag.descendants("e") == []
    assert dag.topological_levels() == dag.levels() == [["a", "e"], ["b", "c"], ["d"]]
    with pytest.raises(NodeNotFoundError):
        dag.descendants("zz")


def test_dag_critical_path():
    dag = diamond()
    assert dag.critical_path(DIAMOND_TIMES) == (["a", "b", "d"], 7.0)
    # Missing nodes weigh 1.0, as upstream: a-b-d = 3, and the smaller name wins ties.
    assert dag.critical_path({}) == (["a", "b", "d"], 3.0)
    assert dag.critical_path({"e": 4}) == (["e"], 4.0)
    assert DAG().critical_path({}) == ([], 0.0)
    with pytest.raises(NodeNotFoundError):
        dag.critical_path({"zz": 1.0})
    with pytest.raises(ValueError, match="node 'a' must be finite and >= 0, not nan"):
        dag.critical_path({"a": math.nan})
    with pytest.raises(TypeError, match="durations must be a mapping"):
        dag.critical_path([("a", 1.0)])  # type: ignore[arg-type]


def test_graph_index_rejects_inconsistent_arrays():
    with pytest.raises(ValueError, match="close a cycle"):
        dagron._core.GraphIndex([[1], [0]])
    with pytest.raises(ValueError, match="out of range"):
        dagron._core.GraphIndex([[7], []])
    with pytest.raises(TypeError, match=r"successors\[1\] must be an iterable of int"):
        dagron._core.GraphIndex([[1], 5])
    graph = dagron._core.GraphIndex([{1: None}, []])
    assert graph.order() == [0, 1]
    with pytest.raises(ValueError, match="durations has 1 items for 2 nodes"):
        graph.schedule([1.0], b"\x01\x01")


def test_graph_index_order_is_the_dag_levels():
    dag = diamond()
    names, graph = dag._graph_index()
    assert [names[i] for i in graph.order()] == dag.topological_sort()


# -- random DAGs against the reference -----------------------------------------------


@st.composite
def runs(draw):
    count = draw(st.integers(1, 14))
    names = draw(
        st.lists(
            st.text("abcxyz", min_size=1, max_size=3), min_size=count, max_size=count, unique=True
        )
    )
    pairs = draw(st.lists(st.tuples(st.integers(0, count - 1), st.integers(0, count - 1))))
    dag = DAG()
    dag.add_nodes(names)
    # Edges point from the earlier to the later name in a random permutation: acyclic.
    rank = draw(st.permutations(range(count)))
    dag.add_edges(
        (names[a], names[b]) if rank[a] < rank[b] else (names[b], names[a])
        for a, b in pairs
        if a != b
    )
    # Durations from a small set (so ties happen) or any finite non-negative float.
    seconds = st.one_of(
        st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.0]),
        st.floats(0.0, 1e6, allow_nan=False, allow_infinity=False),
    )
    statuses = st.sampled_from([DONE, DONE, DONE, FAILED, SKIPPED])
    outcomes = {name: (draw(statuses), draw(seconds)) for name in names}
    trace = None
    if draw(st.booleans()):
        clock = st.sampled_from([0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0])
        events = [TraceEvent(T.EXECUTION_STARTED, draw(clock))]
        for name in names:
            if draw(st.booleans()):
                began = draw(clock)
                events.append(TraceEvent(T.NODE_STARTED, began, node_name=name))
                if draw(st.booleans()):
                    kind = draw(st.sampled_from(sorted(_ENDS, key=lambda k: k.value)))
                    events.append(TraceEvent(kind, began + draw(clock), node_name=name))
        if draw(st.booleans()):
            events.append(TraceEvent(T.EXECUTION_COMPLETED, 8.0))
        events.sort(key=lambda e: e.timestamp)
        trace = FakeTrace(events)
    return dag, result_of(dag, outcomes, trace)


_ENDS = {T.NODE_COMPLETED, T.NODE_FAILED, T.NODE_TIMED_OUT}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs())
def test_random_runs_match_the_reference(run):
    dag, result = run
    report = profile_execution(dag, result)
    assert_matches_reference(report, reference_profile(dag, result))
    names, graph = dag._graph_index()
    assert [names[i] for i in graph.order()] == dag.topological_sort()
    for name in dag.nodes:
        assert dag.descendants(name) == sorted(
            (n for n in dag.nodes if name in dag.ancestors(n)), key=dag.nodes.index
        )


@settings(max_examples=200, deadline=None)
@given(runs(), st.data())
def test_random_critical_paths_match_the_reference(run, data):
    dag, _ = run
    cost = {
        n: data.draw(st.sampled_from([0.0, 0.5, 1.0, 3.0]))
        for n in dag.nodes
        if data.draw(st.booleans())
    }
    weights = {n: cost.get(n, 1.0) for n in dag.nodes}
    assert dag.critical_path(cost) == reference_critical_path(dag, weights, set(dag.nodes))
