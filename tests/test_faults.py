"""Faults: out of memory, Ctrl-C during a long export, fork, nesting past the recursion
limit, unpicklable metadata. Whatever happens, the process must not crash (no abort, no
segfault), the error must be the Python exception the situation calls for, and the
trace must still hold every event recorded before, exactly once, and stay usable.

Most cases run in a child interpreter (``sys.executable``), so that a crash shows as
the child's exit status instead of taking pytest down, and so that memory limits and
signals stay out of the test process.
"""

from __future__ import annotations

import copy
import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
from typing import Any

import pytest
import reference
from dagron.execution.tracing import ExecutionTrace, TraceEventType

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
LINUX = sys.platform.startswith("linux")

PRELUDE = f"""
import json, os, sys, time
sys.path.insert(0, {TESTS_DIR!r})
from dagron.execution.tracing import ExecutionTrace, TraceEventType as T


def report(**values):
    print("RESULT " + json.dumps(values), flush=True)
"""

MEMORY_PRELUDE = """
import resource


def usage():
    # Address space in use: what RLIMIT_AS limits.
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()


def limit(headroom_mb):
    resource.setrlimit(
        resource.RLIMIT_AS, (usage() + (headroom_mb << 20), resource.RLIM_INFINITY)
    )


def unlimit():
    resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
"""


def describe_status(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"


def run_child(body: str, timeout: float = 120, memory: bool = False) -> dict[str, Any]:
    """Run ``body`` in a fresh interpreter; it must exit 0. Returns what it reported
    with ``report(...)`` (merged)."""
    code = PRELUDE + (MEMORY_PRELUDE if memory else "") + textwrap.dedent(body)
    env = dict(os.environ, RUST_BACKTRACE="0")
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=TESTS_DIR,
    )
    results: dict[str, Any] = {}
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            results.update(json.loads(line[len("RESULT ") :]))
    if done.returncode != 0:
        raise AssertionError(
            f"child {describe_status(done.returncode)} after reporting {results}\n"
            f"stderr (tail):\n{done.stderr[-2500:]}"
        )
    return results


needs_rlimit = pytest.mark.skipif(
    not LINUX, reason="RLIMIT_AS and /proc/self/statm are Linux features"
)


# --- out of memory while recording ------------------------------------------------------


RECORD_UNTIL_FULL = """
trace = ExecutionTrace()
record = trace.record
completed = T.NODE_COMPLETED
metadata = {"k": 1}
CASE = __CASE__
seqs = list(range(3_000_000))
if CASE == "new names":
    names = ["node-" + str(i) for i in range(3_000_000)]
else:
    for name in ("a", "b"):  # interned before the limit
        record(completed, node_name=name, error="e")
last = -1
limit(48)
try:
    if CASE == "new names":
        # Every event interns a new node name.
        for seq in seqs:
            record(completed, node_name=names[seq], step_index=seq)
            last = seq
    else:
        for seq in seqs:
            record(completed, node_name="a", step_index=seq, error="e", metadata=metadata)
            last = seq
    outcome = "no MemoryError"
except MemoryError as exc:
    outcome = "MemoryError: " + str(exc)
unlimit()
print("MARK caught", flush=True)
events = trace.events
recorded = events[len(events) - last - 1 :]
report(
    outcome=outcome,
    recorded=last + 1,
    events=len(events),
    in_order=[event.step_index for event in recorded] == list(range(last + 1)),
    summary_ok=trace.summary().split("\\n")[1] == "  Total events: " + str(len(events)),
)
trace.record(T.EXECUTION_COMPLETED)
report(after=len(trace.events), json_ok=trace.to_json().count('"event_type"') == len(events) + 1)
"""


@needs_rlimit
@pytest.mark.parametrize(
    "case",
    [
        "known names",
        "new names",
    ],
)
def test_record_until_memory_runs_out(case):
    """Record under an address-space limit until an allocation fails: MemoryError, and
    every event recorded before is there, in order, exactly once."""
    prefix = 0 if case == "new names" else 2
    result = run_child(RECORD_UNTIL_FULL.replace("__CASE__", repr(case)), memory=True)
    assert result["outcome"].startswith("MemoryError"), result
    assert result["recorded"] > 0
    assert result["events"] == prefix + result["recorded"], result
    assert result["in_order"] and result["summary_ok"], result
    assert result["after"] == result["events"] + 1
    assert result["json_ok"]
    print(f"\n[faults] {case}: MemoryError after {result['recorded']} events")


# --- out of memory while exporting ------------------------------------------------------

EXPORT_UNDER_LIMIT = """
import copy, pickle, tempfile
import reference
CASE = __CASE__
trace = ExecutionTrace()
folder = tempfile.mkdtemp()
target = os.path.join(folder, "trace.json")
if CASE in ("events", "pickle", "to_json", "to_chrome_trace"):
    for seq in range(1_000_000):
        trace.record(T.NODE_COMPLETED, node_name="n", step_index=seq, duration=seq / 7)
elif CASE.endswith("metadata"):
    trace.record(T.NODE_COMPLETED, metadata={"text": "x" * (256 << 20)})
else:  # a node name whose JSON form is 6x its size (\\u0001 escapes)
    trace.record(T.NODE_COMPLETED, node_name="\\x01" * (48 << 20))
count = len(trace.events)
summary = trace.summary()
# Where exactly memory runs out varies from run to run: building events makes many
# objects of several kinds, so it gets several tries.
HEADROOMS = (1, 2, 4, 8, 12, 16, 24, 32, 48, 64) if CASE == "events" else (2, 16, 64)

operations = {
    "events": lambda: trace.events,
    "pickle": lambda: pickle.dumps(trace),
    "to_json": trace.to_json,
    "to_chrome_trace": trace.to_chrome_trace,
    "to_json huge metadata": trace.to_json,
    "write_json huge metadata": lambda: trace.write_json(target),
    "to_chrome_trace huge node name": trace.to_chrome_trace,
    "write_chrome_trace huge node name": lambda: trace.write_chrome_trace(target),
}
operation = operations[CASE]
if CASE == "to_json huge metadata":
    # What json.dumps does in the same place: MemoryError.
    events = trace.events
    limit(64)
    try:
        reference.to_json(events)
        report(reference="no error")
    except MemoryError:
        report(reference="MemoryError")
    unlimit()
    del events
outcomes = []
for headroom in HEADROOMS:
    limit(headroom)
    try:
        result = operation()
        outcome = "no error"
    except MemoryError:
        outcome = "MemoryError"
    unlimit()
    result = None
    outcomes.append(outcome)
    print("MARK survived", headroom, outcome, flush=True)
report(
    outcomes=outcomes,
    intact=len(trace.events) == count and trace.summary() == summary,
    leftovers=os.listdir(folder),
)
"""


@needs_rlimit
@pytest.mark.parametrize(
    "case",
    [
        "to_json",
        "to_chrome_trace",
        "events",
        "pickle",
        "to_json huge metadata",
        "write_json huge metadata",
        "to_chrome_trace huge node name",
        "write_chrome_trace huge node name",
    ],
)
def test_export_when_memory_runs_out(case):
    """Exports under an address-space limit with 2, 16 and 64 MiB to spare: each either
    works or raises MemoryError, like json.dumps; the process lives on, the trace is
    intact, and no partial file is left behind."""
    result = run_child(EXPORT_UNDER_LIMIT.replace("__CASE__", repr(case)), memory=True)
    assert set(result["outcomes"]) <= {"MemoryError", "no error"}, result
    assert "MemoryError" in result["outcomes"], result
    assert result["intact"], result
    assert result["leftovers"] == [], result
    if "reference" in result:
        assert result["reference"] == "MemoryError"


@needs_rlimit
def test_record_huge_node_name_when_memory_runs_out():
    result = run_child(
        """
        trace = ExecutionTrace()
        trace.record(T.NODE_STARTED, node_name="n")
        name = "\\x01" * (48 << 20)
        limit(64)
        try:
            trace.record(T.NODE_COMPLETED, node_name=name)
            outcome = "no error"
        except MemoryError:
            outcome = "MemoryError"
        unlimit()
        report(outcome=outcome, events=len(trace.events))
        """,
        memory=True,
    )
    assert result["outcome"] == "MemoryError", result
    assert result["events"] == 1


# --- Ctrl-C during a long export ----------------------------------------------------

INTERRUPT = """
import gzip, signal, subprocess, tempfile
import reference
COUNT = 2_000_000
trace = ExecutionTrace()
record = trace.record
names = ["extract", "transform", "load", "report"]
for seq in range(COUNT):
    if seq % 1000 == 0:
        record(T.NODE_COMPLETED, node_name=names[seq % 4], step_index=seq, metadata={"k": seq})
    else:
        record(T.NODE_COMPLETED, node_name=names[seq % 4], step_index=seq)
folder = tempfile.mkdtemp()
methods = {
    "to_json": trace.to_json,
    "to_chrome_trace": trace.to_chrome_trace,
    "write_json": lambda: trace.write_json(os.path.join(folder, "t.json")),
    "write_json gz": lambda: trace.write_json(os.path.join(folder, "t.json.gz")),
    "write_chrome_trace": lambda: trace.write_chrome_trace(os.path.join(folder, "c.json")),
}
full = {}
for name, method in methods.items():
    started = time.perf_counter()
    method()
    full[name] = time.perf_counter() - started
for leftover in os.listdir(folder):
    os.remove(os.path.join(folder, leftover))
before_json = trace.to_json()
before_summary = trace.summary()

# A helper process sends SIGINT a moment after it is told to (a thread of this process
# could not: to_json holds the interpreter for the whole export).
helper = subprocess.Popen(
    [sys.executable, "-c",
     "import os, signal, sys, time\\n"
     "for line in sys.stdin:\\n"
     "    time.sleep(float(line))\\n"
     "    os.kill(int(sys.argv[1]), signal.SIGINT)\\n",
     str(os.getpid())],
    stdin=subprocess.PIPE, text=True,
)
time.sleep(0.5)  # let it start
results = {}
for name, method in methods.items():
    # On a loaded machine the helper may wake after the export has finished: then the
    # signal lands in the sleep below and the export is tried again (at most 5 times).
    for attempt in range(1, 6):
        helper.stdin.write("0.05\\n")
        helper.stdin.flush()
        started = time.perf_counter()
        try:
            method()
            outcome = "completed"
        except KeyboardInterrupt:
            outcome = "interrupted"
        elapsed = time.perf_counter() - started
        if outcome == "completed":
            try:
                time.sleep(2)  # the late signal lands here
            except KeyboardInterrupt:
                pass
            for leftover in os.listdir(folder):
                os.remove(os.path.join(folder, leftover))
            continue
        break
    results[name] = {
        "outcome": outcome,
        "attempts": attempt,
        "elapsed": elapsed,
        "full": full[name],
        "leftovers": sorted(os.listdir(folder)),
    }
helper.stdin.close()
helper.wait()
print("MARK interrupted all", flush=True)
report(
    results=results,
    # The text holds every event's step index: same text, same events in the same order.
    json_same=trace.to_json() == before_json,
    count_in_json=before_json.count('"event_type"'),
    summary_same=trace.summary() == before_summary,
    summary_total=before_summary.split("\\n")[1],
)
trace.write_json(os.path.join(folder, "t.json"))
with open(os.path.join(folder, "t.json")) as written:
    report(written_same=written.read() == before_json)
"""


@pytest.fixture(scope="module")
def interrupted() -> dict[str, Any]:
    if os.name != "posix":
        pytest.skip("sends SIGINT to the child")
    return run_child(INTERRUPT, timeout=240)


@pytest.mark.parametrize(
    "method", ["to_json", "to_chrome_trace", "write_json", "write_json gz", "write_chrome_trace"]
)
def test_keyboard_interrupt_stops_a_long_export(interrupted, method):
    """SIGINT 50 ms into an export of 2M events: KeyboardInterrupt arrives well before
    the export would have finished (the exporters check for signals every 65,536
    events), no partial file is left, and the trace is intact. (When the sending
    process wakes too late for an export, that export is tried again, up to 5 times.)"""
    result = interrupted["results"][method]
    assert result["outcome"] == "interrupted", result
    assert result["elapsed"] < result["full"], result
    assert result["leftovers"] == [], result
    print(
        f"\n[faults] SIGINT during {method}: interrupted after {result['elapsed']:.3f}s "
        f"(a full export takes {result['full']:.3f}s)"
    )


def test_trace_intact_after_keyboard_interrupts(interrupted):
    assert interrupted["count_in_json"] == 2_000_000
    assert interrupted["summary_total"] == "  Total events: 2000000"
    assert interrupted["json_same"]
    assert interrupted["summary_same"]
    assert interrupted["written_same"]


# --- fork -------------------------------------------------------------------------------

FORK = """
import threading
import reference
trace = ExecutionTrace()
for seq in range(1000):
    trace.record(T.NODE_COMPLETED, node_name="p%d" % (seq % 7), step_index=seq)
WITH_THREADS = __CASE__
stop = threading.Event()


def keep_recording(tid):
    seq = 0
    while not stop.is_set() and seq < 50_000:
        trace.record(T.NODE_STARTED, node_name="w%d" % tid, step_index=seq)
        seq += 1
        if seq % 1000 == 0:
            time.sleep(0.001)


threads = [threading.Thread(target=keep_recording, args=(t,)) for t in range(3)]
if WITH_THREADS:
    for thread in threads:
        thread.start()
    time.sleep(0.05)
before = trace.events if not WITH_THREADS else None
alive = sum(thread.is_alive() for thread in threads)
pid = os.fork()
if pid == 0:
    code = 0
    try:
        inherited = trace.events
        last = inherited[-1].timestamp
        # Each recorder thread's events are a gap-free prefix 0..k-1.
        seen = {}
        for event in inherited:
            if event.node_name.startswith("w"):
                if event.step_index != seen.get(event.node_name, 0):
                    code |= 1
                seen[event.node_name] = event.step_index + 1
        for seq in range(500):
            trace.record(T.NODE_FAILED, node_name="child", step_index=seq, error="e")
        events = trace.events
        if events[: len(inherited)] != inherited or len(events) != len(inherited) + 500:
            code |= 2
        mine = trace.events_for_node("child")
        if [e.step_index for e in mine] != list(range(500)) or mine[0].timestamp < last:
            code |= 4
        if trace.to_json() != reference.to_json(events):
            code |= 8
        if trace.to_chrome_trace() != reference.to_chrome_trace(events):
            code |= 16
        if trace.summary() != reference.summary(events):
            code |= 32
    except BaseException:
        code |= 64
    os._exit(code)
stop.set()
for thread in threads:
    if thread.is_alive():
        thread.join()
_, status = os.waitpid(pid, 0)
events = trace.events
report(
    alive_at_fork=alive,
    child_status=status,
    parent_unchanged=(before is None or events == before),
    child_events_in_parent=len(trace.events_for_node("child")),
    parent_exports=trace.to_json() == reference.to_json(events),
)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.parametrize("threads", [False, True], ids=["quiet", "threads recording"])
def test_fork_gives_the_child_its_own_copy(threads):
    """A forked child inherits the trace as it was and records into its own copy; the
    parent never sees the child's events. With threads recording at the moment of the
    fork, the child's copy is still a consistent snapshot."""
    result = run_child(FORK.replace("__CASE__", repr(threads)))
    assert result["alive_at_fork"] == (3 if threads else 0)
    status = result["child_status"]
    assert os.WIFEXITED(status), f"child died: status {status}"
    assert os.WEXITSTATUS(status) == 0, f"child checks failed: bits {os.WEXITSTATUS(status)}"
    assert result["parent_unchanged"]
    assert result["child_events_in_parent"] == 0
    assert result["parent_exports"]


# --- nesting past the recursion limit ---------------------------------------------------


def nested(depth: int, kind: str) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value] if kind == "list" else {"k": value}
    return value


def raised(call: Any) -> type:
    try:
        call()
    except Exception as exc:
        return type(exc)
    raise AssertionError("expected an exception")


@pytest.mark.parametrize("kind", ["list", "dict"])
@pytest.mark.parametrize("depth", [10_000, 100_000])
def test_deep_metadata_raises_like_json(depth, kind):
    trace = ExecutionTrace()
    trace.record(TraceEventType.NODE_STARTED, node_name="n")
    metadata = {"deep": nested(depth, kind)}
    trace.record(TraceEventType.NODE_COMPLETED, node_name="n", metadata=metadata)
    events = trace.events
    want = raised(lambda: reference.to_json(events))
    assert want is RecursionError
    assert raised(trace.to_json) is want
    assert raised(lambda: trace.write_json(_Discard())) is want
    # Pickling and deep copies recurse too: the same errors as for the dict alone.
    assert raised(lambda: pickle.dumps(trace)) is raised(lambda: pickle.dumps(metadata))
    assert raised(lambda: copy.deepcopy(trace)) is raised(lambda: copy.deepcopy(metadata))
    # The trace is intact and usable.
    assert trace.to_chrome_trace() == reference.to_chrome_trace(events)
    assert trace.summary() == reference.summary(events)
    trace.record(TraceEventType.EXECUTION_COMPLETED)
    assert len(trace.events) == 3
    assert trace.events[1].metadata is metadata
    metadata.pop("deep")
    assert trace.to_json() == reference.to_json(trace.events)


class _Discard:
    def write(self, chunk: Any) -> int:
        return len(chunk)


RAISED_LIMIT = """
import reference
sys.setrecursionlimit(1_000_000)


def nested(depth, kind):
    value = 0
    for _ in range(depth):
        value = [value] if kind == "list" else {"k": value}
    return value


def expected_text(depth, kind):
    # What json.dumps(indent=2) writes for the record, built directly: json.dumps itself
    # takes time quadratic in the depth here (its generators are nested that deep).
    shallow = ExecutionTrace()
    shallow.record(T.NODE_COMPLETED, metadata={"deep": 0})
    text = reference.to_json(shallow.events)
    opening, closing = ("[", "]") if kind == "list" else ("{", "}")
    key = "" if kind == "list" else '"k": '
    heads, tails = [], []
    for level in range(3, 3 + depth):
        heads.append(opening + "\\n" + "  " * (level + 1) + key)
        tails.append("\\n" + "  " * level + closing)
    value = "".join(heads) + "0" + "".join(reversed(tails))
    return text.replace('"deep": 0', '"deep": ' + value)


outcomes = {}
for depth in (7_990, 8_010, 10_000, 100_000):
    for kind in ("list", "dict"):
        trace = ExecutionTrace()
        trace.record(T.NODE_COMPLETED, metadata={"deep": nested(depth, kind)})
        try:
            text = trace.to_json()
            if depth <= 10_000:
                same = text == expected_text(depth, kind)
            else:
                same = text.count("[" if kind == "list" else "{") == depth + 2
            outcome = "same output as json.dumps" if same else "different output"
        except RecursionError:
            outcome = "RecursionError"
        print("MARK", depth, kind, outcome, flush=True)
        outcomes["%d %s" % (depth, kind)] = outcome
        trace.record(T.EXECUTION_COMPLETED)
        assert len(trace.events) == 2
# The direct construction agrees with json.dumps where json.dumps is quick.
for kind in ("list", "dict"):
    small = ExecutionTrace()
    small.record(T.NODE_COMPLETED, metadata={"deep": nested(50, kind)})
    assert expected_text(50, kind) == reference.to_json(small.events)
report(outcomes=outcomes)
"""


def test_deep_metadata_with_a_raised_recursion_limit():
    """With ``sys.setrecursionlimit(1_000_000)``, nesting 8k-100k deep either exports
    exactly what json.dumps writes or raises RecursionError; never a crash."""
    result = run_child(RAISED_LIMIT)
    for case, outcome in result["outcomes"].items():
        assert outcome in ("same output as json.dumps", "RecursionError"), (case, outcome)
    print(f"\n[faults] raised recursion limit: {result['outcomes']}")


# --- pickling and copying with unpicklable metadata -------------------------------------


class RaisingReduce:
    def __reduce__(self) -> Any:
        raise RuntimeError("cannot reduce this")


UNPICKLABLE = {
    "lock": threading.Lock,
    "lambda": lambda: lambda: None,
    "reduce raises": RaisingReduce,
    "generator": lambda: (x for x in ()),
}


def fingerprint(events: list[Any]) -> list[tuple[Any, ...]]:
    return [
        (
            e.event_type,
            e.timestamp,
            e.node_name,
            e.step_index,
            e.duration,
            e.error,
            id(e.metadata) if e.metadata else "{}",
        )
        for e in events
    ]


@pytest.mark.parametrize("bad", sorted(UNPICKLABLE))
def test_pickle_and_copy_with_unpicklable_metadata(bad):
    value = UNPICKLABLE[bad]()
    metadata = {"bad": value, "fine": [1, 2]}
    trace = ExecutionTrace()
    trace.record(TraceEventType.NODE_STARTED, node_name="n", step_index=2**70)
    trace.record(TraceEventType.NODE_FAILED, node_name="n", error="E: x", metadata=metadata)
    before = fingerprint(trace.events)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        want = raised(lambda protocol=protocol: pickle.dumps(metadata, protocol))
        assert raised(lambda protocol=protocol: pickle.dumps(trace, protocol)) is want
        assert fingerprint(trace.events) == before
    try:
        copy.deepcopy(metadata)
    except Exception as exc:
        assert raised(lambda: copy.deepcopy(trace)) is type(exc)
    else:
        duplicate = copy.deepcopy(trace)
        assert len(duplicate.events) == 2
        assert duplicate.events[1].metadata is not metadata
    shallow = copy.copy(trace)
    assert shallow.events[1].metadata is metadata
    shallow.record(TraceEventType.EXECUTION_COMPLETED)
    # The original is intact, independent of its copies, and usable.
    assert fingerprint(trace.events) == before
    assert trace.to_chrome_trace() == reference.to_chrome_trace(trace.events)
    assert trace.summary() == reference.summary(trace.events)
    trace.record(TraceEventType.EXECUTION_COMPLETED)
    assert len(trace.events) == 3
    metadata.pop("bad")
    assert pickle.loads(pickle.dumps(trace)).to_json() == trace.to_json()


# --- failing destinations ---------------------------------------------------------------


class FailingFile:
    """A file object whose ``write`` fails once ``fail_after`` chunks went in (it takes
    str or bytes: duck-typed file objects may be given either)."""

    def __init__(self, fail_after: int, error: BaseException) -> None:
        self.chunks: list[bytes] = []
        self.fail_after = fail_after
        self.error = error

    def write(self, chunk: Any) -> int:
        if len(self.chunks) >= self.fail_after:
            raise self.error
        self.chunks.append(chunk.encode() if isinstance(chunk, str) else bytes(chunk))
        return len(chunk)


@pytest.mark.parametrize("fail_after", [0, 1, 3])
@pytest.mark.parametrize(
    "error", [OSError(28, "No space left on device"), KeyboardInterrupt(), ValueError("x")]
)
def test_write_to_a_failing_file_object(fail_after, error):
    trace = ExecutionTrace()
    for seq in range(60_000):
        trace.record(TraceEventType.NODE_COMPLETED, node_name=f"n{seq % 5}", step_index=seq)
    text = trace.to_json()
    chrome = trace.to_chrome_trace()
    for method in (trace.write_json, trace.write_chrome_trace):
        sink = FailingFile(fail_after, error)
        with pytest.raises(type(error)) as info:
            method(sink)
        assert info.value is error
        written = b"".join(sink.chunks).decode()
        whole = text if method == trace.write_json else chrome
        assert whole.startswith(written)
    assert trace.to_json() == text
    assert trace.summary().split("\n")[1] == "  Total events: 60000"


def test_write_to_a_path_that_cannot_be_created(tmp_path):
    trace = ExecutionTrace()
    trace.record(TraceEventType.NODE_COMPLETED, node_name="n")
    missing = tmp_path / "no such folder" / "trace.json"
    for method in (trace.write_json, trace.write_chrome_trace):
        with pytest.raises(OSError):
            method(missing)
        with pytest.raises(OSError):
            method(tmp_path)  # a folder
    assert sorted(os.listdir(tmp_path)) == []
    assert [name for name in os.listdir(tmp_path.parent) if name.endswith(".partial")] == []
    trace.write_json(tmp_path / "trace.json")
    assert (tmp_path / "trace.json").read_text() == trace.to_json()
    assert sorted(os.listdir(tmp_path)) == ["trace.json"]


# --- Issue 19: deep and huge JSON on load; a falsy metadata dict. ---


def nested_dicts(depth: int) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    inner = metadata
    for _ in range(depth):
        inner["k"] = inner = {}
    return metadata


def test_load_reads_json_as_deep_as_write_json_wrote(tmp_path):
    from dagron.errors import TraceFileError

    # The deepest metadata this interpreter's json.dumps (and so write_json) writes.
    depth = 0
    for tried in range(2000, 0, -25):
        try:
            json.dumps(nested_dicts(tried))
        except RecursionError:
            continue
        depth = tried
        break
    trace = ExecutionTrace()
    trace.record(TraceEventType.NODE_STARTED, node_name="n", metadata=nested_dicts(depth))
    trace.write_json(tmp_path / "deep.json")

    def load_deeper(frames: int) -> ExecutionTrace:
        # Loaded from deeper in the stack than it was written: json.loads gives up.
        return load_deeper(frames - 1) if frames else ExecutionTrace.load(tmp_path / "deep.json")

    assert load_deeper(30).to_json() == trace.to_json()
    # Deeper than anything written, and not a trace: a TraceFileError, not RecursionError.
    (tmp_path / "lists.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(TraceFileError, match=r"lists\.json: event 0: expected an object$"):
        ExecutionTrace.load(tmp_path / "lists.json")
    (tmp_path / "cut.json").write_text("[" * 100_000 + "]" * 99_999 + ",")
    with pytest.raises(TraceFileError, match=r"cut\.json: not a JSON trace: Expecting value at"):
        ExecutionTrace.load(tmp_path / "cut.json")


def test_deep_decoder_matches_json_loads():
    from dagron.execution import _deep_json

    texts = [
        '[1, 2.5, -3e2, 1E5, -0.0, "a\\u00e9\\n", true, false, null, NaN, Infinity, -Infinity]',
        ' {"a": {"b": [1, {}]}, "a": 2, "": [[], {}]} ',
        "0",
        '"s"',
    ]
    for text in texts:
        assert repr(_deep_json.loads(text)) == repr(json.loads(text))
    for bad in ["[1,]", "[1 2]", '{"a" 1}', "{1:2}", "[", "[1]x", "", '{"a":1,}', "[-]"]:
        with pytest.raises(json.JSONDecodeError) as ours:
            _deep_json.loads(bad)
        with pytest.raises(json.JSONDecodeError) as theirs:
            json.loads(bad)
        assert (ours.value.msg, ours.value.pos) == (theirs.value.msg, theirs.value.pos), bad


def test_an_integer_too_long_for_int_is_a_trace_file_error(tmp_path):
    from dagron.errors import TraceFileError

    path = tmp_path / "big.json"
    path.write_text(
        '[{"event_type": "step_started", "timestamp": 0, "step_index": 1' + "0" * 4300 + "}]"
    )
    with pytest.raises(
        TraceFileError, match=r"big\.json: not a JSON trace: Exceeds the limit \(4300"
    ):
        ExecutionTrace.load(path)


class Falsy(dict):  # type: ignore[type-arg]
    def __bool__(self) -> bool:
        return False


def test_a_falsy_metadata_dict_with_items_writes_its_items():
    trace = ExecutionTrace()
    trace.record(TraceEventType.NODE_STARTED, node_name="a", metadata=Falsy(x=1, y={"z": 2}))
    trace.record(TraceEventType.NODE_STARTED, node_name="b", metadata=Falsy())
    trace.record(TraceEventType.NODE_STARTED, node_name="c", metadata={})
    records = json.loads(trace.to_json())
    assert [r.get("metadata") for r in records] == [{"x": 1, "y": {"z": 2}}, None, None]
    # A real dict writes as upstream's json.dumps does, byte for byte.
    plain = ExecutionTrace()
    plain.record(TraceEventType.NODE_STARTED, node_name="a", metadata={"x": 1, "y": {"z": 2}})
    plain.record(TraceEventType.NODE_STARTED, node_name="b", metadata={})
    expected = [
        {"event_type": "node_started", "timestamp": e.timestamp, "node_name": e.node_name}
        | ({"metadata": e.metadata} if e.metadata else {})
        for e in plain.events
    ]
    assert plain.to_json() == json.dumps(expected, indent=2)
