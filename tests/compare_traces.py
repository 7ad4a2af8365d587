"""Synthetic runs of small pipelines for the comparison tests: each run is laid out
with chosen times (unbounded parallelism, a fixed scheduling delay), written in the
``write_json`` format and read back with ``ExecutionTrace.load``, as a user's saved
trace would be."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Optional

from dagron import ExecutionTrace

# A diamond with a long branch and a short one:
#   extract -> clean -> train -> report
#   extract -> stats ----------> report
EDGES = {
    "extract": [],
    "clean": ["extract"],
    "train": ["clean"],
    "stats": ["extract"],
    "report": ["train", "stats"],
}
DURATIONS = {"extract": 0.2, "clean": 0.3, "train": 0.5, "stats": 0.1, "report": 0.1}
DELAY = 0.001  # between a node's last predecessor ending and its start


def layout(
    durations: dict[str, float],
    edges: Optional[dict[str, list[str]]] = None,
    *,
    status: Optional[dict[str, str]] = None,
) -> list[dict]:
    """The events of one run: nodes in ``edges`` order (predecessors first)."""
    edges = EDGES if edges is None else edges
    status = status or {}
    ends: dict[str, float] = {}
    events = [{"event_type": "execution_started", "timestamp": 0.0}]
    for node, preds in edges.items():
        if node not in durations:
            continue
        start = max((ends[p] for p in preds if p in ends), default=0.0) + DELAY
        state = status.get(node, "completed")
        if state == "skipped":
            events.append({"event_type": "node_skipped", "timestamp": start, "node_name": node})
            continue
        end = start + durations[node]
        ends[node] = end
        events.append({"event_type": "node_started", "timestamp": start, "node_name": node})
        events.append(
            {
                "event_type": f"node_{state}",
                "timestamp": end,
                "node_name": node,
                "duration": durations[node],
                **({"error": "boom"} if state == "failed" else {}),
            }
        )
    last = max(e["timestamp"] for e in events)
    events.append({"event_type": "execution_completed", "timestamp": last + DELAY})
    events.sort(key=lambda e: e["timestamp"])
    return events


def save(path: Path, events: list[dict]) -> Path:
    path.write_text(json.dumps(events))
    return path


def run(path: Path, durations: dict[str, float], **options) -> ExecutionTrace:
    """One run laid out, saved to ``path`` and loaded back."""
    return ExecutionTrace.load(save(path, layout(durations, **options)))


def jittered(rng: random.Random, durations: dict[str, float], jitter: float) -> dict[str, float]:
    """Each duration times a uniform factor in 1 +- jitter."""
    return {k: v * (1 + rng.uniform(-jitter, jitter)) for k, v in durations.items()}


def crafted(
    events: list[dict], *, pid: int = 4242, dropped: int = 0, max_events: Optional[int] = None
) -> ExecutionTrace:
    """A trace recorded elsewhere (origin ``host:pid``), with ``dropped`` events let go,
    from its pickled state, as a worker process sends it back."""
    trace = ExecutionTrace.__new__(ExecutionTrace)
    saved = [
        (
            e["event_type"],
            e["timestamp"],
            e.get("node_name"),
            None,
            e.get("duration"),
            e.get("error"),
            None,
        )
        for e in sorted(events, key=lambda e: e["timestamp"])
    ]
    origin = ("worker-host", pid, 1_000_000_000, 1_700_000_000_000_000_000)
    trace.__setstate__((2, max_events, saved, None, (origin, dropped, None, None)))
    return trace
