"""ExecutionTrace.merge (issue 11, part 2): one timeline from many processes and
hosts, every event keeping its source."""

from __future__ import annotations

import copy
import json
import multiprocessing
import os
import pickle
import socket

import pytest
from dagron.execution.tracing import ExecutionTrace, TraceEventType, TraceOrigin
from trace_streams import crafted

T = TraceEventType
STRESS = bool(os.environ.get("DAGRON_STRESS"))
WORKERS = 4
PER_WORKER = 250_000 if STRESS else 20_000


def rows(trace: ExecutionTrace) -> list[tuple]:
    sources = trace.sources
    return [
        (e.timestamp, e.node_name, f"{sources[s].host}:{sources[s].pid}")
        for e, s in zip(trace.events, trace.event_sources())
    ]


def test_merging_one_trace_gives_an_equal_trace():
    trace = ExecutionTrace()
    trace.record(T.EXECUTION_STARTED)
    trace.record(T.NODE_STARTED, node_name="a", metadata={"k": [1, 2]})
    trace.record(T.NODE_FAILED, node_name="a", duration=0.5, error="E: x", step_index=2**70)
    trace.record(T.EXECUTION_COMPLETED)
    merged = ExecutionTrace.merge([trace])
    assert type(merged) is ExecutionTrace
    assert merged.events == trace.events
    assert merged.to_json() == trace.to_json()
    assert merged.to_chrome_trace() == trace.to_chrome_trace()
    assert merged.summary() == trace.summary()
    assert merged.origin == trace.origin
    assert merged.sources == trace.sources
    assert merged.event_sources() == [0, 0, 0, 0]
    # Metadata is kept by reference, as record keeps it.
    assert merged.events[1].metadata is trace.events[1].metadata
    assert ExecutionTrace.merge(iter([trace])).to_json() == trace.to_json()


def test_empty_merges():
    assert ExecutionTrace.merge([]).events == []
    merged = ExecutionTrace.merge([ExecutionTrace(), ExecutionTrace()])
    assert merged.origin is None and merged.sources == [] and merged.dropped == 0


def test_same_host_aligns_on_the_monotonic_clock():
    early = crafted(TraceOrigin("h", 1, 1_000_000_000, 9), [(T.NODE_STARTED, 0.0, "a", None)])
    late = crafted(
        TraceOrigin("h", 2, 1_250_000_000, 0),
        [(T.NODE_STARTED, 0.0, "b", None), (T.NODE_COMPLETED, 1.0, "b", None)],
    )
    merged = ExecutionTrace.merge([late, early])
    assert rows(merged) == [(0.0, "a", "h:1"), (0.25, "b", "h:2"), (1.25, "b", "h:2")]
    assert merged.origin == early.origin
    assert merged.sources == [early.origin, late.origin]
    assert merged.event_sources() == [0, 1, 1]


def test_different_hosts_align_on_wall_clocks_or_given_offsets():
    a = crafted(
        TraceOrigin("alpha", 10, 555, 1_700_000_000_000_000_000),
        [(T.NODE_STARTED, 0.0, "x", None), (T.NODE_COMPLETED, 2.0, "x", None)],
    )
    b = crafted(
        TraceOrigin("beta", 10, 1, 1_700_000_000_500_000_000),
        [(T.NODE_STARTED, 0.0, "y", None)],
    )
    merged = ExecutionTrace.merge([a, b])
    assert rows(merged) == [(0.0, "x", "alpha:10"), (0.5, "y", "beta:10"), (2.0, "x", "alpha:10")]
    # beta's clock is known to run 1 s ahead.
    corrected = ExecutionTrace.merge([a, b], offsets=[0, -1.0])
    assert rows(corrected) == [
        (0.0, "y", "beta:10"),
        (0.5, "x", "alpha:10"),
        (2.5, "x", "alpha:10"),
    ]
    assert corrected.origin == b.origin
    # A merged trace merges again, pickles, and its new events are the origin's.
    c = crafted(
        TraceOrigin("gamma", 3, 0, 1_700_000_000_250_000_000), [(T.NODE_STARTED, 0.0, "z", None)]
    )
    again = ExecutionTrace.merge([c, merged])
    assert [r[2] for r in rows(again)] == ["alpha:10", "gamma:3", "beta:10", "alpha:10"]
    for clone in (copy.copy, copy.deepcopy, lambda t: pickle.loads(pickle.dumps(t))):
        restored = clone(again)
        assert rows(restored) == rows(again)
        assert restored.sources == again.sources
    again.record(T.EXECUTION_COMPLETED)
    assert again.event_sources()[-1] == 0
    assert again.sources[0] == a.origin


def test_named_exports_draw_one_process_per_source():
    a = crafted(
        TraceOrigin("alpha", 10, 0, 1_700_000_000_000_000_000), [(T.NODE_STARTED, 0.0, "x", None)]
    )
    b = crafted(
        TraceOrigin("beta", 11, 0, 1_700_000_000_500_000_000), [(T.NODE_STARTED, 0.0, "y", None)]
    )
    merged = ExecutionTrace.merge([a, b])
    named = json.loads(merged.to_chrome_trace(named=True))["traceEvents"]
    processes = {e["pid"]: e["args"]["name"] for e in named if e.get("name") == "process_name"}
    assert sorted(processes.values()) == ["alpha:10", "beta:10"] or sorted(processes.values()) == [
        "alpha:10",
        "beta:11",
    ]
    perfetto = merged.to_perfetto()
    assert b"alpha:10" in perfetto and b"beta:11" in perfetto
    # A plain trace keeps its one process, named as before.
    assert b"alpha" not in a.to_perfetto(process_name="p")


def test_merge_adds_dropped_counts():
    bounded = ExecutionTrace(max_events=5)
    for step in range(12):
        bounded.record(T.STEP_STARTED, step_index=step)
    other = crafted(TraceOrigin("far", 1, 0, 0), [(T.STEP_STARTED, 0.0, None, 1)], dropped=3)
    merged = ExecutionTrace.merge([bounded, other, bounded])
    assert merged.dropped == 7 + 3 + 7
    assert len(merged.events) == 11
    assert pickle.loads(pickle.dumps(merged)).dropped == 17


def test_bad_arguments_raise_clear_errors():
    trace = ExecutionTrace()
    with pytest.raises(TypeError, match=r"traces\[1\] must be an ExecutionTrace, not str"):
        ExecutionTrace.merge([trace, "x"])
    with pytest.raises(TypeError):
        ExecutionTrace.merge(5)
    with pytest.raises(ValueError, match="got 1 offsets for 2 traces"):
        ExecutionTrace.merge([trace, trace], offsets=[0.0])
    with pytest.raises(ValueError, match=r"offsets\[0\] must be a finite number"):
        ExecutionTrace.merge([trace], offsets=[float("nan")])
    with pytest.raises(ValueError, match=r"offsets\[0\] must be a finite number"):
        ExecutionTrace.merge([trace], offsets=["1"])


# --- real processes -------------------------------------------------------------------


def record_around_barrier(worker: int, barrier, count: int) -> bytes:
    """Half the events before the shared barrier, half after; the trace comes back
    pickled."""
    trace = ExecutionTrace()
    name = f"w{worker}"
    for seq in range(count // 2):
        trace.record(T.NODE_STARTED, node_name=name, step_index=seq)
    barrier.wait()
    for seq in range(count // 2, count):
        trace.record(T.NODE_COMPLETED, node_name=name, step_index=seq)
    return pickle.dumps(trace)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_worker_processes_merge_into_one_timeline(method):
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} start method here")
    context = multiprocessing.get_context(method)
    with context.Manager() as manager:
        barrier = manager.Barrier(WORKERS)
        with context.Pool(WORKERS) as pool:
            pickled = pool.starmap(
                record_around_barrier, [(w, barrier, PER_WORKER) for w in range(WORKERS)]
            )
    traces = [pickle.loads(p) for p in pickled]
    pids = {t.origin.pid for t in traces}
    assert len(pids) == WORKERS and os.getpid() not in pids
    assert {t.origin.host for t in traces} == {socket.gethostname()}
    merged = ExecutionTrace.merge(traces)
    events = merged.events
    sources = merged.sources
    event_sources = merged.event_sources()
    assert len(events) == len(event_sources) == WORKERS * PER_WORKER
    assert {s.pid for s in sources} == pids
    # Chronological; each worker's events all there, in its order, under its source.
    next_seq = {}
    last = 0.0
    for event, source in zip(events, event_sources):
        assert event.timestamp >= last
        last = event.timestamp
        worker = event.node_name
        assert next_seq.get(worker, 0) == event.step_index
        next_seq[worker] = event.step_index + 1
        pid = sources[source].pid
        assert next_seq.setdefault(("pid", worker), pid) == pid
    assert all(next_seq[f"w{w}"] == PER_WORKER for w in range(WORKERS))
    # Every event recorded after the barrier lands after every event before it.
    kinds = [e.event_type for e in events]
    first_after = kinds.index(T.NODE_COMPLETED)
    assert T.NODE_STARTED not in kinds[first_after:]
    assert kinds.count(T.NODE_STARTED) == WORKERS * (PER_WORKER // 2)
    summary = merged.summary().split("\n")
    assert summary[1] == f"  Total events: {WORKERS * PER_WORKER}"
    assert summary[2] == f"  Unique nodes: {WORKERS}"


# --- Issue 19: traces without a clock, same-named files, merges of merges. ---

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def test_a_json_trace_lines_up_at_its_start_with_a_live_one(tmp_path):
    loaded_from = ExecutionTrace()
    loaded_from.record(T.EXECUTION_STARTED)
    loaded_from.record(T.EXECUTION_COMPLETED, duration=1.7e-05)
    loaded_from.write_json(tmp_path / "run.json")
    loaded = ExecutionTrace.load(tmp_path / "run.json")
    live = ExecutionTrace()
    live.record(T.STEP_STARTED, step_index=0)
    merged = ExecutionTrace.merge([loaded, live])
    json_times = [e.timestamp for e in loaded.events]
    assert [e.timestamp for e in merged.events] == sorted([*json_times, 0.0])
    assert merged.origin == live.origin
    assert merged.summary().endswith(f"  Duration: {json_times[1]:.4f}s")
    # An offset places it: 0.5 s after the live trace's start, or 0.25 s before.
    later = ExecutionTrace.merge([loaded, live], offsets=[0.5, 0])
    assert [e.timestamp for e in later.events] == [0.0, 0.5, 0.5 + json_times[1]]
    earlier = ExecutionTrace.merge([loaded, live], offsets=[-0.25, 0])
    assert [e.timestamp for e in earlier.events] == [0.0, json_times[1], 0.25]
    assert live.origin is not None and earlier.origin is not None
    assert earlier.origin.wall_ns == live.origin.wall_ns - 250_000_000
    assert earlier.origin.monotonic_ns == live.origin.monotonic_ns - 250_000_000


def test_two_files_of_one_name_stay_two_sources(tmp_path):
    from perfetto_model import decode

    for folder, node in (("w1", "a"), ("w2", "b")):
        trace = ExecutionTrace()
        trace.record(T.NODE_STARTED, node_name=node)
        trace.record(T.NODE_COMPLETED, node_name=node, duration=0.0)
        (tmp_path / folder).mkdir()
        trace.write_json(tmp_path / folder / "run.json")
    first, second = (ExecutionTrace.load(tmp_path / f / "run.json") for f in ("w1", "w2"))
    merged = ExecutionTrace.merge([first, second])
    assert merged.sources == [TraceOrigin("run.json", 0, 0, 0), TraceOrigin("run.json", 1, 0, 0)]
    by_node = {e.node_name: s for e, s in zip(merged.events, merged.event_sources())}
    assert by_node == {"a": 0, "b": 1}
    merged.write_perfetto(tmp_path / "m.pftrace")
    processes = decode((tmp_path / "m.pftrace").read_bytes()).processes
    assert processes == [("run.json:0", 2), ("run.json:1", 1)]  # pid 0 is shown as a free pid
    # Merged again with a third run.json, all three stay apart.
    again = ExecutionTrace.merge([merged, first])
    assert len(again.sources) == 3
    assert len({(s.host, s.pid) for s in again.sources}) == 3


HOSTS = ("h1", "h2", "h3", "h1", "h2")  # h3 less often: more inputs share a host
TICK = 3_906_250  # ns: 1/256 s, so shifts and sums are exact in binary
# Boot times per host (wall - monotonic), close enough that any host may run first;
# each trace adds its own drift to its host's.
BOOT_NS = {"h1": 1_700_000_000 * 10**9, "h2": 1_700_000_000 * 10**9 + 700 * TICK}
BOOT_NS["h3"] = BOOT_NS["h1"] - 900 * TICK


@st.composite
def traces(draw: st.DrawFn, index: int) -> ExecutionTrace:
    host = draw(st.sampled_from(HOSTS))
    monotonic_ns = draw(st.integers(1, 4096)) * TICK
    drift_ns = draw(st.integers(-8, 8)) * TICK
    wall_ns = BOOT_NS[host] + monotonic_ns + drift_ns
    origin = TraceOrigin(host, 100 + index, monotonic_ns, wall_ns)
    count = draw(st.integers(0, 4))
    steps = sorted(draw(st.lists(st.integers(0, 512), min_size=count, max_size=count)))
    return crafted(origin, [(T.STEP_STARTED, k / 256, None, index) for k in steps])


def flat_rows(trace: ExecutionTrace) -> tuple:
    return (rows(trace), trace.origin, trace.sources, [e.step_index for e in trace.events])


def hosts(group: list[ExecutionTrace]) -> set[str]:
    return {source.host for trace in group for source in trace.sources}


@settings(max_examples=300, deadline=None)
@given(data=st.data(), count=st.integers(3, 5))
def test_merge_is_associative_across_hosts(data, count):
    inputs = [data.draw(traces(i)) for i in range(count)]
    split = data.draw(st.integers(1, count - 1))
    flat = ExecutionTrace.merge(inputs)
    for inner, merged in (
        (inputs[:split], [ExecutionTrace.merge(inputs[:split]), *inputs[split:]]),
        (inputs[split:], [*inputs[:split], ExecutionTrace.merge(inputs[split:])]),
    ):
        # The one exception (docs/faults.md): a merge of one host's traces (aligned
        # exactly on its monotonic clock) merged with other hosts keeps that
        # alignment where the flat merge uses the wall clock for all.
        if len(hosts(inner)) <= 1 < len(hosts(inputs)):
            continue
        assert flat_rows(ExecutionTrace.merge(merged)) == flat_rows(flat)


def test_a_merge_of_two_hosts_merged_with_the_first_host_uses_the_wall_clock():
    # a and c share host h; b is on g. The merge of a and b has a's origin (host h):
    # merged with c it must still use the wall clock, as the flat merge does.
    a = crafted(TraceOrigin("h", 1, 10**9, 5 * 10**9), [(T.STEP_STARTED, 0.0, None, 1)])
    b = crafted(TraceOrigin("g", 2, 0, 5_500_000_000), [(T.STEP_STARTED, 0.0, None, 2)])
    c = crafted(TraceOrigin("h", 3, 3 * 10**9, 6 * 10**9), [(T.STEP_STARTED, 0.0, None, 3)])
    flat = ExecutionTrace.merge([a, b, c])
    assert rows(flat) == [(0.0, None, "h:1"), (0.5, None, "g:2"), (1.0, None, "h:3")]
    assert flat_rows(ExecutionTrace.merge([ExecutionTrace.merge([a, b]), c])) == flat_rows(flat)
