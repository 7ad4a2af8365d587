"""Benchmark suite (issue 4): every public ``ExecutionTrace`` operation at several
trace sizes, against the pure-Python baseline and, for the two exports, against
orjson.

Operations: ``record`` (the ``_common.record_workload`` mix), ``events``,
``events_for_node``, ``to_json``, ``to_chrome_trace``, ``summary`` and, when
``ExecutionTrace`` has them, ``write_json`` / ``write_chrome_trace`` to a temporary
``.json`` and ``.json.gz`` file (the baseline writes its export with ``open`` /
``gzip.open(..., compresslevel=6)``, as a user of the documented module would).
orjson serializes the equivalent list of dicts, built before the timed region, with
``orjson.OPT_INDENT_2``; its text differs in formatting, so it is only timed, and its
output is checked to parse (``json.loads``) to the same data as dagron's.

Every measurement runs in a fresh interpreter, so the peak RSS (VmHWM, reset just
before the operation) belongs to that operation alone; runs of the implementations
alternate (their order rotates each run); tables show medians and ratios. Every
output is checked, and at each size one extra run checks that the baseline, given
dagron's events, writes byte-identical exports (and files).

    python3 benches/bench_suite.py [--quick | --full | --sizes N,...] [--runs R]
                                   [--out PATH] [--json-out PATH]

Sizes 10k, 100k, 1M events (``--full`` adds 10M; ``--quick``: 10k and 100k, 3 runs;
``--sizes 1000000 --runs 5`` is the README's table). At 1M events the bars are judged:
the speedups over the baseline (record >= 8x, to_json >= 30x, to_chrome_trace >= 40x,
summary >= 100x), record + events >= 3x the baseline's record, both exports faster than
orjson, and at most 40 bytes of memory per event. The record run also times the
workload's calling loop with a no-op ``record`` (part of both record times).
Exit status 0 when every check passes (bars are reported, not enforced), else 1.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from typing import Any, Callable, Optional

import _common as c

SCRIPT = os.path.abspath(__file__)
HAS_WRITE = hasattr(c.dagron_tracing.ExecutionTrace, "write_json") and hasattr(
    c.dagron_tracing.ExecutionTrace, "write_chrome_trace"
)
BASE_OPS = ["record", "events", "events_for_node", "to_json", "to_chrome_trace", "summary"]
WRITE_OPS = ["write_json", "write_json.gz", "write_chrome_trace", "write_chrome_trace.gz"]
ORJSON_OPS = ["to_json", "to_chrome_trace"]
MEMORY_BAR = 40.0  # bytes per event, dagron, at 1M
RECORD_EVENTS_BAR = 3.0  # baseline record / dagron (record + events), at 1M
SPEEDUP_BARS = {"record": 8.0, "to_json": 30.0, "to_chrome_trace": 40.0, "summary": 100.0}


def operations() -> list[str]:
    return BASE_OPS + (WRITE_OPS if HAS_WRITE else [])


# ----------------------------------------------------------------------------- baseline I/O


def baseline_write(text: Callable[[], str], path: str) -> None:
    """What a user of the documented module writes to save an export."""
    if path.endswith(".gz"):
        with gzip.open(path, "wt", compresslevel=6, encoding="utf-8") as f:
            f.write(text())
    else:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text())


def read_back(path: str) -> bytes:
    with open(path, "rb") as f:
        data = f.read()
    return gzip.decompress(data) if path.endswith(".gz") else data


# ----------------------------------------------------------------------------- worker


def worker(impl: str, op: str, size: int, full_check: bool) -> dict[str, Any]:
    checks = c.cheap_checks(size)
    n = c.expected_counts(size)["events"]
    res: dict[str, Any] = {"impl": impl, "op": op, "size": size, "events": n}

    if impl == "orjson":
        import orjson

        trace = c.dagron_tracing.ExecutionTrace()
        c.record_workload(trace, size)
        evs = trace.events
        if op == "to_json":
            data: Any = c.baseline.json_records(evs)
        else:
            data = {"traceEvents": c.baseline.chrome_records(evs)}
        del evs
        res[op] = c.measure(lambda: orjson.dumps(data, option=orjson.OPT_INDENT_2), checks[op])
        if full_check and res[op]["error"] is None:
            ours = getattr(trace, op)()
            theirs = orjson.dumps(data, option=orjson.OPT_INDENT_2)
            if json.loads(theirs) != json.loads(ours):
                res[op]["error"] = f"orjson {op}: parses to different data than dagron's"
        return res

    cls = c.IMPLS[impl]
    holder: list[Any] = []

    def record() -> Any:
        holder.clear()
        trace = cls()
        c.record_workload(trace, size)
        holder.append(trace)
        return trace

    if op == "record":
        res["record"] = c.measure(record, lambda out: None)
        res["record"]["rss_per_event"] = res["record"]["rss_growth"] / n
        trace = holder[0]
        # ``events`` right after: record + events is what a user pays to get the events.
        res["events"] = c.measure(lambda: trace.events, checks["events"])
        res["record"]["error"] = res["events"]["error"]
        # The calling loop alone, for context (not part of any ratio).
        t0 = time.perf_counter()
        c.record_workload(c.NullRecorder(), size)
        res["harness_floor_s"] = time.perf_counter() - t0
        return res

    record()
    trace = holder[0]
    if op.startswith("write_"):
        tmp = tempfile.mkdtemp(prefix="dagron-bench-")
        try:
            kind = op.split(".")[0][len("write_") :]  # json | chrome_trace
            path = os.path.join(tmp, "trace.json" + (".gz" if op.endswith(".gz") else ""))
            export = getattr(trace, "to_" + kind)
            if impl == "dagron":
                writer = getattr(trace, "write_" + kind)
                fn: Callable[[], Any] = lambda: writer(path)  # noqa: E731
            else:
                fn = lambda: baseline_write(export, path)  # noqa: E731

            cheap = checks["to_" + kind]

            def check(_: Any) -> Optional[str]:
                try:
                    data = read_back(path)
                except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
                    return f"{op}: cannot read back the file ({exc})"
                if impl == "baseline":
                    # The baseline writes its own export verbatim; the text is checked
                    # cheaply here (dagron's files are compared byte for byte with
                    # the baseline's exports by ``verify``).
                    return cheap(data.decode())
                return (
                    None if data == export().encode() else f"{op}: file differs from to_{kind}()"
                )

            res[op] = c.measure(fn, check)
            res[op]["file_bytes"] = os.path.getsize(path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return res

    ops: dict[str, Callable[[], Any]] = {
        "events": lambda: trace.events,
        "events_for_node": lambda: trace.events_for_node(c.QUERY_NODE),
        "to_json": trace.to_json,
        "to_chrome_trace": trace.to_chrome_trace,
        "summary": trace.summary,
    }
    res[op] = c.measure(ops[op], checks[op])
    return res


def verify(size: int) -> dict[str, bool]:
    results = c.check_identical(size)
    if HAS_WRITE:
        trace = c.dagron_tracing.ExecutionTrace()
        c.record_workload(trace, size)
        base = c.baseline.ExecutionTrace.from_events(trace.events)
        tmp = tempfile.mkdtemp(prefix="dagron-bench-")
        try:
            for op in WRITE_OPS:
                kind = op.split(".")[0][len("write_") :]
                path = os.path.join(tmp, "t.json" + (".gz" if op.endswith(".gz") else ""))
                getattr(trace, "write_" + kind)(path)
                results[f"{op} file identical"] = (
                    read_back(path) == getattr(base, "to_" + kind)().encode()
                )
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return results


# ----------------------------------------------------------------------------- report


def size_label(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def report(runs: list[dict[str, Any]], sizes: list[int], checks: dict[int, dict]) -> tuple:
    def vals(impl: str, op: str, size: int, key: str, field: str = "") -> list[Any]:
        out = []
        for r in runs:
            if r["impl"] == impl and r["size"] == size and r["op"] == op:
                out.append(r[field or op][key])
        return out

    def med(impl: str, op: str, size: int, key: str = "seconds", field: str = "") -> Any:
        return c.median(vals(impl, op, size, key, field))

    errors = sorted(
        {r[k]["error"] for r in runs for k in r if isinstance(r[k], dict) and r[k].get("error")}
    )
    errors += [
        f"{size_label(s)}: {name}: MISMATCH"
        for s, res in checks.items()
        for name, ok in res.items()
        if not ok
    ]

    rows = []
    for size in sizes:
        label = size_label(size)
        for op in operations():
            base, fast = med("baseline", op, size), med("dagron", op, size)
            rows.append(
                [
                    label,
                    op,
                    c.fmt_time(base),
                    c.fmt_time(fast),
                    c.fmt_ratio(base / fast if base and fast else None),
                    c.fmt_mib(med("baseline", op, size, "peak_growth")),
                    c.fmt_mib(med("dagron", op, size, "peak_growth")),
                ]
            )
        # record + events, per dagron run, against baseline record alone.
        rec = vals("dagron", "record", size, "seconds")
        evs = vals("dagron", "record", size, "seconds", "events")
        both = c.median([a + b for a, b in zip(rec, evs)])
        base_rec = med("baseline", "record", size)
        rows.append(
            [
                label,
                "record + events (dagron) vs record (baseline)",
                c.fmt_time(base_rec),
                c.fmt_time(both),
                c.fmt_ratio(base_rec / both if base_rec and both else None),
                "",
                "",
            ]
        )
        mb = med("baseline", "record", size, "rss_per_event", "record")
        md = med("dagron", "record", size, "rss_per_event", "record")
        rows.append(
            [
                label,
                "memory: RSS growth/event while recording",
                f"{mb:,.1f} B",
                f"{md:,.1f} B",
                c.fmt_ratio(mb / md if md and md > 0 else None) + " less",
                "",
                "",
            ]
        )
    table1 = c.markdown_table(
        [
            "events",
            "operation",
            "baseline median",
            "dagron median",
            "speedup",
            "baseline peak RSS Δ",
            "dagron peak RSS Δ",
        ],
        rows,
    )

    rows = []
    for size in sizes:
        for op in ORJSON_OPS:
            oj, fast = med("orjson", op, size), med("dagron", op, size)
            rows.append(
                [
                    size_label(size),
                    op,
                    c.fmt_time(oj),
                    c.fmt_time(fast),
                    c.fmt_ratio(oj / fast if oj and fast else None),
                    c.fmt_mib(med("orjson", op, size, "peak_growth")),
                    c.fmt_mib(med("dagron", op, size, "peak_growth")),
                ]
            )
    table2 = c.markdown_table(
        [
            "events",
            "export",
            "orjson median (prebuilt dicts)",
            "dagron median",
            "orjson / dagron",
            "orjson peak RSS Δ",
            "dagron peak RSS Δ",
        ],
        rows,
    )

    bars = []
    verdicts: dict[str, str] = {}
    big = 1_000_000
    if big in sizes:
        for op, bar in SPEEDUP_BARS.items():
            ratio = med("baseline", op, big) / med("dagron", op, big)
            ok = ratio >= bar
            bars.append(
                [
                    f"{op} >= {bar:g}x faster than baseline",
                    c.fmt_ratio(ratio),
                    "pass" if ok else "FAIL",
                ]
            )
            verdicts[op] = "pass" if ok else "FAIL"
        floor = c.median(
            [r["harness_floor_s"] for r in runs if r["size"] == big and "harness_floor_s" in r]
        )
        n = c.expected_counts(big)["events"]
        bars.append(
            [
                "(context) the calling loop with a no-op record",
                f"{c.fmt_time(floor)} ({floor / n * 1e9:,.0f} ns/event)",
                "-",
            ]
        )
        rec = vals("dagron", "record", big, "seconds")
        evs = vals("dagron", "record", big, "seconds", "events")
        both = c.median([a + b for a, b in zip(rec, evs)])
        ratio = med("baseline", "record", big) / both
        ok = ratio >= RECORD_EVENTS_BAR
        bars.append(
            [
                "record + events >= 3x faster than baseline record",
                c.fmt_ratio(ratio),
                "pass" if ok else "FAIL",
            ]
        )
        verdicts["record+events"] = "pass" if ok else "FAIL"
        for op in ORJSON_OPS:
            ratio = med("orjson", op, big) / med("dagron", op, big)
            ok = ratio > 1.0
            bars.append(
                [
                    f"{op} faster than orjson",
                    f"{c.fmt_ratio(ratio)} (orjson / dagron)",
                    "pass" if ok else "FAIL",
                ]
            )
            verdicts[op + " vs orjson"] = "pass" if ok else "FAIL"
        md = med("dagron", "record", big, "rss_per_event", "record")
        ok = md <= MEMORY_BAR
        bars.append(["memory <= 40 bytes/event", f"{md:,.1f} B/event", "pass" if ok else "FAIL"])
        verdicts["memory"] = "pass" if ok else "FAIL"
        table3 = c.markdown_table(["bar (at 1M events)", "measured", "pass/fail"], bars)
    else:
        table3 = "Bars are judged at 1M events, which this run did not measure (--quick)."
    return table1, table2, table3, errors, verdicts


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true", help="10k and 100k events, 3 runs")
    g.add_argument("--full", action="store_true", help="also 10M events (slow, ~10 GB RAM)")
    g.add_argument("--sizes", help="comma-separated event counts, e.g. 1000000")
    p.add_argument("--runs", type=int, help="runs per implementation (default 3)")
    p.add_argument(
        "--out",
        default=os.path.join(c.HERE, "results.md"),
        help="markdown report (default benches/results.md)",
    )
    p.add_argument("--json-out", help="write raw results here (JSON)")
    p.add_argument("--worker", choices=["dagron", "baseline", "orjson"], help=argparse.SUPPRESS)
    p.add_argument("--verify", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--op", help=argparse.SUPPRESS)
    p.add_argument("--size", type=int, help=argparse.SUPPRESS)
    p.add_argument("--full-check", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker:
        print(json.dumps(worker(args.worker, args.op, args.size, args.full_check)))
        return 0
    if args.verify:
        print(json.dumps(verify(args.size)))
        return 0

    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    if args.sizes:
        sizes = [int(n) for n in args.sizes.split(",")]
    if args.full:
        sizes.append(10_000_000)
    n_runs = args.runs or 3
    started = time.time()
    load = os.getloadavg()
    runs: list[dict[str, Any]] = []
    checks: dict[int, dict[str, bool]] = {}
    for size in sizes:
        checks[size] = c.run_worker(SCRIPT, ["--verify", "--size", str(size)], timeout=3600)
        for op in operations():
            impls = ["dagron", "baseline"] + (["orjson"] if op in ORJSON_OPS else [])
            for r in range(n_runs):
                k = r % len(impls)
                for impl in impls[k:] + impls[:k]:
                    extra = (
                        ["--full-check"]
                        if impl == "orjson" and (r == 0 or size <= 100_000)
                        else []
                    )
                    res = c.run_worker(
                        SCRIPT,
                        ["--worker", impl, "--op", op, "--size", str(size), *extra],
                        timeout=3600,
                    )
                    res["run"] = r
                    runs.append(res)
            print(
                f"{size_label(size):>4} {op:22s} done ({time.time() - started:5.0f} s)",
                file=sys.stderr,
                flush=True,
            )

    table1, table2, table3, errors, verdicts = report(runs, sizes, checks)
    head = (
        f"# dagron tracing benchmark suite\n\n"
        f"{time.strftime('%Y-%m-%d %H:%M:%S')}; Python {platform.python_version()}; "
        f"{os.cpu_count()} CPUs; load average at start {load[0]:.2f}; "
        f"{n_runs} runs per implementation, alternating, one fresh interpreter per "
        f"measurement; wall time {time.time() - started:.0f} s. "
        f"write_json/write_chrome_trace: {'measured' if HAS_WRITE else 'not available'}.\n"
        f"Sizes are the workload's nominal sizes; traces hold 2 more events "
        f"(EXECUTION_STARTED/COMPLETED). Peak RSS Δ: VmHWM during the operation minus "
        f"RSS just before it.\n"
    )
    check_lines = [
        f"- {size_label(s)}: "
        + ", ".join(f"{k}: {'ok' if v else 'MISMATCH'}" for k, v in res.items())
        for s, res in checks.items()
    ]
    text = "\n\n".join(
        [
            head,
            "## Against the pure-Python baseline\n\n" + table1,
            "## Exports against orjson (OPT_INDENT_2, dicts built outside the timed region)"
            "\n\n" + table2,
            "## Bars\n\n" + table3,
            "## Checks\n\nByte-identical exports (baseline fed dagron's events):\n"
            + "\n".join(check_lines)
            + "\n\nPer-measurement output checks: "
            + (
                "all passed" if not errors else "FAILURES:\n" + "\n".join(f"- {e}" for e in errors)
            ),
        ]
    )
    print(text)
    with open(args.out, "w") as f:
        f.write(text + "\n")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(
                {
                    "sizes": sizes,
                    "runs_per_impl": n_runs,
                    "python": sys.version,
                    "platform": platform.platform(),
                    "cpus": os.cpu_count(),
                    "loadavg_at_start": load,
                    "has_write": HAS_WRITE,
                    "checks": {str(k): v for k, v in checks.items()},
                    "verdicts": verdicts,
                    "errors": errors,
                    "runs": runs,
                },
                f,
                indent=2,
            )
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
