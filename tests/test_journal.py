"""The crash-surviving journal (issue 11, part 3): ``ExecutionTrace(journal=path)``,
``flush``, ``ExecutionTrace.load`` of whole, cut and damaged journals, and SIGKILL."""

from __future__ import annotations

import gc
import os
import random
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
from dagron.errors import TraceFileError, TraceJournalWarning
from dagron.execution.tracing import ExecutionTrace, TraceEventType
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

T = TraceEventType
KINDS = list(TraceEventType)
# The documented loss bound (a 50 ms flush interval plus time to write a batch)...
LOSS_BOUND = 0.1
# ...plus scheduling slack on a shared, loaded machine: the writer thread may wait
# this long for a core.
SCHEDULING_SLACK = 0.25
KILLS = 40 if os.environ.get("DAGRON_STRESS") else 20


def stream_event(i: int) -> dict:
    """Event ``i`` of the deterministic stream (as ``record`` keywords)."""
    event: dict = {"node_name": f"n{i % 7}" if i % 3 else None, "step_index": i}
    if i % 5 == 0:
        event["duration"] = i / 8
    if i % 11 == 0:
        event["error"] = f"E{i % 4}: \u00e9\ud800"
    if i % 13 == 0:
        event["metadata"] = {"i": i, "l": [1.5, None, "x"]}
    if i % 17 == 0:
        event["step_index"] = -(2**70) - i
    return event


def record_stream(trace: ExecutionTrace, start: int, stop: int) -> None:
    for i in range(start, stop):
        trace.record(KINDS[i % 16], **stream_event(i))


def check_prefix(trace: ExecutionTrace) -> int:
    """Assert ``trace`` holds exactly the stream's first events; return how many."""
    last = 0.0
    for i, event in enumerate(trace.events):
        expected = stream_event(i)
        assert event.event_type is KINDS[i % 16], i
        assert event.node_name == expected.get("node_name"), i
        assert event.step_index == expected["step_index"], i
        assert event.duration == expected.get("duration"), i
        assert event.error == expected.get("error"), i
        assert event.metadata == expected.get("metadata", {}), i
        assert event.timestamp >= last
        last = event.timestamp
    return len(trace.events)


def test_a_journal_loads_back_the_trace(tmp_path):
    path = tmp_path / "run.journal"
    trace = ExecutionTrace(journal=path)
    assert trace.journal == str(path)
    assert path.read_bytes() == b""  # nothing until the first event
    record_stream(trace, 0, 5_000)
    trace.flush()
    loaded = ExecutionTrace.load(path)
    assert loaded.to_json() == trace.to_json()
    assert loaded.events == trace.events
    assert loaded.origin == trace.origin
    assert loaded.dropped == 0
    # Loaded traces keep recording, like restored ones.
    loaded.record(T.EXECUTION_COMPLETED)
    assert loaded.events[-1].timestamp >= trace.events[-1].timestamp


def test_events_reach_the_file_without_flush_and_on_release(tmp_path):
    path = tmp_path / "bg.journal"
    trace = ExecutionTrace(journal=str(path))
    record_stream(trace, 0, 1_000)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if path.stat().st_size and check_prefix(ExecutionTrace.load(path)) == 1_000:
            break
        time.sleep(0.02)
    else:
        pytest.fail("the writer did not write within 5 s")
    record_stream(trace, 1_000, 1_500)
    del trace
    gc.collect()
    assert check_prefix(ExecutionTrace.load(path)) == 1_500


def test_journal_arguments(tmp_path):
    with pytest.raises(ValueError, match="cannot combine journal with max_events"):
        ExecutionTrace(max_events=3, journal=tmp_path / "j")
    with pytest.raises(TypeError, match="argument 'journal' must be a path or None, not int"):
        ExecutionTrace(journal=3)
    with pytest.raises(OSError, match="cannot create the journal"):
        ExecutionTrace(journal=tmp_path / "no" / "dir" / "j")
    plain = ExecutionTrace(journal=None)
    assert plain.journal is None
    plain.flush()  # nothing to do


def load_warned(path: Path) -> tuple[ExecutionTrace, list[str]]:
    """Load ``path``; also return the journal warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TraceJournalWarning)
        loaded = ExecutionTrace.load(path)
    assert all(w.category is TraceJournalWarning for w in caught)
    return loaded, [str(w.message) for w in caught]


def small_journal(tmp_path: Path, count: int = 300) -> tuple[bytes, ExecutionTrace]:
    path = tmp_path / "small.journal"
    trace = ExecutionTrace(journal=path)
    # Several flushes: several blocks.
    for start in range(0, count, 50):
        record_stream(trace, start, min(count, start + 50))
        trace.flush()
    return path.read_bytes(), trace


def test_a_cut_journal_loads_up_to_its_last_whole_block(tmp_path):
    data, trace = small_journal(tmp_path)
    cut_path = tmp_path / "cut.journal"
    header_end = None
    counts = []
    # Every cut inside the header, and a few hundred after it (the Rust tests cut at
    # every byte).
    rng = random.Random(3)
    cuts = sorted(set(range(1, 120)) | set(rng.sample(range(120, len(data)), 300)))
    for cut in cuts:
        cut_path.write_bytes(data[:cut])
        try:
            loaded, caught = load_warned(cut_path)
        except TraceFileError as error:
            assert header_end is None, f"cut at {cut}: {error}"
            assert str(error).startswith(f"{cut_path}: journal cut inside its header")
            continue
        header_end = header_end or cut
        count = check_prefix(loaded)
        counts.append(count)
        # No events, no origin (as for any trace).
        assert loaded.origin == (trace.origin if count else None)
        # No warning only when the cut fell exactly at a block's end.
        if caught:
            message = caught[0]
            assert message.startswith(f"{cut_path}: journal cut at offset ")
            assert "dropped" in message
    assert counts == sorted(counts)
    assert set(counts) <= {0, 50, 100, 150, 200, 250}
    assert len(set(counts)) >= 5


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: b"", "empty file, not a trace"),
        (lambda d: b"PK\x03\x04 zip", "not a JSON trace"),
        (
            lambda d: b"DAGRONJ\x00\x09\x00" + d[10:],
            "unsupported journal version 9 (this dagron reads version 1) at offset 8",
        ),
        (lambda d: d[:40] + bytes([d[40] ^ 4]) + d[41:], "damaged header: checksum mismatch"),
        (lambda d: d[:-30] + bytes([d[-30] ^ 1]) + d[-29:], "damaged block: checksum mismatch"),
        (lambda d: d + b"\x00\x01", "no block starts here"),
    ],
)
def test_damaged_and_foreign_files_raise_naming_file_and_offset(tmp_path, mutate, message):
    data, _ = small_journal(tmp_path, 100)
    bad = tmp_path / "bad.journal"
    bad.write_bytes(mutate(data))
    with pytest.raises(TraceFileError) as caught:
        ExecutionTrace.load(bad)
    text = str(caught.value)
    assert text.startswith(f"{bad}: ")
    assert message in text
    assert "offset" in text or "empty" in text


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_fuzz_the_loader_never_crashes_or_hangs(tmp_path, data):
    journal, _ = small_journal(tmp_path, 60)
    strategy = data.draw(st.sampled_from(["flip", "cut", "splice", "random"]))
    if strategy == "flip":
        raw = bytearray(journal)
        for _ in range(data.draw(st.integers(1, 8))):
            at = data.draw(st.integers(0, len(raw) - 1))
            raw[at] ^= data.draw(st.integers(1, 255))
        mutated = bytes(raw)
    elif strategy == "cut":
        mutated = journal[: data.draw(st.integers(0, len(journal)))]
    elif strategy == "splice":
        at = data.draw(st.integers(0, len(journal)))
        mutated = journal[:at] + data.draw(st.binary(max_size=64)) + journal[at:]
    else:
        mutated = b"DAGRONJ\x00" + data.draw(st.binary(max_size=512))
    path = tmp_path / "fuzz.journal"
    path.write_bytes(mutated)
    try:
        loaded, _ = load_warned(path)
    except TraceFileError as error:
        assert str(error).startswith(f"{path}: ")
        return
    # Whatever loads is a trace that works.
    loaded.to_chrome_trace()
    loaded.summary()


# --- SIGKILL at random moments --------------------------------------------------------

CHILD = """
import sys, time
sys.path.insert(0, {tests!r})
from test_journal import record_stream
from dagron.execution.tracing import ExecutionTrace
trace = ExecutionTrace(journal={path!r})
record_stream(trace, 0, 1)
print("ready", flush=True)
i = 1
while True:
    record_stream(trace, i, i + 1000)
    i += 1000
    time.sleep(0.0005)
"""


def test_sigkill_at_random_moments_loses_only_events_within_the_bound(tmp_path):
    if not hasattr(signal, "SIGKILL"):
        pytest.skip("no SIGKILL here")
    rng = random.Random(11)
    losses = []
    for kill in range(KILLS):
        path = tmp_path / f"kill{kill}.journal"
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD.format(tests=str(Path(__file__).parent), path=str(path))],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout is not None
            assert child.stdout.readline() == "ready\n"
            ready_at = time.monotonic_ns()
            time.sleep(rng.uniform(0.0, 0.6))
            killed_at = time.monotonic_ns()
            child.send_signal(signal.SIGKILL)
        finally:
            child.kill()
            child.wait()
            if child.stdout is not None:
                child.stdout.close()
        assert child.returncode == -signal.SIGKILL
        if path.stat().st_size < 64:
            # Killed before the writer's first write: within the bound of the first
            # event (recorded just before "ready").
            lost = (killed_at - ready_at) / 1e9
            losses.append(lost)
            assert lost <= LOSS_BOUND + SCHEDULING_SLACK, (kill, lost)
            continue
        with warnings.catch_warnings():
            # A cut last block warns; a kill between writes leaves none.
            warnings.simplefilter("ignore", TraceJournalWarning)
            loaded = ExecutionTrace.load(path)
        count = check_prefix(loaded)
        if count:
            origin = loaded.origin
            assert origin is not None and origin.pid == child.pid
            # Time between the last journaled event and the kill.
            lost = (killed_at - origin.monotonic_ns) / 1e9 - loaded.events[-1].timestamp
        else:
            lost = (killed_at - ready_at) / 1e9
        losses.append(lost)
        assert lost <= LOSS_BOUND + SCHEDULING_SLACK, (kill, lost, count)
    within = sum(lost <= LOSS_BOUND for lost in losses)
    print(
        f"\nSIGKILL x{KILLS}: {within} within {LOSS_BOUND * 1e3:.0f} ms; loss max "
        f"{max(losses) * 1e3:.1f} ms, median {sorted(losses)[len(losses) // 2] * 1e3:.1f} ms"
    )
