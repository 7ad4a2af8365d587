"""Perfetto export against the Chrome JSON export, on the benchmark workload.

Parts (all by default except ``--scale``; pick with ``--only``):

- ``size``: for each of ``--events`` (default 1M and 10M) and each of
  ``--workloads``, ``write_perfetto`` and ``write_chrome_trace`` to uncompressed
  files, alternating, ``--runs`` times each: median times, their ratio (Perfetto /
  Chrome; goal <= 1) and the file sizes' ratio (goal <= 1/8). Workloads, both over
  1,000 node names: ``bench`` (the ``_common.record_workload`` run: steps and node
  runs, 1 in 100 failing; the Chrome export leaves the steps out, the Perfetto
  file keeps them) and ``nodes`` (node runs only, each with a duration, so every
  event is in both files). The Perfetto file is checked: decoded with
  ``perfetto_trace_pb2`` (up to 2M events), one track event per trace event plus
  one marker per failure; otherwise its packets are counted by a varint scan.
- ``ui``: a 1M-event trace (node starts and completions only, so every event is
  in both exports) over 10,000 node names, written as Chrome JSON and as
  Perfetto protobuf, opened in an offline Perfetto UI by a viewer script you name
  (``--viewer``, or the ``DAGRON_PERFETTO_VIEWER`` environment variable), ``--ui-runs``
  times each: the seconds from page load to trace loaded and to idle, as that tool
  reports them, and its import-error count.
- ``scale`` (``--scale N``, e.g. 100000000): N events recorded, then streamed with
  ``write_perfetto`` to ``.perfetto-trace.gz``; peak RSS during the export against
  the RSS before it (VmHWM reset right before), time, size; the file is checked by
  decompressing it in chunks (gzip's CRC and length).

    python3 benches/bench_perfetto.py [--only size,ui] [--events 1000000,10000000]
        [--workloads bench,nodes] [--runs 3] [--ui-runs 1] [--scale N]
        [--markdown-out PATH]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
from typing import Any

import _common as c
from dagron.execution.tracing import ExecutionTrace

T = c.T
MIB = 2**20
# A script that renders a trace in an offline Perfetto UI: `VIEWER TRACE PNG --timeout S`,
# printing a JSON report (load and idle seconds, slices, import errors). Not part of
# this project: name yours with --viewer or DAGRON_PERFETTO_VIEWER.
VIEWER = os.environ.get("DAGRON_PERFETTO_VIEWER", "")


def timed(fn, *args: Any) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def count_packets(chunks) -> int:
    """Top-level packets (field 1, length-delimited) in a stream of byte chunks."""
    count = 0
    buf = b""
    for chunk in chunks:
        buf += chunk
        pos = 0
        end = len(buf)
        while pos < end:
            if buf[pos] != 0x0A:
                raise ValueError(f"unexpected tag {buf[pos]:#x} at packet {count}")
            at = pos + 1
            length = shift = 0
            while at < end and buf[at] & 0x80:
                length |= (buf[at] & 0x7F) << shift
                shift += 7
                at += 1
            if at >= end:
                break
            length |= buf[at] << shift
            if at + 1 + length > end:
                break
            pos = at + 1 + length
            count += 1
        buf = buf[pos:]
    if buf:
        raise ValueError("truncated packet at the end")
    return count


def gunzip_length(path: str) -> int:
    """Decompress in chunks (gzip checks its CRC and length); the decompressed size."""
    return sum(len(chunk) for chunk in file_chunks(path))


def file_chunks(path: str, size: int = 16 * MIB):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        while True:
            chunk = f.read(size)
            if not chunk:
                return
            yield chunk


def record_node_runs(trace: ExecutionTrace, events: int) -> None:
    """Node runs only over the bench's 1,000 names, with its durations."""
    rec = trace.record
    names = c.NAMES
    rec(T.EXECUTION_STARTED)
    for i in range(events // 2):
        name = names[i % c.N_NODES]
        rec(T.NODE_STARTED, node_name=name)
        rec(T.NODE_COMPLETED, node_name=name, duration=0.001 + (i % 997) * 1e-5)
    rec(T.EXECUTION_COMPLETED)


#: name -> (recorder, events held for ``events``, failure markers for ``events``)
WORKLOADS = {
    "bench": (c.record_workload, lambda n: n // 4 * 4 + 2, lambda n: n // 4 // c.FAIL_EVERY),
    "nodes": (record_node_runs, lambda n: n // 2 * 2 + 2, lambda n: 0),
}


def check_perfetto(path: str, events: int, failures: int) -> str:
    """One track event per event (``events`` held), plus one marker per failure."""
    if events <= 2_000_000:
        from perfetto.protos.perfetto.trace import perfetto_trace_pb2 as pb

        trace = pb.Trace()
        with open(path, "rb") as f:
            trace.ParseFromString(f.read())
        track_events = sum(1 for p in trace.packet if p.HasField("track_event"))
        ok = track_events == events + failures
        return f"decoded: {track_events:,} track events ({'ok' if ok else 'MISMATCH'})"
    packets = count_packets(file_chunks(path))
    # 2 preamble packets, 4 track descriptors, lanes: at most a few.
    ok = events + failures + 6 <= packets <= events + failures + 6 + 64
    return f"{packets:,} packets counted ({'ok' if ok else 'MISMATCH'})"


def bench_size(sizes: list[int], workloads: list[str], runs: int, tmp: str) -> str:
    rows = []
    for events in sizes:
        for workload in workloads:
            record, held_of, failures_of = WORKLOADS[workload]
            trace = ExecutionTrace()
            record(trace, events)
            held = held_of(events)
            chrome_path = os.path.join(tmp, "t.json")
            perfetto_path = os.path.join(tmp, "t.perfetto-trace")
            chrome_times, perfetto_times = [], []
            for _ in range(runs):
                chrome_times.append(timed(trace.write_chrome_trace, chrome_path))
                perfetto_times.append(timed(trace.write_perfetto, perfetto_path))
            chrome_size = os.path.getsize(chrome_path)
            perfetto_size = os.path.getsize(perfetto_path)
            trace = None
            verdict = check_perfetto(perfetto_path, held, failures_of(events))
            chrome_t = statistics.median(chrome_times)
            perfetto_t = statistics.median(perfetto_times)
            rows.append(
                [
                    workload,
                    f"{held:,}",
                    f"{c.fmt_time(chrome_t)} / {c.fmt_time(perfetto_t)}",
                    f"{perfetto_t / chrome_t:.2f}",
                    f"{c.fmt_mib(chrome_size)} / {c.fmt_mib(perfetto_size)}",
                    f"1/{chrome_size / perfetto_size:.2f}",
                    f"{chrome_size / held:.1f} B / {perfetto_size / held:.1f} B",
                    verdict,
                ]
            )
            os.remove(chrome_path)
            os.remove(perfetto_path)
    header = [
        "workload",
        "events",
        "Chrome / Perfetto (median)",
        "time ratio",
        "Chrome / Perfetto size",
        "size ratio",
        "bytes/event Chrome / Perfetto",
        "Perfetto file check",
    ]
    return (
        f"### Perfetto vs Chrome JSON (1,000 node names; median of {runs} alternating runs)\n\n"
        + c.markdown_table(header, rows)
    )


def ten_k_name_trace(events: int) -> ExecutionTrace:
    """Node runs only (every event is in both exports), over 10,000 names."""
    trace = ExecutionTrace()
    trace.record(T.EXECUTION_STARTED)
    for i in range(events // 2):
        name = f"node_{i % 10_000:05d}"
        trace.record(T.NODE_STARTED, node_name=name)
        trace.record(T.NODE_COMPLETED, node_name=name, duration=1e-6)
    trace.record(T.EXECUTION_COMPLETED)
    return trace


def open_in_ui(viewer: str, path: str, out_dir: str, tag: str) -> dict[str, Any]:
    png = os.path.join(out_dir, f"{tag}.png")
    subprocess.run(
        [viewer, path, png, "--timeout", "600"],
        capture_output=True,
        timeout=900,
        check=False,
    )
    with open(png[: -len(".png")] + ".json") as f:
        report = json.load(f)
    loaded = report.get("t_trace_loaded_s")
    idle = report.get("t_idle_s")
    page = report.get("t_page_loaded_s") or 0.0
    problems = report.get("tp", {}).get("problem_stats", [])
    return {
        "loaded": None if loaded is None else loaded - page,
        "idle": None if idle is None else idle - page,
        "ok": bool(report.get("load_state", {}).get("trace")) and not report.get("page_errors"),
        "problems": len(problems),
        "slices": report.get("tp", {}).get("slices", [{}])[0].get("n"),
    }


def bench_ui(viewer: str, events: int, runs: int, tmp: str) -> str:
    trace = ten_k_name_trace(events)
    chrome_path = os.path.join(tmp, "ui.json")
    perfetto_path = os.path.join(tmp, "ui.perfetto-trace")
    trace.write_chrome_trace(chrome_path)
    trace.write_perfetto(perfetto_path)
    sizes = {
        "Chrome JSON": os.path.getsize(chrome_path),
        "Perfetto": os.path.getsize(perfetto_path),
    }
    del trace
    results: dict[str, list[dict[str, Any]]] = {"Chrome JSON": [], "Perfetto": []}
    for run in range(runs):
        for tag, path in (("Chrome JSON", chrome_path), ("Perfetto", perfetto_path)):
            shot = f"ui-{run}-{tag.split()[0].lower()}"
            results[tag].append(open_in_ui(viewer, path, tmp, shot))
    rows = []
    medians = {}
    for tag, found in results.items():
        loaded = c.median([r["loaded"] for r in found])
        idle = c.median([r["idle"] for r in found])
        medians[tag] = idle
        rows.append(
            [
                tag,
                c.fmt_mib(sizes[tag]),
                c.fmt_time(loaded),
                c.fmt_time(idle),
                ", ".join(str(r["slices"]) for r in found),
                ", ".join(str(r["problems"]) for r in found),
                ", ".join("ok" if r["ok"] else "FAILED" for r in found),
            ]
        )
    header = ["format", "file", "to loaded", "to idle", "slices", "import errors", "load"]
    speedup = (
        medians["Chrome JSON"] / medians["Perfetto"]
        if medians["Chrome JSON"] and medians["Perfetto"]
        else None
    )
    return (
        f"### Opening a {events + 2:,}-event trace over 10,000 node names in the offline "
        f"Perfetto UI (median of {runs})\n\n"
        + c.markdown_table(header, rows)
        + f"\n\nPerfetto opens {c.fmt_ratio(speedup)} faster (to idle)."
    )


def bench_scale(events: int, tmp: str) -> str:
    t0 = time.perf_counter()
    trace = ExecutionTrace()
    c.record_workload(trace, events)
    record_s = time.perf_counter() - t0
    path = os.path.join(tmp, "scale.perfetto-trace.gz")
    rss_before = c.rss_bytes()
    reset = c.reset_peak_rss()
    export_s = timed(trace.write_perfetto, path)
    peak = c.peak_rss_bytes()
    size = os.path.getsize(path)
    held = events + 2
    # Too many packets for a Python scan: check the gzip stream whole (CRC, length).
    raw = gunzip_length(path)
    rows = [
        [
            f"{held:,}",
            c.fmt_time(record_s),
            c.fmt_time(export_s),
            c.fmt_mib(size),
            c.fmt_mib(rss_before),
            c.fmt_mib(peak) if reset else "-",
            c.fmt_mib(peak - rss_before) if reset else "-",
            f"gzip CRC ok, {c.fmt_mib(raw)} decompressed ({raw / held:.1f} B/event)",
        ]
    ]
    header = [
        "events",
        "record",
        "write_perfetto → .gz",
        "file",
        "RSS before",
        "peak RSS during",
        "peak growth",
        "check",
    ]
    return "### Streaming a large trace to `.perfetto-trace.gz`\n\n" + c.markdown_table(
        header, rows
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="size,ui" if VIEWER else "size")
    parser.add_argument("--events", default="1000000,10000000")
    parser.add_argument("--workloads", default="bench,nodes")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ui-events", type=int, default=1_000_000)
    parser.add_argument("--ui-runs", type=int, default=1)
    parser.add_argument("--scale", type=int, default=0)
    parser.add_argument("--dir", default=None)
    parser.add_argument("--markdown-out", default=None)
    parser.add_argument("--viewer", default=VIEWER, help="the viewer script for --only ui")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    if args.scale:
        parts.add("scale")
    sections = [
        f"{time.strftime('%Y-%m-%d %H:%M:%S')}; Python {platform.python_version()}; "
        f"{os.cpu_count()} CPUs; machine shared with other work. "
        f"`python3 benches/bench_perfetto.py --only {','.join(sorted(parts))}"
        + (
            f" --events {args.events} --workloads {args.workloads} --runs {args.runs}"
            if "size" in parts
            else ""
        )
        + (f" --ui-runs {args.ui_runs}" if "ui" in parts else "")
        + (f" --scale {args.scale}" if "scale" in parts else "")
        + "`"
    ]
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        if "size" in parts:
            sizes = [int(n) for n in args.events.split(",")]
            workloads = args.workloads.split(",")
            sections.append(bench_size(sizes, workloads, args.runs, tmp))
        if "ui" in parts:
            if not args.viewer:
                parser.error("--only ui needs --viewer (or DAGRON_PERFETTO_VIEWER)")
            sections.append(bench_ui(args.viewer, args.ui_events, args.ui_runs, tmp))
        if "scale" in parts:
            sections.append(bench_scale(args.scale, tmp))
    c.emit("\n\n".join(sections) + "\n", args.markdown_out)


if __name__ == "__main__":
    main()
