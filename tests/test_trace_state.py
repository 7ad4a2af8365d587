"""``dagron._core._trace_state``: the one builder of the state ``__setstate__``
restores (the layout and version live in ``rust/py/pickle.rs``), for the Python side
(traces copied from other objects; loading files goes straight to the core)."""

from __future__ import annotations

import pickle

import pytest
from dagron import _core
from dagron.execution.tracing import ExecutionTrace, TraceEventType, TraceOrigin

SAVED = [
    ("node_started", 0.0, "a", None, None, None, None),
    ("node_completed", 1.5, "a", 2, 0.5, "E: x", {"k": 1}),
    ("node_started", 2.0, "b", None, None, None, None),
]


def restored(state: tuple) -> ExecutionTrace:
    trace = ExecutionTrace.__new__(ExecutionTrace)
    trace.__setstate__(state)
    return trace


def test_the_state_is_what_a_pickle_holds():
    origin, other = ("h", 1, 2, 3), ("g", 5, 6, 7)
    state = _core._trace_state(SAVED, origin, 4, [origin, other], [0, 1, 1])
    trace = restored(state)
    saved = trace.__reduce__()[2]
    # The same state but for the epoch, which a restored trace takes from its clock.
    assert (saved[0], *saved[2:]) == (state[0], *state[2:])
    assert trace.sources == [TraceOrigin(*origin), TraceOrigin(*other)]
    assert trace.event_sources() == [0, 1, 1]
    assert trace.dropped == 4
    assert [e.event_type for e in trace.events] == [
        TraceEventType.NODE_STARTED,
        TraceEventType.NODE_COMPLETED,
        TraceEventType.NODE_STARTED,
    ]
    again = pickle.loads(pickle.dumps(trace))
    assert again.events == trace.events and again.sources == trace.sources


def test_defaults_and_bad_input():
    trace = restored(_core._trace_state(SAVED, ("h", 1, 2, 3)))
    assert trace.origin == TraceOrigin("h", 1, 2, 3)
    assert trace.dropped == 0 and trace.event_sources() == [0, 0, 0]
    assert restored(_core._trace_state([])).events == []
    with pytest.raises(ValueError, match="event sources do not match the events"):
        restored(_core._trace_state(SAVED, ("h", 1, 2, 3), 0, [("h", 1, 2, 3)], [0]))
