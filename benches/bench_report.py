"""Issue 21's bars for the HTML report (a benchmark, never a test).

For each size (node runs kept 8 wide, one node name per run, one run in 100
failing with an error), in one process:

- writing: ``write_html`` against ``write_perfetto`` on the same trace (median of
  ``--runs`` rounds, the two alternating), and the peak RSS each adds;
- the file: its size;
- in headless Chromium (Debian's ``chromium``, driven by Playwright), in the page's
  own clock (``performance.now()``, from navigation start: reading the file,
  decoding, drawing): the first paint (the frame after the one that holds the
  chart's first drawing), the time the page is complete (tables and critical path
  too), and a zoom step's redraw (median of 10 wheel-sized steps, in and out, each
  drawn synchronously), checked by reading the view back.

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
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from dagron.execution.tracing import ExecutionTrace  # noqa: E402
from workload import peak_rss_bytes, reset_peak_rss, rss_bytes  # noqa: E402

WORKERS = 8
# Resolves once dagronReport[key] is set (polled in the page: its content security
# policy forbids the string evaluation Playwright's own polling uses).
WAIT = """key => new Promise(done => {
  const poll = () =>
    window.dagronReport && dagronReport[key] !== null ? done() : setTimeout(poll, 10);
  poll();
})"""
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


def timed_writes(writers: list[tuple[Any, Path]], runs: int) -> list[tuple[float, int]]:
    """Per writer: median seconds over ``runs`` rounds (the writers alternate within
    each round, so load on the machine falls on all alike), and the largest
    peak-RSS rise."""
    times: list[list[float]] = [[] for _ in writers]
    rises: list[list[int]] = [[] for _ in writers]
    for _ in range(runs):
        for k, (write, path) in enumerate(writers):
            reset_peak_rss()
            before = rss_bytes()
            start = time.perf_counter()
            write(path)
            times[k].append(time.perf_counter() - start)
            rises[k].append(peak_rss_bytes() - before)
    return [(statistics.median(t), max(r)) for t, r in zip(times, rises)]


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
        page.goto(path.as_uri(), wait_until="commit", timeout=120_000)
        page.evaluate(WAIT, "firstPaintMs")
        page.evaluate(WAIT, "readyMs")
        first_paint = page.evaluate("dagronReport.firstPaintMs")
        complete = page.evaluate("dagronReport.readyMs")
        x = page.evaluate("dagronReport.gutter") + 600
        steps = []
        spans = []
        for factor in [0.8] * 6 + [1.25] * 4:
            steps.append(page.evaluate("([x, f]) => dagronReport.zoom(x, f)", [x, factor]))
            view = page.evaluate("dagronReport.view()")
            spans.append(view["t1"] - view["t0"])
        # Six steps in narrow the view, four out widen it again.
        assert spans[5] < spans[0] and spans[9] > spans[5], spans
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
    parser.add_argument("--runs", type=int, default=5, help="write rounds per figure (median)")
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
            runs = trace.node_runs()
            assert len(runs) == size and list(runs.status).count("failed") == size // 100
            del runs
            html = tmp / f"report-{size}.html"
            (html_s, html_rss), (perfetto_s, perfetto_rss) = timed_writes(
                [(trace.write_html, html), (trace.write_perfetto, tmp / "t.pftrace")], args.runs
            )
            (tmp / "t.pftrace").unlink()
            size_bytes = os.path.getsize(html)
            page = browser_figures(html, args.chromium)
            html.unlink()
            rows.append((size, html_s, perfetto_s, html_rss, perfetto_rss, size_bytes, page))
            del trace
    print(
        f"{'runs':>9} {'write_html':>10} {'write_perfetto':>14} {'ratio':>5} "
        f"{'RSS+ html':>9} {'RSS+ pf':>8} {'file MB':>7} {'1st paint':>9} {'complete':>8} "
        f"{'zoom med':>8} {'zoom max':>8}"
    )
    ok = True
    for size, html_s, pf_s, html_rss, pf_rss, size_bytes, page in rows:
        print(
            f"{size:>9,} {html_s:>9.3f}s {pf_s:>13.3f}s {html_s / pf_s:>5.2f} "
            f"{html_rss / 2**20:>8.0f}M {pf_rss / 2**20:>7.0f}M {size_bytes / 1e6:>7.1f} "
            f"{page['first_paint_ms']:>7.0f}ms {page['complete_ms']:>6.0f}ms "
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
                (html_s <= pf_s, "write_html <= write_perfetto (median)"),
            ]
            if zoom_ms is not None:
                checks.append((page["zoom_ms"] < zoom_ms, f"zoom step < {zoom_ms:.0f} ms"))
            for passed, what in checks:
                print(f"  {'PASS' if passed else 'MISS'}  {what}")
                ok = ok and passed
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
