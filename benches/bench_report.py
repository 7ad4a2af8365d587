"""Issue 21's bars for the HTML report (a benchmark, never a test).

For each size (node runs kept 8 wide, one node name per run, one run in 100
failing with an error), in one process:

- writing: ``write_html`` against ``write_perfetto`` on the same trace (median of
  ``--runs``), the time ``node_runs()`` takes of it, and the peak RSS each adds;
- the file: its size;
- in headless Chromium (Debian's ``chromium``, driven by Playwright): the first paint
  (``performance.now()`` when the chart's first frame is drawn: from navigation
  start, so reading, decoding and drawing), the time until the page is complete
  (tables and critical path), and a zoom step's redraw (median of 10 wheel-sized
  steps, in and out, each drawn synchronously), checked by reading the view back.

    python3 benches/bench_report.py                   # 100,000 and 1,000,000 runs
    python3 benches/bench_report.py --sizes 100000 --runs 3

Bars: 100k runs: file <= 10 MB, first paint < 2 s; 1M runs: file <= 60 MB, first
paint < 10 s, a zoom step < 200 ms; writing no slower than write_perfetto.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from dagron.execution.tracing import ExecutionTrace  # noqa: E402
from workload import peak_rss_bytes, reset_peak_rss, rss_bytes  # noqa: E402

WORKERS = 8
BARS = {100_000: (10e6, 2000.0, None), 1_000_000: (60e6, 10_000.0, 200.0)}


def busy_json(path: Path, runs: int, workers: int = WORKERS, seed: int = 0) -> None:
    """A ``write_json`` file of ``runs`` node runs kept ``workers`` wide (written as
    text directly: a million runs in seconds)."""
    rng = random.Random(seed)
    free = [0.0] * workers
    timed = []
    for i in range(runs):
        worker = min(range(workers), key=free.__getitem__)
        began = free[worker] + rng.random() * 2e-4
        took = 1e-4 + rng.random() * 1e-3
        free[worker] = began + took
        name = f"task-{i}"
        timed.append(
            (
                began,
                1,
                f'{{"event_type":"node_started","timestamp":{began!r},"node_name":"{name}"}}',
            )
        )
        if i % 100 == 99:
            end = (
                f'{{"event_type":"node_failed","timestamp":{began + took!r},'
                f'"node_name":"{name}","duration":{took!r},"error":"RuntimeError: run {i}"}}'
            )
        else:
            end = (
                f'{{"event_type":"node_completed","timestamp":{began + took!r},'
                f'"node_name":"{name}","duration":{took!r}}}'
            )
        timed.append((began + took, 0, end))
    timed.sort(key=lambda item: (item[0], item[1]))
    with open(path, "w") as out:
        out.write('[{"event_type":"execution_started","timestamp":0.0}')
        for _, _, text in timed:
            out.write(",\n")
            out.write(text)
        out.write("]\n")


class _Cached:
    """``trace`` with its ``node_runs()`` already made (to time the rest)."""

    def __init__(self, trace: ExecutionTrace, runs: Any) -> None:
        self._trace, self._runs = trace, runs

    def node_runs(self) -> Any:
        return self._runs

    def __getattr__(self, name: str) -> Any:
        return getattr(self._trace, name)


def timed_write(write: Any, path: Path, runs: int) -> tuple[float, int]:
    """Median seconds over ``runs`` calls, and the largest peak-RSS rise."""
    times, rises = [], []
    for _ in range(runs):
        reset_peak_rss()
        before = rss_bytes()
        start = time.perf_counter()
        write(path)
        times.append(time.perf_counter() - start)
        rises.append(peak_rss_bytes() - before)
    return statistics.median(times), max(rises)


def browser_figures(path: Path, chromium: str) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        start = time.perf_counter()
        page.goto(path.as_uri(), wait_until="load", timeout=120_000)
        page.wait_for_function(
            "window.dagronReport && window.dagronReport.firstPaintMs !== null", timeout=120_000
        )
        first_paint = page.evaluate("dagronReport.firstPaintMs")
        page.wait_for_function("window.dagronReport.ready", timeout=120_000)
        complete = (time.perf_counter() - start) * 1000
        x = page.evaluate("dagronReport.gutter") + 600
        steps = []
        spans = []
        for factor in [0.8] * 6 + [1.25] * 4:
            steps.append(page.evaluate("([x, f]) => dagronReport.zoom(x, f)", [x, factor]))
            view = page.evaluate("dagronReport.view()")
            spans.append(view["t1"] - view["t0"])
        assert spans[5] < spans[0] < spans[-1] * 1.0001 or spans[5] < spans[0], spans
        browser.close()
    return {
        "first_paint_ms": first_paint,
        "complete_ms": complete,
        "zoom_ms": statistics.median(steps),
        "zoom_max_ms": max(steps),
        "errors": errors,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=3, help="writes per figure (median)")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        for size in args.sizes:
            source = tmp / f"busy-{size}.json"
            busy_json(source, size)
            trace = ExecutionTrace.load(source)
            source.unlink()
            start = time.perf_counter()
            runs = trace.node_runs()
            node_runs_s = time.perf_counter() - start
            assert len(runs) == size and list(runs.status).count("failed") == size // 100
            html = tmp / f"report-{size}.html"
            html_s, html_rss = timed_write(trace.write_html, html, args.runs)
            # The report's own part: the same write with node_runs() already made.
            from dagron import report

            cached = _Cached(trace, runs)
            own_s, _ = timed_write(partial(report.write_html, cached), html, args.runs)
            del runs, cached
            perfetto_s, perfetto_rss = timed_write(
                trace.write_perfetto, tmp / "t.pftrace", args.runs
            )
            (tmp / "t.pftrace").unlink()
            size_bytes = os.path.getsize(html)
            page = browser_figures(html, args.chromium)
            html.unlink()
            rows.append(
                (
                    size,
                    html_s,
                    own_s,
                    node_runs_s,
                    perfetto_s,
                    html_rss,
                    perfetto_rss,
                    size_bytes,
                    page,
                )
            )
            del trace
    print(
        f"{'runs':>9} {'write_html':>10} {'(own part)':>10} {'node_runs':>9} "
        f"{'write_perfetto':>14} "
        f"{'RSS+ html':>9} {'RSS+ pf':>8} {'file MB':>8} {'1st paint':>9} {'complete':>9} "
        f"{'zoom med':>8} {'zoom max':>8}"
    )
    ok = True
    for size, html_s, own_s, nr_s, pf_s, html_rss, pf_rss, size_bytes, page in rows:
        print(
            f"{size:>9,} {html_s:>9.2f}s {own_s:>9.2f}s {nr_s:>8.2f}s {pf_s:>13.2f}s "
            f"{html_rss / 2**20:>8.0f}M {pf_rss / 2**20:>7.0f}M {size_bytes / 1e6:>8.1f} "
            f"{page['first_paint_ms']:>7.0f}ms {page['complete_ms']:>7.0f}ms "
            f"{page['zoom_ms']:>6.1f}ms {page['zoom_max_ms']:>6.1f}ms"
        )
        if page["errors"]:
            print("  page errors:", page["errors"])
            ok = False
        bars = BARS.get(size)
        if bars:
            most_bytes, paint_ms, zoom_ms = bars
            checks = [
                (size_bytes <= most_bytes, f"file <= {most_bytes / 1e6:.0f} MB"),
                (page["first_paint_ms"] < paint_ms, f"first paint < {paint_ms / 1000:.0f} s"),
                (html_s <= pf_s, "write_html <= write_perfetto"),
                (own_s <= pf_s, "write_html less node_runs() <= write_perfetto"),
            ]
            if zoom_ms is not None:
                checks.append((page["zoom_ms"] < zoom_ms, f"zoom step < {zoom_ms:.0f} ms"))
            for passed, what in checks:
                print(f"  {'PASS' if passed else 'MISS'}  {what}")
                ok = ok and passed
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
