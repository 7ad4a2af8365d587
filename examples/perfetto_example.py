"""The complete example's pipeline, exported for Perfetto.

Runs the same three-node ETL chain as ``complete_example.py`` with tracing on and
writes, into an output folder (the first argument, or ``./out``):

- ``pipeline.perfetto-trace``: the native Perfetto trace (``trace.write_perfetto``);
- ``pipeline_named.json``: Chrome JSON with named lanes
  (``trace.write_chrome_trace(..., named=True)``).

Open either at https://ui.perfetto.dev: drag the file onto the page, or use
"Open trace file". Run it with ``python examples/perfetto_example.py [OUTPUT_DIR]``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import dagron


def main(argv: Optional[list[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out_dir = Path(args[0] if args else "out")
    out_dir.mkdir(parents=True, exist_ok=True)

    dag = (
        dagron.DAG.builder().add_edge("extract", "transform").add_edge("transform", "load").build()
    )
    tasks = {
        "extract": lambda: [1, 2, 3],
        "transform": lambda: [2, 4, 6],
        "load": lambda: "done",
    }
    trace = dagron.DAGExecutor(dag, trace=True).execute(tasks).trace

    perfetto_path = out_dir / "pipeline.perfetto-trace"
    trace.write_perfetto(perfetto_path, process_name="complete example")
    named_path = out_dir / "pipeline_named.json"
    trace.write_chrome_trace(named_path, named=True)
    print(f"Perfetto trace: {perfetto_path}")
    print(f"Chrome trace with named lanes: {named_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
