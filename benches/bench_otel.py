"""Benchmark: trace.to_otel on the trace of a 100,000-node run (the DAG of
bench_executor.py, no-op tasks), into the SDK's InMemorySpanExporter.

The baseline is the floor any exporter pays: the same number of spans started and
ended directly with the SDK (one tracer, fixed times, no attributes), in the same run,
once as is and once with the cyclic GC paused as ``to_otel`` pauses it (the fair
floor for what is left: the SDK's own work per span).
Every export is checked: one span per node, per step and for the run, every node
span a child of a step span.

    python benches/bench_otel.py [--nodes 100000] [--runs 3]

Not a test: nothing here runs under pytest.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from typing import Any, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dagron  # noqa: E402
from bench_executor import build_dag, no_op  # noqa: E402
from opentelemetry.sdk.trace import SpanLimits, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)


def provider() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider(span_limits=SpanLimits(max_events=None))
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    return tracer_provider, exporter


def export(trace: Any, nodes: int, steps: int) -> tuple[float, float]:
    tracer_provider, exporter = provider()
    gc.collect()
    began, began_cpu = time.perf_counter(), time.process_time()
    trace.to_otel(tracer_provider, service_name="bench")
    elapsed = time.perf_counter() - began, time.process_time() - began_cpu
    spans = exporter.get_finished_spans()
    assert len(spans) == 1 + steps + nodes, len(spans)
    step_ids = {s.context.span_id for s in spans if s.name.startswith("step ")}
    node_spans = [s for s in spans if s.attributes.get("dagron.node") is not None]
    assert len(node_spans) == nodes and all(s.parent.span_id in step_ids for s in node_spans)
    return elapsed


def floor(count: int, collect: bool = True) -> tuple[float, float]:
    """Start and end ``count`` spans straight through the SDK (with the cyclic GC
    paused unless ``collect``)."""
    tracer_provider, exporter = provider()
    tracer = tracer_provider.get_tracer("floor")
    gc.collect()
    if not collect:
        gc.disable()
    began, began_cpu = time.perf_counter(), time.process_time()
    for i in range(count):
        tracer.start_span("span", start_time=i).end(end_time=i + 1)
    elapsed = time.perf_counter() - began, time.process_time() - began_cpu
    gc.enable()
    assert len(exporter.get_finished_spans()) == count
    return elapsed


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    dag = build_dag(args.nodes)
    result = dagron.DAGExecutor(dag, trace=True).execute(dict.fromkeys(dag.nodes, no_op))
    trace = result.trace
    assert trace is not None and result.succeeded == args.nodes
    steps = len(dag.levels())
    spans = 1 + steps + args.nodes
    print(
        f"{args.nodes:,} nodes, {steps:,} steps, {len(trace.events):,} events -> {spans:,} spans"
    )
    ours: list[tuple[float, float]] = []
    base: list[tuple[float, float]] = []
    base_paused: list[tuple[float, float]] = []
    for r in range(args.runs):
        order = ["export", "floor", "paused"]
        for name in order if r % 2 == 0 else order[::-1]:
            if name == "export":
                ours.append(export(trace, args.nodes, steps))
            elif name == "floor":
                base.append(floor(spans))
            else:
                base_paused.append(floor(spans, collect=False))
    got_all = (("to_otel", ours), ("SDK floor", base), ("floor, GC paused", base_paused))
    for label, got in got_all:
        wall = statistics.median(w for w, _ in got)
        cpu = statistics.median(c for _, c in got)
        print(
            f"{label:<16} median wall {wall:.2f} s, CPU {cpu:.2f} s "
            f"({cpu / spans * 1e6:.1f} us/span)"
        )
    wall = statistics.median(w for w, _ in ours)
    cpu = statistics.median(c for _, c in ours)
    ratio = cpu / statistics.median(c for _, c in base)
    ratio_paused = cpu / statistics.median(c for _, c in base_paused)
    print(f"CPU ratio to_otel / floor: {ratio:.2f}; / floor with GC paused: {ratio_paused:.2f}")
    if args.nodes >= 100_000:
        verdict = "met" if wall < 10 else "MISSED"
        print(f"bar: 100,000 nodes under 10 s -> {verdict} (wall {wall:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
