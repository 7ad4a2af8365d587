"""A small pipeline exported for Perfetto.

Runs a diamond-shaped DAG (``extract`` feeds ``clean`` and ``enrich``, which both
feed ``load``) whose tasks sleep a few milliseconds, so ``clean`` and ``enrich``
overlap, with tracing on, and writes into an output folder (the first argument, or
``./out``):

- ``pipeline.perfetto-trace``: the native Perfetto trace (``trace.write_perfetto``);
- ``pipeline_named.json``: Chrome JSON with named lanes
  (``trace.write_chrome_trace(..., named=True)``).

Open either at https://ui.perfetto.dev: drag the file onto the page, or use
"Open trace file". Run it with ``python examples/perfetto_example.py [OUTPUT_DIR]``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable, Optional

import dagron

#: Seconds each node's task sleeps.
WORK = {"extract": 0.03, "clean": 0.05, "enrich": 0.08, "load": 0.04}


def sleeper(seconds: float) -> Callable[[], float]:
    def task() -> float:
        time.sleep(seconds)
        return seconds

    return task


def main(argv: Optional[list[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out_dir = Path(args[0] if args else "out")
    out_dir.mkdir(parents=True, exist_ok=True)

    dag = (
        dagron.DAG.builder()
        .add_edges([("extract", "clean"), ("extract", "enrich")])
        .add_edges([("clean", "load"), ("enrich", "load")])
        .build()
    )
    tasks = {name: sleeper(seconds) for name, seconds in WORK.items()}
    trace = dagron.DAGExecutor(dag, max_workers=2, trace=True).execute(tasks).trace

    perfetto_path = out_dir / "pipeline.perfetto-trace"
    trace.write_perfetto(perfetto_path, process_name="example pipeline")
    named_path = out_dir / "pipeline_named.json"
    trace.write_chrome_trace(named_path, named=True)
    print(f"Perfetto trace: {perfetto_path}")
    print(f"Chrome trace with named lanes: {named_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
