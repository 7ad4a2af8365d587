"""A pipeline's run as a one-file HTML report.

Runs a small ETL-shaped DAG on 4 worker threads, with tracing on: 12 ``extract``
shards each feed a ``parse`` task, parses feed 3 ``aggregate`` tasks (one of which
fails), those feed ``report`` and ``publish``. The tasks sleep a few milliseconds
(fixed, varied per node), so the run overlaps and has a visible critical path.
Then it writes ``pipeline.html`` into an output folder (the first argument, or
``./out``) with ``trace.write_html(path, dag=dag)``: open it in any browser, no
network needed.

    python examples/report_example.py [OUTPUT_DIR] [--screenshot PNG]

``--screenshot`` also saves a picture of the report (needs Playwright and
Debian's ``chromium``; this is how docs/report.png is made).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

import dagron

SHARDS = 12


def work(seconds: float, fails: bool = False) -> Callable[[], float]:
    def task() -> float:
        time.sleep(seconds)
        if fails:
            raise ValueError("aggregate_2: 3 rows with a negative amount")
        return seconds

    return task


def pipeline() -> tuple[dagron.DAG, dict[str, Callable[[], Any]]]:
    builder = dagron.DAG.builder()
    tasks: dict[str, Callable[[], Any]] = {}
    for shard in range(SHARDS):
        extract, parse = f"extract_{shard:02d}", f"parse_{shard:02d}"
        builder.add_edge(extract, parse)
        builder.add_edge(parse, f"aggregate_{shard % 3}")
        tasks[extract] = work(0.02 + 0.007 * ((shard * 5) % 7))
        tasks[parse] = work(0.03 + 0.011 * ((shard * 3) % 5))
    for group in range(3):
        builder.add_edge(f"aggregate_{group}", "report")
        builder.add_edge(f"aggregate_{group}", "publish")
        tasks[f"aggregate_{group}"] = work(0.05 + 0.03 * group, fails=group == 2)
    tasks["report"] = work(0.04)
    tasks["publish"] = work(0.03)
    return builder.build(), tasks


def screenshot(page: Path, png: Path) -> None:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True)
        view = browser.new_page(viewport={"width": 1280, "height": 1060}, device_scale_factor=1)
        view.goto(page.as_uri())
        view.wait_for_function("window.dagronReport && window.dagronReport.ready")
        # Hover the failed aggregate, so the picture shows a card.
        box = view.evaluate(
            "dagronReport.box(dagronReport.runsOf(dagronReport.nodeId('aggregate_2'))[0])"
        )
        chart = view.locator("#gantt").bounding_box()
        assert box is not None and chart is not None
        view.mouse.move(chart["x"] + box["x"] + box["w"] / 2, chart["y"] + box["y"] + 4)
        view.wait_for_selector("#card:not([hidden])")
        view.screenshot(path=str(png))
        browser.close()


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Run a pipeline and write its HTML report.")
    parser.add_argument("out", nargs="?", default="out")
    parser.add_argument("--screenshot", metavar="PNG")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    dag, tasks = pipeline()
    executor = dagron.DAGExecutor(dag, max_workers=4, trace=True, fail_fast=False)
    trace = executor.execute(tasks).trace
    page = out / "pipeline.html"
    trace.write_html(page, dag=dag, title="Nightly pipeline")
    print(f"HTML report: {page}")
    if args.screenshot:
        screenshot(page, Path(args.screenshot))
        print(f"screenshot: {args.screenshot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
