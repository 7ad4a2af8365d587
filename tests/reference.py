"""Pure-Python reference model of the export formats (behaviour.md 4.1-4.3).

Written from the contract alone, as an oracle for the Rust exporters. Every function
takes a sequence of event objects with the ``TraceEvent`` attributes (``event_type``
with a ``.value``, ``timestamp``, ``node_name``, ``step_index``, ``duration``,
``error``, ``metadata``); the event type is compared by value, so this module does not
need the compiled extension.
"""

from __future__ import annotations

import json
from typing import Any

_OPTIONAL_FIELDS = ("node_name", "step_index", "duration", "error")
_NODE_END_TYPES = ("node_completed", "node_failed", "node_timed_out")
_EXECUTION_PHASES = {"execution_started": "B", "execution_completed": "E"}


def json_records(events: Any) -> list[dict[str, Any]]:
    """The list of dicts that ``to_json`` serializes (4.1)."""
    records = []
    for event in events:
        record: dict[str, Any] = {
            "event_type": event.event_type.value,
            "timestamp": event.timestamp,
        }
        for name in _OPTIONAL_FIELDS:
            value = getattr(event, name)
            if value is not None:
                record[name] = value
        if len(event.metadata) > 0:
            # Written with its items whatever its own truth says (issue 19): json's
            # encoder tests `not dct` before writing a dict's items, so hand it one
            # that is true and walks the metadata's own items().
            record["metadata"] = _WithItems(event.metadata)
        records.append(record)
    return records


class _WithItems(dict):  # type: ignore[type-arg]
    """A true dict whose ``items()`` are those of ``metadata``."""

    def __init__(self, metadata: Any) -> None:
        super().__init__()
        self.metadata = metadata

    def __bool__(self) -> bool:
        return True

    def items(self) -> Any:  # type: ignore[override]
        return self.metadata.items()

    def __eq__(self, other: object) -> bool:
        return dict(self.metadata.items()) == other

    __hash__ = None  # type: ignore[assignment]


def to_json(events: Any) -> str:
    return json.dumps(json_records(events), indent=2)


def chrome_records(events: Any) -> list[dict[str, Any]]:
    """The ``traceEvents`` list that ``to_chrome_trace`` serializes (4.2)."""
    tids: dict[str, int] = {}
    out = []
    for event in events:
        name = event.node_name
        tid = 0 if name is None else tids.setdefault(name, len(tids) + 1)
        kind = event.event_type.value
        ts = event.timestamp * 1_000_000
        if kind == "node_started" or kind in _NODE_END_TYPES:
            record: dict[str, Any] = {
                "name": name,
                "cat": "node",
                "ph": "B" if kind == "node_started" else "E",
                "ts": ts,
                "pid": 1,
                "tid": tid,
            }
            if kind != "node_started":
                args: dict[str, Any] = {"status": kind}
                if isinstance(event.error, str) and len(event.error) > 0:
                    args["error"] = event.error
                record["args"] = args
            out.append(record)
        elif kind in _EXECUTION_PHASES:
            out.append(
                {
                    "name": "execution",
                    "cat": "execution",
                    "ph": _EXECUTION_PHASES[kind],
                    "ts": ts,
                    "pid": 1,
                    "tid": 0,
                }
            )
    return out


def to_chrome_trace(events: Any) -> str:
    return json.dumps({"traceEvents": chrome_records(events)}, indent=2)


def summary(events: Any) -> str:
    """The nine-line summary (4.3)."""
    events = list(events)
    kinds = [event.event_type.value for event in events]
    nodes = {event.node_name for event in events if event.node_name is not None}
    duration = events[-1].timestamp - events[0].timestamp if events else 0.0
    lines = [
        "Execution Trace Summary",
        f"  Total events: {len(events)}",
        f"  Unique nodes: {len(nodes)}",
        f"  Completed: {kinds.count('node_completed')}",
        f"  Failed: {kinds.count('node_failed')}",
        f"  Skipped: {kinds.count('node_skipped')}",
        f"  Timed out: {kinds.count('node_timed_out')}",
        f"  Cancelled: {kinds.count('node_cancelled')}",
        f"  Duration: {duration:.4f}s",
    ]
    return "\n".join(lines)
