"""Scale run: 100M events recorded from Python in one process, exported by streaming.

Records N events of the benchmark workload (``_common.record_workload``; the trace
holds N + 2 events: EXECUTION_STARTED/COMPLETED around N/4 rounds of four events),
printing progress every 10M events (throughput, RSS). Then ``write_json`` and
``write_chrome_trace`` stream the trace to ``.json.gz`` files; for each, the peak RSS
(VmHWM, reset right before the call through ``/proc/self/clear_refs``), the time and
the file size are reported. Finally both files are verified by decompressing them in
chunks (never whole): first and last bytes, the number of ``"event_type"`` keys
(== events held) and of Chrome ``"ph"`` keys, failures, and gzip's own CRC and length.

The process aborts (exit 2) if its RSS passes ``--rss-limit-gib`` (default 20).
The bar: peak RSS of the whole run under 4 GiB.

    python3 benches/scale_100m.py [--events N] [--dir DIR] [--keep]
                                  [--markdown-out PATH] [--rss-limit-gib G]
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import re
import shutil
import sys
import tempfile
import threading
import time
from typing import Any, Optional

import _common as c
from dagron.execution.tracing import ExecutionTrace

GIB = 2**30
MIB = 2**20
BAR_BYTES = 4 * GIB
READ_CHUNK = 16 * MIB


def held_events(trace: ExecutionTrace) -> int:
    """Events held, from the repr (cheap: no events are built)."""
    match = re.search(r"with (\d+) events", repr(trace))
    return int(match.group(1)) if match else -1


class Monitor(threading.Thread):
    """Prints progress while recording; ends the process if RSS passes the limit."""

    def __init__(self, trace: ExecutionTrace, every: int, limit: int, rss0: int) -> None:
        super().__init__(daemon=True)
        self.rss0 = rss0
        self.trace = trace
        self.every = every
        self.limit = limit
        self.stop = threading.Event()
        self.lines: list[str] = []
        self.max_rss = 0

    def run(self) -> None:
        start = last_t = time.perf_counter()
        last_n = 0
        next_mark = self.every
        while not self.stop.wait(0.1):
            rss = c.rss_bytes()
            self.max_rss = max(self.max_rss, rss)
            if rss > self.limit:
                print(
                    f"ABORT: RSS {c.fmt_mib(rss)} is over the limit {c.fmt_mib(self.limit)}",
                    file=sys.stderr,
                    flush=True,
                )
                os._exit(2)
            n = held_events(self.trace)
            if n >= next_mark:
                now = time.perf_counter()
                line = (
                    f"{n:>13,} events  {now - start:7.1f} s  "
                    f"{n / (now - start) / 1e6:5.2f} M/s overall  "
                    f"{(n - last_n) / (now - last_t) / 1e6:5.2f} M/s recent  "
                    f"RSS {c.fmt_mib(rss)}  (+{(rss - self.rss0) / max(n, 1):.1f} B/event)"
                )
                print(line, flush=True)
                self.lines.append(line)
                last_n, last_t = n, now
                while next_mark <= n:
                    next_mark += self.every


def verify(path: str, needle: bytes, start: bytes, end: bytes) -> dict[str, Any]:
    """Stream-decompress ``path``: count ``needle`` and ``"node_failed"``, check the
    first and last bytes. gzip checks its CRC-32 and length at the end of the stream."""
    needles = [needle, b'"node_failed"']
    counts = [0, 0]
    keep = max(len(n) for n in needles) - 1 + len(end)
    head = tail = b""
    size = 0
    t0 = time.perf_counter()
    with gzip.open(path, "rb") as f:
        while chunk := f.read(READ_CHUNK):
            if not head:
                head = chunk[: len(start)]
            joined = tail + chunk
            for i, n in enumerate(needles):
                counts[i] += joined.count(n) - tail.count(n)
            tail = joined[-keep:]
            size += len(chunk)
    return {
        "count": counts[0],
        "failed": counts[1],
        "starts": head == start,
        "ends": tail.endswith(end),
        "size": size,
        "seconds": time.perf_counter() - t0,
    }


def time_query(trace: ExecutionTrace, runs: int = 3) -> dict[str, Any]:
    """``events_for_node(QUERY_NODE)``: median time and events returned."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        found = trace.events_for_node(c.QUERY_NODE)
        times.append(time.perf_counter() - t0)
        returned = len(found)
        del found
    seconds = c.median(times)
    return {"seconds": seconds, "returned": returned, "per_event": seconds / max(returned, 1)}


def export(trace: ExecutionTrace, method: str, path: str) -> dict[str, Any]:
    hwm_before = c.peak_rss_bytes()
    rss_before = c.rss_bytes()
    reset = c.reset_peak_rss()
    t0 = time.perf_counter()
    getattr(trace, method)(path)
    seconds = time.perf_counter() - t0
    hwm_after = c.peak_rss_bytes()
    res = {
        "method": method,
        "seconds": seconds,
        "rss_before": rss_before,
        "hwm_before": hwm_before,
        "hwm_after": hwm_after,
        "peak_growth": hwm_after - rss_before if reset else None,
        "size": os.path.getsize(path),
    }
    print(
        f"{method}({os.path.basename(path)}): {seconds:.1f} s, file {c.fmt_mib(res['size'])}, "
        f"VmHWM before {c.fmt_mib(hwm_before)} / during {c.fmt_mib(hwm_after)}"
        f"{'' if reset else ' (VmHWM could not be reset)'}, RSS before {c.fmt_mib(rss_before)}",
        flush=True,
    )
    return res


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--events", type=int, default=100_000_000)
    p.add_argument("--dir", help="where the .json.gz files go (default: a new temp dir)")
    p.add_argument("--keep", action="store_true", help="keep the files")
    p.add_argument("--markdown-out", help="write the report (markdown) here")
    p.add_argument("--progress-every", type=int, default=10_000_000)
    p.add_argument("--rss-limit-gib", type=float, default=20.0)
    args = p.parse_args(argv)

    out_dir = args.dir or tempfile.mkdtemp(prefix="dagron_scale_")
    os.makedirs(out_dir, exist_ok=True)
    json_path = os.path.join(out_dir, "trace.json.gz")
    chrome_path = os.path.join(out_dir, "trace.chrome.json.gz")
    exp = c.expected_counts(args.events)
    print(
        f"recording {args.events:,} events (the trace will hold {exp['events']:,}); "
        f"files in {out_dir} ({shutil.disk_usage(out_dir).free / GIB:.0f} GiB free)",
        flush=True,
    )
    started = time.perf_counter()

    # events_for_node on a small trace, to compare with the same query on the big one:
    # the cost per returned event stays flat if the query is O(events of that node).
    small_events = min(1_000_000, args.events)
    small = ExecutionTrace()
    c.record_workload(small, small_events)
    query_small = time_query(small, runs=5)
    del small

    rss0 = c.rss_bytes()
    trace = ExecutionTrace()
    monitor = Monitor(trace, args.progress_every, int(args.rss_limit_gib * GIB), rss0)
    monitor.start()
    t0 = time.perf_counter()
    c.record_workload(trace, args.events)
    record_s = time.perf_counter() - t0
    monitor.stop.set()
    monitor.join()
    held = held_events(trace)
    rss_rec = c.rss_bytes()
    hwm_rec = c.peak_rss_bytes()
    print(
        f"recorded {held:,} events in {record_s:.1f} s ({held / record_s / 1e6:.2f} M/s); "
        f"RSS {c.fmt_mib(rss_rec)} (+{(rss_rec - rss0) / held:.1f} B/event), "
        f"VmHWM {c.fmt_mib(hwm_rec)}",
        flush=True,
    )

    query_big = time_query(trace)
    for label, q, n in (("small", query_small, small_events), ("big", query_big, held)):
        print(
            f"events_for_node({c.QUERY_NODE!r}) on {n:,} events ({label}): "
            f"{c.fmt_time(q['seconds'])} for {q['returned']:,} events "
            f"({q['per_event'] * 1e9:.0f} ns per returned event)",
            flush=True,
        )

    exports = [
        export(trace, "write_json", json_path),
        export(trace, "write_chrome_trace", chrome_path),
    ]
    del trace
    peak_overall = max([hwm_rec, *(e[k] for e in exports for k in ("hwm_before", "hwm_after"))])

    checks = [
        (
            "write_json",
            verify(
                json_path,
                b'"event_type"',
                b'[\n  {\n    "event_type": "execution_started"',
                b"}\n]",
            ),
            exp["events"],
        ),
        (
            "write_chrome_trace",
            verify(
                chrome_path,
                b'"ph"',
                b'{\n  "traceEvents": [\n    {\n      "name": "execution"',
                b"  ]\n}",
            ),
            exp["chrome"],
        ),
    ]
    all_ok = held == exp["events"]
    for (name, res, want), exported in zip(checks, exports):
        ok = (
            res["count"] == want
            and res["failed"] == exp["failed"]
            and res["starts"]
            and res["ends"]
        )
        res["ok"] = ok
        exported["verify"] = res
        all_ok &= ok
        print(
            f"verify {name}: {res['count']:,} records (want {want:,}), "
            f"{res['failed']:,} node_failed (want {exp['failed']:,}), start ok {res['starts']}, "
            f"end ok {res['ends']}, {c.fmt_mib(res['size'])} decompressed in "
            f"{res['seconds']:.1f} s: {'ok' if ok else 'FAIL'}",
            flush=True,
        )
    if not args.keep:
        for path in (json_path, chrome_path):
            os.remove(path)
        if not args.dir:
            os.rmdir(out_dir)

    bar_ok = peak_overall < BAR_BYTES
    rows = [
        [
            "record (Python loop)",
            f"{record_s:.1f} s",
            f"{held / record_s / 1e6:.2f} M events/s",
            "-",
            f"RSS {c.fmt_mib(rss_rec)} ({(rss_rec - rss0) / held:.1f} B/event); "
            f"VmHWM {c.fmt_mib(hwm_rec)}",
            "-",
        ]
    ]
    for e in exports:
        v = e["verify"]
        rows.append(
            [
                f"`{e['method']}` → `.json.gz`",
                f"{e['seconds']:.1f} s",
                f"{v['size'] / e['seconds'] / MIB:,.0f} MiB/s of JSON",
                f"{c.fmt_mib(e['size'])} ({c.fmt_mib(v['size'])} decompressed)",
                f"VmHWM before {c.fmt_mib(e['hwm_before'])}, during "
                f"{c.fmt_mib(e['hwm_after'])} (peak Δ {c.fmt_mib(e['peak_growth'])})",
                f"{v['count']:,} records, {v['failed']:,} failures, first/last bytes ok: "
                f"{v['starts'] and v['ends']}; {v['seconds']:.0f} s: "
                f"{'ok' if v['ok'] else 'FAIL'}",
            ]
        )
    ram = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    for q, n in ((query_small, small_events), (query_big, held)):
        rows.append(
            [
                f"`events_for_node` on a {n:,}-event trace",
                c.fmt_time(q["seconds"]),
                f"{q['per_event'] * 1e9:.0f} ns per returned event",
                "-",
                "-",
                f"{q['returned']:,} events returned",
            ]
        )
    header = ["step", "time", "rate", "file size", "memory", "verified (streamed gunzip)"]
    report = "\n".join(
        [
            f"## {args.events:,} events in one process",
            "",
            f"{time.strftime('%Y-%m-%d %H:%M:%S')}; Python {platform.python_version()}; "
            f"{os.cpu_count()} CPUs; {ram / GIB:.0f} GiB RAM; machine shared with other work. "
            "`python3 benches/scale_100m.py"
            f"{'' if args.events == 100_000_000 else f' --events {args.events}'}`; "
            f"total wall time {time.perf_counter() - started:.0f} s. The trace holds "
            f"{held:,} events (the workload's N + 2).",
            "",
            "Progress while recording:",
            "",
            "```text",
            *(monitor.lines or ["(no progress line: fewer events than --progress-every)"]),
            "```",
            "",
            c.markdown_table(header, rows),
            "",
            f"Peak RSS of the whole run: {c.fmt_mib(peak_overall)} "
            f"({peak_overall / GIB:.2f} GiB; {'pass' if bar_ok else 'FAIL'}: bar < 4 GiB). "
            f"Output checks: {'all passed' if all_ok else 'FAILED'}.",
            "",
        ]
    )
    c.emit(report, args.markdown_out)
    return 0 if all_ok and bar_ok else 1


if __name__ == "__main__":
    sys.exit(main())
