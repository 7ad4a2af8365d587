"""The documented API in detail: behaviour.md sections 1-4."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import pickle
import re
import threading
import time
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from types import MappingProxyType

import dagron
import dagron.execution.tracing as tracing
import pytest
import reference
from dagron.execution.tracing import ExecutionTrace, TraceEvent, TraceEventType

T = TraceEventType


class Label(str):
    pass


class Meta(dict):
    pass


class LabelledTrace(ExecutionTrace):
    """A user subclass: extra state and an extra method."""

    def started(self, name):
        self.record(TraceEventType.NODE_STARTED, node_name=name)


def sample_trace():
    """A trace with one of everything (no NaN, so events compare equal after copying)."""
    trace = ExecutionTrace()
    trace.record(T.EXECUTION_STARTED)
    trace.record(T.STEP_STARTED, step_index=0)
    trace.record(T.NODE_STARTED, node_name="extract")
    trace.record(
        T.NODE_COMPLETED,
        node_name="extract",
        duration=0.45,
        metadata={"rows": [1, 2, 3], "nested": {"k": (1.5, None)}},
    )
    trace.record(T.NODE_FAILED, node_name="t\xe9\ud800", error="ValueError: x", duration=2)
    trace.record(T.NODE_CACHE_HIT, node_name="load", metadata={"key": "abc"})
    trace.record(T.STEP_COMPLETED, step_index=2**70)
    trace.record(T.EXECUTION_COMPLETED)
    return trace


def fields_of(event):
    return (
        event.event_type,
        event.timestamp,
        event.node_name,
        event.step_index,
        event.duration,
        event.error,
        event.metadata,
    )


# --- 1. import paths ----------------------------------------------------------------


def test_import_paths():
    assert dagron.ExecutionTrace is ExecutionTrace
    assert dagron.TraceEvent is TraceEvent
    assert dagron.TraceEventType is TraceEventType
    assert tracing.ExecutionTrace is ExecutionTrace
    assert set(tracing.__all__) == {
        "ExecutionTrace",
        "TraceEvent",
        "TraceEventType",
        "TraceOrigin",
    }
    for cls in (ExecutionTrace, TraceEvent, TraceEventType):
        assert cls.__module__ == "dagron.execution.tracing"
    assert ExecutionTrace.__name__ == "ExecutionTrace"
    assert isinstance(ExecutionTrace(), ExecutionTrace)


# --- 2. TraceEventType --------------------------------------------------------------

MEMBERS = [
    ("EXECUTION_STARTED", "execution_started"),
    ("STEP_STARTED", "step_started"),
    ("NODE_STARTED", "node_started"),
    ("NODE_COMPLETED", "node_completed"),
    ("NODE_FAILED", "node_failed"),
    ("NODE_SKIPPED", "node_skipped"),
    ("NODE_TIMED_OUT", "node_timed_out"),
    ("NODE_CANCELLED", "node_cancelled"),
    ("STEP_COMPLETED", "step_completed"),
    ("EXECUTION_COMPLETED", "execution_completed"),
    ("NODE_GATE_WAITING", "node_gate_waiting"),
    ("NODE_GATE_RESOLVED", "node_gate_resolved"),
    ("RESOURCE_ACQUIRED", "resource_acquired"),
    ("RESOURCE_RELEASED", "resource_released"),
    ("NODE_CACHE_HIT", "node_cache_hit"),
    ("NODE_CACHE_MISS", "node_cache_miss"),
]


def test_trace_event_type_members():
    assert issubclass(TraceEventType, Enum)
    assert [(m.name, m.value) for m in TraceEventType] == MEMBERS
    assert len(TraceEventType) == 16
    assert list(TraceEventType.__members__) == [name for name, _ in MEMBERS]
    for name, value in MEMBERS:
        assert TraceEventType(value) is TraceEventType[name]
    assert repr(T.NODE_STARTED) == "<TraceEventType.NODE_STARTED: 'node_started'>"
    assert T.NODE_STARTED != "node_started"


# --- 3. TraceEvent ------------------------------------------------------------------


def test_trace_event_is_a_dataclass():
    assert dataclasses.is_dataclass(TraceEvent)
    fields = dataclasses.fields(TraceEvent)
    assert [f.name for f in fields] == [
        "event_type",
        "timestamp",
        "node_name",
        "step_index",
        "duration",
        "error",
        "metadata",
    ]
    assert fields[0].default is dataclasses.MISSING
    assert fields[1].default is dataclasses.MISSING
    assert [f.default for f in fields[2:6]] == [None, None, None, None]
    assert fields[6].default is dataclasses.MISSING
    assert fields[6].default_factory is dict


def test_trace_event_defaults_and_fresh_metadata():
    a = TraceEvent(T.NODE_STARTED, 1.5)
    b = TraceEvent(T.NODE_STARTED, 1.5)
    assert fields_of(a) == (T.NODE_STARTED, 1.5, None, None, None, None, {})
    assert a.metadata is not b.metadata
    a.metadata["x"] = 1
    assert b.metadata == {}


def test_trace_event_equality_repr_and_mutation():
    a = TraceEvent(T.NODE_FAILED, 0.5, node_name="n", error="E: x", metadata={"k": [1]})
    b = TraceEvent(T.NODE_FAILED, 0.5, node_name="n", error="E: x", metadata={"k": [1]})
    assert a == b
    assert a != TraceEvent(T.NODE_FAILED, 0.5, node_name="m", error="E: x")
    assert a != (T.NODE_FAILED, 0.5)
    assert repr(TraceEvent(T.NODE_STARTED, 1.5)) == (
        "TraceEvent(event_type=<TraceEventType.NODE_STARTED: 'node_started'>, "
        "timestamp=1.5, node_name=None, step_index=None, duration=None, error=None, "
        "metadata={})"
    )
    a.node_name = "other"
    a.duration = 3.0
    assert (a.node_name, a.duration) == ("other", 3.0)
    assert a != b
    assert TraceEvent.__hash__ is None


def test_trace_event_asdict_and_replace():
    metadata = {"k": [1, {"j": 2}]}
    event = TraceEvent(T.STEP_STARTED, 0.25, step_index=3, metadata=metadata)
    as_dict = dataclasses.asdict(event)
    assert as_dict == {
        "event_type": T.STEP_STARTED,
        "timestamp": 0.25,
        "node_name": None,
        "step_index": 3,
        "duration": None,
        "error": None,
        "metadata": {"k": [1, {"j": 2}]},
    }
    assert as_dict["metadata"] is not metadata
    other = dataclasses.replace(event, node_name="n", step_index=None)
    assert fields_of(other) == (T.STEP_STARTED, 0.25, "n", None, None, None, metadata)
    assert other.metadata is metadata
    assert event.node_name is None


def test_recorded_events_are_trace_events():
    trace = ExecutionTrace()
    trace.record(T.EXECUTION_STARTED)
    trace.record(T.NODE_COMPLETED, node_name="a", step_index=1, duration=2, error="e")
    first, second = trace.events
    assert type(first) is TraceEvent
    assert first == TraceEvent(T.EXECUTION_STARTED, 0.0)
    assert second == TraceEvent(
        T.NODE_COMPLETED, second.timestamp, node_name="a", step_index=1, duration=2.0, error="e"
    )
    assert dataclasses.asdict(second)["duration"] == 2.0
    assert dataclasses.replace(second, node_name="b").node_name == "b"


# --- 4. ExecutionTrace ----------------------------------------------------------------


def test_trace_is_truthy():
    trace = ExecutionTrace()
    assert bool(trace) is True
    assert trace
    trace.record(T.EXECUTION_STARTED)
    assert bool(trace) is True
    assert trace.events != []


BAD_ARGUMENTS = [
    ("event_type", "execution_started", "str"),
    ("event_type", None, "NoneType"),
    ("event_type", 0, "int"),
    ("event_type", T.NODE_STARTED.value, "str"),
    ("event_type", "NODE_STARTED", "str"),
    ("node_name", 1, "int"),
    ("node_name", b"extract", "bytes"),
    ("node_name", ["extract"], "list"),
    ("error", 1, "int"),
    ("error", b"boom", "bytes"),
    ("error", ValueError("boom"), "ValueError"),
    ("step_index", True, "bool"),
    ("step_index", False, "bool"),
    ("step_index", 1.0, "float"),
    ("step_index", "1", "str"),
    ("step_index", Decimal(1), "Decimal"),
    ("duration", "1.0", "str"),
    ("duration", [1.0], "list"),
    ("duration", Decimal("1.5"), "Decimal"),
    ("duration", Fraction(1, 2), "Fraction"),
    ("duration", 1j, "complex"),
    ("metadata", [], "list"),
    ("metadata", [("k", 1)], "list"),
    ("metadata", "k=1", "str"),
    ("metadata", MappingProxyType({"k": 1}), "mappingproxy"),
    ("metadata", 0, "int"),
]


class OtherKind(Enum):
    EXECUTION_STARTED = "execution_started"


BAD_ARGUMENTS.append(("event_type", OtherKind.EXECUTION_STARTED, "OtherKind"))


def call_record(trace, param, value):
    kwargs = {"node_name": "ghost", "metadata": {"k": 1}}
    if param == "event_type":
        trace.record(value, **kwargs)
    else:
        kwargs[param] = value
        trace.record(T.NODE_STARTED, **kwargs)


@pytest.mark.parametrize(
    ("param", "value", "type_name"),
    BAD_ARGUMENTS,
    ids=[f"{p}-{t}" for p, _, t in BAD_ARGUMENTS],
)
def test_record_rejects_bad_argument(param, value, type_name):
    trace = ExecutionTrace()
    trace.record(T.EXECUTION_STARTED, node_name="first")
    with pytest.raises(TypeError) as info:
        call_record(trace, param, value)
    message = str(info.value)
    assert param in message
    assert re.search(rf"\b{type_name}\b", message), message
    # Nothing recorded; the rejected node name took no tid and counts as no node.
    assert len(trace.events) == 1
    assert trace.events_for_node("ghost") == []
    trace.record(T.NODE_STARTED, node_name="real")
    assert [e.node_name for e in trace.events] == ["first", "real"]
    chrome = json.loads(trace.to_chrome_trace())["traceEvents"]
    assert [(e["name"], e["tid"]) for e in chrome] == [("execution", 0), ("real", 2)]
    assert "  Unique nodes: 2\n" in trace.summary()
    assert trace.to_json() == reference.to_json(trace.events)


@pytest.mark.parametrize(
    ("param", "value", "type_name"),
    BAD_ARGUMENTS,
    ids=[f"{p}-{t}" for p, _, t in BAD_ARGUMENTS],
)
def test_rejected_first_record_does_not_start_the_clock(param, value, type_name):
    trace = ExecutionTrace()
    with pytest.raises(TypeError, match=param):
        call_record(trace, param, value)
    assert trace.events == []
    assert trace.to_json() == "[]"
    time.sleep(0.01)
    trace.record(T.EXECUTION_STARTED)
    assert trace.events[0].timestamp == 0.0


def test_record_signature():
    trace = ExecutionTrace()
    trace.record(event_type=T.EXECUTION_STARTED)
    with pytest.raises(TypeError):
        trace.record(T.NODE_STARTED, "positional-node-name")
    with pytest.raises(TypeError):
        trace.record(T.NODE_STARTED, nodename="typo")
    with pytest.raises(TypeError):
        trace.record()
    with pytest.raises(TypeError):
        trace.record(T.NODE_STARTED, event_type=T.NODE_STARTED)
    assert [e.event_type for e in trace.events] == [T.EXECUTION_STARTED]


def test_record_accepts_documented_types():
    trace = ExecutionTrace()
    label = Label("n\x00\ud800\U0001f600")
    trace.record(T.NODE_STARTED, node_name=label, error=Label("e"), step_index=0)
    trace.record(T.NODE_COMPLETED, duration=3)
    trace.record(T.NODE_COMPLETED, duration=True)
    trace.record(T.NODE_COMPLETED, duration=False)
    trace.record(T.NODE_COMPLETED, duration=-0.0)
    trace.record(T.NODE_COMPLETED, duration=2**80)
    trace.record(T.STEP_STARTED, step_index=-(2**100))
    trace.record(T.STEP_STARTED, step_index=2**64)
    events = trace.events
    assert events[0].node_name == "n\x00\ud800\U0001f600"
    assert events[0].error == "e"
    assert events[0].step_index == 0
    durations = [e.duration for e in events[1:6]]
    assert durations == [3.0, 1.0, 0.0, 0.0, float(2**80)]
    assert all(type(d) is float for d in durations)
    assert math.copysign(1.0, durations[3]) == -1.0
    assert [e.step_index for e in events[6:]] == [-(2**100), 2**64]
    assert trace.events_for_node("n\x00\ud800\U0001f600") == [events[0]]
    assert trace.to_json() == reference.to_json(events)
    assert '"duration": 1.0\n' in trace.to_json()
    assert '"step_index": -1267650600228229401496703205376\n' in trace.to_json()


def test_metadata_is_kept_by_reference():
    trace = ExecutionTrace()
    metadata = {"retry_count": 2}
    trace.record(T.NODE_FAILED, node_name="transform", metadata=metadata)
    assert trace.events[0].metadata is metadata
    assert trace.events[0].metadata is metadata  # on every snapshot
    metadata["late"] = [1]
    assert trace.events[0].metadata == {"retry_count": 2, "late": [1]}
    assert '"late": [\n        1\n      ]' in trace.to_json()
    trace.events[0].metadata["later"] = None
    assert metadata["later"] is None
    assert '"later": null' in trace.to_json()
    metadata.clear()
    assert trace.to_json() == (
        '[\n  {\n    "event_type": "node_failed",\n    "timestamp": 0.0,\n'
        '    "node_name": "transform"\n  }\n]'
    )


def test_dict_subclass_metadata_is_kept_by_reference():
    trace = ExecutionTrace()
    metadata = Meta(a=1)
    trace.record(T.RESOURCE_ACQUIRED, metadata=metadata)
    assert trace.events[0].metadata is metadata
    assert trace.to_json() == reference.to_json(trace.events)


@pytest.mark.parametrize("empty", [None, "dict", "subclass", "omitted"])
def test_empty_metadata_becomes_a_fresh_dict(empty):
    trace = ExecutionTrace()
    passed = []
    for _ in range(3):
        if empty == "omitted":
            trace.record(T.NODE_SKIPPED, node_name="n")
            continue
        value = {"dict": {}, "subclass": Meta()}.get(empty)
        passed.append(value)
        trace.record(T.NODE_SKIPPED, node_name="n", metadata=value)
    events = trace.events
    for event in events:
        assert type(event.metadata) is dict
        assert event.metadata == {}
        assert all(event.metadata is not p for p in passed)
    assert len({id(e.metadata) for e in events}) == 3
    for value in passed:
        if value is not None:
            value["added"] = 1
    assert "metadata" not in trace.to_json()
    assert all(e.metadata == {} for e in trace.events)


def test_timestamps_start_at_zero_and_follow_the_monotonic_clock():
    trace = ExecutionTrace()
    before_first = time.monotonic()
    trace.record(T.EXECUTION_STARTED)
    after_first = time.monotonic()
    time.sleep(0.05)
    before_second = time.monotonic()
    trace.record(T.NODE_STARTED, node_name="a")
    after_second = time.monotonic()
    first, second = trace.events
    assert first.timestamp == 0.0
    assert type(first.timestamp) is float
    assert second.timestamp >= 0.04
    assert before_second - after_first - 1e-6 <= second.timestamp
    assert second.timestamp <= after_second - before_first + 1e-6


def test_timestamps_never_decrease():
    trace = ExecutionTrace()
    for i in range(2000):
        trace.record(T.STEP_STARTED, step_index=i)
        if i % 500 == 0:
            time.sleep(0.002)
    events = trace.events
    assert [e.step_index for e in events] == list(range(2000))
    stamps = [e.timestamp for e in events]
    assert stamps[0] == 0.0
    assert stamps == sorted(stamps)
    assert stamps[-1] >= 0.005


def test_each_trace_has_its_own_clock():
    first = ExecutionTrace()
    first.record(T.EXECUTION_STARTED)
    time.sleep(0.02)
    second = ExecutionTrace()
    second.record(T.EXECUTION_STARTED)
    first.record(T.EXECUTION_COMPLETED)
    assert second.events[0].timestamp == 0.0
    assert first.events[1].timestamp >= 0.015


def test_events_is_a_new_list_every_call():
    trace = sample_trace()
    one = trace.events
    two = trace.events
    assert type(one) is list
    assert one is not two
    assert one == two
    one.clear()
    two.append("junk")
    assert len(trace.events) == 8
    assert trace.events[-1].event_type is T.EXECUTION_COMPLETED


def test_events_for_node():
    trace = ExecutionTrace()
    trace.record(T.EXECUTION_STARTED)
    trace.record(T.NODE_STARTED, node_name="a")
    trace.record(T.NODE_STARTED, node_name="b")
    trace.record(T.NODE_COMPLETED, node_name="a", duration=0.5)
    trace.record(T.NODE_FAILED, node_name="b", error="E")
    trace.record(T.NODE_CACHE_MISS, node_name="a")
    events = trace.events
    got = trace.events_for_node("a")
    assert got == [events[1], events[3], events[5]]
    assert [e.event_type for e in got] == [T.NODE_STARTED, T.NODE_COMPLETED, T.NODE_CACHE_MISS]
    assert trace.events_for_node(Label("b")) == [events[2], events[4]]
    assert trace.events_for_node("c") == []
    assert trace.events_for_node("") == []
    assert ExecutionTrace().events_for_node("a") == []
    assert trace.events_for_node("a") is not trace.events_for_node("a")


def check_same_events(copied, original):
    assert [fields_of(e) for e in copied] == [fields_of(e) for e in original]
    assert copied == original


def check_independent(copied, original):
    before = original.events
    last = copied.events[-1].timestamp if copied.events else 0.0
    copied.record(T.NODE_CANCELLED, node_name="only-in-copy")
    assert original.events == before
    assert original.events_for_node("only-in-copy") == []
    new = copied.events[-1]
    assert new.node_name == "only-in-copy"
    assert new.timestamp >= last
    original.record(T.NODE_CANCELLED, node_name="only-in-original")
    assert copied.events_for_node("only-in-original") == []
    assert len(copied.events) == len(before) + 1


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_pickle_round_trip(protocol):
    trace = sample_trace()
    restored = pickle.loads(pickle.dumps(trace, protocol=protocol))
    assert type(restored) is ExecutionTrace
    check_same_events(restored.events, trace.events)
    assert restored.events[3].metadata is not trace.events[3].metadata
    for method in ("to_json", "to_chrome_trace", "summary"):
        assert getattr(restored, method)() == getattr(trace, method)()
    check_independent(restored, trace)


def test_pickle_empty_trace():
    restored = pickle.loads(pickle.dumps(ExecutionTrace()))
    assert restored.events == []
    assert restored.to_json() == "[]"
    restored.record(T.EXECUTION_STARTED)
    assert restored.events[0].timestamp == 0.0


def test_restored_trace_keeps_a_monotonic_timeline():
    trace = ExecutionTrace()
    trace.record(T.EXECUTION_STARTED)
    time.sleep(0.05)
    trace.record(T.STEP_STARTED, step_index=0)
    last = trace.events[-1].timestamp
    assert last >= 0.04
    for restored in (
        pickle.loads(pickle.dumps(trace)),
        copy.copy(trace),
        copy.deepcopy(trace),
    ):
        restored.record(T.STEP_COMPLETED, step_index=0)
        restored.record(T.EXECUTION_COMPLETED)
        stamps = [e.timestamp for e in restored.events]
        assert stamps[0] == 0.0
        assert stamps[1] == last
        assert stamps == sorted(stamps)
        assert stamps[2] >= last


def test_copy_round_trip():
    trace = sample_trace()
    copied = copy.copy(trace)
    assert type(copied) is ExecutionTrace
    assert copied is not trace
    check_same_events(copied.events, trace.events)
    assert copied.to_json() == trace.to_json()
    check_independent(copied, trace)


def test_deepcopy_round_trip_copies_metadata():
    trace = sample_trace()
    copied = copy.deepcopy(trace)
    assert type(copied) is ExecutionTrace
    check_same_events(copied.events, trace.events)
    for mine, theirs in zip(copied.events, trace.events):
        if theirs.metadata:
            assert mine.metadata is not theirs.metadata
    original_metadata = trace.events[3].metadata
    original_metadata["rows"].append(4)
    assert copied.events[3].metadata["rows"] == [1, 2, 3]
    assert copied.to_json() != trace.to_json()
    check_independent(copied, trace)


def test_subclass():
    trace = LabelledTrace()
    trace.label = "mine"
    trace.started("a")
    trace.record(T.NODE_COMPLETED, node_name="a")
    assert isinstance(trace, ExecutionTrace)
    assert trace.label == "mine"
    assert [e.event_type for e in trace.events] == [T.NODE_STARTED, T.NODE_COMPLETED]
    assert trace.events[0].timestamp == 0.0
    assert trace.to_json() == reference.to_json(trace.events)
    assert trace.summary() == reference.summary(trace.events)
    assert bool(LabelledTrace()) is True
    for restored in (pickle.loads(pickle.dumps(trace)), copy.copy(trace), copy.deepcopy(trace)):
        assert type(restored) is LabelledTrace
        check_same_events(restored.events, trace.events)


def test_subclass_with_its_own_init():
    class Named(ExecutionTrace):
        def __init__(self, name, *, verbose=False):
            super().__init__()
            self.name = name
            self.verbose = verbose

    trace = Named("pipeline", verbose=True)
    trace.record(T.EXECUTION_STARTED)
    assert (trace.name, trace.verbose) == ("pipeline", True)
    assert trace.events == [TraceEvent(T.EXECUTION_STARTED, 0.0)]


def test_record_from_many_threads():
    threads_n, per_thread = 8, 400
    trace = ExecutionTrace()
    barrier = threading.Barrier(threads_n + 1)
    snapshots = []

    def worker(k):
        barrier.wait()
        metadata = {"k": k}
        for i in range(per_thread):
            trace.record(T.NODE_STARTED, node_name=f"t{k}", step_index=i, metadata=metadata)

    def reader():
        barrier.wait()
        for _ in range(20):
            snapshots.append(trace.events)

    workers = [threading.Thread(target=worker, args=(k,)) for k in range(threads_n)]
    watcher = threading.Thread(target=reader)
    for thread in [*workers, watcher]:
        thread.start()
    for thread in [*workers, watcher]:
        thread.join()

    events = trace.events
    snapshots.append(events)
    assert len(events) == threads_n * per_thread
    for snapshot in snapshots:
        stamps = [e.timestamp for e in snapshot]
        assert stamps == sorted(stamps)
        for k in range(threads_n):
            mine = [e.step_index for e in snapshot if e.node_name == f"t{k}"]
            # Each thread's events so far: a prefix of its own sequence, none torn.
            assert mine == list(range(len(mine)))
            assert all(e.metadata == {"k": k} for e in snapshot if e.node_name == f"t{k}")
    for k in range(threads_n):
        assert len(trace.events_for_node(f"t{k}")) == per_thread
    assert events[0].timestamp == 0.0
    assert trace.to_json() == reference.to_json(events)
    assert trace.to_chrome_trace() == reference.to_chrome_trace(events)


def test_the_core_gives_the_format_constants_the_loader_uses(tmp_path):
    from dagron import _core

    assert tuple(kind.value for kind in TraceEventType) == _core.EVENT_TYPE_VALUES
    trace = ExecutionTrace(journal=str(tmp_path / "run.journal"))
    trace.record(TraceEventType.EXECUTION_STARTED)
    trace.flush()
    assert (tmp_path / "run.journal").read_bytes().startswith(_core.JOURNAL_MAGIC)
    assert _core.JOURNAL_MAGIC == b"DAGRONJ\x00"
