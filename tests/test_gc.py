"""Reading ``events`` leaves the rest of the program's garbage collection alone.

``events`` builds one ``TraceEvent`` per event; however it spares the cyclic GC that
work, the program's own young objects must still be collected as usual, and no GC
setting may change.
"""

from __future__ import annotations

import gc
import weakref

from dagron.execution.tracing import ExecutionTrace, TraceEventType

T = TraceEventType


class Node:
    """An object in a reference cycle: only the cyclic GC frees it."""

    def __init__(self) -> None:
        self.me = self


def test_polling_events_lets_cyclic_garbage_be_collected():
    trace = ExecutionTrace()
    for i in range(2_050):  # above the size from which events spares the GC
        trace.record(T.NODE_STARTED, node_name=f"n{i % 10}")
        trace.record(T.NODE_COMPLETED, node_name=f"n{i % 10}", duration=0.5)
    assert gc.isenabled()
    gc.collect()
    thresholds = gc.get_threshold()
    polls = 200
    garbage = []
    for _ in range(polls):
        cycle = Node()
        garbage.append(weakref.ref(cycle))
        del cycle
        assert len(trace.events) == 4_100
    alive = sum(ref() is not None for ref in garbage)
    # Each poll allocates thousands of objects, so young collections run as usual
    # and free the cycles made before it; at most the newest few are still there.
    # (With gc.freeze()/unfreeze() after each poll, all of them were.)
    assert alive <= 3, f"{alive} of {polls} unreachable cycles were never collected"
    assert gc.isenabled()
    assert gc.get_threshold() == thresholds
    assert gc.get_freeze_count() == 0


def test_events_are_tracked_by_the_gc():
    """Events built while spared are handed back to the GC: a cycle through one
    (metadata referring to the event list) is still collected."""
    trace = ExecutionTrace()
    for _ in range(5_000):
        trace.record(T.STEP_STARTED, step_index=1)
    metadata: dict[str, object] = {}
    trace.record(T.STEP_COMPLETED, metadata=metadata)
    events = trace.events
    assert all(gc.is_tracked(event) for event in events)
    del metadata
    events[-1].metadata["events"] = events  # a cycle: list -> event -> dict -> list
    witness = weakref.ref(events[0])
    del events, trace
    gc.collect()
    assert witness() is None


def test_a_program_that_disabled_the_gc_keeps_it_disabled():
    trace = ExecutionTrace()
    for _ in range(5_000):
        trace.record(T.STEP_STARTED, step_index=1)
    gc.disable()
    try:
        assert len(trace.events) == 5_000
        assert not gc.isenabled()
    finally:
        gc.enable()
