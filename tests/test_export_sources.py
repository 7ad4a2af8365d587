"""A merged trace in the Perfetto and the named Chrome export: one process group per
source (``host:pid``), each event on its own source's group, with that group's own
lanes and running-nodes counter; and what a bounded trace let go, shown where
Perfetto shows data loss.

Perfetto output is decoded with Perfetto's generated classes (``perfetto_model``)
and compared record for record with what the events and their sources imply; the
named Chrome output is compared byte for byte with ``named_reference``.
"""

from __future__ import annotations

import multiprocessing
import pickle
import queue
import socket
import time

import pytest
from dagron.execution.tracing import ExecutionTrace, TraceEventType, TraceOrigin
from perfetto_model import check, decode, process_groups
from trace_streams import crafted, named_reference

T = TraceEventType
WORKERS = 3
NODES_PER_WORKER = 4


def record_in_worker(index: int, barrier, results) -> None:
    """Record a few overlapping-in-time node runs after the shared barrier."""
    trace = ExecutionTrace()
    trace.record(T.NODE_CACHE_MISS, node_name=f"w{index}-setup")
    barrier.wait()
    for k in range(NODES_PER_WORKER):
        name = f"w{index}-{k}"
        trace.record(T.NODE_STARTED, node_name=name, metadata={"worker": index})
        time.sleep(0.002)
        trace.record(T.NODE_COMPLETED, node_name=name, duration=0.002)
    results.put((index, pickle.dumps(trace)))


def run_in_processes(method: str) -> tuple[ExecutionTrace, ExecutionTrace, dict]:
    """A driver trace and ``WORKERS`` traces from real processes, merged; also the
    worker traces by pid."""
    context = multiprocessing.get_context(method)
    barrier = context.Barrier(WORKERS)
    results = context.Queue()
    driver = ExecutionTrace()
    driver.record(T.EXECUTION_STARTED)
    processes = [
        context.Process(target=record_in_worker, args=(index, barrier, results))
        for index in range(WORKERS)
    ]
    for process in processes:
        process.start()
    by_index = {}
    try:
        for _ in range(WORKERS):
            index, data = results.get(timeout=120)
            by_index[index] = pickle.loads(data)
    except queue.Empty:
        pytest.fail("a worker process did not report back")
    finally:
        for process in processes:
            process.join(timeout=60)
    driver.record(T.EXECUTION_COMPLETED)
    workers = {processes[index].pid: trace for index, trace in by_index.items()}
    merged = ExecutionTrace.merge([driver, *by_index.values()])
    return merged, driver, workers


@pytest.fixture(scope="module", params=["fork", "spawn"])
def merged_run(request):
    if request.param not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {request.param} start method here")
    return run_in_processes(request.param)


def test_one_process_group_per_source_with_its_events(merged_run):
    merged, driver, workers = merged_run
    host = socket.gethostname()
    sources = merged.sources
    assert len(sources) == WORKERS + 1
    assert (sources[0].host, sources[0].pid) == (host, driver.origin.pid)
    assert {(s.host, s.pid) for s in sources[1:]} == {(host, pid) for pid in workers}
    for lanes in ("compact", "node"):
        # Every record on its source's group, as the layout rules say.
        decoded = check(merged, lanes=lanes, process_name="ignored for a merged trace")
        assert decoded.processes == [(f"{host}:{s.pid}", s.pid) for s in sources]
        assert decoded.open_at_end == {}
    decoded = decode(merged.to_perfetto())
    # The driver's group holds the run, each worker's its nodes on its own lanes
    # and counter; nothing empty is described.
    assert decoded.children[0] == ["execution"]
    assert all(children == ["nodes", "running nodes"] for children in decoded.children[1:])
    assert decoded.lanes_by_source[1:] == [["lane 1"]] * WORKERS
    # Each node slice sits on the group of the process that ran it, at the time it
    # recorded there, on the monotonic clock all these processes share.
    pid_of_group = [pid for _, pid in decoded.processes]
    starts = {r.name: r for r in decoded.records if r.phase == "B" and r.name != "execution"}
    assert len(starts) == WORKERS * NODES_PER_WORKER
    for pid, trace in workers.items():
        for event in trace.events:
            if event.event_type is T.NODE_STARTED:
                record = starts[event.node_name]
                assert pid_of_group[record.source] == pid
                at = trace.origin.monotonic_ns + round(event.timestamp * 1e9)
                assert abs(record.ts - at) <= 1, (record, at)
    # Counters run per group: each worker runs one node at a time.
    assert {r.counter for r in decoded.records if r.counter is not None} == {0, 1}


def test_named_chrome_has_a_process_per_source(merged_run):
    merged, _, _ = merged_run
    groups = process_groups(merged)
    assert len(groups) == WORKERS + 1
    text = merged.to_chrome_trace(named=True)
    assert text == named_reference(merged.events, merged.event_sources(), groups)
    # The documented output does not change for a merged trace.
    assert '"process_name"' not in merged.to_chrome_trace()


def test_sources_sharing_a_pid_get_distinct_process_groups():
    """Hosts reuse pids, and a trace loaded from JSON has pid 0: viewers would fold
    such processes together, so they get free pids; names keep the real ones."""
    events = [(T.NODE_STARTED, 0.0, "a", None), (T.NODE_COMPLETED, 0.5, "a", None)]
    alpha = crafted(TraceOrigin("alpha", 10, 5, 1_700_000_000_000_000_000), events)
    beta = crafted(TraceOrigin("beta", 10, 5, 1_700_000_000_100_000_000), events)
    loaded = crafted(TraceOrigin("run.json", 0, 0, 1_700_000_000_200_000_000), events)
    merged = ExecutionTrace.merge([alpha, beta, loaded])
    decoded = check(merged)
    assert decoded.processes == [("alpha:10", 10), ("beta:10", 11), ("run.json:0", 12)]
    # Aligned on the wall clock: 0.1 s apart.
    assert [r.source for r in decoded.records] == [0, 1, 2, 0, 1, 2]
    named = merged.to_chrome_trace(named=True)
    assert named == named_reference(merged.events, merged.event_sources(), decoded.processes)


def test_a_plain_trace_keeps_one_process_named_as_asked():
    trace = ExecutionTrace()
    trace.record(T.EXECUTION_STARTED)
    trace.record(T.NODE_STARTED, node_name="a")
    trace.record(T.NODE_COMPLETED, node_name="a")
    trace.record(T.EXECUTION_COMPLETED)
    decoded = check(trace, process_name="my run")
    assert decoded.processes == [("my run", trace.origin.pid)]
    # Merging one trace leaves it plain.
    assert decode(ExecutionTrace.merge([trace]).to_perfetto()).processes == [
        ("dagron", trace.origin.pid)
    ]
    # A trace recorded in another process keeps that process's pid.
    elsewhere = crafted(TraceOrigin("h", 4321, 7, 8), [(T.NODE_SKIPPED, 0.0, "x", None)])
    assert check(elsewhere).processes == [("dagron", 4321)]


# --- data loss -------------------------------------------------------------------------


def test_dropped_events_show_as_data_loss():
    trace = ExecutionTrace(max_events=5)
    for i in range(20):
        trace.record(T.NODE_STARTED, node_name=f"n{i}")
        trace.record(T.NODE_COMPLETED, node_name=f"n{i}", duration=0.0)
    assert trace.dropped == 35
    # `check` asserts the TraceStats count and the flagged packet, and the instant.
    decoded = check(trace)
    assert (decoded.packet_loss, decoded.loss_flags) == (35, 1)
    (marker,) = [r for r in decoded.records if r.name == "events dropped"]
    assert (marker.phase, marker.track, marker.args) == ("I", ("execution",), {"dropped": 35})
    assert trace.to_chrome_trace(named=True) == named_reference(
        trace.events, groups=[("dagron", 1)], dropped=35
    )


def test_no_loss_no_stats():
    trace = ExecutionTrace(max_events=50)
    trace.record(T.NODE_SKIPPED, node_name="a")
    decoded = check(trace)
    assert (decoded.packet_loss, decoded.loss_flags) == (0, 0)
    assert not [r for r in decoded.records if r.name == "events dropped"]


def test_merged_bounded_traces_count_every_loss():
    events = [(T.NODE_STARTED, 0.0, "a", None), (T.NODE_COMPLETED, 0.5, "a", None)]
    one = crafted(TraceOrigin("h", 1, 1_000, 0), events, dropped=7)
    two = crafted(TraceOrigin("h", 2, 2_000, 0), events, dropped=5)
    merged = ExecutionTrace.merge([one, two])
    assert merged.dropped == 12
    decoded = check(merged)
    assert decoded.packet_loss == 12
    assert merged.to_chrome_trace(named=True) == named_reference(
        merged.events, merged.event_sources(), decoded.processes, dropped=12
    )
