"""What the HTML report embeds: a trace's node runs as compact columns, plus the
few facts the page needs beside them (names, sources, steps, errors, metadata, the
summary's counts and, given a DAG, the profile).

The runs come from ``trace.node_runs()`` (one pairing rule for every export); this
module only re-encodes them. Each numeric column is written as the raw bytes of a
typed array (little-endian), base64-encoded in pieces, so writing a report needs no
per-run Python object beyond the ones ``node_runs`` already made. Strings (node
names, sources, error texts) are interned: each once, referred to by index.
"""

from __future__ import annotations

import base64
import json
import math
import sys
from array import array
from collections.abc import Iterator, Sequence
from itertools import compress, count, repeat
from operator import is_not
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Optional

from dagron.execution.tracing import TraceEventType

if TYPE_CHECKING:
    from dagron.dag import DAG
    from dagron.execution.tracing import ExecutionTrace

# The order the page's script knows the statuses in (its colours follow it).
STATUSES = ("completed", "failed", "timed_out", "open", "skipped", "cancelled")
_STATUS_CODE = {name: code for code, name in enumerate(STATUSES)}
_ENDED = (_STATUS_CODE["completed"], _STATUS_CODE["failed"], _STATUS_CODE["timed_out"])
# Base64 works on 3-byte groups: pieces of this many bytes concatenate cleanly.
_PIECE = 3 * 65_536
# A run's metadata is shown in its hover card; longer text is cut there.
_METADATA_CHARS = 600


class Column:
    """One numeric column: its name, its typed-array kind and its bytes."""

    __slots__ = ("name", "kind", "data")

    def __init__(self, name: str, kind: str, data: array[Any]) -> None:
        if sys.byteorder != "little":
            data.byteswap()
        self.name = name
        self.kind = kind
        self.data = data

    def base64_pieces(self) -> Iterator[bytes]:
        """The column's bytes in base64, a piece at a time (flat memory)."""
        view = memoryview(self.data).cast("B")
        for offset in range(0, len(view), _PIECE):
            yield base64.b64encode(view[offset : offset + _PIECE])


def _unsigned(name: str, values: Sequence[int], largest: int) -> Column:
    """``values`` as the narrowest unsigned array that holds ``largest``."""
    for code, kind, limit in (("B", "u8", 0xFF), ("H", "u16", 0xFFFF), ("I", "u32", 0xFFFFFFFF)):
        if largest <= limit and array(code).itemsize * 8 >= int(kind[1:]):
            return Column(name, kind, array(code, values))
    raise ValueError(f"the trace has too many {name} values for the report ({largest})")


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


def _extras(
    trace: ExecutionTrace, start_event: Sequence[int], end_event: Sequence[int]
) -> dict[str, Any]:
    """Steps, execution spans and metadata from the events that are not node runs'
    plain halves (``_report_events`` builds only those)."""
    indices, sources, events = trace._report_events()
    steps: list[list[Any]] = []
    executions: list[list[Any]] = []
    open_steps: dict[int, list[tuple[Any, float]]] = {}
    open_runs: dict[int, list[float]] = {}
    metadata: dict[int, dict[str, Any]] = {}
    for index, source, event in zip(indices, sources, events):
        kind = event.event_type
        if event.metadata:
            metadata[index] = event.metadata
        if event.node_name is not None:
            continue
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
    # Steps and executions still open run to the end of the trace (null: the page
    # knows where that is).
    for source, stack in open_steps.items():
        steps.extend([source, began, None, _step_label(step)] for step, began in stack)
    for source, stack_runs in open_runs.items():
        executions.extend([source, began, None] for began in stack_runs)
    steps.sort(key=lambda step: (step[1], step[0]))
    extras: dict[str, Any] = {"steps": steps, "executions": executions}
    extras["metadata"] = _run_metadata(metadata, start_event, end_event)
    return extras


def _step_label(step: Any) -> str:
    return "" if step is None else str(step)


def _run_metadata(
    metadata: dict[int, dict[str, Any]], start_event: Sequence[int], end_event: Sequence[int]
) -> dict[str, list[Any]]:
    """Each run whose start or end event carries metadata, and that metadata as
    JSON text (both halves, when both carry some)."""
    runs: list[int] = []
    texts: list[str] = []
    if metadata:
        for run, (first, last) in enumerate(zip(start_event, end_event)):
            began = metadata.get(first)
            ended = metadata.get(last) if last != first else None
            if began is None and ended is None:
                continue
            if began is not None and ended is not None:
                text = _metadata_text({"start": began, "end": ended})
            else:
                text = _metadata_text(began if began is not None else ended)  # type: ignore[arg-type]
            runs.append(run)
            texts.append(text)
    return {"run": runs, "text": texts}


def _errors(error: Sequence[Optional[str]]) -> dict[str, list[Any]]:
    """The runs that carry an error text, each text once."""
    # The runs with an error, found in C (most runs have none).
    runs = list(compress(count(), map(is_not, error, repeat(None))))
    texts: dict[str, int] = {}
    which = [texts.setdefault(error[run], len(texts)) for run in runs]  # type: ignore[arg-type]
    return {"text": list(texts), "run": runs, "which": which}


def _profile(
    dag: DAG, names: Sequence[str], node: Sequence[int], status: bytes, runs: Any
) -> dict[str, Any]:
    """What ``profile_execution`` says about the runs against ``dag``: the
    structural and observed critical paths, the bottlenecks with their slack.

    Each node's duration is its last completed run's; the observed path uses each
    node's first start and last end (as the profile does from a trace)."""
    from dagron.dag import DAG
    from dagron.executor import NodeResult, NodeStatus
    from dagron.profiling import profile_execution

    if not isinstance(dag, DAG):
        raise TypeError(f"dag must be a dagron.DAG, not {type(dag).__name__}")
    dag_names, graph = dag._graph_index()
    position = {name: i for i, name in enumerate(dag_names)}
    count = len(dag_names)
    starts = [math.nan] * count
    ends = [math.nan] * count
    durations: dict[str, float] = {}
    in_dag = [position.get(name) for name in names]
    for name, at in zip(names, in_dag):
        if at is None:
            raise ValueError(f"the trace names node {name!r}, which is not a node of dag")
    start, end, duration = runs.start, runs.end, runs.duration
    for run, code in enumerate(status):
        at = in_dag[node[run]]
        if at is None:
            continue
        began = start[run]
        if starts[at] != starts[at]:
            starts[at] = began
        if code in _ENDED:
            ends[at] = end[run]
            if code == 0:
                durations[names[node[run]]] = duration[run]
    results = {
        name: NodeResult(name, NodeStatus.COMPLETED, duration_seconds=value)
        for name, value in durations.items()
    }
    report = profile_execution(dag, SimpleNamespace(node_results=results, trace=None))  # type: ignore[arg-type]
    known = [value for value in starts + ends if value == value]
    observed: list[int] = []
    if known:
        path, _, _ = graph.observe(starts, ends, min(known), max(known))
        observed = [path_node for path_node in path]
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
        "observed": [index[dag_names[i]] for i in observed if dag_names[i] in index],
        "bottlenecks": bottlenecks,
        "efficiency": report.parallelism_efficiency,
    }


class ReportData:
    """Everything a report embeds: ``meta`` (JSON-able) and the numeric columns."""

    def __init__(self, meta: dict[str, Any], columns: list[Column]) -> None:
        self.meta = meta
        self.columns = columns

    def meta_json(self) -> str:
        """``meta`` as JSON that is safe inside a ``<script>`` element."""
        # ASCII-only JSON (the encoder's fastest path); "</" is the one sequence
        # that could end the script element early.
        text = json.dumps(self.meta, separators=(",", ":"), allow_nan=False)
        return text.replace("</", "<\\/")


def collect(
    trace: ExecutionTrace,
    *,
    dag: Optional[DAG] = None,
    title: Optional[str] = None,
    compact: bool = False,
) -> ReportData:
    """Read ``trace`` (and ``dag``) into what the report embeds."""
    from dagron import __version__

    runs = trace.node_runs()
    names = list(runs.names)
    sources = list(runs.sources)
    status = bytes(map(_STATUS_CODE.__getitem__, runs.status))
    node = runs.node
    lane_values = runs.lane
    source_values = runs.source
    lanes = [0] * len(sources)
    if len(runs):
        lane_column = array("L", lane_values)
        source_column = array("L", source_values)
        if len(sources) == 1:
            lanes[0] = max(lane_column) + 1
        else:
            for source, lane in zip(source_column, lane_column):
                if lane >= lanes[source]:
                    lanes[source] = lane + 1
    columns = [
        Column("start", "f64", array("d", runs.start)),
        Column("end", "f64", array("d", runs.end)),
        Column("duration", "f32", array("f", runs.duration)),
        _unsigned("node", node, max(len(names) - 1, 0)),
        _unsigned("lane", lane_values, max(max(lanes, default=0) - 1, 0)),
        _unsigned("source", source_values, max(len(sources) - 1, 0)),
        Column("status", "u8", array("B", status)),
    ]
    meta: dict[str, Any] = {
        "title": title if title is not None else "dagron trace report",
        "version": __version__,
        "compact": compact,
        "runs": len(runs),
        "names": names,
        "sources": sources,
        "lanes": lanes,
        "statuses": list(STATUSES),
        "columns": [[column.name, column.kind] for column in columns],
        "summary": _summary_counts(trace.summary()),
        "dropped": trace.dropped,
        "errors": _errors(runs.error),
        "profile": None,
    }
    meta.update(_extras(trace, runs.start_event, runs.end_event))
    if dag is not None:
        meta["profile"] = _profile(dag, names, node, status, runs)
    return ReportData(meta, columns)


__all__ = ["STATUSES", "Column", "ReportData", "collect"]
