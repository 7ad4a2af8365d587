"""Shared by the journal tests and the child processes they start: the recorded
stream a child writes, and the heavy metadata of the loss-bound test."""

from __future__ import annotations

from dagron.execution.tracing import ExecutionTrace, TraceEventType

KINDS = list(TraceEventType)


def stream_event(i: int) -> dict:
    """Event ``i`` of the deterministic stream (as ``record`` keywords)."""
    event: dict = {"node_name": f"n{i % 7}" if i % 3 else None, "step_index": i}
    if i % 5 == 0:
        event["duration"] = i / 8
    if i % 11 == 0:
        event["error"] = f"E{i % 4}: \u00e9\ud800"
    if i % 13 == 0:
        event["metadata"] = {"i": i, "l": [1.5, None, "x"]}
    if i % 17 == 0:
        event["step_index"] = -(2**70) - i
    return event


def record_stream(trace: ExecutionTrace, start: int, stop: int) -> None:
    for i in range(start, stop):
        trace.record(KINDS[i % 16], **stream_event(i))


HEAVY = {"blob": "x" * 20_000}
