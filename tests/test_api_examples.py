"""Every code example of the API page (tracing-api.txt), re-indented, with its output.

The "Complete example" (with ``dagron.DAG``) is tested elsewhere. Where an example uses
a ``trace`` it did not build, it gets the one the page builds in its ``ExecutionTrace``
example (plus the ``record`` example's failed node where the example needs a failure).
"""

from __future__ import annotations

import json
import re
import time

import pytest
from dagron.execution.tracing import ExecutionTrace, TraceEvent, TraceEventType

MISSING_ID = "ValueError: missing column 'id'"


def page_trace():
    """The page's ExecutionTrace example, verbatim apart from the print."""
    trace = ExecutionTrace()
    trace.record(TraceEventType.EXECUTION_STARTED)
    trace.record(TraceEventType.NODE_STARTED, node_name="extract")
    trace.record(TraceEventType.NODE_COMPLETED, node_name="extract", duration=0.45)
    trace.record(TraceEventType.EXECUTION_COMPLETED)
    return trace


def record_failure(trace):
    """The page's ``record`` example."""
    trace.record(
        TraceEventType.NODE_FAILED,
        node_name="transform",
        error="ValueError: missing column 'id'",
        metadata={"retry_count": 2},
    )


def test_import_line():
    namespace = {}
    exec(
        "from dagron.execution.tracing import ExecutionTrace, TraceEvent, TraceEventType",
        namespace,
    )
    assert namespace["ExecutionTrace"] is ExecutionTrace
    assert namespace["TraceEvent"] is TraceEvent
    assert namespace["TraceEventType"] is TraceEventType


def test_execution_trace_example(capsys):
    trace = ExecutionTrace()
    trace.record(TraceEventType.EXECUTION_STARTED)
    trace.record(TraceEventType.NODE_STARTED, node_name="extract")
    trace.record(TraceEventType.NODE_COMPLETED, node_name="extract", duration=0.45)
    trace.record(TraceEventType.EXECUTION_COMPLETED)

    print(len(trace.events))  # 4

    assert capsys.readouterr().out == "4\n"
    assert [e.event_type for e in trace.events] == [
        TraceEventType.EXECUTION_STARTED,
        TraceEventType.NODE_STARTED,
        TraceEventType.NODE_COMPLETED,
        TraceEventType.EXECUTION_COMPLETED,
    ]
    assert trace.events[2].duration == 0.45


def test_check_event_type_example(capsys):
    for trace, expected in [
        (page_trace(), ""),
        (ExecutionTrace(), f"Node transform failed: {MISSING_ID}\n"),
    ]:
        if not trace.events:
            record_failure(trace)

        # Check event type
        event = trace.events[0]
        if event.event_type == TraceEventType.NODE_FAILED:
            print(f"Node {event.node_name} failed: {event.error}")

        assert capsys.readouterr().out == expected


def test_trace_event_loop_example(capsys):
    trace = page_trace()
    record_failure(trace)

    for event in trace.events:
        if event.node_name:
            print(f"[{event.timestamp:.4f}s] {event.event_type.value}: {event.node_name}")
        if event.duration:
            print(f" Duration: {event.duration:.4f}s")
        if event.error:
            print(f" Error: {event.error}")

    stamps = [f"{e.timestamp:.4f}" for e in trace.events]
    assert capsys.readouterr().out == (
        f"[{stamps[1]}s] node_started: extract\n"
        f"[{stamps[2]}s] node_completed: extract\n"
        " Duration: 0.4500s\n"
        f"[{stamps[4]}s] node_failed: transform\n"
        f" Error: {MISSING_ID}\n"
    )
    assert all(re.fullmatch(r"0\.0\d\d\d", s) for s in stamps)


def test_record_example():
    trace = page_trace()

    trace.record(
        TraceEventType.NODE_FAILED,
        node_name="transform",
        error="ValueError: missing column 'id'",
        metadata={"retry_count": 2},
    )

    event = trace.events[-1]
    assert event == TraceEvent(
        TraceEventType.NODE_FAILED,
        event.timestamp,
        node_name="transform",
        error=MISSING_ID,
        metadata={"retry_count": 2},
    )
    assert event.step_index is None
    assert event.duration is None
    assert event.timestamp >= trace.events[-2].timestamp
    assert json.loads(trace.to_json())[-1] == {
        "event_type": "node_failed",
        "timestamp": event.timestamp,
        "node_name": "transform",
        "error": MISSING_ID,
        "metadata": {"retry_count": 2},
    }


def test_events_example(capsys):
    trace = page_trace()

    for event in trace.events:
        print(f"{event.event_type.value} at {event.timestamp:.4f}s")

    stamps = [f"{e.timestamp:.4f}" for e in trace.events]
    assert stamps[0] == "0.0000"
    assert capsys.readouterr().out == (
        "execution_started at 0.0000s\n"
        f"node_started at {stamps[1]}s\n"
        f"node_completed at {stamps[2]}s\n"
        f"execution_completed at {stamps[3]}s\n"
    )


def test_events_for_node_example(capsys):
    trace = ExecutionTrace()
    trace.record(TraceEventType.EXECUTION_STARTED)
    trace.record(TraceEventType.NODE_STARTED, node_name="extract")
    trace.record(TraceEventType.NODE_STARTED, node_name="other")
    time.sleep(0.05)
    trace.record(TraceEventType.NODE_COMPLETED, node_name="extract", duration=0.05)
    trace.record(TraceEventType.EXECUTION_COMPLETED)

    extract_events = trace.events_for_node("extract")
    for e in extract_events:
        print(f" {e.event_type.value}: {e.timestamp:.4f}s")
    # NODE_STARTED: 0.0001s
    # NODE_COMPLETED: 0.4502s

    started, completed = extract_events
    out = capsys.readouterr().out
    assert out == (
        f" node_started: {started.timestamp:.4f}s\n node_completed: {completed.timestamp:.4f}s\n"
    )
    assert re.fullmatch(r" node_started: 0\.000\ds\n node_completed: 0\.\d{4}s\n", out)
    assert completed.timestamp >= 0.04


def test_to_json_example(capsys):
    trace = page_trace()

    json_str = trace.to_json()
    events = json.loads(json_str)
    print(events[0])
    # {"event_type": "execution_started", "timestamp": 0.0}

    assert capsys.readouterr().out == "{'event_type': 'execution_started', 'timestamp': 0.0}\n"
    assert events[0] == {"event_type": "execution_started", "timestamp": 0.0}
    stamps = [e.timestamp for e in trace.events]
    assert events == [
        {"event_type": "execution_started", "timestamp": 0.0},
        {"event_type": "node_started", "timestamp": stamps[1], "node_name": "extract"},
        {
            "event_type": "node_completed",
            "timestamp": stamps[2],
            "node_name": "extract",
            "duration": 0.45,
        },
        {"event_type": "execution_completed", "timestamp": stamps[3]},
    ]
    assert json_str.startswith('[\n  {\n    "event_type": "execution_started",\n')


def test_to_chrome_trace_example(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    trace = page_trace()

    # Write the trace to a file and open in chrome://tracing
    chrome_json = trace.to_chrome_trace()
    with open("trace.json", "w") as f:
        f.write(chrome_json)

    written = (tmp_path / "trace.json").read_text()
    assert written == chrome_json
    ts = [e.timestamp * 1_000_000 for e in trace.events]
    assert json.loads(written) == {
        "traceEvents": [
            {"name": "execution", "cat": "execution", "ph": "B", "ts": 0.0, "pid": 1, "tid": 0},
            {"name": "extract", "cat": "node", "ph": "B", "ts": ts[1], "pid": 1, "tid": 1},
            {
                "name": "extract",
                "cat": "node",
                "ph": "E",
                "ts": ts[2],
                "pid": 1,
                "tid": 1,
                "args": {"status": "node_completed"},
            },
            {
                "name": "execution",
                "cat": "execution",
                "ph": "E",
                "ts": ts[3],
                "pid": 1,
                "tid": 0,
            },
        ]
    }


def test_summary_example_page_trace(capsys):
    trace = page_trace()

    print(trace.summary())

    duration = f"{trace.events[-1].timestamp:.4f}"
    assert capsys.readouterr().out == (
        "Execution Trace Summary\n"
        "  Total events: 4\n"
        "  Unique nodes: 1\n"
        "  Completed: 1\n"
        "  Failed: 0\n"
        "  Skipped: 0\n"
        "  Timed out: 0\n"
        "  Cancelled: 0\n"
        f"  Duration: {duration}s\n"
    )


@pytest.fixture
def fourteen_event_trace():
    """A trace with the counts the page's summary output shows."""
    trace = ExecutionTrace()
    trace.record(TraceEventType.EXECUTION_STARTED)
    trace.record(TraceEventType.STEP_STARTED, step_index=0)
    for name in ["a", "b", "c", "d"]:
        trace.record(TraceEventType.NODE_STARTED, node_name=name)
        trace.record(TraceEventType.NODE_COMPLETED, node_name=name, duration=0.1)
    trace.record(TraceEventType.NODE_STARTED, node_name="e")
    trace.record(TraceEventType.NODE_FAILED, node_name="e", error="E: x")
    trace.record(TraceEventType.STEP_COMPLETED, step_index=0)
    trace.record(TraceEventType.EXECUTION_COMPLETED)
    return trace


def test_summary_example_page_output(capsys, fourteen_event_trace):
    trace = fourteen_event_trace

    print(trace.summary())
    # Execution Trace Summary
    # Total events: 14
    # Unique nodes: 5
    # Completed: 4
    # Failed: 1
    # Skipped: 0
    # Timed out: 0
    # Cancelled: 0
    # Duration: 1.2345s

    out = capsys.readouterr().out
    lines = out.split("\n")
    assert lines[:8] == [
        "Execution Trace Summary",
        "  Total events: 14",
        "  Unique nodes: 5",
        "  Completed: 4",
        "  Failed: 1",
        "  Skipped: 0",
        "  Timed out: 0",
        "  Cancelled: 0",
    ]
    assert re.fullmatch(r"  Duration: \d+\.\d{4}s", lines[8])
    assert lines[8] == f"  Duration: {trace.events[-1].timestamp:.4f}s"
    assert lines[9:] == [""]
    assert not trace.summary().endswith("\n")
