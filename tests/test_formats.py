"""Export formats (behaviour.md 4.1-4.3) checked against the reference model.

Random event streams are recorded into a real ``ExecutionTrace``; the trace must hand
back exactly what was recorded, and ``to_json``, ``to_chrome_trace`` and ``summary``
must equal, character for character, what ``reference`` computes from ``trace.events``.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal

import pytest
import reference
from dagron.execution.tracing import ExecutionTrace, TraceEvent, TraceEventType
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from trace_streams import (
    Colour,
    MyDict,
    MyFloat,
    MyInt,
    MyList,
    MyStr,
    Word,
    event_streams,
    json_values,
    keys,
    leaves,
    record_all,
    texts,
)

SETTINGS = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --- subclasses whose str/repr differ from what json writes ---------------------------


# --- scalar strategies ---------------------------------------------------------------


# json accepts str, int, float, bool and None as dict keys.


# None, a fresh {} and an empty dict subclass all become a fresh empty dict.


# --- helpers ---------------------------------------------------------------------------


def same_float(got, want):
    """``got`` is a ``float`` holding exactly the value ``want`` (NaN and -0.0 included)."""
    if type(got) is not float:
        return False
    want = float(want)
    if math.isnan(want):
        return math.isnan(got)
    return got == want and math.copysign(1.0, got) == math.copysign(1.0, want)


def check_round_trip(stream, events, kept=None):
    """``kept[i]``: event i was given a non-empty metadata dict (defaults to what the
    stream holds now; pass it when the dicts were mutated after recording)."""
    if kept is None:
        kept = [bool(kwargs.get("metadata")) for kwargs in stream]
    assert len(events) == len(stream)
    fresh = []
    for kwargs, event, was_kept in zip(stream, events, kept):
        assert type(event) is TraceEvent
        assert event.event_type is kwargs["event_type"]
        assert type(event.timestamp) is float
        assert event.node_name == kwargs.get("node_name")
        assert event.step_index == kwargs.get("step_index")
        assert event.error == kwargs.get("error")
        if kwargs.get("duration") is None:
            assert event.duration is None
        else:
            assert same_float(event.duration, kwargs["duration"]), (
                event.duration,
                kwargs["duration"],
            )
        passed = kwargs.get("metadata")
        if was_kept:
            assert event.metadata is passed
        else:
            assert type(event.metadata) is dict
            assert event.metadata == {}
            assert event.metadata is not passed
            fresh.append(event.metadata)
    assert len({id(m) for m in fresh}) == len(fresh)
    stamps = [event.timestamp for event in events]
    if stamps:
        assert stamps[0] == 0.0
        assert math.copysign(1.0, stamps[0]) == 1.0
    assert all(math.isfinite(s) for s in stamps)
    assert stamps == sorted(stamps)


def check_exports(trace):
    events = trace.events
    assert trace.to_json() == reference.to_json(events)
    assert trace.to_chrome_trace() == reference.to_chrome_trace(events)
    assert trace.summary() == reference.summary(events)


def expected_error(fn, events):
    """The exception the reference raises (json.dumps on the same records), or None."""
    try:
        fn(events)
    except (TypeError, ValueError) as exc:
        return exc
    return None


def assert_same_error(call, want):
    with pytest.raises(type(want)) as info:
        call()
    assert type(info.value) is type(want)
    assert str(info.value) == str(want)


# --- properties ------------------------------------------------------------------------


@SETTINGS
@given(stream=event_streams(), data=st.data())
def test_round_trip_and_exports(stream, data):
    trace = ExecutionTrace()
    record_all(trace, stream)
    events = trace.events
    check_round_trip(stream, events)
    check_exports(trace)
    kept = [bool(kwargs.get("metadata")) for kwargs in stream]

    # Metadata is kept by reference: mutate the recorded dicts, the exports follow.
    for kwargs in stream:
        passed = kwargs.get("metadata")
        if not passed:
            continue
        action = data.draw(st.sampled_from(["keep", "clear", "add", "pop"]))
        if action == "clear":
            passed.clear()
        elif action == "add":
            passed[data.draw(texts)] = data.draw(json_values)
        elif action == "pop":
            passed.popitem()
    check_round_trip(stream, trace.events, kept)
    check_exports(trace)


def fingerprint(event):
    """Everything an event carries, comparable even with NaN durations."""
    metadata = id(event.metadata) if event.metadata else "fresh"
    duration = repr(event.duration)
    return (
        event.event_type,
        event.timestamp,
        event.node_name,
        event.step_index,
        duration,
        event.error,
        metadata,
    )


@SETTINGS
@given(stream=event_streams(max_size=6))
def test_events_for_node_matches_a_filter(stream):
    trace = ExecutionTrace()
    record_all(trace, stream)
    events = trace.events
    names = {kwargs.get("node_name") for kwargs in stream} - {None}
    for name in [*names, "never-recorded"]:
        got = trace.events_for_node(name)
        assert type(got) is list
        assert all(type(event) is TraceEvent for event in got)
        assert [fingerprint(e) for e in got] == [
            fingerprint(e) for e in events if e.node_name == name
        ]
    assert trace.events_for_node("never-recorded") == []


BAD_VALUES = st.sampled_from(
    [object(), {1, 2}, frozenset(), b"bytes", bytearray(b"x"), 1j, Decimal("1.5"), type]
)
BAD_KEYS = st.sampled_from([(1, 2), b"k", frozenset({1}), Decimal(0)])


def _bad_containers(children):
    return st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(keys, children, max_size=3),
        st.dictionaries(st.one_of(keys, BAD_KEYS), children, max_size=2),
    )


maybe_bad_values = st.recursive(st.one_of(leaves, BAD_VALUES), _bad_containers, max_leaves=8)


@SETTINGS
@given(
    stream=st.lists(
        st.fixed_dictionaries(
            {
                "event_type": st.sampled_from(list(TraceEventType)),
                "node_name": st.one_of(st.none(), st.sampled_from(["a", "b"])),
                "metadata": st.dictionaries(
                    st.one_of(keys, BAD_KEYS), maybe_bad_values, min_size=1, max_size=3
                ),
            }
        ),
        min_size=1,
        max_size=5,
    )
)
def test_unserializable_metadata_raises_like_json(stream):
    trace = ExecutionTrace()
    record_all(trace, stream)
    events = trace.events
    want = expected_error(reference.to_json, events)
    if want is None:
        assert trace.to_json() == reference.to_json(events)
    else:
        assert_same_error(trace.to_json, want)
    # Chrome trace and summary never look at metadata.
    assert trace.to_chrome_trace() == reference.to_chrome_trace(events)
    assert trace.summary() == reference.summary(events)
    # The trace is left intact and keeps recording.
    check_round_trip(stream, trace.events)
    trace.record(TraceEventType.EXECUTION_COMPLETED)
    assert len(trace.events) == len(stream) + 1


# --- deterministic cases --------------------------------------------------------------


def test_empty_trace_exports(empty_summary):
    trace = ExecutionTrace()
    assert trace.to_json() == "[]"
    assert trace.to_chrome_trace() == '{\n  "traceEvents": []\n}'
    assert trace.summary() == empty_summary


def test_single_event_to_json_text():
    trace = ExecutionTrace()
    trace.record(TraceEventType.EXECUTION_STARTED)
    assert trace.to_json() == (
        '[\n  {\n    "event_type": "execution_started",\n    "timestamp": 0.0\n  }\n]'
    )
    assert trace.to_chrome_trace() == (
        '{\n  "traceEvents": [\n    {\n      "name": "execution",\n'
        '      "cat": "execution",\n      "ph": "B",\n      "ts": 0.0,\n'
        '      "pid": 1,\n      "tid": 0\n    }\n  ]\n}'
    )


def test_optional_fields_order_and_escapes():
    trace = ExecutionTrace()
    trace.record(
        TraceEventType.NODE_FAILED,
        metadata={"z": [1e16, 1e-05, 0.30000000000000004, -0.0, {}, []], "a": None},
        error="\ud800\U0001f600\x00",
        duration=5,
        step_index=-(2**70),
        node_name="\xe9",
    )
    assert trace.to_json() == (
        "[\n  {\n"
        '    "event_type": "node_failed",\n'
        '    "timestamp": 0.0,\n'
        '    "node_name": "\\u00e9",\n'
        '    "step_index": -1180591620717411303424,\n'
        '    "duration": 5.0,\n'
        '    "error": "\\ud800\\ud83d\\ude00\\u0000",\n'
        '    "metadata": {\n'
        '      "z": [\n'
        "        1e+16,\n"
        "        1e-05,\n"
        "        0.30000000000000004,\n"
        "        -0.0,\n"
        "        {},\n"
        "        []\n"
        "      ],\n"
        '      "a": null\n'
        "    }\n"
        "  }\n]"
    )


def test_non_finite_duration_and_metadata():
    trace = ExecutionTrace()
    trace.record(
        TraceEventType.NODE_COMPLETED,
        duration=math.nan,
        metadata={math.nan: math.inf, math.inf: -math.inf, True: False, None: 1},
    )
    text = trace.to_json()
    assert text == reference.to_json(trace.events)
    assert '"duration": NaN,' in text
    assert '"NaN": Infinity,' in text
    assert '"Infinity": -Infinity,' in text
    assert '"true": false,' in text
    assert '"null": 1\n' in text


def test_subclass_values_are_written_as_json_writes_them():
    trace = ExecutionTrace()
    trace.record(
        TraceEventType.STEP_STARTED,
        node_name=MyStr("n"),
        step_index=MyInt(3),
        duration=MyFloat(0.5),
        error=MyStr("e"),
        metadata=MyDict(
            {MyInt(1): MyFloat(2.5), MyStr("k"): MyList([Colour.RED, Word.HELLO]), 2.5: True}
        ),
    )
    text = trace.to_json()
    assert text == reference.to_json(trace.events)
    assert "repr" not in text
    assert "MyStr-str" not in text
    assert '"1": 2.5,' in text
    assert '"k": [\n        1,\n        "h\\u00e9llo"\n      ],' in text
    assert '"2.5": true' in text
    assert '"step_index": 3,' in text
    assert '"duration": 0.5,' in text


@pytest.mark.parametrize(
    "bad",
    [object(), {1, 2}, b"bytes", 1j, Decimal("0.1")],
    ids=["object", "set", "bytes", "complex", "decimal"],
)
def test_unserializable_value_then_fixed(bad):
    trace = ExecutionTrace()
    trace.record(TraceEventType.EXECUTION_STARTED)
    metadata = {"ok": 1, "bad": bad, "after": [2]}
    trace.record(TraceEventType.NODE_STARTED, node_name="a", metadata=metadata)
    trace.record(TraceEventType.NODE_COMPLETED, node_name="a", duration=0.25)
    events = trace.events
    want = expected_error(reference.to_json, events)
    assert isinstance(want, TypeError)
    assert str(want) == f"Object of type {type(bad).__name__} is not JSON serializable"
    assert_same_error(trace.to_json, want)
    # A second attempt fails the same way: nothing was half-written or cached.
    assert_same_error(trace.to_json, want)

    assert len(trace.events) == 3
    assert trace.to_chrome_trace() == reference.to_chrome_trace(trace.events)
    assert trace.summary() == reference.summary(trace.events)

    del metadata["bad"]
    assert trace.events[1].metadata is metadata
    assert trace.to_json() == reference.to_json(trace.events)
    assert '"metadata": {\n      "ok": 1,\n      "after": [\n        2\n      ]\n    }' in (
        trace.to_json()
    )


def test_unserializable_value_nested_in_a_later_event():
    trace = ExecutionTrace()
    trace.record(TraceEventType.EXECUTION_STARTED, metadata={"fine": [1, 2]})
    inner = [1, {"x": (2, object())}]
    trace.record(TraceEventType.STEP_STARTED, step_index=0, metadata={"deep": inner})
    want = expected_error(reference.to_json, trace.events)
    assert str(want) == "Object of type object is not JSON serializable"
    assert_same_error(trace.to_json, want)
    inner[1] = {"x": (2, 3)}
    assert trace.to_json() == reference.to_json(trace.events)


def test_circular_metadata():
    trace = ExecutionTrace()
    metadata = {"a": 1}
    metadata["self"] = metadata
    trace.record(TraceEventType.NODE_STARTED, node_name="n", metadata=metadata)
    with pytest.raises(ValueError) as info:
        trace.to_json()
    assert type(info.value) is ValueError
    assert str(info.value) == "Circular reference detected"
    assert len(trace.events) == 1
    assert trace.to_chrome_trace() == reference.to_chrome_trace(trace.events)
    del metadata["self"]
    assert trace.to_json() == reference.to_json(trace.events)


def test_circular_list_in_metadata():
    trace = ExecutionTrace()
    loop = [1]
    loop.append([loop])
    trace.record(TraceEventType.NODE_STARTED, metadata={"loop": loop})
    want = expected_error(reference.to_json, trace.events)
    assert str(want) == "Circular reference detected"
    assert_same_error(trace.to_json, want)
    loop.pop()
    assert trace.to_json() == reference.to_json(trace.events)


def test_shared_but_acyclic_metadata_is_fine():
    shared = [1, {"x": 2}]
    both = {"a": shared, "b": shared, "c": (shared, shared)}
    trace = ExecutionTrace()
    trace.record(TraceEventType.NODE_STARTED, metadata=both)
    trace.record(TraceEventType.NODE_COMPLETED, metadata=both)
    trace.record(TraceEventType.NODE_SKIPPED, metadata={"again": both})
    assert trace.to_json() == reference.to_json(trace.events)


@pytest.mark.parametrize(
    "bad_key", [(1, 2), b"k", frozenset({1})], ids=["tuple", "bytes", "frozenset"]
)
def test_bad_metadata_key(bad_key):
    trace = ExecutionTrace()
    metadata = {"first": 1, bad_key: 2}
    trace.record(TraceEventType.RESOURCE_ACQUIRED, metadata=metadata)
    want = expected_error(reference.to_json, trace.events)
    assert isinstance(want, TypeError)
    assert str(want) == (
        f"keys must be str, int, float, bool or None, not {type(bad_key).__name__}"
    )
    assert_same_error(trace.to_json, want)
    del metadata[bad_key]
    assert trace.to_json() == reference.to_json(trace.events)


def test_int_too_long_for_str_conversion_raises_like_json():
    trace = ExecutionTrace()
    metadata = {"n": 10**5000}
    trace.record(TraceEventType.NODE_CACHE_MISS, metadata=metadata)
    want = expected_error(reference.to_json, trace.events)
    assert isinstance(want, ValueError)
    assert_same_error(trace.to_json, want)
    metadata["n"] = 10**4000
    assert trace.to_json() == reference.to_json(trace.events)


def test_step_index_too_long_for_str_conversion_raises_like_json():
    trace = ExecutionTrace()
    trace.record(TraceEventType.STEP_STARTED, step_index=-(10**5000))
    assert trace.events[0].step_index == -(10**5000)
    want = expected_error(reference.to_json, trace.events)
    assert isinstance(want, ValueError)
    assert_same_error(trace.to_json, want)
    assert trace.summary() == reference.summary(trace.events)


def test_chrome_tids_follow_first_appearance_in_any_event():
    trace = ExecutionTrace()
    trace.record(TraceEventType.EXECUTION_STARTED)
    trace.record(TraceEventType.NODE_SKIPPED, node_name="skipped-first")
    trace.record(TraceEventType.NODE_CACHE_HIT, node_name="cached")
    trace.record(TraceEventType.NODE_STARTED, node_name="runner")
    trace.record(TraceEventType.NODE_STARTED, node_name="cached")
    trace.record(TraceEventType.NODE_COMPLETED, node_name="runner", error="")
    trace.record(TraceEventType.NODE_TIMED_OUT, node_name="skipped-first", error="late")
    trace.record(TraceEventType.NODE_FAILED, node_name="cached", error="E: boom")
    trace.record(TraceEventType.STEP_COMPLETED, step_index=0)
    trace.record(TraceEventType.EXECUTION_COMPLETED)
    out = json.loads(trace.to_chrome_trace())["traceEvents"]
    assert [(e["name"], e["ph"], e["tid"]) for e in out] == [
        ("execution", "B", 0),
        ("runner", "B", 3),
        ("cached", "B", 2),
        ("runner", "E", 3),
        ("skipped-first", "E", 1),
        ("cached", "E", 2),
        ("execution", "E", 0),
    ]
    assert [e.get("args") for e in out] == [
        None,
        None,
        None,
        {"status": "node_completed"},
        {"status": "node_timed_out", "error": "late"},
        {"status": "node_failed", "error": "E: boom"},
        None,
    ]
    assert all(e["pid"] == 1 for e in out)
    assert trace.to_chrome_trace() == reference.to_chrome_trace(trace.events)


def test_chrome_node_events_without_a_node_name_use_tid_zero():
    trace = ExecutionTrace()
    trace.record(TraceEventType.NODE_STARTED)
    trace.record(TraceEventType.NODE_STARTED, node_name="a")
    trace.record(TraceEventType.NODE_FAILED, error="x")
    out = json.loads(trace.to_chrome_trace())["traceEvents"]
    assert [(e["name"], e["cat"], e["tid"]) for e in out] == [
        (None, "node", 0),
        ("a", "node", 1),
        (None, "node", 0),
    ]
    assert trace.to_chrome_trace() == reference.to_chrome_trace(trace.events)


def test_empty_node_name_is_a_node_name():
    # Only ``None`` means "no node": "" is written by to_json, counted by summary and
    # gets its own tid in the Chrome trace.
    trace = ExecutionTrace()
    trace.record(TraceEventType.NODE_STARTED, node_name="")
    trace.record(TraceEventType.NODE_COMPLETED, node_name="")
    assert trace.events_for_node("") == trace.events
    assert '"node_name": ""' in trace.to_json()
    assert "  Unique nodes: 1\n" in trace.summary()
    out = json.loads(trace.to_chrome_trace())["traceEvents"]
    assert [(e["name"], e["tid"]) for e in out] == [("", 1), ("", 1)]
    assert trace.to_chrome_trace() == reference.to_chrome_trace(trace.events)


def test_summary_counts():
    trace = ExecutionTrace()
    kinds = [
        (TraceEventType.EXECUTION_STARTED, None),
        (TraceEventType.NODE_COMPLETED, "a"),
        (TraceEventType.NODE_COMPLETED, "b"),
        (TraceEventType.NODE_FAILED, "c"),
        (TraceEventType.NODE_SKIPPED, "d"),
        (TraceEventType.NODE_SKIPPED, "d"),
        (TraceEventType.NODE_SKIPPED, "e"),
        (TraceEventType.NODE_TIMED_OUT, "f"),
        (TraceEventType.NODE_CANCELLED, "g"),
        (TraceEventType.NODE_CANCELLED, "a"),
        (TraceEventType.RESOURCE_RELEASED, "\ud800"),
        (TraceEventType.EXECUTION_COMPLETED, None),
    ]
    for kind, name in kinds:
        trace.record(kind, node_name=name)
    events = trace.events
    duration = events[-1].timestamp - events[0].timestamp
    assert trace.summary() == (
        "Execution Trace Summary\n"
        "  Total events: 12\n"
        "  Unique nodes: 8\n"
        "  Completed: 2\n"
        "  Failed: 1\n"
        "  Skipped: 3\n"
        "  Timed out: 1\n"
        "  Cancelled: 2\n"
        f"  Duration: {duration:.4f}s"
    )


class ItemsDict(dict):
    """json's encoder reads a dict subclass through ``.items()``."""

    def items(self):
        return [("from-items", 1)]


class IterList(list):
    """json's encoder reads a list subclass through ``iter()``."""

    def __iter__(self):
        return iter([9])


def test_container_subclasses_are_read_like_json_reads_them():
    # "Exactly the text of json.dumps": for a dict subclass that is the pairs its
    # items() returns, for a list subclass what iterating it yields.
    for metadata in (
        {"a": ItemsDict(stored=2)},
        ItemsDict(stored=2),
        {"a": IterList([1, 2])},
    ):
        trace = ExecutionTrace()
        trace.record(TraceEventType.NODE_STARTED, metadata=metadata)
        expected = reference.to_json(trace.events)
        assert "from-items" in expected or "9" in expected
        assert trace.to_json() == expected
