"""The ``dagron-trace`` command line (``python -m dagron``), run as a user runs it."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from dagron.execution.tracing import ExecutionTrace, TraceEventType, TraceOrigin
from perfetto_model import decode

T = TraceEventType
SCRIPT = Path(sys.executable).parent / "dagron-trace"


def sample(names: tuple[str, ...] = ("extract", "load"), failed: bool = True) -> ExecutionTrace:
    trace = ExecutionTrace()
    trace.record(T.EXECUTION_STARTED)
    for name in names:
        trace.record(T.NODE_STARTED, node_name=name, metadata={"k": [1, 2.5, None]})
        trace.record(T.NODE_COMPLETED, node_name=name, duration=0.25, step_index=0)
    if failed:
        trace.record(T.NODE_FAILED, node_name="x\u00e9\ud800", error="ValueError: boom")
    trace.record(T.EXECUTION_COMPLETED)
    return trace


def cli(*args: str, module: bool = True) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "dagron"] if module else [str(SCRIPT)]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )


@pytest.mark.parametrize("module", [True, False])
def test_summary_prints_each_documented_summary(tmp_path, module):
    if not module and not SCRIPT.exists():
        pytest.skip("console script not installed in this environment")
    first, second = sample(), sample(("a",), failed=False)
    first.write_json(tmp_path / "a.json")
    second.write_json(tmp_path / "b.json.gz")
    done = cli("summary", str(tmp_path / "a.json"), module=module)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == first.summary() + "\n"
    done = cli("summary", str(tmp_path / "a.json"), str(tmp_path / "b.json.gz"), module=module)
    assert done.returncode == 0
    assert done.stdout == (
        f"==> {tmp_path / 'a.json'} <==\n{first.summary()}\n\n"
        f"==> {tmp_path / 'b.json.gz'} <==\n{second.summary()}\n"
    )


def test_load_of_a_json_export_gives_back_the_same_json(tmp_path):
    trace = sample()
    trace.record(T.STEP_STARTED, step_index=2**80, metadata={"n": float("inf"), 1: (1, 2)})
    for name in ("t.json", "t.json.gz"):
        trace.write_json(tmp_path / name)
        loaded = ExecutionTrace.load(tmp_path / name)
        assert loaded.to_json() == trace.to_json()
        assert loaded.to_chrome_trace() == trace.to_chrome_trace()
        assert loaded.origin == TraceOrigin(name, 0, 0, 0)
        assert loaded.dropped == 0


def test_convert_writes_each_format(tmp_path):
    trace = sample()
    trace.write_json(tmp_path / "in.json")
    done = cli("convert", str(tmp_path / "in.json"), "-o", str(tmp_path / "out.json"))
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert (tmp_path / "out.json").read_text() == trace.to_json()
    done = cli(
        "convert", str(tmp_path / "in.json"), "-o", str(tmp_path / "c.json.gz"), "--to", "chrome"
    )
    assert done.returncode == 0, done.stderr
    assert (
        gzip.decompress((tmp_path / "c.json.gz").read_bytes()).decode() == trace.to_chrome_trace()
    )


@pytest.mark.parametrize(
    "out, args",
    [
        ("t.perfetto-trace", []),
        ("t.pftrace", []),
        ("t.pb", []),
        ("t.pftrace.gz", []),
        ("t.bin", ["--to", "perfetto"]),
        ("t.bin.gz", ["--to", "perfetto"]),
    ],
)
def test_convert_to_perfetto(tmp_path, out, args):
    trace = sample()
    trace.write_json(tmp_path / "in.json")
    done = cli("convert", str(tmp_path / "in.json"), "-o", str(tmp_path / out), *args)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    data = (tmp_path / out).read_bytes()
    assert data.startswith(b"\x1f\x8b") == out.endswith(".gz")
    if out.endswith(".gz"):
        data = gzip.decompress(data)
    loaded = ExecutionTrace.load(tmp_path / "in.json")
    assert data == loaded.to_perfetto()
    decoded = decode(data)
    # A JSON file carries no pid: the process shows as pid 1.
    assert decoded.processes == [("dagron", 1)]
    starts = [r.name for r in decoded.records if r.phase == "B"]
    assert starts == ["execution", "extract", "load"]
    # A failure with no start: an instant on the node (lone surrogate as U+FFFD).
    instants = [(r.name, r.args["status"]) for r in decoded.records if r.phase == "I"]
    assert instants == [("x\u00e9\ufffd", "node_failed")]


def test_convert_named_chrome(tmp_path):
    trace = sample()
    trace.write_json(tmp_path / "in.json")
    out = tmp_path / "named.json"
    done = cli("convert", str(tmp_path / "in.json"), "-o", str(out), "--named")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert out.read_text() == ExecutionTrace.load(tmp_path / "in.json").to_chrome_trace(named=True)
    assert out.read_text() == trace.to_chrome_trace(named=True)


def test_merge_to_perfetto_draws_a_process_per_file(tmp_path):
    first, second = sample(("a",)), sample(("b",), failed=False)
    first.write_json(tmp_path / "one.json")
    second.write_json(tmp_path / "two.json.gz")
    out = tmp_path / "merged.perfetto-trace.gz"
    done = cli("merge", str(tmp_path / "one.json"), str(tmp_path / "two.json.gz"), "-o", str(out))
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    decoded = decode(gzip.decompress(out.read_bytes()))
    # Each file is a source (host: its file name, pid 0, unknown, drawn as a free pid).
    assert decoded.processes == [("one.json:0", 1), ("two.json.gz:0", 2)]
    slices = [(r.name, decoded.processes[r.source][0]) for r in decoded.records if r.phase == "B"]
    # Both files start at 0.0 (no clock to align them on but their starts).
    assert slices[:2] == [("execution", "one.json:0"), ("execution", "two.json.gz:0")]
    assert sorted(slices[2:]) == [("a", "one.json:0"), ("b", "two.json.gz:0")]


def test_merge_puts_files_on_one_timeline(tmp_path):
    first, second = sample(("a",)), sample(("b",))
    first.write_json(tmp_path / "one.json")
    second.write_json(tmp_path / "two.json")
    done = cli(
        "merge",
        str(tmp_path / "one.json"),
        str(tmp_path / "two.json"),
        "-o",
        str(tmp_path / "m.json"),
    )
    assert (done.returncode, done.stderr) == (0, "")
    merged = ExecutionTrace.load(tmp_path / "m.json")
    expected = ExecutionTrace.merge(
        [ExecutionTrace.load(tmp_path / "one.json"), ExecutionTrace.load(tmp_path / "two.json")]
    )
    assert merged.to_json() == expected.to_json()
    assert len(merged.events) == len(first.events) + len(second.events)
    records = json.loads((tmp_path / "m.json").read_text())
    assert [r["timestamp"] for r in records] == sorted(r["timestamp"] for r in records)


@pytest.mark.parametrize(
    "setup, args, status, message",
    [
        (None, ["summary", "{d}/missing.json"], 1, "{d}/missing.json: No such file or directory"),
        (b"", ["summary", "{d}/f"], 1, "{d}/f: empty file, not a trace"),
        (
            b"[1, 2",
            ["summary", "{d}/f"],
            1,
            "{d}/f: not a JSON trace: Expecting ',' delimiter at offset 5",
        ),
        (b"\x89PNG\r\n", ["summary", "{d}/f"], 1, "{d}/f: not a trace: invalid UTF-8 at offset 0"),
        (b"\x1f\x8b\x08\x00junk", ["summary", "{d}/f"], 1, "{d}/f: damaged gzip data"),
        (
            b'{"a": 1}',
            ["summary", "{d}/f"],
            1,
            "{d}/f: not a JSON trace: expected a list of events, found dict",
        ),
        (
            b'[{"event_type": "nope", "timestamp": 0.0}]',
            ["summary", "{d}/f"],
            1,
            "{d}/f: event 0: bad event_type 'nope'",
        ),
        (
            b'[{"event_type": "step_started"}]',
            ["summary", "{d}/f"],
            1,
            "{d}/f: event 0: expected keys",
        ),
        (
            b"[]",
            ["convert", "{d}/f", "-o", "{d}/no/such/dir/o.json", "--to", "perfetto"],
            1,
            "{d}/no/such/dir/o.json: ",
        ),
        (
            b"[]",
            ["convert", "{d}/f", "-o", "{d}/no/such/dir/o.pftrace.gz"],
            1,
            "{d}/no/such/dir/o.pftrace.gz: ",
        ),
        (
            b"[]",
            ["convert", "{d}/f", "-o", "{d}/no/such/dir/o.json"],
            1,
            "{d}/no/such/dir/o.json: ",
        ),
        (
            b"[]",
            ["convert", "{d}/f"],
            2,
            "usage error: the following arguments are required: -o/--output",
        ),
        (b"[]", ["frobnicate"], 2, "usage error: argument command: invalid choice: 'frobnicate'"),
        (
            b"[]",
            ["convert", "{d}/f", "-o", "{d}/o", "--to", "json", "--named"],
            2,
            "usage error: --named is a Chrome JSON option",
        ),
    ],
)
def test_errors_are_one_line_and_a_failing_status(tmp_path, setup, args, status, message):
    if setup is not None:
        (tmp_path / "f").write_bytes(setup)
    done = cli(*(arg.format(d=tmp_path) for arg in args))
    assert done.returncode == status
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("dagron-trace: ")
    assert message.format(d=tmp_path) in done.stderr
    assert "Traceback" not in done.stderr


def test_no_progress_bar_when_not_a_terminal(tmp_path):
    big = ExecutionTrace()
    for seq in range(200_000):
        big.record(T.NODE_COMPLETED, node_name=f"n{seq % 50}", step_index=seq)
    big.write_json(tmp_path / "big.json")
    assert os.path.getsize(tmp_path / "big.json") > 20 << 20
    done = cli("summary", str(tmp_path / "big.json"))
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == big.summary() + "\n"
