"""The tracing page's complete example, as a script.

Builds the three-node ETL chain, runs it with tracing on, prints the trace summary
(and any node slower than a second), and writes two files into an output folder
(the first argument, or ``./out``):

- ``pipeline_trace.json``: the Chrome Trace Event Format export; open it in
  https://ui.perfetto.dev ("Open trace file") or chrome://tracing ("Load");
- ``pipeline_events.json``: the plain JSON event list, for your own analysis.

Run it with ``python examples/complete_example.py [OUTPUT_DIR]``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import dagron
from dagron.execution.tracing import TraceEventType


def main(argv: Optional[list[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out_dir = Path(args[0] if args else "out")
    out_dir.mkdir(parents=True, exist_ok=True)

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
        is_completion = event.event_type == TraceEventType.NODE_COMPLETED
        if is_completion and event.duration and event.duration > 1.0:
            print(f"Slow node: {event.node_name} ({event.duration:.2f}s)")

    # Export for Chrome Tracing visualization
    chrome_path = out_dir / "pipeline_trace.json"
    chrome_path.write_text(trace.to_chrome_trace(), encoding="utf-8")

    # Export as plain JSON for custom analysis
    events_path = out_dir / "pipeline_events.json"
    events_path.write_text(trace.to_json(), encoding="utf-8")

    print()
    print(f"Chrome trace: {chrome_path}")
    print(f"Event log:    {events_path}")
    print(
        f"To view the timeline, open {chrome_path} in https://ui.perfetto.dev "
        '("Open trace file") or in chrome://tracing ("Load").'
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
