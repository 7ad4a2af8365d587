"""Shared pieces of the tracing benchmarks: the workload, memory probes, timing,
checks and table formatting. Not a benchmark itself."""

from __future__ import annotations

import gc
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import baseline  # noqa: E402
from dagron.execution import tracing as dagron_tracing  # noqa: E402

T = dagron_tracing.TraceEventType
IMPLS = {"dagron": dagron_tracing.ExecutionTrace, "baseline": baseline.ExecutionTrace}

# -------------------------------------------------------------- workload and memory
# The workload and the memory probes are test code (tests/workload.py), shared here.

sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
from workload import (  # noqa: E402
    FAIL_EVERY,
    N_NODES,
    NAMES,
    QUERY_NODE,
    event_fields,
    expected_counts,
    expected_fields,
    peak_rss_bytes,
    record_workload,
    reset_peak_rss,
    rss_bytes,
)

__all__ = [
    "FAIL_EVERY",
    "IMPLS",
    "N_NODES",
    "NAMES",
    "QUERY_NODE",
    "T",
    "event_fields",
    "expected_counts",
    "expected_fields",
    "peak_rss_bytes",
    "record_workload",
    "reset_peak_rss",
    "rss_bytes",
]


def measure(
    fn: Callable[[], Any],
    check: Callable[[Any], Optional[str]],
    min_total: float = 0.2,
    max_reps: int = 25,
) -> dict[str, Any]:
    """Time ``fn``: the first call also gives the RSS growth, the peak RSS growth
    over the call, and the output that ``check`` verifies (``check`` returns an
    error message or ``None``). Short operations are repeated until ``min_total``
    seconds have passed (at most ``max_reps`` calls); the median call is returned."""
    gc.collect()
    rss0 = rss_bytes()
    reset_ok = reset_peak_rss()
    t0 = time.perf_counter()
    out = fn()
    times = [time.perf_counter() - t0]
    peak = peak_rss_bytes()
    rss1 = rss_bytes()
    problem = check(out)
    del out
    while sum(times) < min_total and len(times) < max_reps:
        gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {
        "seconds": statistics.median(times),
        "calls": len(times),
        "rss_growth": rss1 - rss0,
        "peak_growth": peak - rss0 if reset_ok else None,
        "peak_rss": peak,
        "error": problem,
    }


def run_worker(script: str, args: list[str], timeout: float = 900) -> dict[str, Any]:
    """Run ``script --worker ...`` in a fresh interpreter; parse its last stdout line."""
    proc = subprocess.run(
        [sys.executable, script, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(
            f"worker {args} failed (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return json.loads(lines[-1])


# ----------------------------------------------------------------------------- checks


def check_identical(events: int) -> dict[str, bool]:
    """Record the workload with dagron, load the same events into the baseline and
    compare every export byte for byte (and the events with the workload)."""
    trace = dagron_tracing.ExecutionTrace()
    record_workload(trace, events)
    evs = trace.events
    base = baseline.ExecutionTrace.from_events(evs)
    results = {
        "events match workload": len(evs) == expected_counts(events)["events"]
        and all(event_fields(e) == x for e, x in zip(evs, expected_fields(events))),
        "timestamps start at 0.0 and never decrease": bool(evs)
        and evs[0].timestamp == 0.0
        and all(a.timestamp <= b.timestamp for a, b in zip(evs, evs[1:])),
        "events == baseline events": evs == base.events,
        "events_for_node identical": trace.events_for_node(QUERY_NODE)
        == base.events_for_node(QUERY_NODE),
        "summary identical": trace.summary() == base.summary(),
        "to_json identical": trace.to_json() == base.to_json(),
        "to_chrome_trace identical": trace.to_chrome_trace() == base.to_chrome_trace(),
    }
    return results


def cheap_checks(events: int) -> dict[str, Callable[[Any], Optional[str]]]:
    """Per-operation output checks, cheap enough to run on every measurement."""
    exp = expected_counts(events)

    def expect(cond: bool, what: str) -> Optional[str]:
        return None if cond else what

    def check_events(out: Any) -> Optional[str]:
        return expect(
            isinstance(out, list)
            and len(out) == exp["events"]
            and isinstance(out[0], dagron_tracing.TraceEvent)
            and out[0].event_type is T.EXECUTION_STARTED
            and out[-1].event_type is T.EXECUTION_COMPLETED,
            "events: wrong length or content",
        )

    def check_node(out: Any) -> Optional[str]:
        return expect(
            len(out) == exp["query"] and all(e.node_name == QUERY_NODE for e in out),
            "events_for_node: wrong events",
        )

    def check_json(out: Any) -> Optional[str]:
        text = out if isinstance(out, str) else out.decode()
        return expect(
            text.startswith("[\n  {")
            and text.endswith("}\n]")
            and text.count('"event_type": ') == exp["events"]
            and text.count('"node_failed"') == exp["failed"],
            "to_json: wrong record count",
        )

    def check_chrome(out: Any) -> Optional[str]:
        text = out if isinstance(out, str) else out.decode()
        return expect(
            text.startswith('{\n  "traceEvents": [')
            and text.count('"ph": ') == exp["chrome"]
            and text.count('"node_failed"') == exp["failed"],
            "to_chrome_trace: wrong record count",
        )

    def check_summary(out: Any) -> Optional[str]:
        lines = out.split("\n")
        return expect(
            len(lines) == 9
            and lines[1] == f"  Total events: {exp['events']}"
            and lines[2] == f"  Unique nodes: {exp['nodes']}"
            and lines[3] == f"  Completed: {exp['completed']}"
            and lines[4] == f"  Failed: {exp['failed']}",
            "summary: wrong counts",
        )

    return {
        "events": check_events,
        "events_for_node": check_node,
        "to_json": check_json,
        "to_chrome_trace": check_chrome,
        "summary": check_summary,
    }


# ----------------------------------------------------------------------------- formatting


def fmt_time(seconds: Optional[float]) -> str:
    if seconds is None:
        return "-"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.1f} µs"


def fmt_ratio(ratio: Optional[float]) -> str:
    if ratio is None:
        return "-"
    if ratio >= 100:
        return f"{ratio:,.0f}x"
    if ratio >= 10:
        return f"{ratio:.1f}x"
    return f"{ratio:.2f}x"


def fmt_mib(n: Optional[float]) -> str:
    return "-" if n is None else f"{n / 2**20:,.1f} MiB"


def median(values: list[float]) -> Optional[float]:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def emit(report: str, markdown_out: Optional[str]) -> None:
    """Print a report, and also write it to ``markdown_out`` when one is given."""
    print(report)
    if markdown_out:
        with open(markdown_out, "w", encoding="utf-8") as f:
            f.write(report)


class NullRecorder:
    """``ExecutionTrace.record``'s signature, doing nothing: what the calling loop of
    a workload costs on its own."""

    def record(
        self,
        event_type: Any,
        *,
        node_name: Any = None,
        step_index: Any = None,
        duration: Any = None,
        error: Any = None,
        metadata: Any = None,
    ) -> None:
        return None
