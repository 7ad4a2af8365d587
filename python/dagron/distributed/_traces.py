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

__all__ = ["SyntheticStart", "WorkerTraces", "merge_run"]

#: ``(node name, monotonic ns)``: a node that was submitted but whose worker never
#: reported back (lost, timed out, interrupted). Its ``NODE_STARTED`` is placed at the
#: submission, recorded by the driver, with ``metadata={"start": "submitted"}``.
SyntheticStart = tuple[str, int]


class WorkerTraces:
    """The worker traces of a run, merged as they arrive.

    A one-node trace costs tens of kilobytes while it lives (a recorder's fixed
    tables), a merged event a few hundred bytes; so traces are merged in batches of
    ``batch``, and merged batches pairwise once they are as large as each other (a
    binary counter: every event is copied about log2(nodes / batch) times), and the
    driver never holds more than ``batch`` one-node traces.
    """

    def __init__(self, batch: int = 64) -> None:
        self.batch = batch
        self.pending: list[ExecutionTrace] = []
        # Merged traces, with how many worker traces each holds; sizes decrease.
        self.merged: list[tuple[ExecutionTrace, int]] = []

    def add(self, trace: ExecutionTrace) -> None:
        self.pending.append(trace)
        if len(self.pending) >= self.batch:
            self._push(ExecutionTrace.merge(self.pending), len(self.pending))
            self.pending = []

    def _push(self, trace: ExecutionTrace, size: int) -> None:
        while self.merged and self.merged[-1][1] <= size:
            earlier, earlier_size = self.merged.pop()
            trace = ExecutionTrace.merge([earlier, trace])
            size += earlier_size
        self.merged.append((trace, size))

    def traces(self) -> list[ExecutionTrace]:
        """Every worker trace received, as few merged traces and the last ones."""
        return [trace for trace, _ in self.merged] + self.pending


def merge_run(
    driver: ExecutionTrace,
    workers: WorkerTraces,
    starts: list[SyntheticStart],
) -> ExecutionTrace:
    """The run's trace: ``driver``'s events, every worker trace, and a
    ``NODE_STARTED`` for each of ``starts``, in time order (ties: the driver's events
    first)."""
    parts = workers.traces()
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
