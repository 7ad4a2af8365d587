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


# --- Issue 19: the command line as a shell user meets it. ---


def shell(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``command`` through ``sh``, with ``dagron-trace`` as ``python -m dagron``."""
    prog = f"{sys.executable} -m dagron"
    return subprocess.run(
        ["sh", "-c", command.replace("dagron-trace", prog)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("to", ["json", "chrome", "perfetto"])
def test_output_dash_is_stdout(tmp_path, to):
    trace = sample()
    trace.write_json(tmp_path / "in.json")
    done = subprocess.run(
        [sys.executable, "-m", "dagron", "convert", "in.json", "-o", "-", "--to", to],
        capture_output=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert (done.returncode, done.stderr) == (0, b"")
    assert not (tmp_path / "-").exists()
    loaded = ExecutionTrace.load(tmp_path / "in.json")
    if to == "json":
        assert done.stdout.decode() == trace.to_json()
    elif to == "chrome":
        assert done.stdout.decode() == loaded.to_chrome_trace()
    else:
        loaded.write_perfetto(tmp_path / "expected.pftrace")
        assert done.stdout == (tmp_path / "expected.pftrace").read_bytes()


def test_an_output_that_is_an_input_is_refused(tmp_path):
    journal = tmp_path / "x.journal"
    trace = ExecutionTrace(journal=journal)
    trace.record(T.EXECUTION_STARTED)
    trace.flush()
    before = journal.read_bytes()
    (tmp_path / "link.journal").symlink_to(journal)
    os.link(journal, tmp_path / "hard.journal")
    for out in ("x.journal", "./x.journal", "link.journal", "hard.journal"):
        done = shell(f"dagron-trace convert x.journal -o {out}", tmp_path)
        assert done.returncode == 2, out
        assert done.stderr == (
            f"dagron-trace: usage error: the output {out} is the input x.journal: "
            "write to another file (see dagron-trace --help)\n"
        )
        done = shell(f"dagron-trace merge x.journal x.journal -o {out}", tmp_path)
        assert done.returncode == 2
    assert journal.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "hard.journal",
        "link.journal",
        "x.journal",
    ]


def test_an_empty_output_path_is_named(tmp_path):
    sample().write_json(tmp_path / "in.json")
    done = shell("dagron-trace convert in.json -o ''", tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "dagron-trace: usage error: the output path is empty (see dagron-trace --help)\n"
    )


@pytest.mark.skipif(not hasattr(__import__("signal"), "SIGPIPE"), reason="no SIGPIPE")
@pytest.mark.parametrize("command", ["convert big.json -o -", "summary big.json big.json"])
def test_a_broken_pipe_ends_quietly_as_cat_does(tmp_path, command):
    import signal

    trace = ExecutionTrace()
    for i in range(50_000):
        trace.record(T.NODE_STARTED, node_name=f"n{i}")
    trace.write_json(tmp_path / "big.json")
    # The reader takes one line and goes away; the writer has much more to write.
    done = shell(f"dagron-trace {command} | head -n 1; echo status=$?", tmp_path)
    assert done.stderr == ""
    if command.startswith("convert"):
        # sh reports the pipeline's last command; the writer's own status next.
        proc = subprocess.Popen(
            [sys.executable, "-m", "dagron", *command.split()],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=tmp_path,
        )
        with proc:
            assert proc.stdout is not None and proc.stderr is not None
            proc.stdout.read(10)
            proc.stdout.close()
            assert proc.wait(timeout=120) == -signal.SIGPIPE
            assert proc.stderr.read() == b""


def test_summary_to_a_closed_stdout_fails_in_one_line(tmp_path):
    sample().write_json(tmp_path / "in.json")
    done = shell("dagron-trace summary in.json >&-", tmp_path)
    assert done.returncode == 1
    assert done.stderr == "dagron-trace: error: [Errno 9] standard output is closed\n"
    done = shell("dagron-trace convert in.json -o - >&-", tmp_path)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "standard output is closed" in done.stderr


def test_merge_takes_per_file_offsets(tmp_path):
    json_trace = ExecutionTrace()
    json_trace.record(T.EXECUTION_STARTED)
    json_trace.record(T.EXECUTION_COMPLETED, duration=0.0)
    json_trace.write_json(tmp_path / "run.json")
    journaled = ExecutionTrace(journal=tmp_path / "w.journal")
    journaled.record(T.STEP_STARTED, step_index=0)
    journaled.flush()
    # Without an offset the JSON trace starts with the journal's first event.
    done = cli("merge", str(tmp_path / "run.json"), str(tmp_path / "w.journal"),
               "-o", str(tmp_path / "m.json"))  # fmt: skip
    assert (done.returncode, done.stderr) == (0, "")
    merged = ExecutionTrace.load(tmp_path / "m.json")
    assert max(e.timestamp for e in merged.events) < 1.0
    duration = json_trace.events[1].timestamp
    assert merged.summary().endswith(f"  Duration: {duration:.4f}s")
    run_json = str(tmp_path / "run.json")
    done = cli("merge", run_json, str(tmp_path / "w.journal"), "-o", str(tmp_path / "m.json"),
               "--offset", f"{run_json}=2.5")  # fmt: skip
    assert (done.returncode, done.stderr) == (0, "")
    merged = ExecutionTrace.load(tmp_path / "m.json")
    shifted = [e.timestamp for e in merged.events if e.event_type is not T.STEP_STARTED]
    assert shifted == [2.5, 2.5 + json_trace.events[1].timestamp]
    for option, message in [
        ("nope.json=1", "nope.json is not one of the files to merge"),
        (f"{run_json}=nan", "'nan' is not a finite number of seconds"),
        (f"{run_json}=x", "'x' is not a finite number of seconds"),
        ("2", "expected FILE=SECONDS"),
    ]:
        done = cli("merge", run_json, "-o", str(tmp_path / "o.json"), "--offset", option)
        assert done.returncode == 2
        assert done.stderr == (
            f"dagron-trace: usage error: --offset {option}: {message} (see dagron-trace --help)\n"
        )
    done = cli("merge", run_json, "-o", str(tmp_path / "o.json"),
               "--offset", f"{run_json}=1", "--offset", f"{run_json}=2")  # fmt: skip
    assert done.returncode == 2 and "more than one offset" in done.stderr
    assert not (tmp_path / "o.json").exists()


def test_summary_of_deep_json_is_one_line(tmp_path):
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    done = cli("summary", str(tmp_path / "deep.json"))
    assert (done.returncode, done.stdout) == (1, "")
    assert (
        done.stderr
        == f"dagron-trace: error: {tmp_path / 'deep.json'}: event 0: expected an object\n"
    )
    (tmp_path / "big.json").write_text(
        '[{"event_type": "step_started", "timestamp": 0, "step_index": ' + "9" * 5000 + "}]"
    )
    done = cli("summary", str(tmp_path / "big.json"))
    assert done.returncode == 1
    assert done.stderr.startswith(
        f"dagron-trace: error: {tmp_path / 'big.json'}: not a JSON trace: Exceeds the limit"
    )
    assert done.stderr.count("\n") == 1


def wait_for_extension(pid: int, timeout: float = 60) -> bool:
    """Wait until process ``pid`` has mapped dagron's extension (it is importing
    the package, past ``dagron._cli_start``); False if it never did."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/maps") as maps:
                if "_core" in maps.read():
                    return True
        except OSError:
            return False
        time.sleep(0.0005)
    return False


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="needs /proc")
@pytest.mark.parametrize("module", [True, False])
def test_sigint_while_starting_prints_one_line(tmp_path, module):
    import signal

    if not module and not SCRIPT.exists():
        pytest.skip("console script not installed in this environment")
    sample().write_json(tmp_path / "in.json")
    command = [sys.executable, "-m", "dagron"] if module else [str(SCRIPT)]
    proc = subprocess.Popen(
        [*command, "summary", str(tmp_path / "in.json")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert wait_for_extension(proc.pid)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    if proc.returncode == 0:  # it finished first (a very fast machine)
        assert err == "" and out == sample().summary() + "\n"
    else:
        assert (proc.returncode, out, err) == (130, "", "dagron-trace: interrupted\n")


INTERRUPT_AT = """
import os, signal, sys
from dagron.cli import main
from dagron.execution.tracing import ExecutionTrace
write = ExecutionTrace.write_json

def interrupted(self, path):
    if sys.argv[1] == "before":
        os.kill(os.getpid(), signal.SIGINT)
    write(self, path)
    if sys.argv[1] == "after":
        os.kill(os.getpid(), signal.SIGINT)

ExecutionTrace.write_json = interrupted
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("point", ["before", "after"])
def test_the_interrupt_point_decides_the_status(tmp_path, point):
    trace = sample()
    trace.write_json(tmp_path / "in.json")
    done = subprocess.run(
        [sys.executable, "-c", INTERRUPT_AT, point, "convert", "in.json", "-o", "out.json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    if point == "before":
        assert (done.returncode, done.stderr) == (130, "dagron-trace: interrupted\n")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["in.json"]
    else:
        # The output was renamed into place: it is whole, and that is success.
        assert (done.returncode, done.stderr) == (0, "")
        assert (tmp_path / "out.json").read_text() == trace.to_json()
