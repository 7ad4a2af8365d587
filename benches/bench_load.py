"""What ``ExecutionTrace.load`` costs, for a journal, a ``write_json`` export and a
gzipped one.

Writes one trace of N events (N/2 ``NODE_STARTED`` with a step index, N/2
``NODE_COMPLETED`` with a duration, 1 in 10 of those with a small metadata dict,
over 1,000 node names) as a journal and as JSON, then loads each file R times in
this process and prints the median, min and max seconds per load. For JSON it also
times ``json.loads`` of the same text alone (with the cyclic GC paused, as ``load``
pauses it): the part of a JSON load that stays in Python's C decoder.

    python3 benches/bench_load.py                     # N=1,000,000, 3 runs
    python3 benches/bench_load.py --events 200000 --runs 5

Compare two builds by running it in each build's venv, one after the other, on the
same machine.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import tempfile
import time

from dagron import ExecutionTrace, TraceEventType


def write_files(directory: str, events: int) -> dict[str, str]:
    """The trace's files: journal, JSON, gzipped JSON (name -> path)."""
    paths = {
        "journal": os.path.join(directory, "t.journal"),
        "json": os.path.join(directory, "t.json"),
        "json.gz": os.path.join(directory, "t.json.gz"),
    }
    trace = ExecutionTrace(journal=paths["journal"])
    for i in range(events // 2):
        name = f"n{i % 1000}"
        trace.record(TraceEventType.NODE_STARTED, node_name=name, step_index=i % 7)
        trace.record(
            TraceEventType.NODE_COMPLETED,
            node_name=name,
            duration=0.001,
            metadata={"k": i} if i % 10 == 0 else None,
        )
    trace.flush()
    trace.write_json(paths["json"])
    trace.write_json(paths["json.gz"])
    return paths


def json_loads(text: bytes) -> object:
    gc.disable()
    try:
        return json.loads(text)
    finally:
        gc.enable()


def timed(function, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
        del result
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        paths = write_files(directory, args.events)
        with open(paths["json"], "rb") as file:
            text = file.read()
        rows = [
            (kind, timed(lambda p=path: ExecutionTrace.load(p), args.runs))
            for kind, path in paths.items()
        ]
        rows.append(("json.loads alone", timed(lambda: json_loads(text), args.runs)))
        print(f"{args.events:,} events, {args.runs} runs: seconds per load")
        print(f"{'file':<18}{'median':>9}{'min':>9}{'max':>9}")
        for kind, times in rows:
            print(f"{kind:<18}{statistics.median(times):9.3f}{min(times):9.3f}{max(times):9.3f}")


if __name__ == "__main__":
    main()
