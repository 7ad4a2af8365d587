"""What the HTML report embeds: a trace's node runs as compact columns, plus the
few facts the page needs beside them (names, sources, steps, errors, metadata, the
summary's counts and, given a DAG, the profile).

The runs are the core's node runs (the pass behind ``trace.node_runs()``: one
pairing rule for every export), handed over by ``trace._report_data()`` as packed
little-endian columns, so a report makes no Python object per run. Each column is
embedded as base64, encoded in pieces. Strings (node names, sources, error texts)
are interned: each once, referred to by index.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Optional

from dagron.execution.tracing import TraceEvent, TraceEventType

if TYPE_CHECKING:
    from dagron.dag import DAG
    from dagron.execution.tracing import ExecutionTrace

# The order the page's script knows the statuses in (its colours follow it), the
# core's RunStatus order.
STATUSES = ("completed", "failed", "timed_out", "open", "skipped", "cancelled")
_STATUS_CODE = {name: code for code, name in enumerate(STATUSES)}
# Base64 works on 3-byte groups: pieces of this many bytes concatenate cleanly.
_PIECE = 3 * 65_536
# A run's metadata is shown in its hover card; longer text is cut there.
_METADATA_CHARS = 600


class Column:
    """One numeric column: its name, its typed-array kind (``f64``, ``f32``,
    ``u32``, ``u16``, ``u8``) and its little-endian bytes."""

    __slots__ = ("name", "kind", "data")

    def __init__(self, name: str, kind: str, data: bytes) -> None:
        self.name = name
        self.kind = kind
        self.data = data

    def base64_pieces(self) -> Iterator[bytes]:
        """The column's bytes in base64, a piece at a time."""
        view = memoryview(self.data)
        for offset in range(0, len(view), _PIECE):
            yield base64.b64encode(view[offset : offset + _PIECE])


def _summary_counts(text: str) -> list[list[str]]:
    """The summary's ``  Key: value`` lines as pairs (its title line dropped)."""
    pairs = []
    for line in text.splitlines()[1:]:
        key, sep, value = line.strip().partition(": ")
        if sep:
            pairs.append([key, value])
    return pairs


def _metadata_text(metadata: dict[str, Any]) -> str:
    text = json.dumps(metadata, default=repr, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= _METADATA_CHARS else text[: _METADATA_CHARS - 1] + "\u2026"


def _steps(
    indices: list[int], sources: list[int], events: list[TraceEvent]
) -> tuple[list[list[Any]], list[list[Any]]]:
    """The steps and executions of each source, from the events that name no node:
    a start pairs with the innermost open one of its kind (steps: of its index);
    one still open at the end has ``None`` for its end (the page knows the end)."""
    steps: list[list[Any]] = []
    executions: list[list[Any]] = []
    open_steps: dict[int, list[tuple[Any, float]]] = {}
    open_runs: dict[int, list[float]] = {}
    for source, event in zip(sources, events):
        kind = event.event_type
        if kind is TraceEventType.STEP_STARTED:
            open_steps.setdefault(source, []).append((event.step_index, event.timestamp))
        elif kind is TraceEventType.STEP_COMPLETED:
            stack = open_steps.get(source, [])
            for position in range(len(stack) - 1, -1, -1):
                if stack[position][0] == event.step_index:
                    step, began = stack.pop(position)
                    steps.append([source, began, event.timestamp, _step_label(step)])
                    break
        elif kind is TraceEventType.EXECUTION_STARTED:
            open_runs.setdefault(source, []).append(event.timestamp)
        elif kind is TraceEventType.EXECUTION_COMPLETED:
            stack_runs = open_runs.get(source)
            if stack_runs:
                executions.append([source, stack_runs.pop(), event.timestamp])
    for source, stack in open_steps.items():
        steps.extend([source, began, None, _step_label(step)] for step, began in stack)
    for source, stack_runs in open_runs.items():
        executions.extend([source, began, None] for began in stack_runs)
    steps.sort(key=lambda step: (step[1], step[0]))
    return steps, executions


def _step_label(step: Any) -> str:
    return "" if step is None else str(step)


def _metadata(
    items: list[tuple[int, Optional[dict[str, Any]], Optional[dict[str, Any]]]],
) -> dict[str, list[Any]]:
    """Each run whose start or end event carries metadata, and that metadata as
    JSON text (both halves, when both carry some)."""
    runs: list[int] = []
    texts: list[str] = []
    for run, began, ended in items:
        if began is not None and ended is not None:
            text = _metadata_text({"start": began, "end": ended})
        else:
            text = _metadata_text(began if began is not None else ended)  # type: ignore[arg-type]
        runs.append(run)
        texts.append(text)
    return {"run": runs, "text": texts}


def _profile(trace: ExecutionTrace, dag: DAG) -> dict[str, Any]:
    """What ``profile_execution`` says about the trace against ``dag``: the
    structural and observed critical paths, the bottlenecks with their slack. Each
    node's duration is its last completed run's."""
    from dagron.dag import DAG
    from dagron.executor import NodeResult, NodeStatus
    from dagron.profiling import profile_execution

    if not isinstance(dag, DAG):
        raise TypeError(f"dag must be a dagron.DAG, not {type(dag).__name__}")
    known = set(dag.nodes)
    runs = trace.node_runs()
    names = runs.names
    for name in names:
        if name not in known:
            raise ValueError(f"the trace names node {name!r}, which is not a node of dag")
    durations: dict[str, float] = {}
    for node, status, duration in zip(runs.node, runs.status, runs.duration):
        if status == "completed":
            durations[names[node]] = duration
    results = {
        name: NodeResult(name, NodeStatus.COMPLETED, duration_seconds=value)
        for name, value in durations.items()
    }
    report = profile_execution(dag, SimpleNamespace(node_results=results, trace=trace))  # type: ignore[arg-type]
    index = {name: i for i, name in enumerate(names)}
    bottlenecks = []
    for name in report.bottlenecks:
        profile = report.node_profiles[name]
        bottlenecks.append(
            [
                index[name],
                profile.duration,
                profile.slack,
                profile.blocked_descendants,
                profile.on_critical_path,
            ]
        )
    return {
        "critical": [index[name] for name in report.critical_path if name in index],
        "critical_duration": report.critical_path_duration,
        "observed": [index[name] for name in report.observed_critical_path if name in index],
        "bottlenecks": bottlenecks,
        "efficiency": report.parallelism_efficiency,
    }


class ReportData:
    """Everything a report embeds: ``meta`` (JSON-able), the node names as lines
    of text when the core could make them so (``names_text``: no name holds a line
    break, NUL or "<", which the HTML parser would change or act on; else they are
    ``meta["names"]``), and the numeric columns."""

    def __init__(self, meta: dict[str, Any], columns: list[Column]) -> None:
        names = meta.pop("names")
        self.names_text: Optional[str] = names if isinstance(names, str) else None
        if self.names_text is None:
            meta["names"] = names
        self.meta = meta
        self.columns = columns

    def meta_json(self) -> str:
        """``meta`` as JSON that is safe inside a ``<script>`` element."""
        # ASCII-only JSON (the encoder's fastest path). A "<" can only be inside a
        # string there: escaped, no "</script" or "<!--" can reach the HTML parser.
        text = json.dumps(self.meta, separators=(",", ":"), allow_nan=False)
        return text.replace("<", "\\u003c")


def collect(
    trace: ExecutionTrace,
    *,
    dag: Optional[DAG] = None,
    title: Optional[str] = None,
    compact: bool = False,
) -> ReportData:
    """Read ``trace`` (and ``dag``) into what the report embeds."""
    from dagron import __version__

    names, sources, lanes, packed, errors, metadata, others = trace._report_data()
    columns = [Column(name, kind, data) for name, kind, data in packed]
    runs = len(columns[-1].data)  # status: one byte per run
    error_runs, which, texts = errors
    steps, executions = _steps(*others)
    meta: dict[str, Any] = {
        "title": title if title is not None else "dagron trace report",
        "version": __version__,
        "compact": compact,
        "runs": runs,
        "names": names,
        "sources": sources,
        "lanes": lanes,
        "statuses": list(STATUSES),
        "columns": [[column.name, column.kind] for column in columns],
        "summary": _summary_counts(trace.summary()),
        "dropped": trace.dropped,
        "errors": {"text": texts, "run": error_runs, "which": which},
        "metadata": _metadata(metadata),
        "steps": steps,
        "executions": executions,
        "profile": None if dag is None else _profile(trace, dag),
    }
    return ReportData(meta, columns)


__all__ = ["STATUSES", "Column", "ReportData", "collect"]
