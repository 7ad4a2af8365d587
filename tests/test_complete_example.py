"""The tracing page's "Complete example" runs verbatim, and so does its script form."""

from __future__ import annotations

import json
import re
import runpy
from pathlib import Path

import chrome_validator

EXAMPLE_SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "complete_example.py"

NODES = ["extract", "transform", "load"]

# 1 EXECUTION_STARTED + 3 steps x (STEP_STARTED, NODE_STARTED, NODE_COMPLETED,
# STEP_COMPLETED) + 1 EXECUTION_COMPLETED.
EXPECTED_EVENT_COUNT = 1 + 3 * 4 + 1

SUMMARY = re.compile(
    r"Execution Trace Summary\n"
    r"  Total events: 14\n"
    r"  Unique nodes: 3\n"
    r"  Completed: 3\n"
    r"  Failed: 0\n"
    r"  Skipped: 0\n"
    r"  Timed out: 0\n"
    r"  Cancelled: 0\n"
    r"  Duration: \d+\.\d{4}s\n"
)


def page_example() -> None:
    # The page's code, verbatim apart from indentation (and the noqa for ruff).
    import dagron
    from dagron.execution.tracing import ExecutionTrace, TraceEventType  # noqa: F401

    # Build a DAG
    dag = (
        dagron.DAG.builder().add_edge("extract", "transform").add_edge("transform", "load").build()
    )

    # Execute with tracing enabled
    executor = dagron.DAGExecutor(dag, trace=True)
    tasks = {
        "extract": lambda: [1, 2, 3],
        "transform": lambda: [2, 4, 6],
        "load": lambda: "done",
    }
    result = executor.execute(tasks)

    # Access the trace from the result
    trace = result.trace

    # Inspect events
    print(trace.summary())

    # Find slow nodes
    for event in trace.events:
        if event.event_type == TraceEventType.NODE_COMPLETED and event.duration:  # noqa: SIM102
            if event.duration > 1.0:
                print(f"Slow node: {event.node_name} ({event.duration:.2f}s)")

    # Export for Chrome Tracing visualization
    with open("pipeline_trace.json", "w") as f:
        f.write(trace.to_chrome_trace())

    # Export as plain JSON for custom analysis
    with open("pipeline_events.json", "w") as f:
        f.write(trace.to_json())


def check_exports(chrome_path: Path, events_path: Path) -> None:
    events = json.loads(events_path.read_text())
    assert len(events) == EXPECTED_EVENT_COUNT
    assert [(e["event_type"], e.get("node_name"), e.get("step_index")) for e in events] == [
        ("execution_started", None, None),
        ("step_started", None, 0),
        ("node_started", "extract", None),
        ("node_completed", "extract", None),
        ("step_completed", None, 0),
        ("step_started", None, 1),
        ("node_started", "transform", None),
        ("node_completed", "transform", None),
        ("step_completed", None, 1),
        ("step_started", None, 2),
        ("node_started", "load", None),
        ("node_completed", "load", None),
        ("step_completed", None, 2),
        ("execution_completed", None, None),
    ]
    assert events[0] == {"event_type": "execution_started", "timestamp": 0.0}
    timestamps = [e["timestamp"] for e in events]
    assert timestamps == sorted(timestamps)
    for e in events:
        if e["event_type"] == "node_completed":
            assert isinstance(e["duration"], float) and e["duration"] >= 0.0

    chrome = chrome_validator.validate(chrome_path.read_text())
    assert [(s.name, s.tid) for s in chrome.spans] == [
        ("extract", 1),
        ("transform", 2),
        ("load", 3),
        ("execution", 0),
    ]
    for span in chrome.spans_named("extract") + chrome.spans_named("load"):
        assert span.args == {"status": "node_completed"}
        assert span.end >= span.begin
    # The nodes ran one after the other, inside the execution span.
    (execution,) = chrome.spans_named("execution")
    node_spans = [chrome.spans_named(name)[0] for name in NODES]
    assert execution.begin == 0.0
    assert all(a.end <= b.begin for a, b in zip(node_spans, node_spans[1:]))
    assert execution.begin <= node_spans[0].begin and node_spans[-1].end <= execution.end


def test_page_example_runs_verbatim(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    page_example()
    out = capsys.readouterr().out
    assert SUMMARY.fullmatch(out), out
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "pipeline_events.json",
        "pipeline_trace.json",
    ]
    check_exports(tmp_path / "pipeline_trace.json", tmp_path / "pipeline_events.json")


def test_example_script(tmp_path, capsys):
    out_dir = tmp_path / "traces"
    namespace = runpy.run_path(str(EXAMPLE_SCRIPT))
    assert namespace["main"]([str(out_dir)]) == 0
    out = capsys.readouterr().out
    chrome_path = out_dir / "pipeline_trace.json"
    events_path = out_dir / "pipeline_events.json"
    # run_path does not execute the ``__main__`` block, so ``main`` ran once.
    expected_tail = (
        "\n"
        f"Chrome trace: {chrome_path}\n"
        f"Event log:    {events_path}\n"
        f"To view the timeline, open {chrome_path} in https://ui.perfetto.dev "
        '("Open trace file") or in chrome://tracing ("Load").\n'
    )
    assert out.endswith(expected_tail), out
    assert SUMMARY.fullmatch(out[: -len(expected_tail)]), out
    check_exports(chrome_path, events_path)


def test_example_script_defaults_to_out(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace = runpy.run_path(str(EXAMPLE_SCRIPT))
    assert namespace["main"]([]) == 0
    expected = f"Chrome trace: {Path('out', 'pipeline_trace.json')}\n"
    assert expected in capsys.readouterr().out
    check_exports(
        tmp_path / "out" / "pipeline_trace.json", tmp_path / "out" / "pipeline_events.json"
    )
