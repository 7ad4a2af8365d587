"""Trace origins and dropped counts (issue 11, parts 1 and 4)."""

from __future__ import annotations

import copy
import dataclasses
import os
import pickle
import socket
import time

import pytest
from dagron.execution.tracing import ExecutionTrace, TraceEventType, TraceOrigin

T = TraceEventType


def test_no_origin_before_the_first_event():
    trace = ExecutionTrace()
    assert trace.origin is None
    assert trace.sources == []
    assert trace.event_sources() == []
    assert trace.dropped == 0


def test_origin_is_the_first_event_on_both_clocks():
    trace = ExecutionTrace()
    mono_before, wall_before = time.monotonic_ns(), time.time_ns()
    trace.record(T.EXECUTION_STARTED)
    mono_after, wall_after = time.monotonic_ns(), time.time_ns()
    time.sleep(0.01)
    trace.record(T.EXECUTION_COMPLETED)
    origin = trace.origin
    assert isinstance(origin, TraceOrigin)
    assert origin.host == socket.gethostname()
    assert origin.pid == os.getpid()
    assert mono_before <= origin.monotonic_ns <= mono_after
    assert wall_before <= origin.wall_ns <= wall_after + 1_000_000
    # The second event does not move it.
    assert trace.origin == origin
    assert trace.sources == [origin]
    assert trace.event_sources() == [0, 0]
    assert dataclasses.is_dataclass(origin)
    with pytest.raises(dataclasses.FrozenInstanceError):
        origin.pid = 1  # type: ignore[misc]
    with pytest.raises(AttributeError):
        trace.origin = origin  # type: ignore[misc]


@pytest.mark.parametrize(
    "clone",
    [
        copy.copy,
        copy.deepcopy,
        lambda t: pickle.loads(pickle.dumps(t)),
        lambda t: pickle.loads(pickle.dumps(t, protocol=2)),
    ],
)
@pytest.mark.parametrize("max_events", [None, 4])
def test_origin_and_dropped_survive_copies(clone, max_events):
    trace = ExecutionTrace(max_events=max_events)
    for step in range(10):
        trace.record(T.STEP_STARTED, step_index=step)
    copied = clone(trace)
    assert copied.origin == trace.origin
    assert copied.dropped == trace.dropped == (6 if max_events else 0)
    assert copied.to_json() == trace.to_json()
    assert copied.sources == trace.sources
    # A restored trace keeps recording; its origin stays.
    copied.record(T.STEP_STARTED, step_index=10)
    assert copied.origin == trace.origin
    assert copied.event_sources() == [0] * len(copied.events)
    assert copied.dropped == (7 if max_events else 0)


def test_a_version_1_state_restores_with_an_origin_from_here():
    trace = ExecutionTrace()
    trace.record(T.EXECUTION_STARTED)
    _new, _args, state = trace.__reduce__()
    old = state[:4]
    restored = ExecutionTrace.__new__(ExecutionTrace)
    restored.__setstate__((1, *old[1:]))
    assert restored.to_json() == trace.to_json()
    assert restored.origin is not None
    assert (restored.origin.host, restored.origin.pid) == (socket.gethostname(), os.getpid())
    assert restored.dropped == 0


@pytest.mark.parametrize(
    "provenance, message",
    [
        ("nope", r"expected \(origin, dropped, sources, event sources\)"),
        ((("h", -1, 0, 0), 0, None, None), "an origin must be"),
        ((("h", 1, 0, 0), 0, [("h", 1, 0, 0)], b"\0\0\0"), "event sources do not match"),
        ((("h", 1, 0, 0), 0, [("h", 1, 0, 0)], b"\5\0\0\0"), "source index 5 out of range"),
        ((None, 0, [("h", 1, 0, 0)], b"\0\0\0\0"), "sources need an origin"),
    ],
)
def test_bad_provenance_is_refused_and_the_trace_stays_usable(provenance, message):
    trace = ExecutionTrace()
    trace.record(T.EXECUTION_STARTED)
    _new, _args, state = trace.__reduce__()
    target = ExecutionTrace.__new__(ExecutionTrace)
    with pytest.raises(ValueError, match=message):
        target.__setstate__((*state[:4], provenance))
    target.record(T.EXECUTION_STARTED)
    assert len(target.events) == 1


def test_bounded_trace_counts_what_it_let_go_and_summary_keeps_nine_lines():
    trace = ExecutionTrace(max_events=100)
    for step in range(1_000):
        trace.record(T.STEP_STARTED, step_index=step)
        assert trace.dropped == max(0, step + 1 - 100)
    assert [e.step_index for e in trace.events] == list(range(900, 1_000))
    assert len(trace.summary().split("\n")) == 9
    assert ExecutionTrace().dropped == 0
