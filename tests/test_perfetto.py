"""``to_perfetto()`` / ``write_perfetto()``: the trace as a Perfetto protobuf trace.

Every export is decoded with Perfetto's generated classes and compared, event for
event, with what ``perfetto_model.expected`` derives from ``trace.events`` (tracks,
slice begins and ends, instants, names, annotations, nanosecond timestamps, the
running-nodes counter), while ``perfetto_model.decode`` checks interning, sequence
flags, track descriptions and slice balance on the way.
"""

from __future__ import annotations

import gzip
import io
import os
import threading
import time

import pytest
from dagron.execution.tracing import ExecutionTrace, TraceEventType
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from perfetto_model import check, decode, expected
from trace_streams import event_streams, metadata_values, record_all, texts

T = TraceEventType
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
LANES = ["compact", "node"]


def run_like_stream(draw_nodes, max_size=40):
    """Events of a run: mostly starts and ends over a few node names, so slices pair,
    overlap, nest and go unmatched."""
    kinds = st.sampled_from(
        [
            T.NODE_STARTED,
            T.NODE_STARTED,
            T.NODE_COMPLETED,
            T.NODE_FAILED,
            T.NODE_TIMED_OUT,
            T.NODE_GATE_WAITING,
            T.NODE_GATE_RESOLVED,
            T.RESOURCE_ACQUIRED,
            T.RESOURCE_RELEASED,
            T.NODE_SKIPPED,
            T.NODE_CACHE_HIT,
            T.STEP_STARTED,
            T.STEP_COMPLETED,
            T.EXECUTION_STARTED,
            T.EXECUTION_COMPLETED,
        ]
    )
    one = st.fixed_dictionaries(
        {"event_type": kinds, "node_name": draw_nodes},
        optional={
            "step_index": st.integers(min_value=-2, max_value=2),
            "duration": st.floats(allow_nan=False),
            "error": texts,
            "metadata": metadata_values,
        },
    )
    return st.lists(one, max_size=max_size)


node_pools = st.lists(texts, min_size=1, max_size=5).flatmap(
    lambda pool: run_like_stream(st.one_of(st.sampled_from(pool), st.none()))
)


@SETTINGS
@given(stream=event_streams(max_size=20), lanes=st.sampled_from(LANES))
def test_any_events_read_back_exactly(stream, lanes):
    trace = ExecutionTrace()
    record_all(trace, stream)
    check(trace, lanes=lanes)


@SETTINGS
@given(stream=node_pools, lanes=st.sampled_from(LANES), name=texts)
def test_runs_pair_into_slices(stream, lanes, name):
    trace = ExecutionTrace()
    record_all(trace, stream)
    check(trace, lanes=lanes, process_name=name)


@settings(max_examples=30, deadline=None)
@given(stream=node_pools, size=st.integers(min_value=1, max_value=8))
def test_bounded_traces_show_ends_without_starts(stream, size):
    trace = ExecutionTrace(max_events=size)
    record_all(trace, stream)
    assert len(trace.events) == min(size, len(stream))
    for lanes in LANES:
        check(trace, lanes=lanes)


@pytest.mark.parametrize("lanes", LANES)
def test_empty_trace(lanes):
    decoded = check(ExecutionTrace(), lanes=lanes)
    assert decoded.records == [] and decoded.lane_names == []
    assert decoded.process_name == "dagron"
    assert decoded.pid == os.getpid()


def test_timestamps_are_monotonic_clock_nanoseconds():
    trace = ExecutionTrace()
    before = time.monotonic_ns()
    trace.record(T.EXECUTION_STARTED)
    after = time.monotonic_ns()
    time.sleep(0.002)
    trace.record(T.EXECUTION_COMPLETED)
    decoded = check(trace)
    assert before <= decoded.origin <= after
    start, end = decoded.records
    assert start.ts == decoded.origin
    assert end.ts - start.ts == round(trace.events[1].timestamp * 1e9)
    assert end.ts - start.ts >= 2_000_000


def test_compact_lanes_stay_few():
    """A 2,000-node run with at most 8 nodes running at once draws 8 lanes."""
    trace = ExecutionTrace()
    trace.record(T.EXECUTION_STARTED)
    for i in range(2_000):
        if i >= 8:
            trace.record(T.NODE_COMPLETED, node_name=f"n{i - 8}", duration=0.0)
        trace.record(T.NODE_STARTED, node_name=f"n{i}")
    decoded = check(trace)
    assert decoded.lane_names == [f"lane {i}" for i in range(1, 9)]
    assert max(r.counter or 0 for r in decoded.records) == 8
    per_node = check(trace, lanes="node")
    assert len(per_node.lane_names) == 2_000


def test_a_node_per_thread():
    trace = ExecutionTrace()
    trace.record(T.EXECUTION_STARTED)

    def work(k):
        for i in range(300):
            name = f"t{k}-{i % 7}"
            trace.record(T.NODE_STARTED, node_name=name)
            trace.record(T.NODE_COMPLETED, node_name=name, duration=1e-6, metadata={"i": i})

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    trace.record(T.EXECUTION_COMPLETED)
    for lanes in LANES:
        decoded = check(trace, lanes=lanes)
        assert decoded.open_at_end == {}


def test_failures_are_marked_and_annotated():
    trace = ExecutionTrace()
    trace.record(T.NODE_STARTED, node_name="a")
    trace.record(T.NODE_FAILED, node_name="a", duration=0.5, error="ValueError: boom\\")
    trace.record(T.NODE_STARTED, node_name="b")
    trace.record(T.NODE_TIMED_OUT, node_name="b", duration=1.0)
    records = check(trace).records
    assert [(r.phase, r.name) for r in records] == [
        ("B", "a"),
        ("E", None),
        ("I", "failed: a"),
        ("B", "b"),
        ("E", None),
        ("I", "timed out: b"),
    ]
    assert records[1].args == {
        "status": "node_failed",
        "duration": 0.5,
        "error": "ValueError: boom\\",
    }


def test_metadata_types_are_kept():
    trace = ExecutionTrace()
    metadata = {
        "s": "t\xe9xt\n\\\ud800",
        "i": -(2**63),
        "u": 2**64 - 1,
        "big": -(2**70),
        "f": 1.5,
        "b": True,
        "none": None,
        "empty": {},
        "list": [],
        "nested": {"a": [1, (2, {"x": None})], 3: 4.0},
    }
    trace.record(T.NODE_CACHE_HIT, node_name="n", metadata=metadata)
    (record,) = check(trace).records
    assert record.args["metadata"] == {
        "s": "t\xe9xt\n\\\ufffd",
        "i": -(2**63),
        "u": 2**64 - 1,
        "big": -(2**70),
        "f": 1.5,
        "b": True,
        "none": None,
        "empty": {},
        "list": [],
        "nested": {"a": [1, [2, {"x": None}]], "3": 4.0},
    }


# --- write_perfetto --------------------------------------------------------------------


def sample_trace():
    trace = ExecutionTrace()
    trace.record(T.EXECUTION_STARTED)
    for i in range(500):
        trace.record(T.NODE_STARTED, node_name=f"n{i % 9}", metadata={"i": i})
        trace.record(T.NODE_COMPLETED, node_name=f"n{i % 9}", duration=0.25)
    trace.record(T.EXECUTION_COMPLETED)
    return trace


@pytest.mark.parametrize("name", ["trace.perfetto-trace", "trace.perfetto-trace.gz"])
def test_write_perfetto_to_a_path(tmp_path, name):
    trace = sample_trace()
    path = tmp_path / name
    trace.write_perfetto(path, lanes="node", process_name="p")
    data = path.read_bytes()
    if name.endswith(".gz"):
        data = gzip.decompress(data)
    assert data == trace.to_perfetto(lanes="node", process_name="p")
    trace.write_perfetto(str(path))
    assert os.listdir(tmp_path) == [name]


def test_write_perfetto_to_binary_files():
    trace = sample_trace()
    buffer = io.BytesIO()
    trace.write_perfetto(buffer)
    assert buffer.getvalue() == trace.to_perfetto()

    class Collector:
        def __init__(self):
            self.chunks = []

        def write(self, chunk):
            self.chunks.append(chunk)

    collector = Collector()
    trace.write_perfetto(collector)
    assert all(type(chunk) is bytes for chunk in collector.chunks)
    assert b"".join(collector.chunks) == trace.to_perfetto()
    with pytest.raises(TypeError, match="text file"):
        trace.write_perfetto(io.StringIO())


def test_a_failed_export_leaves_nothing(tmp_path):
    trace = sample_trace()
    trace.record(T.NODE_SKIPPED, node_name="bad", metadata={"x": {1, 2}})
    path = tmp_path / "t.perfetto-trace"
    with pytest.raises(TypeError, match="Object of type set is not JSON serializable"):
        trace.write_perfetto(path)
    with pytest.raises(TypeError, match="Object of type set is not JSON serializable"):
        trace.to_perfetto()
    assert os.listdir(tmp_path) == []
    assert len(trace.events) == 1003


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"lanes": "thread"},
            ValueError,
            "argument 'lanes' must be 'compact' or 'node', not 'thread'",
        ),
        ({"lanes": 1}, TypeError, "argument 'lanes' must be str, not int"),
        ({"process_name": b"x"}, TypeError, "argument 'process_name' must be str, not bytes"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    trace = sample_trace()
    with pytest.raises(error) as info:
        trace.to_perfetto(**kwargs)
    assert str(info.value) == "to_perfetto() " + message
    with pytest.raises(error) as info:
        trace.write_perfetto(io.BytesIO(), **kwargs)
    assert str(info.value) == "write_perfetto() " + message


def test_expected_model_sanity():
    """The model itself: a plain run gives the documented shape."""

    class Event:
        def __init__(self, kind, ts, node=None, step=None):
            self.event_type = kind
            self.timestamp = ts
            self.node_name = node
            self.step_index = step
            self.duration = None
            self.error = None
            self.metadata = {}

    events = [
        Event(T.EXECUTION_STARTED, 0.0),
        Event(T.STEP_STARTED, 0.0, step=0),
        Event(T.NODE_STARTED, 0.5, "a"),
        Event(T.NODE_COMPLETED, 1.0, "a"),
        Event(T.STEP_COMPLETED, 1.0, step=0),
        Event(T.EXECUTION_COMPLETED, 1.5),
    ]
    records, lanes = expected(events, origin=10)
    assert lanes == ["lane 1"]
    assert [(r.phase, r.track, r.name, r.ts, r.counter) for r in records] == [
        ("B", ("execution",), "execution", 10, None),
        ("B", ("execution",), "step 0", 10, None),
        ("B", ("lane", 0), "a", 500_000_010, 1),
        ("E", ("lane", 0), None, 1_000_000_010, 0),
        ("E", ("execution",), None, 1_000_000_010, None),
        ("E", ("execution",), None, 1_500_000_010, None),
    ]


def test_decode_rejects_an_undefined_iid():
    from perfetto.protos.perfetto.trace import perfetto_trace_pb2 as pb

    data = bytearray(ExecutionTrace().to_perfetto())
    extra = pb.Trace()
    packet = extra.packet.add()
    packet.trusted_packet_sequence_id = 1
    packet.sequence_flags = 2
    packet.timestamp = 0
    packet.track_event.type = 3
    packet.track_event.track_uuid = 1  # the process track, always described
    packet.track_event.name_iid = 999
    with pytest.raises(AssertionError, match="event name iid 999"):
        decode(bytes(data) + extra.SerializeToString())


def test_the_perfetto_example(tmp_path, capsys):
    import runpy
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "examples" / "perfetto_example.py"
    namespace = runpy.run_path(str(script))
    assert namespace["main"]([str(tmp_path)]) == 0
    data = (tmp_path / "pipeline.perfetto-trace").read_bytes()
    decoded = decode(data)
    assert decoded.process_name == "example pipeline"
    starts = [(r.name, r.track) for r in decoded.records if r.phase == "B"]
    assert starts[:3] == [
        ("execution", ("execution",)),
        ("step 0", ("execution",)),
        ("extract", ("lane", 0)),
    ]
    # clean and enrich run side by side, on two lanes.
    lanes = {name: track for name, track in starts}
    assert {lanes["clean"], lanes["enrich"]} == {("lane", 0), ("lane", 1)}
    counters = [r.counter for r in decoded.records if r.counter is not None]
    assert len(counters) == 8 and max(counters) == 2 and counters[-1] == 0
    assert decoded.lane_names == ["lane 1", "lane 2"]
    assert decoded.open_at_end == {}
    named = (tmp_path / "pipeline_named.json").read_text("ascii")
    assert '"name": "thread_name"' in named
    assert "Perfetto trace:" in capsys.readouterr().out
