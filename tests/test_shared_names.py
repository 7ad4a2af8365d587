"""Shared node names: ``_core.NodeNames``, ``ExecutionTrace(_node_names=...)``,
``_core.RunState``, ``DAG._node_names`` and the executor that uses them.

A trace made with ``_node_names`` must be indistinguishable, through the documented
API, from a plain ``ExecutionTrace()`` fed the same calls; ``RunState`` must make each
node transition (and record its event) exactly once, and nothing once closed.
"""

from __future__ import annotations

import copy
import json
import pickle
import re
import threading
import time
from collections import Counter
from types import SimpleNamespace
from typing import Any, Optional

import dagron
import pytest
import reference
from dagron import NodeStatus, _core
from dagron.errors import CycleError
from dagron.execution.tracing import ExecutionTrace, TraceEvent, TraceEventType
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

T = TraceEventType
NodeNames = _core.NodeNames
RunState = _core.RunState

PENDING = NodeStatus.PENDING
RUNNING = NodeStatus.RUNNING
COMPLETED = NodeStatus.COMPLETED
FAILED = NodeStatus.FAILED
TIMED_OUT = NodeStatus.TIMED_OUT


class SubStr(str):
    """A str subclass: accepted as a name, stored (and handed back) as exact str."""


# --- NodeNames -------------------------------------------------------------------------


def test_node_names_len():
    assert len(NodeNames([])) == 0
    assert len(NodeNames(["a"])) == 1
    assert len(NodeNames(["a", "b", "", "é", "名前", "a\x00b"])) == 6
    # Lone surrogates are names of their own: "\ud83d\ude00" (two code points) is not
    # "\U0001f600", and "\ud800" is not "\udc00".
    assert len(NodeNames(["\ud800", "\udc00", "\ud83d\ude00", "\U0001f600"])) == 4
    assert len(NodeNames([SubStr("a"), "b"])) == 2
    assert len(NodeNames([f"n{i}" for i in range(1000)])) == 1000


def test_node_names_needs_a_list():
    for bad in [("a", "b"), {"a"}, "ab", None, iter(["a"]), {"a": 1}]:
        with pytest.raises(TypeError):
            NodeNames(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        NodeNames()  # type: ignore[call-arg]


def test_node_names_items_must_be_str():
    cases = [
        ([1], "NodeNames() item 0 must be str, not int"),
        (["a", None], "NodeNames() item 1 must be str, not NoneType"),
        (["a", "b", b"c"], "NodeNames() item 2 must be str, not bytes"),
        (["a", "b", "c", ("d",)], "NodeNames() item 3 must be str, not tuple"),
    ]
    for names, message in cases:
        with pytest.raises(TypeError) as info:
            NodeNames(names)
        assert str(info.value) == message


def test_node_names_must_be_distinct():
    cases = [
        (["a", "a"], "NodeNames() item 1 repeats an earlier name: 'a'"),
        (["a", "b", "c", "b"], "NodeNames() item 3 repeats an earlier name: 'b'"),
        (["", "x", ""], "NodeNames() item 2 repeats an earlier name: ''"),
        (["x", "\ud800", "\ud800"], "NodeNames() item 2 repeats an earlier name: '\\ud800'"),
        (["é", "é"], "NodeNames() item 1 repeats an earlier name: 'é'"),
        # Equal content is the same name, whatever the str type.
        (["a", SubStr("a")], "NodeNames() item 1 repeats an earlier name: 'a'"),
    ]
    for names, message in cases:
        with pytest.raises(ValueError) as info:
            NodeNames(names)
        assert type(info.value) is ValueError
        assert str(info.value) == message
    # A repeat is reported before a later bad item.
    with pytest.raises(ValueError):
        NodeNames(["a", "a", 3])
    with pytest.raises(TypeError):
        NodeNames(["a", 3, "a"])


# --- ExecutionTrace(_node_names=...) ---------------------------------------------------


def test_node_names_cannot_be_bounded():
    names = NodeNames(["a"])
    for kwargs in [
        {"_node_names": names, "max_events": 3},
        {"max_events": 3, "_node_names": names},
        {"max_events": 1, "_node_names": names},
    ]:
        with pytest.raises(TypeError) as info:
            ExecutionTrace(**kwargs)
        assert str(info.value) == "ExecutionTrace() cannot combine max_events with _node_names"
    # max_events=None is "unbounded": it combines.
    trace = ExecutionTrace(_node_names=names, max_events=None)
    assert trace.max_events is None
    assert ExecutionTrace(_node_names=names).max_events is None


def test_node_names_must_be_a_node_names():
    for bad, type_name in [
        (["a", "b"], "list"),
        (("a",), "tuple"),
        ("a", "str"),
        (ExecutionTrace(), "ExecutionTrace"),
    ]:
        with pytest.raises(TypeError) as info:
            ExecutionTrace(_node_names=bad)
        assert str(info.value) == (
            f"ExecutionTrace() argument '_node_names' must be NodeNames or None, not {type_name}"
        )
    # None means "no shared names", as max_events=None means "unbounded".
    plain = ExecutionTrace(_node_names=None)
    plain.record(TraceEventType.NODE_STARTED, node_name="a")
    assert [event.node_name for event in plain.events] == ["a"]


def fingerprint(event: TraceEvent) -> tuple[Any, ...]:
    """Everything an event carries but its timestamp (NaN-safe, types included)."""
    return (
        type(event),
        event.event_type,
        event.node_name,
        type(event.node_name),
        event.step_index,
        type(event.step_index),
        repr(event.duration),
        event.error,
        type(event.error),
        event.metadata,
        type(event.metadata),
    )


TIMESTAMP = re.compile(r'("timestamp": )[^,\n]+')
TS = re.compile(r'("ts": )[^,\n]+')
DURATION = re.compile(r"Duration: [0-9.]+s$")


def without_times(text: str) -> str:
    return TS.sub(r"\1T", TIMESTAMP.sub(r"\1T", text))


SPECIAL_NAMES = [
    "",
    "a",
    "b",
    "é",
    "名前",
    "a\x00b",
    '"q\\',
    "\n",
    "\ud800",
    "\udfff",
    "\ud83d\ude00",
    "\U0001f600",
    "ValueError: boom",
]
name_texts = st.one_of(
    st.sampled_from(SPECIAL_NAMES),
    st.text(max_size=4),
    st.lists(st.integers(0xD800, 0xDFFF).map(chr), min_size=1, max_size=2).map("".join),
)
json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.text(max_size=3),
)
metadata_dicts = st.one_of(
    st.none(),
    st.just({}),
    st.dictionaries(
        st.text(max_size=3),
        st.one_of(json_leaves, st.lists(json_leaves, max_size=2)),
        min_size=1,
        max_size=3,
    ),
)


@st.composite
def scenarios(draw):
    names = draw(st.lists(name_texts, unique=True, max_size=6))
    others = [o for o in draw(st.lists(name_texts, unique=True, max_size=3)) if o not in names]
    pool = names + others
    table = [SubStr(n) if draw(st.booleans()) else n for n in names]

    def maybe_sub(name: str) -> str:
        return SubStr(name) if draw(st.booleans()) else name

    node_choice = st.none() if not pool else st.one_of(st.none(), st.sampled_from(pool))
    error_choice = st.one_of(st.none(), st.text(max_size=3), node_choice)
    calls = []
    for _ in range(draw(st.integers(0, 25))):
        kwargs: dict[str, Any] = {}
        node = draw(node_choice)
        if node is not None:
            kwargs["node_name"] = maybe_sub(node)
        error = draw(error_choice)
        if error is not None:
            kwargs["error"] = maybe_sub(error)
        step = draw(st.one_of(st.none(), st.integers(-5, 5), st.integers(-(2**70), 2**70)))
        if step is not None:
            kwargs["step_index"] = step
        duration = draw(st.one_of(st.none(), st.floats(), st.integers(-3, 10**6)))
        if duration is not None:
            kwargs["duration"] = duration
        metadata = draw(metadata_dicts)
        if metadata is not None:
            kwargs["metadata"] = metadata
        calls.append((draw(st.sampled_from(list(TraceEventType))), kwargs))
    return names, others, table, calls


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenario=scenarios())
def test_named_trace_behaves_like_a_plain_one(scenario):
    names, others, table, calls = scenario
    shared = NodeNames(table)
    assert len(shared) == len(names)
    plain = ExecutionTrace()
    named = ExecutionTrace(_node_names=shared)
    # A second trace on the same table: what one records never shows in the other.
    sibling = ExecutionTrace(_node_names=shared)
    for event_type, kwargs in calls:
        for trace in (plain, named, sibling):
            assert trace.record(event_type, **kwargs) is None

    expected = plain.events
    assert len(expected) == len(calls)
    for trace in (named, sibling):
        events = trace.events
        assert [fingerprint(e) for e in events] == [fingerprint(e) for e in expected]
        # The very metadata dict that was passed (kept by reference).
        for event, (_, kwargs) in zip(events, calls):
            if kwargs.get("metadata"):
                assert event.metadata is kwargs["metadata"]
        stamps = [e.timestamp for e in events]
        assert stamps == sorted(stamps)
        if stamps:
            assert stamps[0] == 0.0
        queries: list[Optional[str]] = [*names, *others, None, "never recorded \udc80"]
        queries += [SubStr(n) for n in names[:2]]
        for name in queries:
            got = trace.events_for_node(name)  # type: ignore[arg-type]
            want = plain.events_for_node(name)  # type: ignore[arg-type]
            assert [fingerprint(e) for e in got] == [fingerprint(e) for e in want], name
            assert [fingerprint(e) for e in got] == [
                fingerprint(e) for e in events if e.node_name == name
            ]
        summary = trace.summary()
        assert DURATION.sub("D", summary) == DURATION.sub("D", plain.summary())
        assert summary == reference.summary(events)
        text = trace.to_json()
        assert without_times(text) == without_times(plain.to_json())
        assert text == reference.to_json(events)
        chrome = trace.to_chrome_trace()
        assert without_times(chrome) == without_times(plain.to_chrome_trace())
        assert chrome == reference.to_chrome_trace(events)
    assert len(named.events) == len(calls)
    assert len(sibling.events) == len(calls)


def test_named_trace_summary_counts_used_names_only(empty_summary):
    trace = ExecutionTrace(_node_names=NodeNames(["a", "b", "c", "d"]))
    assert trace.summary() == ExecutionTrace().summary()
    assert trace.summary() == empty_summary
    assert trace.events_for_node("a") == []
    assert trace.events_for_node("zz") == []
    trace.record(T.NODE_STARTED, node_name="c")
    trace.record(T.NODE_COMPLETED, node_name="c", duration=0.5)
    trace.record(T.NODE_SKIPPED, node_name="zz")
    trace.record(T.NODE_FAILED, error="a")  # an error equal to a name is not a node
    lines = trace.summary().split("\n")
    assert lines[1:8] == [
        "  Total events: 4",
        "  Unique nodes: 2",
        "  Completed: 1",
        "  Failed: 1",
        "  Skipped: 1",
        "  Timed out: 0",
        "  Cancelled: 0",
    ]
    assert trace.events_for_node("a") == []
    assert [e.event_type for e in trace.events_for_node("c")] == [T.NODE_STARTED, T.NODE_COMPLETED]
    assert [e.event_type for e in trace.events_for_node("zz")] == [T.NODE_SKIPPED]


def test_named_trace_chrome_tids_follow_first_appearance():
    trace = ExecutionTrace(_node_names=NodeNames(["a", "b", "c"]))
    trace.record(T.EXECUTION_STARTED)
    trace.record(T.NODE_SKIPPED, node_name="c")  # not exported, but takes tid 1
    trace.record(T.NODE_STARTED, node_name="x")  # not in the table: tid 2
    trace.record(T.NODE_STARTED, node_name="a")  # tid 3
    trace.record(T.NODE_COMPLETED, node_name="a", duration=0.1)
    trace.record(T.NODE_COMPLETED, node_name="x", duration=0.2)
    trace.record(T.EXECUTION_COMPLETED, duration=0.3)
    records = json.loads(trace.to_chrome_trace())["traceEvents"]
    assert [(r["name"], r["ph"], r["tid"]) for r in records] == [
        ("execution", "B", 0),
        ("x", "B", 2),
        ("a", "B", 3),
        ("a", "E", 3),
        ("x", "E", 2),
        ("execution", "E", 0),
    ]
    assert trace.to_chrome_trace() == reference.to_chrome_trace(trace.events)


def traced_run_state(names: list[str]) -> SimpleNamespace:
    count = len(names)
    run = SimpleNamespace(
        names=names,
        status=[PENDING] * count,
        results=[None] * count,
        errors=[None] * count,
        durations=[0.0] * count,
        trace=ExecutionTrace(_node_names=NodeNames(names)),
    )
    run.state = RunState(
        run.status,
        run.results,
        run.errors,
        run.durations,
        RUNNING,
        COMPLETED,
        FAILED,
        run.trace,
    )
    return run


def test_named_trace_pickles_and_copies():
    run = traced_run_state(["a", "é", "\ud800"])
    trace = run.trace
    trace.record(T.EXECUTION_STARTED)
    assert run.state.start(0)
    assert run.state.start(2)
    assert run.state.complete(0, "value")
    assert run.state.fail(2, ValueError("x"), "ValueError: x")
    trace.record(T.NODE_SKIPPED, node_name="é", metadata={"reason": "no_task"})
    trace.record(T.NODE_SKIPPED, node_name="other", step_index=2**70)
    events = trace.events
    for restored in [
        pickle.loads(pickle.dumps(trace)),
        copy.copy(trace),
        copy.deepcopy(trace),
    ]:
        assert type(restored) is ExecutionTrace
        assert restored.max_events is None
        assert restored.events == events
        assert restored.to_json() == trace.to_json()
        assert restored.to_chrome_trace() == trace.to_chrome_trace()
        assert restored.summary() == trace.summary()
        for name in ["a", "é", "\ud800", "other", "missing"]:
            assert restored.events_for_node(name) == trace.events_for_node(name)
        # The copy keeps recording, independently of the original.
        restored.record(T.NODE_STARTED, node_name="a")
        restored.record(T.NODE_STARTED, node_name="new")
        assert len(restored.events_for_node("a")) == 3
        assert len(restored.events_for_node("new")) == 1
        assert restored.events[-1].timestamp >= events[-1].timestamp
        assert trace.events == events
        assert len(trace.events_for_node("a")) == 2


# --- RunState --------------------------------------------------------------------------


def untraced_run_state(count: int) -> SimpleNamespace:
    run = SimpleNamespace(
        status=[PENDING] * count,
        results=[None] * count,
        errors=[None] * count,
        durations=[0.0] * count,
        trace=None,
    )
    run.state = RunState(
        run.status, run.results, run.errors, run.durations, RUNNING, COMPLETED, FAILED
    )
    return run


def snapshot(run: SimpleNamespace) -> tuple[Any, ...]:
    events = None if run.trace is None else run.trace.events
    return (
        list(run.status),
        list(run.results),
        list(run.errors),
        list(run.durations),
        events,
        run.state.closed,
    )


def check_transitions(run: SimpleNamespace) -> None:
    """start/complete/fail/close on nodes 0-3 of a 4-node run (traced or not)."""
    state = run.state
    value = object()
    exc = ValueError("boom")
    assert state.closed is False

    assert state.start(0) is True
    assert run.status == [RUNNING, PENDING, PENDING, PENDING]
    assert run.durations == [0.0] * 4
    time.sleep(0.01)
    assert state.complete(0, value) is True
    assert run.status == [COMPLETED, PENDING, PENDING, PENDING]
    assert run.results[0] is value
    assert type(run.durations[0]) is float
    assert 0.009 <= run.durations[0] < 5.0
    first_duration = run.durations[0]

    # Not running any more (or never started): nothing changes.
    before = snapshot(run)
    assert state.complete(0, "again") is False
    assert state.fail(0, exc, "ValueError: boom") is False
    assert state.complete(1, "pending") is False
    assert state.fail(1, exc, "ValueError: boom") is False
    assert snapshot(run) == before
    assert run.results[0] is value

    assert state.start(1) is True
    assert state.fail(1, exc, "ValueError: boom") is True
    assert run.status == [COMPLETED, FAILED, PENDING, PENDING]
    assert run.errors == [None, exc, None, None]
    assert run.errors[1] is exc
    assert run.results == [value, None, None, None]
    assert type(run.durations[1]) is float
    assert 0.0 <= run.durations[1] < 5.0
    before = snapshot(run)
    assert state.fail(1, exc, "ValueError: boom") is False
    assert state.complete(1, value) is False
    assert snapshot(run) == before

    assert state.start(2) is True
    assert state.start(3) is True
    time.sleep(0.005)
    events_before_close = None if run.trace is None else len(run.trace.events)
    assert state.close(TIMED_OUT) == [2, 3]
    assert state.closed is True
    assert run.status == [COMPLETED, FAILED, TIMED_OUT, TIMED_OUT]
    assert run.durations[0] == first_duration
    for i in (2, 3):
        assert type(run.durations[i]) is float
        assert 0.004 <= run.durations[i] < 5.0
    assert run.results == [value, None, None, None]
    assert run.errors == [None, exc, None, None]
    if run.trace is not None:
        assert len(run.trace.events) == events_before_close  # close records nothing

    # Closed: nothing starts or ends, nothing is recorded.
    before = snapshot(run)
    assert state.start(0) is False
    assert state.start(2) is False
    assert state.complete(2, value) is False
    assert state.fail(3, exc, "ValueError: boom") is False
    assert state.complete(0, value) is False
    assert state.close(TIMED_OUT) == []
    assert state.close(FAILED) == []
    assert state.closed is True
    assert snapshot(run) == before


def test_run_state_untraced():
    run = untraced_run_state(4)
    check_transitions(run)


def test_run_state_traced_records_each_transition():
    names = ["extract", "é", "\ud800", ""]
    run = traced_run_state(names)
    check_transitions(run)
    events = run.trace.events
    assert [(e.event_type, e.node_name) for e in events] == [
        (T.NODE_STARTED, "extract"),
        (T.NODE_COMPLETED, "extract"),
        (T.NODE_STARTED, "é"),
        (T.NODE_FAILED, "é"),
        (T.NODE_STARTED, "\ud800"),
        (T.NODE_STARTED, ""),
    ]
    assert events[0].timestamp == 0.0
    for e in events:
        assert type(e.node_name) is str
        assert e.step_index is None
        assert e.metadata == {}
    for e in (events[0], events[2], events[4], events[5]):
        assert e.duration is None
        assert e.error is None
    completed, failed = events[1], events[3]
    assert completed.error is None
    assert completed.duration == run.durations[0]
    assert failed.duration == run.durations[1]
    assert failed.error == "ValueError: boom"
    assert type(failed.error) is str
    assert abs(completed.duration - (completed.timestamp - events[0].timestamp)) < 1e-6
    assert abs(failed.duration - (failed.timestamp - events[2].timestamp)) < 1e-6
    # The documented queries see the RunState's events like any other.
    assert run.trace.events_for_node("extract") == events[0:2]
    assert run.trace.events_for_node("é") == events[2:4]
    assert run.trace.events_for_node("\ud800") == [events[4]]
    assert run.trace.events_for_node("") == [events[5]]
    assert run.trace.summary() == reference.summary(events)
    assert run.trace.summary().split("\n")[1:5] == [
        "  Total events: 6",
        "  Unique nodes: 4",
        "  Completed: 1",
        "  Failed: 1",
    ]
    assert run.trace.to_json() == reference.to_json(events)
    assert run.trace.to_chrome_trace() == reference.to_chrome_trace(events)


def test_run_state_mixes_with_record():
    run = traced_run_state(["a", "b"])
    run.trace.record(T.NODE_SKIPPED, node_name="b", metadata={"reason": "no_task"})
    run.trace.record(T.NODE_STARTED, node_name="z")
    assert run.state.start(0)
    assert run.state.complete(0, 1)
    run.trace.record(T.NODE_CACHE_HIT, node_name=SubStr("a"))
    events = run.trace.events
    assert [(e.event_type, e.node_name) for e in events] == [
        (T.NODE_SKIPPED, "b"),
        (T.NODE_STARTED, "z"),
        (T.NODE_STARTED, "a"),
        (T.NODE_COMPLETED, "a"),
        (T.NODE_CACHE_HIT, "a"),
    ]
    assert run.trace.events_for_node("a") == events[2:]
    assert run.trace.events_for_node("b") == events[:1]
    assert run.trace.summary().split("\n")[2] == "  Unique nodes: 3"
    assert run.trace.to_chrome_trace() == reference.to_chrome_trace(events)


def test_run_state_failed_error_text_is_stored_as_str():
    run = traced_run_state(["a"])
    assert run.state.start(0)
    assert run.state.fail(0, KeyError("k"), SubStr("KeyError: 'k'"))
    (_, failed) = run.trace.events
    assert failed.error == "KeyError: 'k'"
    assert type(failed.error) is str


def check_bad_indices(run: SimpleNamespace) -> None:
    state = run.state
    exc = ValueError("x")
    before = snapshot(run)
    for call in [
        lambda: state.start(4),
        lambda: state.start(10**30),
        lambda: state.start(-1),
        lambda: state.complete(4, None),
        lambda: state.complete(-1, None),
        lambda: state.complete(10**30, None),
        lambda: state.fail(4, exc, "ValueError: x"),
    ]:
        with pytest.raises(IndexError):
            call()
    for call in [
        lambda: state.start(1.0),
        lambda: state.start("0"),
        lambda: state.start(None),
        lambda: state.complete(0.0, None),
        lambda: state.complete("0", None),
        lambda: state.fail(1.5, exc, "ValueError: x"),
        lambda: state.fail("1", exc, "ValueError: x"),
    ]:
        with pytest.raises(TypeError):
            call()
    assert snapshot(run) == before


def test_run_state_bad_indices():
    check_bad_indices(untraced_run_state(4))
    check_bad_indices(traced_run_state(["a", "b", "c", "d"]))


def test_run_state_fail_bad_index_is_an_index_error():
    """Like start and complete, fail must reject a negative or huge index with
    IndexError (it raised OverflowError: its index is parsed as an unsigned int)."""
    run = traced_run_state(["a", "b"])
    exc = ValueError("x")
    with pytest.raises(IndexError):
        run.state.start(-1)
    with pytest.raises(IndexError):
        run.state.fail(-1, exc, "ValueError: x")
    with pytest.raises(IndexError):
        run.state.fail(2**70, exc, "ValueError: x")
    assert run.trace.events == []


def test_run_state_releases_replaced_items_after_its_lock():
    """Replacing a list item may free an object whose ``__del__`` calls back into
    the same RunState; that must not deadlock on the state's own lock."""
    run = traced_run_state(["a", "b"])
    state = run.state
    seen: list[bool] = []

    class CallsBack:
        def __del__(self) -> None:
            seen.append(state.start(1))

    run.results[0] = CallsBack()
    assert state.start(0) is True
    assert state.complete(0, "done") is True  # frees CallsBack, which starts node 1
    assert seen == [True]
    assert run.results[0] == "done"
    assert run.status[1] is NodeStatus.RUNNING
    assert [(event.event_type, event.node_name) for event in run.trace.events] == [
        (TraceEventType.NODE_STARTED, "a"),
        (TraceEventType.NODE_COMPLETED, "a"),
        (TraceEventType.NODE_STARTED, "b"),
    ]


def test_run_state_argument_counts():
    run = traced_run_state(["a", "b"])
    state = run.state
    exc = ValueError("x")
    for call in [
        lambda: state.start(),
        lambda: state.start(0, 1),
        lambda: state.start(node=0),
        lambda: state.complete(0),
        lambda: state.complete(0, 1, 2),
        lambda: state.complete(),
        lambda: state.fail(0, exc),
        lambda: state.fail(0, exc, "x", "y"),
        lambda: state.close(),
        lambda: state.close(TIMED_OUT, FAILED),
    ]:
        with pytest.raises(TypeError):
            call()
    with pytest.raises(TypeError):
        state.fail(0, exc, 5)  # error_text must be a str
    assert run.status == [PENDING, PENDING]
    assert run.trace.events == []
    assert state.closed is False


def test_run_state_constructor_checks():
    def make(status, results, errors, durations, trace=None):
        return RunState(status, results, errors, durations, RUNNING, COMPLETED, FAILED, trace)

    three = [PENDING] * 3
    for lists in [
        (three, [None] * 2, [None] * 3, [0.0] * 3),
        (three, [None] * 3, [None] * 4, [0.0] * 3),
        (three, [None] * 3, [None] * 3, [0.0] * 2),
        ([], [None], [], []),
    ]:
        with pytest.raises(ValueError) as info:
            make(*lists)
        assert str(info.value) == "RunState() lists must all have one item per node"
    lists = (three, [None] * 3, [None] * 3, [0.0] * 3)
    with pytest.raises(TypeError):
        make(tuple(three), *lists[1:])
    with pytest.raises(TypeError):
        make(*lists, trace="not a trace")

    prefix = "RunState() trace must be made with the 3 node names of the run (_node_names), not "
    for trace, tail in [
        (ExecutionTrace(), "0 names"),
        (ExecutionTrace(max_events=10), "a bounded trace"),
        (ExecutionTrace(_node_names=NodeNames(["a", "b"])), "2 names"),
        (ExecutionTrace(_node_names=NodeNames(["a", "b", "c", "d"])), "4 names"),
    ]:
        with pytest.raises(ValueError) as info:
            make(*lists, trace)
        assert str(info.value) == prefix + tail
    assert make(*lists).closed is False
    assert make(*lists, None).closed is False
    assert make(*lists, ExecutionTrace(_node_names=NodeNames(["a", "b", "c"]))).closed is False
    empty = make([], [], [], [], ExecutionTrace(_node_names=NodeNames([])))
    assert empty.close(TIMED_OUT) == []
    assert empty.closed is True


def test_run_state_threads_racing_close():
    count, threads_count = 4000, 8
    run = traced_run_state([f"n{i}" for i in range(count)])
    state = run.state
    hold = threading.Event()  # keeps node 0 running until close() has returned
    ready = threading.Barrier(threads_count + 1)
    outcomes: list[Optional[str]] = [None] * threads_count

    def worker(k: int) -> None:
        ready.wait()
        try:
            for i in range(k, count, threads_count):
                if not state.start(i):
                    outcomes[k] = "closed"
                    return
                if i == 0:
                    hold.wait(10)
                elif i % 7 == 0:
                    time.sleep(0)  # let the others (and close) in while running
                state.complete(i, i)
            outcomes[k] = "finished"
        except BaseException as exc:  # pragma: no cover - reported below
            outcomes[k] = repr(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(threads_count)]
    for thread in threads:
        thread.start()
    ready.wait()
    deadline = time.monotonic() + 10
    # Close once node 0 is running (held) and at least 1000 nodes have completed.
    while time.monotonic() < deadline and (
        run.status[0] is not RUNNING or run.status.count(COMPLETED) < 1000
    ):
        time.sleep(0.0005)
    assert run.status[0] is RUNNING
    ended = state.close(TIMED_OUT)
    events_at_close = len(run.trace.events)
    hold.set()
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive()

    assert outcomes[0] == "closed"
    assert all(outcome in ("closed", "finished") for outcome in outcomes), outcomes
    assert state.closed is True
    assert len(run.trace.events) == events_at_close

    status = run.status
    assert set(status) <= {PENDING, COMPLETED, TIMED_OUT}
    timed_out = [i for i in range(count) if status[i] is TIMED_OUT]
    completed = [i for i in range(count) if status[i] is COMPLETED]
    assert ended == timed_out
    assert 0 in ended
    assert len(completed) >= 1000
    assert status.count(PENDING) > 0  # closed midway

    events = run.trace.events
    kinds = Counter((e.event_type, e.node_name) for e in events)
    assert set(e.event_type for e in events) <= {T.NODE_STARTED, T.NODE_COMPLETED}
    for i in completed:
        name = f"n{i}"
        assert kinds[(T.NODE_STARTED, name)] == 1
        assert kinds[(T.NODE_COMPLETED, name)] == 1
        assert run.results[i] == i
        (started, done) = run.trace.events_for_node(name)
        assert (started.event_type, done.event_type) == (T.NODE_STARTED, T.NODE_COMPLETED)
        assert done.duration == run.durations[i]
        assert abs(done.duration - (done.timestamp - started.timestamp)) < 1e-6
    for i in timed_out:
        name = f"n{i}"
        assert kinds[(T.NODE_STARTED, name)] == 1
        assert kinds[(T.NODE_COMPLETED, name)] == 0
        assert run.results[i] is None
        assert run.durations[i] > 0.0
    pending = [i for i in range(count) if status[i] is PENDING]
    for i in pending:
        assert run.trace.events_for_node(f"n{i}") == []
        assert run.durations[i] == 0.0
    assert len(events) == 2 * len(completed) + len(timed_out)
    assert run.trace.summary().split("\n")[1:4] == [
        f"  Total events: {len(events)}",
        f"  Unique nodes: {len(completed) + len(timed_out)}",
        f"  Completed: {len(completed)}",
    ]


# --- DAG._node_names -------------------------------------------------------------------


def test_dag_node_names_is_cached_while_the_nodes_are_unchanged():
    dag = dagron.DAG()
    empty = dag._node_names()
    assert type(empty) is NodeNames
    assert len(empty) == 0
    assert dag._node_names() is empty
    dag.add_nodes(["a", "b"])
    table = dag._node_names()
    assert table is not empty
    assert len(table) == 2
    assert dag._node_names() is table
    dag.add_edge("a", "b")
    assert dag._node_names() is table
    with pytest.raises(CycleError):
        dag.add_edge("b", "a")
    with pytest.raises(dagron.DuplicateNodeError):
        dag.add_node("a")
    assert dag._node_names() is not None
    dag.add_node("c")
    bigger = dag._node_names()
    assert bigger is not table
    assert len(bigger) == 3
    assert dag._node_names() is bigger
    # A traced run uses the cached table and leaves it cached.
    dagron.DAGExecutor(dag, trace=True).execute({"a": lambda: 1, "b": lambda: 2})
    assert dag._node_names() is bigger
    # The table is the DAG's names, in node order.
    trace = ExecutionTrace(_node_names=bigger)
    state = RunState(
        [PENDING] * 3, [None] * 3, [None] * 3, [0.0] * 3, RUNNING, COMPLETED, FAILED, trace
    )
    for i in range(3):
        assert state.start(i)
    assert [e.node_name for e in trace.events] == ["a", "b", "c"]


def test_dag_node_names_reset_when_a_builder_call_rolls_back():
    builder = dagron.DAG.builder().add_edges([("a", "b")])
    dag = builder._target()
    table = dag._node_names()
    assert len(table) == 2
    with pytest.raises(CycleError):
        builder.add_edges([("c", "d"), ("d", "c")])
    assert dag.nodes == ["a", "b"]
    assert dag._node_names_table is None
    after = dag._node_names()
    assert after is not table
    assert len(after) == 2

    # A table built (here, by the edge generator) while the failing call had created
    # nodes must not survive it, even once the node count matches again.
    def edges():
        yield ("b", "x")
        assert len(dag._node_names()) == 3  # names a, b, x
        yield ("x", "b")  # closes a cycle: x is dropped

    with pytest.raises(CycleError):
        builder.add_edges(edges())
    assert dag.nodes == ["a", "b"]
    builder.add_node("y")
    dag = builder.build()
    assert dag.nodes == ["a", "b", "y"]
    result = dagron.DAGExecutor(dag, trace=True).execute({"y": lambda: "why"})
    assert result.node_results["y"].status is COMPLETED
    trace = result.trace
    assert trace is not None
    started = [e.node_name for e in trace.events if e.event_type is T.NODE_STARTED]
    assert started == ["y"]
    assert trace.events_for_node("x") == []
    assert [e.event_type for e in trace.events_for_node("y")] == [
        T.NODE_STARTED,
        T.NODE_COMPLETED,
    ]


# --- the executor ----------------------------------------------------------------------


def sleeper(seconds: float, value: Any = None):
    def task() -> Any:
        time.sleep(seconds)
        return value

    return task


def node_events(trace: ExecutionTrace, name: str) -> dict[TraceEventType, TraceEvent]:
    events = trace.events_for_node(name)
    by_type = {e.event_type: e for e in events}
    assert len(by_type) == len(events), events
    return by_type


def test_executor_durations_match_the_trace():
    layers = [[f"L{k}n{i}" for i in range(5)] for k in range(4)]
    builder = dagron.DAG.builder()
    for upper, lower in zip(layers, layers[1:]):
        for i, name in enumerate(lower):
            builder.add_edge(upper[i], name)
            builder.add_edge(upper[(i + 1) % 5], name)
    dag = builder.build()
    assert dag.levels() == layers
    tasks = {
        name: sleeper(0.001 * (1 + (k + i) % 4), (k, i))
        for k, layer in enumerate(layers)
        for i, name in enumerate(layer)
    }
    result = dagron.DAGExecutor(dag, max_workers=4, trace=True).execute(tasks)
    assert result.succeeded == 20
    trace = result.trace
    assert trace is not None
    for k, layer in enumerate(layers):
        for i, name in enumerate(layer):
            node = result.node_results[name]
            assert node.status is COMPLETED
            assert node.result == (k, i)
            by_type = node_events(trace, name)
            assert set(by_type) == {T.NODE_STARTED, T.NODE_COMPLETED}
            started, done = by_type[T.NODE_STARTED], by_type[T.NODE_COMPLETED]
            assert type(node.duration_seconds) is float
            assert node.duration_seconds == done.duration
            assert abs(done.duration - (done.timestamp - started.timestamp)) < 1e-6
            assert 0.001 * (1 + (k + i) % 4) * 0.9 <= done.duration < 5.0
    assert trace.to_json() == reference.to_json(trace.events)
    assert trace.to_chrome_trace() == reference.to_chrome_trace(trace.events)
    assert trace.summary() == reference.summary(trace.events)
    # A second run of the same DAG: a fresh trace on the same cached table.
    again = dagron.DAGExecutor(dag, max_workers=4, trace=True).execute(tasks)
    assert again.trace is not trace
    assert len(again.trace.events_for_node("L0n0")) == 2
    assert len(trace.events_for_node("L0n0")) == 2


def test_executor_failed_node_duration_matches_the_trace():
    def boom() -> None:
        time.sleep(0.003)
        raise ValueError("boom")

    dag = dagron.DAG.builder().add_edges([("bad", "after"), ("good", "after2")]).build()
    # fail_fast (the default) skips "after", the failed node's dependent (without it,
    # now that fail_fast=False runs every node with a task, "after" would run).
    result = dagron.DAGExecutor(dag, max_workers=2, trace=True).execute(
        {"bad": boom, "after": sleeper(0), "good": sleeper(0.002, 7), "after2": sleeper(0)}
    )
    trace = result.trace
    assert trace is not None
    bad = result.node_results["bad"]
    assert bad.status is FAILED
    assert isinstance(bad.error, ValueError)
    by_type = node_events(trace, "bad")
    assert set(by_type) == {T.NODE_STARTED, T.NODE_FAILED}
    started, failed = by_type[T.NODE_STARTED], by_type[T.NODE_FAILED]
    assert failed.error == "ValueError: boom"
    assert bad.duration_seconds == failed.duration
    assert abs(failed.duration - (failed.timestamp - started.timestamp)) < 1e-6
    assert 0.0027 <= failed.duration < 5.0
    assert result.node_results["after"].status is NodeStatus.SKIPPED
    assert result.node_results["after"].duration_seconds == 0.0
    for name in ("good", "after2"):
        node = result.node_results[name]
        assert node.status is COMPLETED
        done = node_events(trace, name)[T.NODE_COMPLETED]
        assert node.duration_seconds == done.duration
    assert trace.summary().split("\n")[1:6] == [
        f"  Total events: {len(trace.events)}",
        "  Unique nodes: 4",
        "  Completed: 2",
        "  Failed: 1",
        "  Skipped: 1",
    ]


def test_executor_timed_out_node_duration_matches_the_trace():
    dag = dagron.DAG.builder().add_node("slow").build()
    result = dagron.DAGExecutor(dag, trace=True).execute({"slow": sleeper(0.3)}, timeout=0.05)
    node = result.node_results["slow"]
    assert node.status is TIMED_OUT
    trace = result.trace
    assert trace is not None
    by_type = node_events(trace, "slow")
    assert set(by_type) == {T.NODE_STARTED, T.NODE_TIMED_OUT}
    started, timed_out = by_type[T.NODE_STARTED], by_type[T.NODE_TIMED_OUT]
    assert node.duration_seconds == timed_out.duration
    # Timed from the task's start (after the deadline was set) to the close.
    assert 0.0 < timed_out.duration < 0.3
    assert timed_out.duration <= timed_out.timestamp - started.timestamp + 1e-6
