"""Traces with known times for the HTML report's tests (and its benchmark): built as
``write_json`` files, so every timestamp is exact, then loaded (each file is a source
named after it; several files merge into one timeline). Test code: no test imports
another test module; benches/bench_report.py imports this helper."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from dagron.dag import DAG
from dagron.execution.tracing import ExecutionTrace


def _ev(kind: str, at: float, node: Any = None, **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"event_type": kind, "timestamp": at}
    if node is not None:
        event["node_name"] = node
    event.update(fields)
    return event


# Source one: two steps; "a" completes, "b" fails (an error and metadata), "c"
# completes in step 1, "d" is skipped. Source two: "e" completes, "f" times out,
# "g" starts and never ends.
W1 = [
    _ev("execution_started", 0.0),
    _ev("step_started", 0.0, step_index=0),
    _ev("node_started", 0.0, "a"),
    _ev("node_started", 0.1, "b"),
    _ev(
        "node_failed",
        0.6,
        "b",
        duration=0.5,
        error="ValueError: boom",
        metadata={"attempt": 2},
    ),
    _ev("node_completed", 1.0, "a", duration=1.0),
    _ev("step_completed", 1.0, step_index=0),
    _ev("step_started", 1.0, step_index=1),
    _ev("node_started", 1.0, "c"),
    _ev("node_skipped", 1.2, "d"),
    _ev("node_completed", 2.5, "c", duration=1.5),
    _ev("step_completed", 2.5, step_index=1),
    _ev("execution_completed", 2.5),
]
W2 = [
    _ev("node_started", 0.2, "e"),
    _ev("node_started", 0.3, "f"),
    _ev("node_timed_out", 0.9, "f", duration=0.6, error="TimeoutError: 0.6 s"),
    _ev("node_completed", 1.8, "e", duration=1.6),
    _ev("node_started", 2.0, "g"),
]
# The observed critical path (no DAG): c ended last; a ended last by c's start.
OBSERVED = ["a", "c"]


def known_trace(folder: Path) -> ExecutionTrace:
    """The two sources above, merged (sources "w1.json:0" and "w2.json:0")."""
    traces = []
    for name, events in (("w1.json", W1), ("w2.json", W2)):
        path = folder / name
        path.write_text(json.dumps(events))
        traces.append(ExecutionTrace.load(path))
    return ExecutionTrace.merge(traces)


def known_dag() -> DAG:
    """A DAG over the known trace's nodes: a -> c, b -> d, e -> g, f."""
    dag = DAG()
    dag.add_nodes(["a", "b", "c", "d", "e", "f", "g"])
    dag.add_edges([("a", "c"), ("b", "d"), ("e", "g")])
    return dag


def busy_events(runs: int, workers: int, *, seed: int = 0, fail_every: int = 0) -> list[Any]:
    """``runs`` node runs kept ``workers`` wide (each worker starts its next run a
    little after its last ended), over ``min(runs, 5000)`` node names, in time order;
    one run in ``fail_every`` fails with an error (0: none)."""
    rng = random.Random(seed)
    free = [0.0] * workers
    timed: list[tuple[float, int, dict[str, Any]]] = []
    for i in range(runs):
        worker = min(range(workers), key=free.__getitem__)
        began = free[worker] + rng.random() * 0.002
        took = 0.001 + rng.random() * 0.01
        free[worker] = began + took
        name = f"task-{i % 5000}"
        timed.append((began, 1, _ev("node_started", began, name)))
        if fail_every and i % fail_every == fail_every - 1:
            ending = _ev(
                "node_failed", began + took, name, duration=took, error=f"RuntimeError: run {i}"
            )
        else:
            ending = _ev("node_completed", began + took, name, duration=took)
        timed.append((began + took, 0, ending))
    timed.sort(key=lambda item: (item[0], item[1]))
    return [_ev("execution_started", 0.0)] + [event for _, _, event in timed]


def busy_trace(folder: Path, runs: int, workers: int, **options: Any) -> ExecutionTrace:
    path = folder / f"busy-{runs}.json"
    with open(path, "w") as out:
        json.dump(busy_events(runs, workers, **options), out)
    return ExecutionTrace.load(path)
