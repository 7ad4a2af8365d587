"""Scale: large traces stay correct, exports stream, and recording adds no GC load.

The workload (``tests/workload.py``, which the benchmarks share): a Python loop calling
``record`` the way an executor would, over 1,000 node names, one node in 100 failing
with an error string and a metadata dict.

Sizes are chosen to run in well under a minute on two cores. ``DAGRON_SCALE=1`` (or
``DAGRON_STRESS=1``) makes the streaming-memory test record 20M events instead of 5M.
"""

from __future__ import annotations

import gc
import gzip
import io
import os
import subprocess
import sys
import time

import pytest
import workload
from dagron.execution.tracing import ExecutionTrace, TraceEvent

FULL = os.environ.get("DAGRON_SCALE") == "1" or os.environ.get("DAGRON_STRESS") == "1"
STREAM_EVENTS = 20_000_000 if FULL else 5_000_000
MIB = 2**20
# Streaming needs a few buffers of a fixed size; the strings would be ~100 bytes/event.
PEAK_BUDGET = 64 * MIB

linux_only = pytest.mark.skipif(
    not os.path.exists("/proc/self/status"), reason="reads memory figures from /proc"
)


@pytest.fixture(scope="module")
def trace_200k():
    trace = ExecutionTrace()
    workload.record_workload(trace, 200_000)
    return trace


# --- correctness at 200k events ---------------------------------------------------------


def test_events_match_the_workload(trace_200k):
    events = trace_200k.events
    assert len(events) == workload.expected_counts(200_000)["events"]
    assert all(type(e) is TraceEvent for e in events)
    assert [workload.event_fields(e) for e in events] == list(workload.expected_fields(200_000))
    stamps = [e.timestamp for e in events]
    assert stamps[0] == 0.0
    assert stamps == sorted(stamps)


def test_events_for_node_equals_a_filter(trace_200k):
    events = trace_200k.events
    by_node: dict = {}
    for event in events:
        by_node.setdefault(event.node_name, []).append(event)
    assert len(by_node) == workload.N_NODES + 1  # 1,000 names and None
    for name in workload.NAMES:
        got = trace_200k.events_for_node(name)
        want = by_node[name]
        assert got == want, name
        # Metadata is the very dict that was recorded.
        assert all(a.metadata is b.metadata for a, b in zip(got, want) if b.metadata)
    assert (
        len(trace_200k.events_for_node(workload.QUERY_NODE))
        == (workload.expected_counts(200_000)["query"])
    )
    for missing in ("node_1000", "", "node_0000 ", "NODE_0000"):
        assert trace_200k.events_for_node(missing) == []


def test_gzip_exports_equal_the_strings(trace_200k, tmp_path):
    for to_text, write in (("to_json", "write_json"), ("to_chrome_trace", "write_chrome_trace")):
        want = getattr(trace_200k, to_text)().encode("ascii")
        target = tmp_path / f"{write}.json.gz"
        getattr(trace_200k, write)(target)
        assert gzip.decompress(target.read_bytes()) == want
        buffer = io.BytesIO()
        getattr(trace_200k, write)(buffer)
        assert buffer.getvalue() == want


# --- no GC load --------------------------------------------------------------------------


def test_recording_adds_no_gc_tracked_objects():
    trace = ExecutionTrace()
    gc.collect()
    before = len(gc.get_objects())
    workload.record_workload(trace, 200_000)
    gc.collect()
    after = len(gc.get_objects())
    # The workload's metadata dicts are the caller's, kept by reference as documented;
    # whether CPython tracks them is its own business (3.11 does not: atomic contents).
    tracked_metadata = sum(gc.is_tracked(e.metadata) for e in trace.events if e.metadata)
    assert after - before - tracked_metadata < 100, (before, after, tracked_metadata)
    del trace


# --- streaming exports need no memory proportional to the trace ----------------------------


class PeakSampler:
    """Fallback where VmHWM cannot be reset: a child process samples our VmRSS (a
    thread could not: an export holds the GIL until it returns)."""

    CODE = (
        "import sys, time, select\n"
        "path = f'/proc/{sys.argv[1]}/status'\n"
        "peak = 0\n"
        "while True:\n"
        "    with open(path) as f:\n"
        "        for line in f:\n"
        "            if line.startswith('VmRSS:'):\n"
        "                peak = max(peak, int(line.split()[1]) * 1024)\n"
        "    if select.select([sys.stdin], [], [], 0.002)[0]:\n"
        "        break\n"
        "print(peak, flush=True)\n"
    )

    def __enter__(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", self.CODE, str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(0.2)
        return self

    def __exit__(self, *exc):
        out, _ = self.proc.communicate("stop\n", timeout=60)
        self.peak = int(out.strip())


def peak_growth(fn) -> int:
    """Peak RSS during ``fn()`` minus the RSS just before it."""
    gc.collect()
    rss0 = workload.rss_bytes()
    if workload.reset_peak_rss():
        fn()
        return workload.peak_rss_bytes() - rss0
    with PeakSampler() as sampler:
        fn()
    return sampler.peak - rss0


def count_in_file(path, needle: bytes) -> tuple[int, bytes, bytes, int]:
    """(occurrences of ``needle``, first 64 bytes, last 64 bytes, size), reading the
    (possibly gzipped) file in chunks."""
    opener = gzip.open if os.fspath(path).endswith(".gz") else open
    count = size = 0
    head = tail = b""
    with opener(path, "rb") as f:
        while chunk := f.read(8 * MIB):
            if not head:
                head = chunk[:64]
            # Count across the chunk boundary without counting anything twice.
            joined = tail + chunk
            count += joined.count(needle) - tail.count(needle)
            tail = joined[-(len(needle) - 1 + 64) :]
            size += len(chunk)
    return count, head, tail[-64:], size


@linux_only
@pytest.mark.stress
def test_streaming_exports_use_constant_memory(tmp_path):
    exp = workload.expected_counts(STREAM_EVENTS)
    trace = ExecutionTrace()
    workload.record_workload(trace, STREAM_EVENTS)
    checks = [
        ("write_json", "out.json", b'"event_type": ', exp["events"], b"[\n  {", b"}\n]"),
        (
            "write_chrome_trace",
            "chrome.json",
            b'"ph": ',
            exp["chrome"],
            b'{\n  "traceEvents"',
            b"]\n}",
        ),
        ("write_json", "out.json.gz", b'"event_type": ', exp["events"], b"[\n  {", b"}\n]"),
    ]
    for method, name, needle, want_count, start, end in checks:
        target = tmp_path / name
        growth = peak_growth(lambda m=method, t=target: getattr(trace, m)(t))
        assert growth < PEAK_BUDGET, f"{method}({name}): peak RSS grew {growth / MIB:.1f} MiB"
        count, head, last, size = count_in_file(target, needle)
        assert (count, head.startswith(start), last.endswith(end)) == (want_count, True, True)
        # ~100 bytes per event: the text itself would have been far over the budget.
        assert size > 2 * PEAK_BUDGET
        os.remove(target)
    assert os.listdir(tmp_path) == []


def test_count_in_file_handles_chunk_boundaries(tmp_path):
    needle = b'"event_type": '
    data = (b"x" * (8 * MIB - 5) + needle) * 3 + needle
    target = tmp_path / "t.gz"
    target.write_bytes(gzip.compress(data, compresslevel=1))
    count, head, last, size = count_in_file(target, needle)
    assert (count, head, last, size) == (4, b"x" * 64, data[-64:], len(data))
