"""Export an :class:`~dagron.execution.tracing.ExecutionTrace` as OpenTelemetry spans.

``trace.to_otel(tracer_provider=None, *, service_name="dagron")`` (or
:func:`export_trace`) sends one span per run, step and node through an OpenTelemetry
``TracerProvider``; ``pip install 'dagron-trace[otel]'`` brings the SDK. The shape:

- a root span ``execution`` from ``EXECUTION_STARTED`` to ``EXECUTION_COMPLETED``;
- a span ``step <k>`` per step, child of the root, from ``STEP_STARTED`` to
  ``STEP_COMPLETED``;
- a span per node run, named after the node, child of the step that was open when it
  started (of the root when none was), from ``NODE_STARTED`` to its
  ``NODE_COMPLETED`` / ``NODE_FAILED`` / ``NODE_TIMED_OUT``, paired as
  ``trace.node_runs()`` pairs them (the Perfetto export's rule: an end closes the
  newest open run of its node in its source, so overlapping runs of one node pair
  as Perfetto draws them). Failed and timed-out nodes have status ERROR with the
  event's error text as description;
- skipped, cancelled, cache, gate and resource events become span events, on the
  node's span when the node has one, else on the root span (attribute ``dagron.node``
  names the node);
- ``metadata`` becomes attributes: nested dicts flattened with dotted keys
  (``{"io": {"rows": 3}}`` -> ``io.rows = 3``); values OpenTelemetry accepts (str,
  bool, int within 64 bits, float, and lists of one of those) as they are; anything
  else as its JSON text, or its ``repr`` when it has none, or
  ``"<unprintable TYPE>"`` when its ``repr`` raises. Keys of one metadata dict that
  flatten to one name are all kept: the first under the name, the later ones as
  ``name#2``, ``name#3``, ... (``{"a": {"b": 1}, "a.b": 2}`` -> ``a.b = 1``,
  ``a.b#2 = 2``). Metadata that contains itself raises ``ValueError`` ("Circular
  reference detected"), as ``to_json`` does. dagron's own attributes are under
  ``dagron.``.

Times are Unix nanoseconds: ``trace.origin.wall_ns`` (the wall clock at the trace's
first event) plus each event's timestamp. A trace without a clock (no origin, or an
origin whose clocks both read 0, as a trace loaded from a JSON export has) puts its
last event at the moment of export (so a trace exported right after its run lands
where it ran) and says so: its root span has the attribute ``dagron.time_assumed =
"last_event_at_export"``. A bounded trace that let its oldest events go exports what
it holds and invents no time: a span whose start event is gone starts at its end
minus the duration its end event recorded (or, without one, is empty at its end,
with ``dagron.start_lost = true``); a span whose end never came is empty at its
start with ``dagron.end_lost = true``. A trace merged from several processes gives
every span the ``host.name`` and ``process.pid`` of the source of its first event.

``tracer_provider=None`` uses the global provider when the application configured an
SDK one; otherwise a provider is made for this export with the resource
``service.name = service_name`` and an OTLP/HTTP exporter configured by the standard
``OTEL_EXPORTER_OTLP_*`` environment variables (``opentelemetry-exporter-otlp-proto-http``),
flushed and shut down before returning. The root span's ``SpanContext`` is returned
(``None`` for an empty trace).

Every span goes through the provider's ``Tracer.start_span`` and ``Span.end``, so its
sampler, span limits, id generator and span processors apply as to any other span.
The cyclic garbage collector is paused while an export runs (a large export makes
a few small objects per span, none in a cycle, and each full collection would walk
them all) and left as it was found when the export returns or raises.
"""

from __future__ import annotations

import gc
import json
import math
import time
from typing import TYPE_CHECKING, Any, Optional

from dagron import _core
from dagron.execution._foreign import as_recorder, sources_of

if TYPE_CHECKING:
    from opentelemetry.trace import SpanContext, TracerProvider

    from dagron.execution.tracing import TraceEvent

__all__ = ["export_trace"]

# Event types by their values: this module reads a trace's events without importing
# the tracing module (which imports this one for ``to_otel``).
_STARTED, _COMPLETED, _FAILED = "node_started", "node_completed", "node_failed"
_INT64 = (-(2**63), 2**63 - 1)
_Attributes = dict[str, Any]


class _Span:
    """A span to emit: times in ns since the trace's first event (None: not held)."""

    # Slots: one of these per node run, so their size and creation cost count.
    __slots__ = (
        "name",
        "parent",
        "start",
        "end",
        "attributes",
        "events",
        "error",
        "failed",
        "duration",
    )

    def __init__(
        self, name: str, parent: Optional[int], start: Optional[int], end: Optional[int]
    ) -> None:
        self.name = name
        self.parent = parent  # index into the plan; None for the root
        self.start = start
        self.end = end
        self.attributes: _Attributes = {}
        self.events: list[tuple[str, int, _Attributes]] = []
        self.error: Optional[str] = None
        self.failed = False
        self.duration: Optional[float] = None  # from the end event, to place a lost start


def export_trace(
    trace: Any,
    tracer_provider: Optional[TracerProvider] = None,
    *,
    service_name: str = "dagron",
) -> Optional[SpanContext]:
    """Send ``trace`` as spans (see the module's documentation); returns the root
    span's context, or ``None`` when the trace holds no event."""
    if not isinstance(service_name, str):
        raise TypeError(f"service_name must be str, not {type(service_name).__name__}")
    try:
        from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    except ImportError:  # pragma: no cover - the test extra installs it
        raise ImportError(
            "to_otel needs the OpenTelemetry SDK: pip install 'dagron-trace[otel]'"
        ) from None
    # An export makes a few small objects per span (the SDK's spans, contexts and
    # attribute maps, our plan); each would count towards the next cyclic-GC pass,
    # which walks the whole heap, the trace's events and every span made so far
    # included. None of ours forms a cycle; collection resumes when the export ends.
    collecting = gc.isenabled()
    gc.disable()
    try:
        events = trace.events
        if not events:
            return None
        plan = _plan(trace, events)
        origin_ns, event_count = _wall_origin_ns(trace, events), len(events)
        if origin_ns is None:
            # No clock: the last event is placed at the moment of export.
            origin_ns = time.time_ns() - _ns(events[-1].timestamp)
            plan[0].attributes[ASSUMED] = ASSUMED_VALUE
        del events  # the plan holds what the spans need
        provider, owned = _provider(tracer_provider, service_name, SdkTracerProvider, event_count)
        try:
            return _emit(provider, plan, origin_ns)
        finally:
            if owned:
                provider.shutdown()  # flushes the batch processor
    finally:
        if collecting:
            gc.enable()


# The root span's attribute saying that the times were placed by assumption.
ASSUMED = "dagron.time_assumed"
ASSUMED_VALUE = "last_event_at_export"


def _wall_origin_ns(trace: Any, events: list[TraceEvent]) -> Optional[int]:
    """Unix ns of timestamp 0.0 (the trace's first event); None when the trace
    holds no clock (no origin, or one whose clocks both read 0: a JSON load)."""
    origin = getattr(trace, "origin", None)
    wall_ns = getattr(origin, "wall_ns", None)
    if isinstance(wall_ns, int) and (wall_ns != 0 or getattr(origin, "monotonic_ns", 0) != 0):
        return wall_ns
    return None


def _ns(seconds: float) -> int:
    return round(seconds * 1e9)


def _provider(
    given: Optional[TracerProvider], service_name: str, sdk_type: type, event_count: int
) -> tuple[Any, bool]:
    """The provider to use, and whether this export made it (and must shut it down)."""
    if given is not None:
        return given, False
    from opentelemetry import trace as otel_trace

    configured = otel_trace.get_tracer_provider()
    if isinstance(configured, sdk_type):
        return configured, False
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        raise ImportError(
            "to_otel() without a tracer_provider sends spans over OTLP/HTTP: "
            "pip install opentelemetry-exporter-otlp-proto-http, or pass a tracer_provider"
        ) from None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import SpanLimits
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # Room for every span and span event: the defaults (2048 queued spans, 128 events
    # per span) would drop part of a large run.
    provider = sdk_type(
        resource=Resource.create({"service.name": service_name}),
        span_limits=SpanLimits(max_events=event_count + 1),
    )
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(), max_queue_size=max(2048, event_count + 1))
    )
    return provider, True


def _plan(trace: Any, events: list[TraceEvent]) -> list[_Span]:
    """The spans of ``events``, as plain data: index 0 is the root, then steps and
    node runs in the order they started."""
    return _Planner(trace, events).plan(_node_runs(trace, events))


class _Planner:
    """Walks the events once, in order. Node runs come paired from the trace's
    ``node_runs()`` (the core's pass, the Perfetto export's pairing), each handled
    when its first event comes, by the handler of its kind; every other event by
    the handler of its type."""

    def __init__(self, trace: Any, events: list[TraceEvent]) -> None:
        self.events = events
        self.total = len(events)
        self.sources = sources_of(trace, len(events))
        self.root = _Span("execution", None, None, None)
        self.spans = [self.root]
        self.steps: dict[int, int] = {}  # step index -> span index
        self.open_steps: list[int] = []  # step indices started and not completed
        self.last_run: dict[str, int] = {}  # node name -> index of its latest span
        self.dropped = getattr(trace, "dropped", 0)

    def plan(self, runs: Any) -> list[_Span]:
        # Keyed by the event types' values (the events not paired into runs).
        by_type = {
            "execution_started": self.execution_started,
            "execution_completed": self.execution_completed,
            "step_started": self.step_started,
            "step_completed": self.step_completed,
        }
        by_run_kind = {
            "completed": self.run,
            "failed": self.run,
            "timed_out": self.run,
            "open": self.run,
            "skipped": self.point,
            "cancelled": self.point,
        }
        # The rows in the order of their first event (a start, or the end or instant
        # that is the whole run), as the pass gives them.
        starts, ends, statuses = runs.start_event, runs.end_event, runs.status
        count, row = len(runs), 0
        first = starts[0] if count and starts[0] >= 0 else (ends[0] if count else -1)
        # The ends of runs that have a start, marked when the run is handled.
        total = self.total
        paired = bytearray(total + 1)
        point = self.point
        for at, event in enumerate(self.events):
            if at == first:
                end = ends[row]
                by_run_kind[statuses[row]](at, event, end)
                paired[end if end < total else -1] = 1  # -1: the spare last byte
                row += 1
                first = -1
                if row < count:
                    first = starts[row] if starts[row] >= 0 else ends[row]
            elif not paired[at]:
                by_type.get(event.event_type.value, point)(at, event, -1)
        self.finish()
        return self.spans

    # -- node runs -----------------------------------------------------------------

    def run(self, at: int, event: TraceEvent, end_at: int) -> None:
        """A run that started (ended or not), or an end whose start is gone; what
        its end event says: time, status, duration, error, metadata. (One of these
        per node: the work is inlined, the members are module constants.)"""
        name = event.node_name
        assert name is not None  # runs are of named nodes
        started = event.event_type.value == _STARTED
        node = _Span(
            name,
            _step_parent(event, self.steps, self.open_steps),
            round(event.timestamp * 1e9) if started else None,
            None,
        )
        held = node.attributes
        held["dagron.node"] = name
        if self.sources is not None:
            _set_source(node, self.sources, at)
        if started and event.metadata:
            _flatten(event.metadata, held)
        spans = self.spans
        self.last_run[name] = len(spans)
        spans.append(node)
        if end_at < 0 or end_at >= self.total:
            return  # open
        end = self.events[end_at]
        kind, duration = end.event_type.value, end.duration
        node.end, node.duration = round(end.timestamp * 1e9), duration
        if kind == _COMPLETED:
            held["dagron.status"] = "completed"
        else:
            held["dagron.status"] = "failed" if kind == _FAILED else "timed_out"
        if duration is not None:
            held["dagron.duration_s"] = duration
        if kind != _COMPLETED:
            node.failed = True
            node.error = end.error or kind
        elif end.error:
            held["dagron.error"] = end.error
        if end.metadata:
            _flatten(end.metadata, held)

    def point(self, at: int, event: TraceEvent, end_at: int) -> None:
        """Skipped, cancelled, cache, gate, resource (and events that fit nowhere
        else): a point in time on the node's span if the node ran, else on the
        run's."""
        name = event.node_name
        attributes: _Attributes = {}
        if name is not None:
            attributes["dagron.node"] = name
        if event.step_index is not None:
            attributes["dagron.step"] = event.step_index
        if event.duration is not None:
            attributes["dagron.duration_s"] = event.duration
        if event.error:
            attributes["dagron.error"] = event.error
        if event.metadata:
            _flatten(event.metadata, attributes)
        owner = self.last_run.get(name, 0) if name is not None else 0
        self.spans[owner].events.append((event.event_type.value, _ns(event.timestamp), attributes))

    # -- the run and its steps -----------------------------------------------------

    def execution_started(self, at: int, event: TraceEvent, end_at: int) -> None:
        root = self.root
        if root.start is None:
            root.start = _ns(event.timestamp)
            if self.sources is not None:
                _set_source(root, self.sources, at)
        if event.metadata:
            _flatten(event.metadata, root.attributes)

    def execution_completed(self, at: int, event: TraceEvent, end_at: int) -> None:
        root = self.root
        root.end = _ns(event.timestamp)
        root.duration = event.duration
        if event.metadata:
            _flatten(event.metadata, root.attributes)

    def step_started(self, at: int, event: TraceEvent, end_at: int) -> None:
        k = event.step_index
        if k is None:
            return self.point(at, event, end_at)
        step = _Span(f"step {k}", 0, _ns(event.timestamp), None)
        step.attributes["dagron.step"] = k
        if self.sources is not None:
            _set_source(step, self.sources, at)
        self.steps[k] = len(self.spans)
        self.spans.append(step)
        self.open_steps.append(k)

    def step_completed(self, at: int, event: TraceEvent, end_at: int) -> None:
        k = event.step_index
        if k is None:
            return self.point(at, event, end_at)
        if k in self.open_steps:
            self.open_steps.remove(k)
        if k not in self.steps:  # its start was let go
            lost = _Span(f"step {k}", 0, None, None)
            lost.attributes["dagron.step"] = k
            if self.sources is not None:
                _set_source(lost, self.sources, at)
            self.steps[k] = len(self.spans)
            self.spans.append(lost)
        step = self.spans[self.steps[k]]
        step.end, step.duration = _ns(event.timestamp), event.duration

    def finish(self) -> None:
        """Times the events did not give: the root's from the trace's first and last
        events (or the run's recorded duration), lost starts and ends."""
        root, events = self.root, self.events
        first, last = _ns(events[0].timestamp), _ns(events[-1].timestamp)
        if root.start is None:
            # From the recorded run duration, or else the earliest time the trace holds.
            derived = _lost_start(root)
            root.start = first if derived is None else min(derived, first)
        if root.end is None:
            root.end = last
        if isinstance(self.dropped, int) and self.dropped > 0:
            root.attributes["dagron.dropped_events"] = self.dropped
        for span in self.spans[1:]:
            if span.start is None:
                span.start = _lost_start(span)
                if span.start is None:
                    span.start = span.end
                    span.attributes["dagron.start_lost"] = True
            if span.end is None:
                span.end = span.start
                span.attributes["dagron.end_lost"] = True


def _node_runs(trace: Any, events: list[TraceEvent]) -> Any:
    """The runs of ``trace`` (``node_runs()``); a trace of another type is copied
    into the core for the same pass, so every trace pairs by one rule."""
    node_runs = getattr(trace, "node_runs", None)
    if callable(node_runs):
        return node_runs()
    return as_recorder(trace, events).node_runs()


def _lost_start(span: _Span) -> Optional[int]:
    """Where a span whose start event is gone began: its end minus the duration its
    end event recorded, if it recorded one."""
    if span.end is None or span.duration is None or not math.isfinite(span.duration):
        return None
    return span.end - _ns(span.duration)


def _step_parent(event: TraceEvent, steps: dict[int, int], open_steps: list[int]) -> int:
    """The span index of the step a node event belongs to (the root when none)."""
    if event.step_index is not None and event.step_index in steps:
        return steps[event.step_index]
    if open_steps:
        return steps[open_steps[-1]]
    return 0


def _set_source(span: _Span, sources: tuple[list[Any], list[int]], at: int) -> None:
    known, indices = sources
    source = known[indices[at]]
    host = getattr(source, "host", None)
    pid = getattr(source, "pid", None)
    if isinstance(host, str):
        span.attributes["host.name"] = host
    if isinstance(pid, int):
        span.attributes["process.pid"] = pid


def _flatten(metadata: Any, into: _Attributes) -> None:
    """Metadata as attributes: dicts flattened with dotted keys, values OpenTelemetry
    accepts as they are, anything else as its JSON text (its ``repr`` when it has
    none, a placeholder when that fails too). Two keys of one metadata dict that
    flatten to one name both stay: the later ones get ``#2``, ``#3``, ... A dict
    that contains itself raises ``ValueError``, as ``to_json`` does."""
    if not isinstance(metadata, dict):
        return
    for key, value in metadata.items():
        if type(key) is not str or isinstance(value, dict):
            break
    else:  # Flat, with str keys (the common case): no name can collide.
        for key, value in metadata.items():
            into[key] = _attribute(value)
        return
    # Iterative, so metadata as deep as to_json writes flattens too; `active` holds
    # the ids of the dicts being walked, to tell a cycle; `written`, the names set.
    active = [id(metadata)]
    stack = [("", iter(metadata.items()))]
    written: set[str] = set()
    while stack:
        prefix, items = stack[-1]
        for key, value in items:
            name = prefix + (key if type(key) is str else _text(key))
            if isinstance(value, dict) and value:
                if id(value) in active:
                    raise ValueError("Circular reference detected")
                active.append(id(value))
                stack.append((name + ".", iter(value.items())))
                break
            if name in written:
                name = _another(name, written)
            written.add(name)
            into[name] = _attribute(value)
        else:
            stack.pop()
            active.pop()


def _another(name: str, written: set[str]) -> str:
    """``name#2``, ``name#3``, ...: the first not in ``written``."""
    count = 2
    while f"{name}#{count}" in written:
        count += 1
    return f"{name}#{count}"


def _text(key: Any) -> str:
    """A metadata key as an attribute name."""
    if type(key) is str:
        return key
    try:
        return str(key)
    except Exception:
        return f"<unprintable {type(key).__name__}>"


def _attribute(value: Any) -> Any:
    if _scalar(value):
        return value
    if isinstance(value, (list, tuple)) and value:
        kinds = {type(item) for item in value}
        if len(kinds) == 1 and all(_scalar(item) for item in value):
            return list(value)
    try:
        return json.dumps(value)
    except ValueError as error:
        if str(error) == "Circular reference detected":
            raise ValueError("Circular reference detected") from None
    except Exception:
        pass
    try:
        return repr(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"


def _scalar(value: Any) -> bool:
    kind = type(value)
    if kind is str or kind is bool or kind is float:
        return True
    return kind is int and _INT64[0] <= value <= _INT64[1]


def _emit(provider: Any, plan: list[_Span], origin_ns: int) -> SpanContext:
    from opentelemetry.trace import Status, StatusCode, set_span_in_context

    tracer = provider.get_tracer("dagron", _core.__version__)
    live: list[Any] = []
    contexts: dict[int, Any] = {}  # parent index -> its context, made once
    for span in plan:
        assert span.start is not None and span.end is not None  # set by _plan
        context = None
        if span.parent is not None:
            context = contexts.get(span.parent)
            if context is None:
                context = contexts[span.parent] = set_span_in_context(live[span.parent])
        otel_span = tracer.start_span(
            span.name,
            context=context,
            attributes=span.attributes,
            start_time=origin_ns + span.start,
        )
        live.append(otel_span)
    # Children end before their parents, so exporters see finished children first.
    for span, otel_span in reversed(list(zip(plan, live))):
        for name, ts, attributes in span.events:
            otel_span.add_event(name, attributes, timestamp=origin_ns + ts)
        if span.failed:
            otel_span.set_status(Status(StatusCode.ERROR, span.error))
        otel_span.end(end_time=origin_ns + span.end)
    return live[0].get_span_context()
