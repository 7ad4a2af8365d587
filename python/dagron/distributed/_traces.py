"""One run's trace from the driver's trace and the traces its workers sent back.

The driver records the run's own events (execution, steps, skips, cancellations, and
the ends of nodes it had to give up on). Each worker records its node's
``NODE_STARTED`` and end event on its own clock (:mod:`dagron.distributed._worker`).
:func:`merge_run` lines them all up on the driver's clock, in time order.

It uses ``ExecutionTrace.merge`` when the recorder has it (traces that carry their
origin: events keep their source, host and pid, so exports draw one lane group per
worker). Until then it rebuilds the merged trace through the pickle state, from the
``_dagron_origin`` each trace notes (:func:`dagron.distributed._worker.new_trace`):
same times, no per-event sources.
"""

from __future__ import annotations

from typing import Any, Optional, cast

from dagron.execution.tracing import ExecutionTrace

__all__ = ["SyntheticStart", "merge_run"]

#: ``(node name, monotonic ns)``: a node that was submitted but whose worker never
#: reported back (lost, timed out, interrupted). Its ``NODE_STARTED`` is placed at the
#: submission, with ``metadata={"start": "submitted"}``.
SyntheticStart = tuple[str, int]

_STATE_VERSION = 1


def _state(trace: ExecutionTrace) -> tuple[Optional[int], list[tuple[Any, ...]], dict[str, Any]]:
    """(epoch ns, saved events, instance dict) from the trace's pickle state."""
    version, epoch, events, instance = trace.__reduce__()[2]
    if version != _STATE_VERSION:  # pragma: no cover - guards a format change
        raise RuntimeError(f"unknown ExecutionTrace state version {version}")
    return epoch, events, instance or {}


def _wall_epoch(epoch: int, origin: tuple[str, int, int, int]) -> int:
    """The Unix ns of monotonic instant ``epoch`` on the clocks ``origin`` read."""
    _, _, monotonic_ns, wall_ns = origin
    return wall_ns + (epoch - monotonic_ns)


def merge_run(
    driver: ExecutionTrace,
    parts: list[ExecutionTrace],
    starts: list[SyntheticStart],
) -> ExecutionTrace:
    """The run's trace: ``driver``'s events, every worker trace of ``parts``, and a
    ``NODE_STARTED`` for each of ``starts``, in time order on the driver's clock
    (ties: the driver's events first, then ``parts`` in order)."""
    if not parts and not starts:
        return driver
    epoch, events, instance = _state(driver)
    if epoch is None:  # the driver records EXECUTION_STARTED before any submission
        raise ValueError("merge_run() needs a driver trace that has recorded its start")
    origin = instance["_dagron_origin"]
    host = origin[0]
    driver_wall = _wall_epoch(epoch, origin)
    rows: list[tuple[float, int, int, tuple[Any, ...]]] = [
        (event[1], 0, k, event) for k, event in enumerate(events)
    ]
    for n, part in enumerate(parts, 1):
        part_epoch, part_events, part_instance = _state(part)
        if part_epoch is None:
            continue
        part_origin = part_instance["_dagron_origin"]
        if part_origin[0] == host:  # one monotonic clock
            shift = (part_epoch - epoch) / 1e9
        else:
            shift = (_wall_epoch(part_epoch, part_origin) - driver_wall) / 1e9
        rows.extend((event[1] + shift, n, k, event) for k, event in enumerate(part_events))
    after = len(parts) + 1
    for k, (name, submitted_ns) in enumerate(starts):
        ts = (submitted_ns - epoch) / 1e9
        event = ("node_started", ts, name, None, None, None, {"start": "submitted"})
        rows.append((ts, after, k, event))
    rows.sort(key=lambda row: row[:3])
    merged = cast(ExecutionTrace, ExecutionTrace.__new__(ExecutionTrace))
    saved = [(e[0], ts, e[2], e[3], e[4], e[5], e[6]) for ts, _, _, e in rows]
    merged.__setstate__((_STATE_VERSION, epoch, saved, {"_dagron_origin": origin}))
    return merged
