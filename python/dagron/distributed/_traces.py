"""One run's trace from the driver's trace and the traces its workers sent back.

The driver records the run's own events (execution, steps, skips, cancellations, and
the ends of nodes it had to give up on). Each worker records its node's
``NODE_STARTED`` and end event on its own clock (:mod:`dagron.distributed._worker`).
:func:`merge_run` lines them all up with ``ExecutionTrace.merge``: through each
trace's origin, on the monotonic clock when all come from one host, else on the wall
clock. Every event keeps its source (host, pid), so exports draw one lane group per
worker.
"""

from __future__ import annotations

from dagron.execution.tracing import ExecutionTrace, TraceEventType

__all__ = ["SyntheticStart", "merge_run"]

#: ``(node name, monotonic ns)``: a node that was submitted but whose worker never
#: reported back (lost, timed out, interrupted). Its ``NODE_STARTED`` is placed at the
#: submission, recorded by the driver, with ``metadata={"start": "submitted"}``.
SyntheticStart = tuple[str, int]


def merge_run(
    driver: ExecutionTrace,
    parts: list[ExecutionTrace],
    starts: list[SyntheticStart],
) -> ExecutionTrace:
    """The run's trace: ``driver``'s events, every worker trace of ``parts``, and a
    ``NODE_STARTED`` for each of ``starts``, in time order (ties: the driver's events
    first, then ``parts`` in order)."""
    if not parts and not starts:
        return driver
    traces = [driver, *parts]
    offsets = [0.0] * len(traces)
    for name, submitted_ns in starts:
        # Recorded now; the offset moves it back to the submission, on this
        # process's clock (which is also how a wall-clock merge shifts it).
        start = ExecutionTrace()
        start.record(TraceEventType.NODE_STARTED, node_name=name, metadata={"start": "submitted"})
        origin = start.origin
        assert origin is not None
        traces.append(start)
        offsets.append((submitted_ns - origin.monotonic_ns) / 1e9)
    return ExecutionTrace.merge(traces, offsets=offsets)
