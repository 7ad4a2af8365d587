"""trace.to_otel / dagron.execution.otel: the span tree, nanosecond times, statuses,
span events and attributes (SDK InMemorySpanExporter), and the OTLP/HTTP wire format
(a local receiver started by the test)."""

from __future__ import annotations

import gc
import http.server
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

import dagron
import pytest
from dagron import ExecutionTrace, TraceEvent, TraceEventType
from dagron.execution.otel import export_trace
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

T = TraceEventType


def collect(trace: Any, **options: Any) -> dict[str, Any]:
    """Export ``trace`` into memory; the finished spans by name (names are unique)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    if isinstance(trace, ExecutionTrace):
        trace.to_otel(provider, **options)
    else:
        export_trace(trace, provider, **options)
    spans = exporter.get_finished_spans()
    by_name = {span.name: span for span in spans}
    assert len(by_name) == len(spans)
    return by_name


def ns(seconds: float) -> int:
    return round(seconds * 1e9)


def run_diamond() -> dagron.ExecutionResult:
    dag = dagron.DAG.builder().add_edges([("a", "b"), ("a", "c"), ("b", "d")]).build()
    dag.add_node("e")

    def fail() -> None:
        raise ValueError("bad input")

    tasks = {"a": lambda: time.sleep(0.002), "b": fail, "c": lambda: None, "e": None}
    return dagron.DAGExecutor(dag, trace=True).execute(tasks)


def test_executor_run_span_tree_times_and_statuses():
    result = run_diamond()
    trace = result.trace
    assert trace is not None
    events = trace.events
    spans = collect(trace)
    assert set(spans) == {"execution", "step 0", "step 1", "step 2", "a", "b", "c"}
    root = spans["execution"]
    assert root.parent is None
    trace_id = root.context.trace_id
    assert all(span.context.trace_id == trace_id for span in spans.values())
    for k in range(3):
        assert spans[f"step {k}"].parent.span_id == root.context.span_id
    assert spans["a"].parent.span_id == spans["step 0"].context.span_id
    assert spans["b"].parent.span_id == spans["step 1"].context.span_id
    assert spans["c"].parent.span_id == spans["step 1"].context.span_id

    # Every time is one Unix-ns origin plus the event's timestamp, to the nanosecond.
    origin = root.start_time - ns(events[0].timestamp)
    wall_ns = getattr(getattr(trace, "origin", None), "wall_ns", None)
    if wall_ns is not None:  # traces that know their origin (traces-across-processes)
        assert origin == wall_ns
    else:  # placed so that the last event is the moment of export
        assert abs(origin + ns(events[-1].timestamp) - time.time_ns()) < 10 * 10**9

    def at(kind: TraceEventType, **match: Any) -> int:
        (event,) = [
            e
            for e in events
            if e.event_type is kind and all(getattr(e, k) == v for k, v in match.items())
        ]
        return origin + ns(event.timestamp)

    assert root.end_time == at(T.EXECUTION_COMPLETED)
    for k in range(3):
        step = spans[f"step {k}"]
        assert (step.start_time, step.end_time) == (
            at(T.STEP_STARTED, step_index=k),
            at(T.STEP_COMPLETED, step_index=k),
        )
        assert step.attributes["dagron.step"] == k
    for name, end in (("a", T.NODE_COMPLETED), ("b", T.NODE_FAILED), ("c", T.NODE_COMPLETED)):
        span = spans[name]
        assert span.start_time == at(T.NODE_STARTED, node_name=name)
        assert span.end_time == at(end, node_name=name)
        assert span.attributes["dagron.node"] == name
    assert spans["a"].status.status_code is StatusCode.UNSET
    assert spans["a"].attributes["dagron.status"] == "completed"
    assert spans["b"].status.status_code is StatusCode.ERROR
    assert spans["b"].status.description == "ValueError: bad input"
    assert spans["b"].attributes["dagron.status"] == "failed"
    (b_end,) = [e for e in events if e.event_type is T.NODE_FAILED]
    assert spans["b"].attributes["dagron.duration_s"] == b_end.duration

    # Nodes that never ran are span events on the run's span.
    skipped = [(e.name, dict(e.attributes), e.timestamp) for e in root.events]
    assert skipped == [
        (
            "node_skipped",
            {"dagron.node": "e", "reason": "no_task"},
            at(T.NODE_SKIPPED, node_name="e"),
        ),
        (
            "node_skipped",
            {"dagron.node": "d", "reason": "fail_fast"},
            at(T.NODE_SKIPPED, node_name="d"),
        ),
    ]


@dataclass
class Source:
    host: str
    pid: int


@dataclass
class Origin:
    host: str
    pid: int
    monotonic_ns: int
    wall_ns: int


@dataclass
class MergedTrace:
    """What a trace merged from several processes exposes (see docs/API: origin,
    sources, event_sources, dropped)."""

    events: list[TraceEvent]
    origin: Origin
    sources: list[Source]
    source_of_event: list[int]
    dropped: int = 0

    def event_sources(self) -> list[int]:
        return list(self.source_of_event)


WALL = 1_700_000_000_123_456_789


def test_merged_bounded_trace_with_origin_sources_and_metadata():
    class Opaque:
        def __repr__(self) -> str:
            return "<opaque>"

    events = [
        # The trace let its first events go: no EXECUTION_STARTED, no STEP_STARTED 0,
        # no NODE_STARTED for "early" (its end recorded a duration) or "blind" (none).
        TraceEvent(T.NODE_COMPLETED, 0.25, node_name="early", duration=0.125),
        TraceEvent(T.NODE_COMPLETED, 0.5, node_name="blind"),
        TraceEvent(T.STEP_COMPLETED, 1.0, step_index=0, duration=0.75),
        TraceEvent(T.STEP_STARTED, 1.5, step_index=1),
        TraceEvent(
            T.NODE_STARTED,
            1.75,
            node_name="work",
            metadata={"io": {"rows": 3, "path": "/x"}, "tags": ["p", "q"], "n": None},
        ),
        TraceEvent(T.NODE_GATE_WAITING, 2.0, node_name="work", metadata={"gate": "review"}),
        TraceEvent(T.NODE_STARTED, 2.0, node_name="slow"),
        TraceEvent(
            T.NODE_COMPLETED,
            2.5,
            node_name="work",
            duration=0.75,
            metadata={"big": 10**30, "mixed": [1, "a"], "obj": Opaque(), "ok": True},
        ),
        TraceEvent(T.NODE_TIMED_OUT, 3.0, node_name="slow", duration=1.0, error="deadline"),
        TraceEvent(T.NODE_STARTED, 3.25, node_name="hung"),
        TraceEvent(T.NODE_CANCELLED, 3.5, node_name="later", metadata={"reason": "timeout"}),
        TraceEvent(T.NODE_CACHE_HIT, 3.5, node_name="early"),
        TraceEvent(T.STEP_COMPLETED, 3.75, step_index=1, duration=2.25),
        TraceEvent(T.EXECUTION_COMPLETED, 4.0, duration=5.0),
    ]
    trace = MergedTrace(
        events,
        Origin("h1", 11, 0, WALL),
        [Source("h1", 11), Source("h2", 22)],
        [0, 0, 0, 0, 1, 1, 0, 1, 0, 1, 0, 0, 0, 0],
        dropped=7,
    )
    spans = collect(trace)
    assert set(spans) == {"execution", "step 0", "step 1", "early", "blind", "work"} | {
        "slow",
        "hung",
    }
    root = spans["execution"]
    # The run's start: the end minus the recorded run duration (no event invented).
    assert (root.start_time, root.end_time) == (WALL + ns(-1.0), WALL + ns(4.0))
    assert root.attributes["dagron.dropped_events"] == 7
    assert spans["step 0"].start_time == WALL + ns(0.25)  # 1.0 - 0.75
    assert spans["step 0"].end_time == WALL + ns(1.0)
    assert (spans["early"].start_time, spans["early"].end_time) == (
        WALL + ns(0.125),
        WALL + ns(0.25),
    )
    assert spans["early"].parent.span_id == root.context.span_id
    blind = spans["blind"]
    assert blind.start_time == blind.end_time == WALL + ns(0.5)
    assert blind.attributes["dagron.start_lost"] is True
    hung = spans["hung"]
    assert hung.start_time == hung.end_time == WALL + ns(3.25)
    assert hung.attributes["dagron.end_lost"] is True
    assert hung.parent.span_id == spans["step 1"].context.span_id

    work = spans["work"]
    assert work.parent.span_id == spans["step 1"].context.span_id
    assert (work.start_time, work.end_time) == (WALL + ns(1.75), WALL + ns(2.5))
    assert dict(work.attributes) == {
        "dagron.node": "work",
        "host.name": "h2",
        "process.pid": 22,
        "io.rows": 3,
        "io.path": "/x",
        "tags": ("p", "q"),
        "n": "null",
        "dagron.status": "completed",
        "dagron.duration_s": 0.75,
        "big": "1000000000000000000000000000000",
        "mixed": '[1, "a"]',
        "obj": "<opaque>",
        "ok": True,
    }
    assert [(e.name, dict(e.attributes), e.timestamp) for e in work.events] == [
        ("node_gate_waiting", {"dagron.node": "work", "gate": "review"}, WALL + ns(2.0))
    ]
    slow = spans["slow"]
    assert slow.status.status_code is StatusCode.ERROR
    assert slow.status.description == "deadline"
    assert slow.attributes["dagron.status"] == "timed_out"
    assert (slow.attributes["host.name"], slow.attributes["process.pid"]) == ("h1", 11)
    assert [(e.name, dict(e.attributes)) for e in spans["early"].events] == [
        ("node_cache_hit", {"dagron.node": "early"})
    ]
    assert [(e.name, dict(e.attributes)) for e in root.events] == [
        ("node_cancelled", {"dagron.node": "later", "reason": "timeout"})
    ]


def test_bounded_recorder_trace_exports_what_it_holds():
    trace = ExecutionTrace(max_events=4)
    trace.record(T.EXECUTION_STARTED)
    trace.record(T.STEP_STARTED, step_index=0)
    trace.record(T.NODE_STARTED, node_name="x")
    trace.record(T.NODE_COMPLETED, node_name="x", duration=0.001)
    trace.record(T.STEP_COMPLETED, step_index=0, duration=0.002)
    trace.record(T.EXECUTION_COMPLETED, duration=0.003)
    events = trace.events
    assert [e.event_type for e in events][0] is T.NODE_STARTED  # the first two are gone
    spans = collect(trace)
    assert set(spans) == {"execution", "step 0", "x"}
    origin = spans["x"].start_time - ns(events[0].timestamp)
    assert spans["x"].end_time == origin + ns(events[1].timestamp)
    assert spans["step 0"].start_time == origin + ns(events[2].timestamp) - ns(0.002)
    assert spans["execution"].end_time == origin + ns(events[3].timestamp)
    assert spans["x"].parent.span_id == spans["execution"].context.span_id


def test_node_endings_status_and_error_text():
    trace = ExecutionTrace()
    for name in ("ok", "warned", "bad", "mute", "late"):
        trace.record(T.NODE_STARTED, node_name=name)
    trace.record(T.NODE_COMPLETED, node_name="ok", duration=0.5)
    trace.record(T.NODE_COMPLETED, node_name="warned", error="retried once")
    trace.record(T.NODE_FAILED, node_name="bad", error="boom")
    trace.record(T.NODE_FAILED, node_name="mute")
    trace.record(T.NODE_TIMED_OUT, node_name="late", duration=2.0)
    spans = collect(trace)
    got = {}
    for name in ("ok", "warned", "bad", "mute", "late"):
        attributes = dict(spans[name].attributes)
        # This process recorded the trace: every span names it.
        assert attributes.pop("process.pid") == os.getpid()
        assert isinstance(attributes.pop("host.name"), str)
        got[name] = (attributes, spans[name].status.status_code, spans[name].status.description)
    assert got == {
        "ok": (
            {"dagron.node": "ok", "dagron.status": "completed", "dagron.duration_s": 0.5},
            StatusCode.UNSET,
            None,
        ),
        "warned": (
            {
                "dagron.node": "warned",
                "dagron.status": "completed",
                "dagron.error": "retried once",
            },
            StatusCode.UNSET,
            None,
        ),
        "bad": ({"dagron.node": "bad", "dagron.status": "failed"}, StatusCode.ERROR, "boom"),
        "mute": (
            {"dagron.node": "mute", "dagron.status": "failed"},
            StatusCode.ERROR,
            "node_failed",
        ),
        "late": (
            {"dagron.node": "late", "dagron.status": "timed_out", "dagron.duration_s": 2.0},
            StatusCode.ERROR,
            "node_timed_out",
        ),
    }


def test_empty_trace_and_bad_arguments():
    assert ExecutionTrace().to_otel(TracerProvider()) is None
    with pytest.raises(TypeError, match="service_name must be str"):
        ExecutionTrace().to_otel(TracerProvider(), service_name=3)  # type: ignore[arg-type]


class GcWatcher(SpanProcessor):
    """Notes whether the cyclic GC ran collections while each span ended; raises
    from ``on_end`` after ``fail_after`` spans when set."""

    def __init__(self, fail_after: int = -1) -> None:
        self.collecting: list[bool] = []
        self.fail_after = fail_after

    def on_end(self, span: Any) -> None:
        self.collecting.append(gc.isenabled())
        if len(self.collecting) == self.fail_after:
            raise RuntimeError("processor failed")


def test_gc_paused_during_export_and_restored_after():
    trace = run_diamond().trace
    assert trace is not None
    span_count = len(collect(trace))
    assert span_count == 7  # the run, its three steps, and a, b, c
    for enabled in (True, False):
        (gc.enable if enabled else gc.disable)()
        try:
            watcher = GcWatcher()
            provider = TracerProvider()
            provider.add_span_processor(watcher)
            trace.to_otel(provider)
            assert watcher.collecting == [False] * span_count
            assert gc.isenabled() is enabled
        finally:
            gc.enable()
    # A processor that raises: the error reaches the caller, collection resumes.
    watcher = GcWatcher(fail_after=2)
    provider = TracerProvider()
    provider.add_span_processor(watcher)
    with pytest.raises(RuntimeError, match="processor failed"):
        trace.to_otel(provider)
    assert watcher.collecting == [False, False]
    assert gc.isenabled()


# -- OTLP/HTTP to a local receiver ---------------------------------------------------


class Receiver(http.server.BaseHTTPRequestHandler):
    requests: list[tuple[str, str, bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server hook's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.requests.append((self.path, self.headers["Content-Type"], body))
        reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver():
    Receiver.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_otlp_http_wire_format(receiver, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", receiver)
    result = run_diamond()
    trace = result.trace
    assert trace is not None
    context = trace.to_otel(service_name="pipeline-7")
    assert Receiver.requests, "nothing reached the receiver"
    spans = []
    resources = []
    for path, content_type, body in Receiver.requests:
        assert (path, content_type) == ("/v1/traces", "application/x-protobuf")
        request = trace_service_pb2.ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource_spans in request.resource_spans:
            resources.append(
                {kv.key: kv.value.string_value for kv in resource_spans.resource.attributes}
            )
            for scope_spans in resource_spans.scope_spans:
                assert scope_spans.scope.name == "dagron"
                spans.extend(scope_spans.spans)
    assert all(r["service.name"] == "pipeline-7" for r in resources)
    by_name = {s.name: s for s in spans}
    assert set(by_name) == {"execution", "step 0", "step 1", "step 2", "a", "b", "c"}
    root = by_name["execution"]
    assert root.parent_span_id == b""
    assert int.from_bytes(root.trace_id, "big") == context.trace_id
    assert int.from_bytes(root.span_id, "big") == context.span_id
    assert by_name["b"].parent_span_id == by_name["step 1"].span_id
    assert by_name["step 1"].parent_span_id == root.span_id
    events = trace.events
    origin = root.start_time_unix_nano - ns(events[0].timestamp)
    (b_start,) = [e for e in events if e.event_type is T.NODE_STARTED and e.node_name == "b"]
    assert by_name["b"].start_time_unix_nano == origin + ns(b_start.timestamp)
    assert by_name["b"].status.code == 2  # STATUS_CODE_ERROR
    assert by_name["b"].status.message == "ValueError: bad input"
    attributes = {kv.key: kv.value for kv in by_name["b"].attributes}
    assert attributes["dagron.node"].string_value == "b"
    assert [e.name for e in root.events] == ["node_skipped", "node_skipped"]


# --- Issue 19: traces without a clock, and metadata to_json refuses or cannot print. ---


def test_a_trace_without_a_clock_says_what_it_assumed(tmp_path):
    trace = ExecutionTrace()
    trace.record(T.EXECUTION_STARTED)
    trace.record(T.EXECUTION_COMPLETED, duration=0.0)
    trace.write_json(tmp_path / "run.json")
    loaded = ExecutionTrace.load(tmp_path / "run.json")
    before = time.time_ns()
    root = collect(loaded)["execution"]
    after = time.time_ns()
    assert root.attributes["dagron.time_assumed"] == "last_event_at_export"
    # Its last event is placed at the moment of export, not in 1970.
    assert before <= root.end_time <= after
    assert root.end_time - root.start_time == ns(loaded.events[-1].timestamp)
    # A trace with a clock says nothing of the kind.
    assert "dagron.time_assumed" not in collect(trace)["execution"].attributes


class Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def test_metadata_whose_repr_raises_gets_a_placeholder():
    trace = ExecutionTrace()
    trace.record(T.EXECUTION_STARTED, metadata={"bad": Unprintable(), Unprintable(): 1, "ok": 2})
    attributes = collect(trace)["execution"].attributes
    assert attributes["bad"] == "<unprintable Unprintable>"
    assert attributes["ok"] == 2
    assert attributes["<unprintable Unprintable>"] == 1


def test_circular_metadata_is_a_value_error_as_in_to_json():
    for make in (lambda d: d.__setitem__("self", d), lambda d: d.__setitem__("l", [d])):
        metadata: dict[str, Any] = {"a": 1}
        make(metadata)
        trace = ExecutionTrace()
        trace.record(T.EXECUTION_STARTED, metadata=metadata)
        with pytest.raises(ValueError, match="^Circular reference detected$"):
            trace.to_json()
        with pytest.raises(ValueError, match="^Circular reference detected$"):
            collect(trace)
    # The same dict twice, side by side, is no cycle.
    shared = {"x": 1}
    trace = ExecutionTrace()
    trace.record(T.EXECUTION_STARTED, metadata={"a": shared, "b": shared})
    attributes = collect(trace)["execution"].attributes
    assert (attributes["a.x"], attributes["b.x"]) == (1, 1)


def test_flattened_keys_that_collide_are_all_kept():
    trace = ExecutionTrace()
    metadata = {"a": {"b": 1}, "a.b": 2, 1: "one", "1": "uno", "c": {"d": {"e": 3}}, "c.d.e": 4}
    trace.record(T.EXECUTION_STARTED, metadata=metadata)
    attributes = collect(trace)["execution"].attributes
    own = ("dagron.", "host.name", "process.pid")
    assert {k: v for k, v in attributes.items() if not k.startswith(own)} == {
        "a.b": 1,
        "a.b#2": 2,
        "1": "one",
        "1#2": "uno",
        "c.d.e": 3,
        "c.d.e#2": 4,
    }


def test_metadata_as_deep_as_to_json_writes_flattens():
    metadata: dict[str, Any] = {}
    inner = metadata
    for _ in range(5000):
        inner["k"] = inner = {}
    inner["leaf"] = 1
    trace = ExecutionTrace()
    trace.record(T.EXECUTION_STARTED, metadata=metadata)
    attributes = collect(trace)["execution"].attributes
    assert attributes["k." * 5000 + "leaf"] == 1
