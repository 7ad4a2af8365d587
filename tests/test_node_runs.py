"""``ExecutionTrace.node_runs()``: one row per run of a node, paired by the rule the
Perfetto export's compact lanes use.

Every column is checked two ways: against hand-built traces whose runs are written
out here (overlapping runs of one node, ends out of order, open runs, skipped and
cancelled instants, ends whose start is gone, merged and bounded traces), and
against the slices and instants of the trace's own Perfetto export, decoded with
Perfetto's generated classes (``perfetto_model.decode``), for random event streams.
"""

from __future__ import annotations

import math
import pickle
from dataclasses import dataclass

import pytest
from dagron import _core
from dagron.execution.tracing import ExecutionTrace, NodeRuns, TraceEventType, TraceOrigin
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from perfetto_model import decode

T = TraceEventType
NAN = math.nan
NODE_ENDS = {"node_completed": "completed", "node_failed": "failed", "node_timed_out": "timed_out"}
INSTANTS = {"node_skipped": "skipped", "node_cancelled": "cancelled"}
COLUMNS = (
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


def crafted(origin: TraceOrigin, events: list[tuple], dropped: int = 0) -> ExecutionTrace:
    """A trace recorded elsewhere, with exact timestamps: ``events`` are
    ``(type, timestamp, node_name, duration, error)`` tuples."""
    trace = ExecutionTrace.__new__(ExecutionTrace)
    saved = [
        (kind.value, ts, node, None, duration, error, None)
        for kind, ts, node, duration, error in events
    ]
    origin_tuple = (origin.host, origin.pid, origin.monotonic_ns, origin.wall_ns)
    trace.__setstate__(_core._trace_state(saved, origin_tuple, dropped))
    return trace


def ev(kind, ts, node=None, duration=None, error=None):
    return (kind, ts, node, duration, error)


HERE = TraceOrigin("host-a", 11, 1_000_000_000, 1_700_000_000_000_000_000)
THERE = TraceOrigin("host-b", 22, 5_000_000_000, 1_700_000_000_000_000_000)


def rows(runs: NodeRuns) -> list[tuple]:
    """The rows as tuples (node by name, source by name), checking the columns'
    lengths and types on the way."""
    n = len(runs)
    for column in COLUMNS:
        assert len(getattr(runs, column)) == n, column
    assert len(set(runs.names)) == len(runs.names)
    out = []
    for i in range(n):
        row = tuple(getattr(runs, column)[i] for column in COLUMNS)
        node, source, lane, start, end, duration, status, error, first, last = row
        assert all(type(v) is int for v in (node, source, lane, first, last))
        assert all(type(v) is float for v in (start, end, duration))
        assert type(status) is str and (error is None or type(error) is str)
        out.append((runs.names[node], runs.sources[source], *row[2:]))
    return out


def same_rows(got: list[tuple], want: list[tuple]) -> None:
    assert len(got) == len(want), (got, want)
    for g, w in zip(got, want):
        assert len(g) == len(w)
        for a, b in zip(g, w):
            if isinstance(b, float) and math.isnan(b):
                assert isinstance(a, float) and math.isnan(a), (g, w)
            else:
                assert a == b, (g, w)


# -- hand-built traces ---------------------------------------------------------------


def test_overlapping_runs_of_one_node_close_newest_first():
    trace = crafted(
        HERE,
        [
            ev(T.EXECUTION_STARTED, 0.0),
            ev(T.NODE_STARTED, 1.0, "a"),  # 1: lane 0
            ev(T.NODE_STARTED, 2.0, "a"),  # 2: lane 1
            ev(T.NODE_COMPLETED, 3.0, "a", duration=0.25),  # closes the newest (2)
            ev(T.NODE_FAILED, 5.0, "a", error="E: boom"),  # closes 1
            ev(T.EXECUTION_COMPLETED, 6.0),
        ],
    )
    same_rows(
        rows(trace.node_runs()),
        [
            ("a", "host-a:11", 0, 1.0, 5.0, 4.0, "failed", "E: boom", 1, 4),
            ("a", "host-a:11", 1, 2.0, 3.0, 0.25, "completed", None, 2, 3),
        ],
    )


def test_ends_out_of_order_and_lanes_reused():
    trace = crafted(
        HERE,
        [
            ev(T.NODE_STARTED, 0.0, "a"),  # lane 0
            ev(T.NODE_STARTED, 0.5, "b"),  # lane 1
            ev(T.NODE_STARTED, 1.0, "c"),  # lane 2
            ev(T.NODE_COMPLETED, 1.5, "b"),  # frees lane 1
            ev(T.NODE_TIMED_OUT, 2.0, "a", duration=2.0, error="slow"),  # frees lane 0
            ev(T.NODE_STARTED, 2.5, "d"),  # lowest free: lane 0
            ev(T.NODE_COMPLETED, 3.0, "d"),
            ev(T.NODE_COMPLETED, 3.5, "c"),
        ],
    )
    runs = trace.node_runs()
    assert runs.names == ["a", "b", "c", "d"]
    assert runs.sources == ["host-a:11"]
    same_rows(
        rows(runs),
        [
            ("a", "host-a:11", 0, 0.0, 2.0, 2.0, "timed_out", "slow", 0, 4),
            ("b", "host-a:11", 1, 0.5, 1.5, 1.0, "completed", None, 1, 3),
            ("c", "host-a:11", 2, 1.0, 3.5, 2.5, "completed", None, 2, 7),
            ("d", "host-a:11", 0, 2.5, 3.0, 0.5, "completed", None, 5, 6),
        ],
    )


def test_open_runs_instants_and_ends_without_a_start():
    trace = crafted(
        HERE,
        [
            ev(T.NODE_COMPLETED, 0.0, "gone", duration=0.5),  # start not held: instant
            ev(T.NODE_STARTED, 1.0, "a"),  # lane 0
            ev(T.NODE_SKIPPED, 1.5, "s", error="upstream failed"),  # lowest free: lane 1
            ev(T.NODE_CANCELLED, 2.0, "a"),  # on a's open lane
            ev(T.NODE_GATE_WAITING, 2.5, "g"),  # a gate takes lane 1
            ev(T.NODE_STARTED, 3.0, "b"),  # lane 2
            ev(T.NODE_GATE_RESOLVED, 3.5, "g"),  # frees lane 1
            ev(T.NODE_CACHE_HIT, 4.0, "b"),  # not a run
            ev(T.NODE_CANCELLED, 4.5, "x"),  # lowest free lane: 1
            ev(T.NODE_STARTED, 5.0, None),  # no node: not a run
        ],
    )
    same_rows(
        rows(trace.node_runs()),
        [
            ("gone", "host-a:11", 0, 0.0, 0.0, 0.5, "completed", None, -1, 0),
            ("a", "host-a:11", 0, 1.0, NAN, NAN, "open", None, 1, -1),
            ("s", "host-a:11", 1, 1.5, 1.5, 0.0, "skipped", "upstream failed", 2, 2),
            ("a", "host-a:11", 0, 2.0, 2.0, 0.0, "cancelled", None, 3, 3),
            ("b", "host-a:11", 2, 3.0, NAN, NAN, "open", None, 5, -1),
            ("x", "host-a:11", 1, 4.5, 4.5, 0.0, "cancelled", None, 8, 8),
        ],
    )


def test_resource_holds_share_lanes_with_runs():
    trace = crafted(
        HERE,
        [
            ev(T.RESOURCE_ACQUIRED, 0.0, "a"),  # lane 0
            ev(T.NODE_STARTED, 1.0, "a"),  # lane 1
            ev(T.RESOURCE_RELEASED, 2.0, "a"),  # frees lane 0
            ev(T.NODE_STARTED, 2.5, "b"),  # lane 0
            ev(T.NODE_COMPLETED, 3.0, "a"),
            ev(T.NODE_COMPLETED, 4.0, "b"),
        ],
    )
    same_rows(
        rows(trace.node_runs()),
        [
            ("a", "host-a:11", 1, 1.0, 3.0, 2.0, "completed", None, 1, 4),
            ("b", "host-a:11", 0, 2.5, 4.0, 1.5, "completed", None, 3, 5),
        ],
    )


def test_merged_traces_pair_and_lay_out_per_source():
    here = crafted(
        HERE,
        [ev(T.NODE_STARTED, 0.0, "a"), ev(T.NODE_COMPLETED, 2.0, "a")],
    )
    there = crafted(
        THERE,
        [ev(T.NODE_STARTED, 1.0, "a"), ev(T.NODE_FAILED, 3.0, "a", error="E")],
    )
    merged = ExecutionTrace.merge([here, there])
    assert [e.timestamp for e in merged.events] == [0.0, 1.0, 2.0, 3.0]
    runs = merged.node_runs()
    assert runs.sources == ["host-a:11", "host-b:22"]
    assert runs.names == ["a"]
    # Same node, overlapping in time, in two processes: each source pairs its own.
    same_rows(
        rows(runs),
        [
            ("a", "host-a:11", 0, 0.0, 2.0, 2.0, "completed", None, 0, 2),
            ("a", "host-b:22", 0, 1.0, 3.0, 2.0, "failed", "E", 1, 3),
        ],
    )
    check_against_perfetto(merged)


def test_bounded_trace_keeps_ends_whose_start_was_let_go():
    trace = ExecutionTrace(max_events=3)
    trace.record(T.NODE_STARTED, node_name="a")
    trace.record(T.NODE_STARTED, node_name="b")
    trace.record(T.NODE_COMPLETED, node_name="a", duration=0.125)
    trace.record(T.NODE_COMPLETED, node_name="b")
    assert trace.dropped == 1
    events = trace.events
    got = rows(trace.node_runs())
    source = f"{trace.origin.host}:{trace.origin.pid}"
    same_rows(
        got,
        [
            ("b", source, 0, events[0].timestamp, events[2].timestamp,
             events[2].timestamp - events[0].timestamp, "completed", None, 0, 2),
            ("a", source, 1, events[1].timestamp, events[1].timestamp, 0.125,
             "completed", None, -1, 1),
        ],
    )  # fmt: skip
    check_against_perfetto(trace)


def test_empty_and_runless_traces():
    empty = ExecutionTrace().node_runs()
    assert len(empty) == 0 and empty.names == [] and empty.sources == []
    trace = ExecutionTrace()
    trace.record(T.EXECUTION_STARTED)
    trace.record(T.NODE_CACHE_MISS, node_name="a")
    runs = trace.node_runs()
    assert len(runs) == 0 and runs.names == []
    assert runs.sources == [f"{trace.origin.host}:{trace.origin.pid}"]


def test_runs_survive_pickling():
    trace = ExecutionTrace()
    trace.record(T.NODE_STARTED, node_name="a")
    trace.record(T.NODE_FAILED, node_name="a", error="E: x", duration=1.5)
    again = pickle.loads(pickle.dumps(trace))
    same_rows(rows(again.node_runs()), rows(trace.node_runs()))
    assert rows(trace.node_runs())[0][6:] == ("failed", "E: x", 0, 1)


# -- against the Perfetto export -----------------------------------------------------


def perfetto_runs(trace: ExecutionTrace) -> list[tuple]:
    """The runs the trace's Perfetto export draws: node slices (begin to end on one
    lane), open node slices, and the instants of skipped, cancelled and unmatched
    ends, as rows like ``rows`` gives, ordered by their first event."""
    decoded = decode(trace.to_perfetto())
    events = trace.events
    records = list(decoded.records)
    if trace.dropped:
        assert records[0].name == "events dropped"
        del records[0]
    # One record per event, plus a `failed: ` / `timed out: ` mark after the end of
    # a failed or timed-out slice.
    per_event = []
    for record in records:
        if (
            record.phase == "I"
            and per_event
            and per_event[-1].phase == "E"
            and per_event[-1].args.get("status") in ("node_failed", "node_timed_out")
            and record.name.startswith(("failed: ", "timed out: "))
        ):
            continue
        per_event.append(record)
    assert len(per_event) == len(events)
    names = [f"{s.host}:{s.pid}" for s in trace.sources]
    origin = decoded.origin
    found: list[tuple] = []
    open_slices: dict[tuple, tuple[int, bool]] = {}  # (source, track) -> (event, is run)
    for at, (event, record) in enumerate(zip(events, per_event)):
        kind = event.event_type.value
        assert record.ts == origin + math.floor(event.timestamp * 1e9 + 0.5)
        if event.node_name is None or record.track == ("execution",):
            continue
        key = (record.source, record.track)
        source = names[record.source] if names else "?"
        lane = record.track[1]
        if record.phase == "B":
            assert key not in open_slices  # compact lanes hold one slice at a time
            open_slices[key] = (at, kind == "node_started")
        elif record.phase == "E":
            first, is_run = open_slices.pop(key)
            if is_run:
                assert kind in NODE_ENDS
                start = events[first].timestamp
                duration = (
                    event.duration if event.duration is not None else event.timestamp - start
                )
                found.append(
                    (event.node_name, source, lane, start, event.timestamp, duration,
                     NODE_ENDS[kind], event.error, first, at)
                )  # fmt: skip
        elif kind in INSTANTS:
            found.append(
                (event.node_name, source, lane, event.timestamp, event.timestamp, 0.0,
                 INSTANTS[kind], event.error, at, at)
            )  # fmt: skip
        elif kind in NODE_ENDS:
            duration = event.duration if event.duration is not None else 0.0
            found.append(
                (event.node_name, source, lane, event.timestamp, event.timestamp, duration,
                 NODE_ENDS[kind], event.error, -1, at)
            )  # fmt: skip
    for (source_index, track), (first, is_run) in open_slices.items():
        if is_run:
            event = events[first]
            source = names[source_index] if names else "?"
            found.append(
                (event.node_name, source, track[1], event.timestamp, NAN, NAN, "open", None,
                 first, -1)
            )  # fmt: skip
    found.sort(key=lambda row: row[8] if row[8] >= 0 else row[9])
    return found


def check_against_perfetto(trace: ExecutionTrace) -> None:
    same_rows(rows(trace.node_runs()), perfetto_runs(trace))


KINDS = st.sampled_from(
    [
        T.NODE_STARTED,
        T.NODE_STARTED,
        T.NODE_STARTED,
        T.NODE_COMPLETED,
        T.NODE_COMPLETED,
        T.NODE_FAILED,
        T.NODE_TIMED_OUT,
        T.NODE_SKIPPED,
        T.NODE_CANCELLED,
        T.NODE_GATE_WAITING,
        T.NODE_GATE_RESOLVED,
        T.RESOURCE_ACQUIRED,
        T.RESOURCE_RELEASED,
        T.NODE_CACHE_HIT,
        T.STEP_STARTED,
        T.EXECUTION_STARTED,
        T.EXECUTION_COMPLETED,
    ]
)
STREAMS = st.lists(
    st.fixed_dictionaries(
        {"event_type": KINDS, "node_name": st.sampled_from(["a", "b", "c", "é", None])},
        optional={
            "duration": st.floats(allow_nan=False, allow_infinity=False, width=32),
            "error": st.sampled_from(["E: x", ""]),
            "step_index": st.integers(min_value=0, max_value=2),
        },
    ),
    max_size=40,
)
SETTINGS = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@SETTINGS
@given(stream=STREAMS)
def test_runs_match_the_perfetto_slices(stream):
    trace = ExecutionTrace()
    for kwargs in stream:
        trace.record(**kwargs)
    check_against_perfetto(trace)


@SETTINGS
@given(stream=STREAMS, size=st.integers(min_value=1, max_value=8))
def test_bounded_runs_match_the_perfetto_slices(stream, size):
    trace = ExecutionTrace(max_events=size)
    for kwargs in stream:
        trace.record(**kwargs)
    check_against_perfetto(trace)


@SETTINGS
@given(first=STREAMS, second=STREAMS)
def test_merged_runs_match_the_perfetto_slices(first, second):
    traces = []
    for origin, stream in ((HERE, first), (THERE, second)):
        events = [
            ev(kw["event_type"], i * 0.5, kw["node_name"], kw.get("duration"), kw.get("error"))
            for i, kw in enumerate(stream)
        ]
        traces.append(crafted(origin, events))
    check_against_perfetto(ExecutionTrace.merge(traces))


@pytest.mark.parametrize("count", [0, 1, 3])
def test_a_run_of_the_executor(count):
    from dagron import DAG, DAGExecutor

    dag = DAG()
    for i in range(count):
        dag.add_node(f"n{i}")
    result = DAGExecutor(dag, enable_tracing=True).execute(
        {f"n{i}": (lambda i=i: i) for i in range(count)}
    )
    trace = result.trace
    runs = trace.node_runs()
    assert sorted(runs.names) == sorted(f"n{i}" for i in range(count))
    assert list(runs.status) == ["completed"] * count
    check_against_perfetto(trace)


# -- profiling reads the runs ----------------------------------------------------------


@dataclass
class EventsOnly:
    """A trace that only has ``events``: profile_execution reads those one by one."""

    events: list


@SETTINGS
@given(
    stream=STREAMS,
    clock=st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.5, 4.0]), min_size=40, max_size=40),
    shared=st.booleans(),
)
def test_profiling_reads_the_runs_as_it_reads_the_events(stream, clock, shared):
    """``profile_execution`` on an ``ExecutionTrace`` (the core's runs) gives the
    report it gives on the same events read one by one; with the DAG's shared name
    table (as an executor's trace has) or names of its own. "c" is not a node."""
    from dagron import DAG, ExecutionResult, NodeResult, NodeStatus, profile_execution

    dag = DAG()
    dag.add_nodes(["é", "d", "a", "b"])
    dag.add_edges([("a", "b"), ("a", "d"), ("b", "é"), ("d", "é")])
    times = sorted(clock)
    events = [
        ev(kw["event_type"], times[i], kw["node_name"], kw.get("duration"), kw.get("error"))
        for i, kw in enumerate(stream)
    ]
    trace = crafted(HERE, events)
    if shared:
        copy = ExecutionTrace(_node_names=dag._node_names())
        copy.__setstate__(trace.__reduce__()[2])
        assert copy.events == trace.events
        trace = copy
    nodes = {n: NodeResult(n, NodeStatus.COMPLETED, None, None, 1.0) for n in dag.nodes}

    def report(trace):
        return profile_execution(dag, ExecutionResult(nodes, 4, 0, 0, 0, 0, 1.0, trace=trace))

    fast, slow = report(trace), report(EventsOnly(trace.events))
    # Timestamps and durations are finite, so every figure is too: plain equality.
    assert fast == slow
    assert (fast.idle is None) == (len(stream) == 0)


# -- OpenTelemetry reads the runs ------------------------------------------------------


def test_otel_spans_pair_overlapping_runs_as_perfetto_does():
    """Two runs of one node open at once: each end closes the newest open run (the
    Perfetto export's rule), so both spans get their own end."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import StatusCode

    trace = crafted(
        HERE,
        [
            ev(T.EXECUTION_STARTED, 0.0),
            ev(T.NODE_STARTED, 1.0, "a"),
            ev(T.NODE_STARTED, 2.0, "a"),
            ev(T.NODE_COMPLETED, 3.0, "a", duration=0.25),
            ev(T.NODE_FAILED, 5.0, "a", error="E: boom"),
            ev(T.EXECUTION_COMPLETED, 6.0),
        ],
    )
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.to_otel(provider)
    wall = HERE.wall_ns
    got = sorted(
        (
            s.start_time - wall,
            s.end_time - s.start_time,
            s.status.status_code,
            s.status.description,
        )
        for s in exporter.get_finished_spans()
        if s.name == "a"
    )
    assert got == [
        (1_000_000_000, 4_000_000_000, StatusCode.ERROR, "E: boom"),
        (2_000_000_000, 1_000_000_000, StatusCode.UNSET, None),
    ]


@SETTINGS
@given(stream=STREAMS, size=st.one_of(st.none(), st.integers(min_value=1, max_value=8)))
def test_otel_node_spans_are_the_runs(stream, size):
    """One span per run that is not an instant, in the runs' order, from its start
    to its end (a lost start from the end's duration, else at the end; an open run
    ends where it starts)."""
    from dagron.execution import otel

    trace = ExecutionTrace(max_events=size)
    for kwargs in stream:
        trace.record(**kwargs)
    events = trace.events
    if not events:
        return
    plan = otel._plan(trace, events)
    spans = [span for span in plan[1:] if not span.name.startswith("step ")]
    runs = trace.node_runs()
    kept = [i for i in range(len(runs)) if runs.status[i] not in ("skipped", "cancelled")]
    assert [span.name for span in spans] == [runs.names[runs.node[i]] for i in kept]

    def ns(seconds):
        return round(seconds * 1e9)

    for span, i in zip(spans, kept):
        status = runs.status[i]
        end = ns(runs.end[i]) if status != "open" else ns(runs.start[i])
        if runs.start_event[i] >= 0:
            start = ns(runs.start[i])
        elif events[runs.end_event[i]].duration is not None and math.isfinite(runs.duration[i]):
            start = end - ns(runs.duration[i])
        else:
            start = end
        assert (span.start, span.end) == (start, end)
        assert span.attributes.get("dagron.status", "open") == status
        assert span.attributes.get("dagron.end_lost", False) == (status == "open")


# -- the named Chrome lanes pair the same way --------------------------------------------


def chrome_pairs(trace: ExecutionTrace) -> tuple[list[tuple[int, int]], list[int]]:
    """How a viewer pairs the named Chrome export's node slices: per process and
    lane (tid, one per node name), an ``E`` closes the innermost open ``B``. Returns
    the (start event, end event) pairs, and the ends that closed nothing, as indices
    into ``trace.events``."""
    import json

    exported = {"node_started", "node_completed", "node_failed", "node_timed_out"}
    kept = [
        at
        for at, event in enumerate(trace.events)
        if event.event_type.value in exported or event.event_type.value.startswith("execution_")
    ]
    chrome = [e for e in json.loads(trace.to_chrome_trace(named=True))["traceEvents"]]
    chrome = [e for e in chrome if e["ph"] != "M"]
    assert len(chrome) == len(kept)
    stacks: dict[tuple, list[int]] = {}
    pairs, unmatched = [], []
    for at, event in zip(kept, chrome):
        if event["cat"] != "node" or event["name"] is None:
            continue
        stack = stacks.setdefault((event["pid"], event["tid"]), [])
        if event["ph"] == "B":
            stack.append(at)
        elif stack:
            pairs.append((stack.pop(), at))
        else:
            unmatched.append(at)
    return sorted(pairs), unmatched


@SETTINGS
@given(first=STREAMS, second=STREAMS)
def test_named_chrome_lanes_pair_as_the_runs_do(first, second):
    """The named Chrome export draws each node on its own lane per process; a
    viewer nests a lane's slices, which pairs each end with the newest open run of
    its node in its source: the runs' rule, with the same pairs."""
    traces = []
    for origin, stream in ((HERE, first), (THERE, second)):
        events = [
            ev(kw["event_type"], i * 0.5, kw["node_name"], kw.get("duration"), kw.get("error"))
            for i, kw in enumerate(stream)
        ]
        traces.append(crafted(origin, events))
    merged = ExecutionTrace.merge(traces)
    runs = merged.node_runs()
    ended = [i for i in range(len(runs)) if runs.status[i] in NODE_ENDS.values()]
    pairs, unmatched = chrome_pairs(merged)
    assert pairs == sorted(
        (runs.start_event[i], runs.end_event[i]) for i in ended if runs.start_event[i] >= 0
    )
    assert unmatched == [runs.end_event[i] for i in ended if runs.start_event[i] < 0]
