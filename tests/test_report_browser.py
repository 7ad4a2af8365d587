"""The HTML report in a real browser: headless Chromium (Debian's ``chromium``)
driven by Playwright. The page must load from ``file://`` with no console error and
no request but its own, draw the runs where they ran, show a run's card on hover,
zoom with the wheel, pan by dragging, mark the critical path and list the trace's
slowest nodes, path and failures in its tables; clicking a row selects a node and
brings its runs into view. Skipped only where Chromium or Playwright is missing."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dagron import report
from dagron.execution.tracing import ExecutionTrace
from report_traces import OBSERVED, busy_trace, known_dag, known_trace

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip(
        "Chromium is not installed (apt-get install -y chromium; .ci/run installs it)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install 'dagron-trace[test]')"
)

FAILED_RGB = (0xE0, 0x31, 0x31)  # report.js's colour for a failed run
PATH_RGB = (0x11, 0x18, 0x27)  # the observed critical path's outline
WAIT_MS = 30_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        try:
            yield launched
        finally:
            launched.close()


class Page:
    """A report opened from a file, with everything it logged and requested."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.page = browser.new_page(viewport={"width": 1200, "height": 900})
        self.page.set_default_timeout(WAIT_MS)
        self.console: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.url = path.as_uri()
        self.page.goto(self.url, wait_until="load")
        self.page.wait_for_function("window.dagronReport && window.dagronReport.ready")

    def js(self, script: str, arg: Any = None) -> Any:
        return self.page.evaluate(script, arg)

    def run(self, name: str) -> int:
        (index,) = self.js("n => dagronReport.runsOf(dagronReport.nodeId(n))", name)
        return int(index)

    def box(self, name: str) -> dict[str, float]:
        """The run's box in page coordinates."""
        box = self.js("i => dagronReport.box(i)", self.run(name))
        assert box is not None, f"{name} is out of view"
        origin = self.page.locator("#gantt").bounding_box()
        box["x"] += origin["x"]
        box["y"] += origin["y"]
        return box

    def pixel(self, x: float, y: float) -> tuple[int, int, int]:
        """The chart canvas's colour at page point (x, y)."""
        return tuple(
            self.js(
                """([x, y]) => {
                  const c = document.getElementById('gantt'), r = c.getBoundingClientRect();
                  const k = c.width / r.width;
                  const d = c.getContext('2d').getImageData(Math.floor((x - r.left) * k),
                    Math.floor((y - r.top) * k), 1, 1).data;
                  return [d[0], d[1], d[2]];
                }""",
                [x, y],
            )
        )

    def rows(self, table: str) -> list[list[str]]:
        return self.js(
            "id => Array.from(document.querySelectorAll('#' + id + ' tbody tr'))"
            ".map(tr => Array.from(tr.cells).map(td => td.textContent))",
            table,
        )

    def close(self) -> None:
        self.page.close()


@pytest.fixture
def page(browser: Any, tmp_path: Path) -> Iterator[Page]:
    path = tmp_path / "run.html"
    known_trace(tmp_path).write_html(path, title="known run")
    opened = Page(browser, path)
    yield opened
    opened.close()


def test_the_page_loads_offline_without_errors(page: Page) -> None:
    assert page.console == []
    assert page.requests == [page.url]  # the file itself, nothing else
    assert page.js("document.title") == "known run"
    stats = page.js(
        "Array.from(document.querySelectorAll('.stat')).map(e => [e.children[0].textContent,"
        " e.children[1].textContent])"
    )
    assert dict(stats) == {
        "Total events": "18",
        "Unique nodes": "7",
        "Completed": "3",
        "Failed": "1",
        "Skipped": "1",
        "Timed out": "1",
        "Cancelled": "0",
        "Duration": "2.5000s",
        "Makespan": "2.500 s",
        # busy 1.0 + 0.5 + 1.5 + 1.6 + 0.6 + 0.5 (g: open, to the end) over 2.5 s x 4 lanes
        "Parallelism efficiency": "57.0 %",
        "Workers (lanes)": "4",
        "Sources": "2",
    }


def test_the_failed_run_is_drawn_in_the_failed_colour(page: Page) -> None:
    box = page.box("b")
    middle = page.pixel(box["x"] + box["w"] / 2, box["y"] + box["h"] / 2)
    assert middle == FAILED_RGB
    # Beside it, before b started, lane 1 is empty: no failed colour there.
    assert page.pixel(box["x"] - 20, box["y"] + box["h"] / 2) != FAILED_RGB


def test_the_running_count_follows_the_runs(page: Page) -> None:
    # At 0.35 s a, b, e and f run (all four lanes); at 2.2 s c and g; at 1.9 s only
    # c (e ended at 1.8, g starts at 2.0). A pixel column is a few ms wide here.
    assert page.js("dagronReport.runningAt(0.35)") == pytest.approx(4)
    assert page.js("dagronReport.runningAt(2.2)") == pytest.approx(2)
    assert page.js("dagronReport.runningAt(1.9)") == pytest.approx(1)


def test_hovering_a_run_shows_its_card(page: Page) -> None:
    box = page.box("b")
    page.page.mouse.move(box["x"] + box["w"] / 2, box["y"] + box["h"] / 2)
    card = page.page.locator("#card")
    card.wait_for(state="visible")
    text = card.inner_text()
    for expected in (
        "b",
        "failed",
        "100.000 ms",
        "600.000 ms",
        "500.000 ms",
        "w1.json:0",
        "ValueError: boom",
        '{"attempt": 2}',
    ):
        assert expected in text, (expected, text)
    box = page.box("g")
    page.page.mouse.move(box["x"] + 5, box["y"] + box["h"] / 2)
    page.page.wait_for_function("document.querySelector('#card .name').textContent === 'g'")
    assert "open (no end)" in card.inner_text()
    page.page.mouse.move(5, 5)
    card.wait_for(state="hidden")


def test_the_wheel_zooms_and_dragging_pans(page: Page) -> None:
    before = page.js("dagronReport.view()")
    box = page.box("c")
    page.page.mouse.move(box["x"] + box["w"] / 2, box["y"] + box["h"] / 2)
    page.page.mouse.wheel(0, -600)
    page.page.wait_for_function(
        "w => { const v = dagronReport.view(); return v.t1 - v.t0 < w / 2; }",
        arg=before["t1"] - before["t0"],
    )
    zoomed = page.js("dagronReport.view()")
    middle = 1.0 + 1.5 / 2  # c's middle stays under the pointer
    assert zoomed["t0"] > before["t0"] and zoomed["t1"] < before["t1"]
    assert zoomed["t0"] < middle < zoomed["t1"]
    # Drag right by 200 px: the view moves earlier by 200 px worth of time.
    x, y = box["x"] + box["w"] / 2, box["y"] + box["h"] / 2
    page.page.mouse.down()
    page.page.mouse.move(x + 100, y, steps=4)
    page.page.mouse.move(x + 200, y, steps=4)
    page.page.mouse.up()
    panned = page.js("dagronReport.view()")
    plot = page.page.locator("#gantt").bounding_box()["width"] - page.js("dagronReport.gutter")
    shift = zoomed["t0"] - panned["t0"]
    assert shift > 0
    assert panned["t1"] - panned["t0"] == pytest.approx(zoomed["t1"] - zoomed["t0"])
    assert shift == pytest.approx(200 / plot * (zoomed["t1"] - zoomed["t0"]), rel=0.15)


def test_the_critical_path_is_marked(page: Page) -> None:
    observed = page.js("dagronReport.critical().observed")
    names = page.js("ids => ids.map(i => dagronReport.names[dagronReport.nodeOf(i)])", observed)
    assert names == OBSERVED
    # Outlined: the pixel just left of c's box (inside the plot) is the path's ink.
    box = page.box("c")
    assert page.pixel(box["x"] - 1, box["y"] + box["h"] / 2) == PATH_RGB
    box = page.box("e")  # not on the path: no outline
    assert page.pixel(box["x"] - 1, box["y"] + box["h"] / 2) != PATH_RGB
    rows = page.rows("table-critical-path-observed-")
    assert [row[0] for row in rows] == OBSERVED


def test_the_tables_list_what_the_trace_holds(page: Page) -> None:
    assert page.rows("table-slowest-nodes") == [
        ["e", "1", "1.600 s", "1.600 s"],
        ["c", "1", "1.500 s", "1.500 s"],
        ["a", "1", "1.000 s", "1.000 s"],
        ["f", "1", "600.000 ms", "600.000 ms"],
        ["b", "1", "500.000 ms", "500.000 ms"],
        ["d", "1", "0 s", "0 s"],
    ]
    assert page.rows("table-failures") == [
        ["b", "failed", "100.000 ms", "ValueError: boom"],
        ["f", "timed out", "300.000 ms", "TimeoutError: 0.6 s"],
    ]


def test_clicking_a_row_selects_and_centres_the_node(page: Page) -> None:
    # Zoomed in on the end of the run, where f (0.3 .. 0.9) is out of view.
    page.js("dagronReport.zoom(dagronReport.gutter + 1000, 0.1)")
    assert page.js("dagronReport.view()")["t0"] > 0.9
    page.page.locator("#table-failures tbody tr", has_text="TimeoutError").click()
    page.page.wait_for_function("document.querySelector('#table-failures tr.selected') !== null")
    view = page.js("dagronReport.view()")
    # Four times f's length, centred on it, but kept within the trace's 2.5 s and a
    # margin of 5 % before it: [-0.125, 2.275].
    assert view["t1"] - view["t0"] == pytest.approx(4 * 0.6)
    assert view["t0"] == pytest.approx(-0.125)
    box = page.box("f")
    assert page.pixel(box["x"] - 2, box["y"] + box["h"] / 2) == (0xE6, 0x49, 0x80)  # selected


def test_a_report_with_a_dag_shows_the_structural_path_and_bottlenecks(
    browser: Any, tmp_path: Path
) -> None:
    path = tmp_path / "dag.html"
    report.write_html(known_trace(tmp_path), path, dag=known_dag())
    opened = Page(browser, path)
    try:
        assert opened.console == []
        structural = opened.js("dagronReport.critical().structural")
        assert opened.js(
            "ids => ids.map(i => dagronReport.names[dagronReport.nodeOf(i)])", structural
        ) == ["a", "c"]
        assert opened.rows("table-bottlenecks") == [
            ["a", "1.000 s", "0 s", "1", "\u2714 critical"],
            ["e", "1.600 s", "900.000 ms", "0", ""],
            ["c", "1.500 s", "0 s", "0", "\u2714 critical"],
        ]
        legend = opened.js("document.querySelector('.legend').textContent")
        assert "critical path (DAG)" in legend
    finally:
        opened.close()


def test_the_notebook_view_runs_inline(browser: Any, tmp_path: Path) -> None:
    shown = report.display(known_trace(tmp_path))._repr_html_()
    page = browser.new_page()
    try:
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.set_content(f"<html><body>{shown}</body></html>")
        frame = page.frame_locator("iframe")
        frame.locator("#gantt").wait_for()
        inner = page.frames[1]
        inner.wait_for_function("window.dagronReport && window.dagronReport.ready")
        assert inner.evaluate("document.body.className") == "compact"
        assert inner.evaluate("document.querySelectorAll('.tables').length") == 0
        assert errors == []
    finally:
        page.close()


def test_names_that_html_would_change_show_as_they_are(browser: Any, tmp_path: Path) -> None:
    tricky = ["a</script>b", "<!--<script>", "two\nlines", "caf\u00e9 \u2603"]
    events = []
    for at, name in enumerate(tricky):
        events.append({"event_type": "node_started", "timestamp": float(at), "node_name": name})
        events.append(
            {"event_type": "node_completed", "timestamp": at + 1 - at / 10, "node_name": name}
        )
    (tmp_path / "t.json").write_text(json.dumps(events))
    path = tmp_path / "tricky.html"
    ExecutionTrace.load(tmp_path / "t.json").write_html(path)
    opened = Page(browser, path)
    try:
        assert opened.console == []
        assert opened.js("dagronReport.names") == tricky
        # Slowest first: each run is 0.1 s shorter than the one before.
        assert [row[0] for row in opened.rows("table-slowest-nodes")] == tricky
    finally:
        opened.close()


def test_a_failure_among_many_sub_pixel_runs_stays_visible(browser: Any, tmp_path: Path) -> None:
    # 20,000 runs on 2 workers: at the full view each is a small fraction of a pixel,
    # so neighbours merge; the merged rectangle takes the failed colour.
    path = tmp_path / "busy.html"
    busy_trace(tmp_path, 20_000, 2, fail_every=10_000).write_html(path)
    opened = Page(browser, path)
    try:
        assert opened.console == []
        failed = opened.js("dagronReport.runsOf(dagronReport.nodeId('task-4999'))")
        # task-4999 ran 4 times (runs 4999, 9999, 14999, 19999); 9999 and 19999 failed.
        assert failed[1] == 9999
        run = opened.js("dagronReport.run(9999)")
        view = opened.js("dagronReport.view()")
        origin = opened.page.locator("#gantt").bounding_box()
        plot = origin["width"] - opened.js("dagronReport.gutter")
        assert run["status"] == "failed"
        assert (run["end"] - run["start"]) / (view["t1"] - view["t0"]) * plot < 0.5
        box = opened.js("i => dagronReport.box(i)", 9999)
        x, y = origin["x"] + box["x"] + 0.5, origin["y"] + box["y"] + box["h"] / 2
        assert opened.pixel(x, y) == FAILED_RGB
        assert opened.rows("table-failures")[0][:2] == ["task-4999", "failed"]
    finally:
        opened.close()
