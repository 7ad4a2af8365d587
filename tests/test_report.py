"""The HTML report's document (what it embeds, how it is written) and the
``dagron-trace report`` / ``view`` commands; the page itself is tested in a browser
by test_report_browser.py."""

from __future__ import annotations

import base64
import json
import math
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from array import array
from pathlib import Path
from typing import Any

import pytest
from dagron import report
from dagron.cli import main
from dagron.dag import DAG
from dagron.execution.tracing import ExecutionTrace
from dagron.profiling import profile_execution
from report_traces import OBSERVED, W1, W2, known_dag, known_trace

UI = "https://ui.perfetto.dev"
TYPES = {"f64": "d", "f32": "f", "u32": "I", "u16": "H", "u8": "B"}


def parse(text: str) -> tuple[dict[str, Any], dict[str, array[Any]]]:
    """The report's embedded facts and decoded columns."""
    found = re.search(r'id="dagron-meta">(.*?)</script>', text, re.S)
    assert found is not None
    meta = json.loads(found.group(1))
    lines = re.search(r'<script type="text/plain" id="dagron-names">([^<]*)</script>', text)
    if lines is not None:
        assert "names" not in meta
        meta["names"] = lines.group(1).split("\n")
    columns = {}
    for name, kind in meta["columns"]:
        found = re.search(
            rf'<script type="application/octet-stream" id="dagron-col-{name}">([^<]*)</script>',
            text,
        )
        assert found is not None
        columns[name] = array(TYPES[kind], base64.b64decode(found.group(1)))
    return meta, columns


def same_floats(got: Any, want: Any) -> bool:
    return len(got) == len(want) and all(
        (math.isnan(a) and math.isnan(b)) or a == b for a, b in zip(got, want)
    )


@pytest.fixture
def trace(tmp_path: Path) -> ExecutionTrace:
    return known_trace(tmp_path)


def test_the_document_embeds_the_node_runs_as_columns(
    trace: ExecutionTrace, tmp_path: Path
) -> None:
    out = tmp_path / "run.html"
    trace.write_html(out, title="Nightly </script><b>")
    text = out.read_text(encoding="utf-8")
    meta, columns = parse(text)
    runs = trace.node_runs()
    assert meta["names"] == ["a", "b", "e", "f", "c", "d", "g"] == list(runs.names)
    assert meta["sources"] == ["w1.json:0", "w2.json:0"]
    assert meta["lanes"] == [2, 2]
    assert meta["runs"] == 7
    assert list(columns["node"]) == list(runs.node)
    assert list(columns["source"]) == list(runs.source)
    assert list(columns["lane"]) == list(runs.lane)
    assert same_floats(columns["start"], runs.start)
    assert same_floats(columns["end"], runs.end)
    assert same_floats(columns["duration"], array("f", runs.duration))  # float32
    statuses = meta["statuses"]
    assert [statuses[code] for code in columns["status"]] == list(runs.status)
    assert meta["errors"] == {
        "text": ["ValueError: boom", "TimeoutError: 0.6 s"],
        "run": [1, 3],
        "which": [0, 1],
    }
    assert meta["metadata"] == {"run": [1], "text": ['{"attempt": 2}']}
    assert meta["steps"] == [[0, 0.0, 1.0, "0"], [0, 1.0, 2.5, "1"]]
    assert meta["executions"] == [[0, 0.0, 2.5]]
    assert meta["summary"][0] == ["Total events", "18"]
    assert dict(meta["summary"])["Failed"] == "1"
    assert meta["dropped"] == 0
    assert meta["profile"] is None
    # The title is text, not markup; the script and style are inline.
    assert "<title>Nightly &lt;/script&gt;&lt;b&gt;</title>" in text
    assert meta["title"] == "Nightly </script><b>"
    assert text.count("</script>") == 1 + 1 + 7 + 1  # the data cannot close its element


def test_the_document_asks_for_nothing_outside_itself(
    trace: ExecutionTrace, tmp_path: Path
) -> None:
    text = report.to_html(trace)
    # No reference that a browser would follow: no src/href but the empty icon,
    # no URL at all; a content security policy forbids any fetch.
    assert re.findall(r'\b(?:src|href)="([^"]*)"', text) == ["data:,"]
    assert "http://" not in text and "https://" not in text
    assert "default-src 'none'" in text
    assert text.count("<script") == 1 + 1 + 7 + 1  # facts, names, seven columns, program
    assert text.startswith("<!DOCTYPE html>") and text.endswith("</html>\n")


def test_names_that_html_would_change_travel_as_json(tmp_path: Path) -> None:
    tricky = ["plain", "a</script>b", "<!--<script>", "two\nlines", "cr\r", "nul\x00", ""]
    events = []
    for at, name in enumerate(tricky):
        events.append({"event_type": "node_started", "timestamp": float(at), "node_name": name})
        events.append({"event_type": "node_completed", "timestamp": at + 0.5, "node_name": name})
    (tmp_path / "t.json").write_text(json.dumps(events))
    text = report.to_html(ExecutionTrace.load(tmp_path / "t.json"), title="<!--")
    assert 'id="dagron-names"' not in text
    meta, _ = parse(text)
    assert meta["names"] == tricky
    assert meta["title"] == "<!--"
    # Each "<" in the data is escaped: only the page's own elements open with "<".
    data = re.search(r'id="dagron-meta">(.*?)</script>', text, re.S)
    assert data is not None and "<" not in data.group(1)
    # Plain names travel as lines of text.
    plain = report.to_html(known_trace(tmp_path))
    assert '<script type="text/plain" id="dagron-names">a\nb\ne\nf\nc\nd\ng</script>' in plain


def test_a_bounded_trace_reports_what_it_dropped(tmp_path: Path) -> None:
    from dagron.execution.tracing import TraceEventType

    trace = ExecutionTrace(max_events=4)
    for name in "abcde":
        trace.record(TraceEventType.NODE_STARTED, node_name=name)
        trace.record(TraceEventType.NODE_COMPLETED, node_name=name, duration=0.0)
    meta, _ = parse(report.to_html(trace))
    assert meta["dropped"] == trace.dropped == 6
    assert meta["names"] == ["d", "e"]


def test_an_empty_trace_makes_a_report(tmp_path: Path) -> None:
    out = tmp_path / "empty.html"
    ExecutionTrace().write_html(out)
    meta, columns = parse(out.read_text())
    assert meta["runs"] == 0 and meta["names"] == [] and meta["sources"] == []
    assert all(len(column) == 0 for column in columns.values())


def test_with_a_dag_the_report_carries_the_profile(trace: ExecutionTrace) -> None:
    dag = known_dag()
    meta, _ = parse(report.to_html(trace, dag=dag))
    names = meta["names"]
    profile = meta["profile"]
    # profile_execution over the completed runs: a (1.0), e (1.6), c (1.5).
    results = {
        name: report_node(name, duration)
        for name, duration in (("a", 1.0), ("e", 1.6), ("c", 1.5))
    }
    expected = profile_execution(dag, _Result(results))
    assert [names[i] for i in profile["critical"]] == expected.critical_path == ["a", "c"]
    assert profile["critical_duration"] == expected.critical_path_duration == 2.5
    assert [names[row[0]] for row in profile["bottlenecks"]] == expected.bottlenecks
    slack = {names[row[0]]: row[2] for row in profile["bottlenecks"]}
    assert slack == {n: expected.node_profiles[n].slack for n in expected.bottlenecks}
    assert slack["e"] == pytest.approx(0.9)
    # Observed along the DAG's edges: c ended last, its predecessor a before it.
    assert [names[i] for i in profile["observed"]] == OBSERVED


def report_node(name: str, duration: float) -> Any:
    from dagron.executor import NodeResult, NodeStatus

    return NodeResult(name, NodeStatus.COMPLETED, duration_seconds=duration)


class _Result:
    def __init__(self, node_results: dict[str, Any]) -> None:
        self.node_results = node_results
        self.trace = None


def test_a_dag_without_the_trace_s_nodes_is_refused(trace: ExecutionTrace) -> None:
    dag = DAG()
    dag.add_nodes(["a", "b"])
    with pytest.raises(ValueError, match="the trace names node 'e', which is not a node of dag"):
        report.to_html(trace, dag=dag)
    with pytest.raises(TypeError, match="dag must be a dagron.DAG, not dict"):
        report.to_html(trace, dag={})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="title must be a str or None, not int"):
        trace.write_html("never.html", title=3)  # type: ignore[arg-type]


def test_the_write_replaces_the_file_atomically(
    trace: ExecutionTrace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run.html"
    out.write_text("old")
    os.chmod(out, 0o640)
    trace.write_html(out)
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o640
    assert out.read_text().startswith("<!DOCTYPE html>")
    whole = out.read_bytes()

    from dagron.report import document

    def broken(data: Any) -> Any:
        yield b"<!DOCTYPE html>"
        raise RuntimeError("disk full")

    monkeypatch.setattr(document, "pieces", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        trace.write_html(out)
    assert out.read_bytes() == whole  # the old report, untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.html", "w1.json", "w2.json"]


def test_the_write_names_what_was_wrong(trace: ExecutionTrace, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="path must be a str, bytes or os.PathLike, not int"):
        trace.write_html(3)  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError):
        trace.write_html(tmp_path / "missing" / "run.html")
    # bytes paths too
    trace.write_html(os.fsencode(tmp_path / "b.html"))
    assert (tmp_path / "b.html").read_text().startswith("<!DOCTYPE html>")


def test_notebooks_show_the_compact_report_inline(trace: ExecutionTrace) -> None:
    shown = trace._repr_html_()
    assert shown is not None and shown.startswith('<iframe srcdoc="&lt;!DOCTYPE html&gt;')
    assert shown == report.display(trace)._repr_html_()
    assert "&lt;body class=&quot;compact&quot;&gt;" in shown
    assert "height:560px" in shown
    meta, _ = parse(report.to_html(trace, compact=True))
    assert meta["compact"] is True


def test_the_report_command_merges_its_inputs(tmp_path: Path, capsys: Any) -> None:
    for name, events in (("w1.json", W1), ("w2.json", W2)):
        (tmp_path / name).write_text(json.dumps(events))
    out = tmp_path / "run.html"
    inputs = [str(tmp_path / "w1.json"), str(tmp_path / "w2.json")]
    assert main(["report", *inputs, "-o", str(out)]) == 0
    meta, _ = parse(out.read_text())
    assert meta["sources"] == ["w1.json:0", "w2.json:0"]
    assert meta["title"] == "2 traces merged"
    assert main(["report", str(tmp_path / "w1.json"), "-o", str(out), "--title", "T"]) == 0
    assert parse(out.read_text())[0]["title"] == "T"
    assert capsys.readouterr().err == ""
    missing = tmp_path / "nope.json"
    assert main(["report", str(missing), "-o", str(out)]) == 1
    assert capsys.readouterr().err == (
        f"dagron-trace: error: {missing}: No such file or directory\n"
    )
    assert main(["report", str(tmp_path / "w1.json"), "-o", str(tmp_path / "no" / "x.html")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"dagron-trace: error: {tmp_path / 'no' / 'x.html'}: ")
    assert err.count("\n") == 1


# ---------------------------------------------------------------- dagron-trace view


class View:
    """``dagron-trace view FILE --no-open --port 0`` in a subprocess; ``url`` is the
    address it printed."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dagron", "view", *args, "--no-open"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.process.stdout.readline()))  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout=60)
        if not line:
            self.process.kill()
            pytest.fail("view printed no address within 60 s")
        self.url = line[0].strip()

    def finish(self) -> tuple[int, str]:
        try:
            _, err = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
            pytest.fail("view did not exit after the fetch")
        return self.process.returncode, err


def fetch(url: str, *, method: str = "GET", origin: str = UI) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method, headers={"Origin": origin})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_view_serves_the_perfetto_trace_once_then_exits(
    trace: ExecutionTrace, tmp_path: Path
) -> None:
    path = tmp_path / "w1.json"
    view = View(str(path), "--port", "0")
    match = re.fullmatch(
        r"https://ui\.perfetto\.dev/#!/\?url=http://127\.0\.0\.1:(\d+)/w1\.pftrace", view.url
    )
    assert match, view.url
    served = f"http://127.0.0.1:{match.group(1)}/w1.pftrace"
    # A page from another origin is refused; so is another path; neither ends it.
    assert fetch(served, origin="https://example.invalid")[0] == 403
    assert fetch(served.replace("w1.pftrace", "other"))[0] == 404
    status, headers, _ = fetch(served, method="OPTIONS")
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == UI
    assert headers["Access-Control-Allow-Private-Network"] == "true"
    status, headers, body = fetch(served)
    assert status == 200
    assert body == ExecutionTrace.load(path).to_perfetto()
    assert headers["Access-Control-Allow-Origin"] == UI
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["Content-Length"] == str(len(body))
    assert view.finish() == (0, "")


def test_view_html_writes_the_report_to_a_temporary_file(tmp_path: Path) -> None:
    (tmp_path / "w1.json").write_text(json.dumps(W1))
    view = View(str(tmp_path / "w1.json"), "--html")
    assert view.url.startswith("file:///") and view.url.endswith(".html")
    page = Path(urllib.request.url2pathname(view.url[len("file://") :]))
    try:
        assert view.finish() == (0, "")
        meta, _ = parse(page.read_text())
        assert meta["sources"] == ["w1.json:0"] and meta["title"] == "w1.json"
    finally:
        page.unlink()


def test_view_says_when_the_port_is_taken(tmp_path: Path) -> None:
    (tmp_path / "w1.json").write_text(json.dumps(W1))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "dagron",
                "view",
                str(tmp_path / "w1.json"),
                "--no-open",
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == f"dagron-trace: error: 127.0.0.1:{port}: Address already in use\n"


def test_view_stops_on_ctrl_c(tmp_path: Path) -> None:
    (tmp_path / "w1.json").write_text(json.dumps(W1))
    view = View(str(tmp_path / "w1.json"), "--port", "0")
    view.process.send_signal(signal.SIGINT)
    assert view.finish() == (130, "dagron-trace: interrupted\n")
