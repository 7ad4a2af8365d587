"""The tracing workload that the scale tests and the benchmarks share, with its exact
expected result, and the Linux memory probes both read. Test code: benchmarks import
it from here (``benches/_common.py``), tests never import bench code."""

from __future__ import annotations

import os
from typing import Any

from dagron.execution.tracing import TraceEventType as T

# ----------------------------------------------------------------------------- workload

N_NODES = 1000
NAMES = [f"node_{i:04d}" for i in range(N_NODES)]
QUERY_NODE = NAMES[500]
FAIL_EVERY = 100  # one node in FAIL_EVERY fails (with an error and metadata)


def record_workload(trace: Any, events: int) -> None:
    """Record about ``events`` events the way an executor would.

    ``EXECUTION_STARTED``, then ``events // 4`` iterations of ``STEP_STARTED``,
    ``NODE_STARTED``, ``NODE_COMPLETED`` (1 in ``FAIL_EVERY``: ``NODE_FAILED`` with an
    error string and a metadata dict) and ``STEP_COMPLETED``, over 1,000 node names,
    then ``EXECUTION_COMPLETED``. Durations, error strings and metadata dicts are
    fresh objects, as an executor would pass them. Identical for every implementation.
    """
    rec = trace.record
    names = NAMES
    n_names = N_NODES
    started, completed, failed = T.NODE_STARTED, T.NODE_COMPLETED, T.NODE_FAILED
    step_started, step_completed = T.STEP_STARTED, T.STEP_COMPLETED
    rec(T.EXECUTION_STARTED)
    for i in range(events // 4):
        name = names[i % n_names]
        rec(step_started, step_index=i)
        rec(started, node_name=name)
        duration = 0.001 + (i % 997) * 1e-5
        if i % FAIL_EVERY == FAIL_EVERY - 1:
            rec(
                failed,
                node_name=name,
                duration=duration,
                error=f"RuntimeError: {name} failed on attempt {i % 3}",
                metadata={"retry_count": i % 3, "worker": "w1"},
            )
        else:
            rec(completed, node_name=name, duration=duration)
        rec(step_completed, step_index=i)
    rec(T.EXECUTION_COMPLETED)


def expected_counts(events: int) -> dict[str, int]:
    """What ``record_workload(trace, events)`` leaves in a trace."""
    iters = events // 4
    failed = iters // FAIL_EVERY
    query_index = NAMES.index(QUERY_NODE)
    query_iters = iters // N_NODES + (1 if iters % N_NODES > query_index else 0)
    return {
        "events": 4 * iters + 2,
        "failed": failed,
        "completed": iters - failed,
        "chrome": 2 * iters + 2,
        "query": 2 * query_iters,
        "nodes": min(iters, N_NODES),
    }


def expected_fields(events: int):
    """The events of the workload, without timestamps, as comparable tuples."""
    yield (T.EXECUTION_STARTED, None, None, None, None, {})
    for i in range(events // 4):
        name = NAMES[i % N_NODES]
        duration = 0.001 + (i % 997) * 1e-5
        yield (T.STEP_STARTED, None, i, None, None, {})
        yield (T.NODE_STARTED, name, None, None, None, {})
        if i % FAIL_EVERY == FAIL_EVERY - 1:
            yield (
                T.NODE_FAILED,
                name,
                None,
                duration,
                f"RuntimeError: {name} failed on attempt {i % 3}",
                {"retry_count": i % 3, "worker": "w1"},
            )
        else:
            yield (T.NODE_COMPLETED, name, None, duration, None, {})
        yield (T.STEP_COMPLETED, None, i, None, None, {})
    yield (T.EXECUTION_COMPLETED, None, None, None, None, {})


def event_fields(e: Any) -> tuple:
    return (e.event_type, e.node_name, e.step_index, e.duration, e.error, e.metadata)


# ----------------------------------------------------------------------------- memory

_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE


def peak_rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


# ----------------------------------------------------------------------------- timing
