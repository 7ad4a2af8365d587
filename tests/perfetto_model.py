"""Reading ``to_perfetto()`` back, and what it should hold.

``decode`` reads a trace with Perfetto's own generated classes
(``perfetto.protos.perfetto.trace.perfetto_trace_pb2``), independent of the writer,
checking on the way what a reader relies on: one packet sequence whose first
interning packet clears the incremental state; every interned id defined (in that
packet or an earlier one) before use, by packets flagged as needing it; every track
described before use (an event without a track is on the sequence's default
one); slice ends only on tracks with an open slice; timestamps as
deltas on clock 64, tied to ``BUILTIN_CLOCK_MONOTONIC`` by the clock snapshot; each
counter value on its own process's counter track; data loss (``TraceStats`` and
``previous_packet_dropped``) where trace processors count it.

``expected`` computes from ``trace.events`` (and, for a merged trace, each event's
source) alone, by the layout rules the README states, the same records ``decode``
returns: per source (process group) its own execution track, lanes and counter.
"""

from __future__ import annotations

import heapq
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from perfetto.protos.perfetto.trace import perfetto_trace_pb2 as pb

SEQ_CLEARED = 1
SEQ_NEEDS = 2
MONOTONIC = 3
DELTA_CLOCK = 64

NODE_ENDS = ("node_completed", "node_failed", "node_timed_out")
ROLE = {
    "execution_started": ("B", "execution"),
    "execution_completed": ("E", "execution"),
    "step_started": ("B", "step"),
    "step_completed": ("E", "step"),
    "node_started": ("B", "node"),
    "node_completed": ("E", "node"),
    "node_failed": ("E", "node"),
    "node_timed_out": ("E", "node"),
    "node_gate_waiting": ("B", "gate"),
    "node_gate_resolved": ("E", "gate"),
    "resource_acquired": ("B", "resource"),
    "resource_released": ("E", "resource"),
}
LANE_KINDS = ("node", "gate", "resource")
PREFIX = {"node": "", "gate": "gate: ", "resource": "resource: "}
MARKS = {"node_failed": "failed: ", "node_timed_out": "timed out: "}


def fix(text: str) -> str:
    """A str as UTF-8 can carry it: each lone surrogate becomes U+FFFD."""
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)


def fix_all(value: Any) -> Any:
    if isinstance(value, str):
        return fix(value)
    if isinstance(value, list):
        return [fix_all(v) for v in value]
    if isinstance(value, dict):
        return {fix(k): fix_all(v) for k, v in value.items()}
    return value


def same(a: Any, b: Any) -> bool:
    """Deep equality that tells int from float from bool, and NaN and -0.0 apart."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


@dataclass
class Record:
    """One track event: its phase (B, E, I), track, name, time and annotations, and
    the process group (source index) the track belongs to."""

    phase: str
    track: tuple
    name: Optional[str]
    ts: int
    args: dict
    counter: Optional[int] = None
    source: int = 0

    def same_as(self, other: Record) -> bool:
        return (
            (self.phase, self.track, self.name, self.ts, self.counter, self.source)
            == (other.phase, other.track, other.name, other.ts, other.counter, other.source)
        ) and same(self.args, other.args)


@dataclass
class Decoded:
    records: list[Record]
    origin: int
    #: (process_name, pid) of each process group, in the order described.
    processes: list[tuple[str, int]]
    #: Per process group, its lane names in order.
    lanes_by_source: list[list[str]]
    open_at_end: dict = field(default_factory=dict)
    #: ``trace_writer_packet_loss`` summed over ``TraceStats`` packets.
    packet_loss: int = 0
    #: Packets flagged ``previous_packet_dropped``.
    loss_flags: int = 0
    #: Per process group, the names of its tracks directly under it.
    children: list[list[str]] = field(default_factory=list)

    @property
    def process_name(self) -> str:
        return self.processes[0][0]

    @property
    def pid(self) -> int:
        return self.processes[0][1]

    @property
    def lane_names(self) -> list[str]:
        return self.lanes_by_source[0] if self.lanes_by_source else []


def decode(data: bytes) -> Decoded:
    trace = pb.Trace()
    trace.ParseFromString(data)
    names: dict[int, str] = {}
    keys: dict[int, str] = {}
    strings: dict[int, str] = {}
    tracks: dict[int, Any] = {}
    # Process uuid -> source index; track uuid -> its source index.
    process_index: dict[int, int] = {}
    source_of: dict[int, int] = {}
    processes: list[tuple[str, int]] = []
    lanes_by_source: list[list[str]] = []
    children: list[list[str]] = []
    counters: dict[int, int] = {}  # source -> its counter track's uuid
    roles: dict[int, tuple] = {}
    stacks: dict[int, list] = {}
    records: list[Record] = []
    cleared = False
    origin = None
    now = None
    counter_uuids: list[int] = []
    default_track: Optional[int] = None
    packet_loss = 0
    loss_flags = 0
    packets_seen = 0

    def define(table, iid, value):
        assert table.get(iid, value) == value, f"iid {iid} redefined"
        table[iid] = value

    def key_name(annotation) -> str:
        if annotation.HasField("name_iid"):
            assert annotation.name_iid in keys, f"annotation name iid {annotation.name_iid}"
            return keys[annotation.name_iid]
        return annotation.name

    def value(annotation) -> Any:
        if annotation.dict_entries:
            return {key_name(entry): value(entry) for entry in annotation.dict_entries}
        if annotation.array_values:
            return [value(item) for item in annotation.array_values]
        which = annotation.WhichOneof("value")
        if which == "nested_value":
            nested = annotation.nested_value
            assert not nested.dict_keys and not nested.array_values
            return {0: None, 1: {}, 2: []}[nested.nested_type]
        if which == "legacy_json_value":
            number = json.loads(annotation.legacy_json_value)
            assert type(number) is int and not -(2**63) <= number < 2**64
            return number
        if which == "string_value_iid":
            assert annotation.string_value_iid in strings
            return strings[annotation.string_value_iid]
        assert which is not None, annotation
        return getattr(annotation, which)

    for packet in trace.packet:
        assert packet.trusted_packet_sequence_id == 1
        packets_seen += 1
        if packet.previous_packet_dropped:
            # Readers count a loss only on a sequence they have seen a packet of.
            assert packets_seen > 1
            loss_flags += 1
        if packet.HasField("trace_stats"):
            stats = packet.trace_stats
            assert loss_flags, "TraceStats before the packet that marks the loss"
            assert [(w.sequence_id, w.buffer) for w in stats.writer_stats] == [(1, 0)]
            packet_loss += sum(b.trace_writer_packet_loss for b in stats.buffer_stats)
            continue
        if packet.HasField("clock_snapshot"):
            snapshot = packet.clock_snapshot
            assert snapshot.primary_trace_clock == MONOTONIC
            clocks = {clock.clock_id: clock for clock in snapshot.clocks}
            assert clocks[DELTA_CLOCK].is_incremental
            assert clocks[MONOTONIC].timestamp == clocks[DELTA_CLOCK].timestamp
            origin = now = clocks[MONOTONIC].timestamp
            continue
        uses_state = packet.HasField("track_event") or packet.HasField("interned_data")
        if packet.sequence_flags & SEQ_CLEARED:
            cleared = True
            defaults = packet.trace_packet_defaults
            assert defaults.timestamp_clock_id == DELTA_CLOCK
            counter_uuids = list(defaults.track_event_defaults.extra_counter_track_uuids)
            if defaults.track_event_defaults.HasField("track_uuid"):
                default_track = defaults.track_event_defaults.track_uuid
        elif uses_state:
            assert cleared and packet.sequence_flags & SEQ_NEEDS, packet
        if packet.HasField("interned_data"):
            interned = packet.interned_data
            for entry in interned.event_names:
                define(names, entry.iid, entry.name)
            for entry in interned.debug_annotation_names:
                define(keys, entry.iid, entry.name)
            for entry in interned.debug_annotation_string_values:
                define(strings, entry.iid, entry.str.decode())
        if packet.HasField("track_descriptor"):
            desc = packet.track_descriptor
            assert desc.uuid not in tracks
            assert not desc.HasField("parent_uuid") or desc.parent_uuid in tracks
            tracks[desc.uuid] = desc
            if desc.HasField("process"):
                assert not desc.HasField("parent_uuid")
                source = len(processes)
                process_index[desc.uuid] = source_of[desc.uuid] = source
                processes.append((desc.process.process_name, desc.process.pid))
                lanes_by_source.append([])
                children.append([])
                roles[desc.uuid] = ("process",)
            elif desc.parent_uuid in process_index:
                source = source_of[desc.uuid] = process_index[desc.parent_uuid]
                rank = ["execution", "nodes", "running nodes"].index(desc.name)
                assert desc.sibling_order_rank == rank
                assert desc.name not in children[source], "a track described twice"
                children[source].append(desc.name)
                if desc.HasField("counter"):
                    counters[source] = desc.uuid
                roles[desc.uuid] = (desc.name,)
            else:
                assert tracks[desc.parent_uuid].name == "nodes"
                source = source_of[desc.uuid] = source_of[desc.parent_uuid]
                lane_names = lanes_by_source[source]
                assert desc.sibling_order_rank == len(lane_names)
                roles[desc.uuid] = ("lane", len(lane_names))
                lane_names.append(desc.name)
            continue
        if not packet.HasField("track_event"):
            continue
        assert packet.HasField("timestamp") and origin is not None
        now += packet.timestamp
        event = packet.track_event
        # A track event without a track is on the sequence's default one.
        uuid = event.track_uuid if event.HasField("track_uuid") else default_track
        assert uuid in tracks, "track used before it is described"
        track = roles[uuid]
        phase = {1: "B", 2: "E", 3: "I"}[event.type]
        name = None
        if event.HasField("name_iid"):
            assert event.name_iid in names, f"event name iid {event.name_iid}"
            name = names[event.name_iid]
        elif event.HasField("name"):
            name = event.name
        assert (name is None) == (phase == "E")
        args = {key_name(a): value(a) for a in event.debug_annotations}
        assert len(args) == len(event.debug_annotations)
        source = source_of[uuid]
        counter = None
        if event.extra_counter_values:
            # The value goes on this process's own counter track.
            uuids = list(event.extra_counter_track_uuids) or counter_uuids
            assert uuids == [counters[source]], (uuids, counters, source)
            (counter,) = event.extra_counter_values
        stack = stacks.setdefault(uuid, [])
        lane_names = lanes_by_source[source]
        if phase == "B":
            if track[0] == "lane" and lane_names and not track_is_per_node(lane_names):
                assert not stack, "two slices at once on a compact lane"
            stack.append(now)
        elif phase == "E":
            assert stack, "a slice end on a track with nothing open"
            assert stack.pop() <= now
        records.append(Record(phase, track, name, now, args, counter, source))
    assert origin is not None and processes
    open_at_end = {
        (source_of[uuid], *roles[uuid]): len(stack) for uuid, stack in stacks.items() if stack
    }
    return Decoded(
        records,
        origin,
        processes,
        lanes_by_source,
        open_at_end,
        packet_loss,
        loss_flags,
        children,
    )


def track_is_per_node(lane_names: list[str]) -> bool:
    return not all(name == f"lane {i + 1}" for i, name in enumerate(lane_names))


def json_metadata(metadata: dict) -> Any:
    """Metadata as ``json`` sees it (tuples as lists, keys as strings), strings kept."""
    return json.loads(json.dumps(metadata, ensure_ascii=False))


def fields(event) -> dict:
    out: dict[str, Any] = {}
    if event.step_index is not None:
        out["step_index"] = int(event.step_index)
    if event.duration is not None:
        out["duration"] = float(event.duration)
    if event.error is not None:
        out["error"] = fix(str(event.error))
    if event.metadata:
        out["metadata"] = fix_all(json_metadata(event.metadata))
    return out


def slice_name(kind: str, step: Any, node: Optional[str], on_execution: bool) -> str:
    if kind == "execution":
        return "execution"
    if kind == "step":
        return "step" if step is None else f"step {int(step)}"
    if on_execution or node is None:
        return kind
    return PREFIX[kind] + fix(node)


@dataclass
class _Group:
    """One process group's layout state in ``expected``."""

    lanes: str
    execution: list = field(default_factory=list)
    lane_names: list = field(default_factory=list)
    free: list = field(default_factory=list)
    open_compact: dict = field(default_factory=dict)
    node_tracks: dict = field(default_factory=dict)
    node_stacks: dict = field(default_factory=dict)
    running: int = 0

    def new_lane(self, name: str) -> int:
        self.lane_names.append(name)
        return len(self.lane_names) - 1

    def instant_lane(self, node: str) -> int:
        if self.lanes == "node":
            return self.node_tracks[node]
        for kind in LANE_KINDS:
            if self.open_compact.get((node, kind)):
                return self.open_compact[(node, kind)][-1]
        if not self.free:
            heapq.heappush(self.free, self.new_lane(f"lane {len(self.lane_names) + 1}"))
        return self.free[0]


def expected_by_source(
    events,
    origin: int,
    lanes: str = "compact",
    sources: Optional[Sequence[int]] = None,
    dropped: int = 0,
) -> tuple[list[Record], list[list[str]]]:
    """The records ``decode`` should return for ``events`` (``sources``: each
    event's source index, all 0 when not given), and each source's lane names."""
    records: list[Record] = []
    groups: dict[int, _Group] = {}
    if dropped:
        ts = origin + math.floor(events[0].timestamp * 1e9 + 0.5) if events else origin
        records.append(Record("I", ("execution",), "events dropped", ts, {"dropped": dropped}))
    for position, event in enumerate(events):
        source = sources[position] if sources is not None else 0
        group = groups.setdefault(source, _Group(lanes))
        kind = event.event_type.value
        node = event.node_name
        role, slice_kind = ROLE.get(kind, ("I", None))
        ts = origin + math.floor(event.timestamp * 1e9 + 0.5)
        step = event.step_index
        on_execution = node is None or slice_kind in ("execution", "step")
        if lanes == "node" and not on_execution and node not in group.node_tracks:
            group.node_tracks[node] = group.new_lane(fix(node))
            group.node_stacks[node] = []
        phase = role
        if on_execution:
            track: tuple = ("execution",)
            if role == "B":
                group.execution.append((slice_kind, step))
            elif role == "E":
                top = group.execution[-1] if group.execution else None
                if top and top[0] == slice_kind and (slice_kind != "step" or top[1] == step):
                    group.execution.pop()
                else:
                    phase = "I"
        elif lanes == "node":
            track = ("lane", group.node_tracks[node])
            stack = group.node_stacks[node]
            if role == "B":
                stack.append(slice_kind)
            elif role == "E" and stack and stack[-1] == slice_kind:
                stack.pop()
            elif role == "E":
                phase = "I"
        else:
            opened = group.open_compact.setdefault((node, slice_kind), [])
            if role == "B":
                if group.free:
                    lane = heapq.heappop(group.free)
                else:
                    lane = group.new_lane(f"lane {len(group.lane_names) + 1}")
                opened.append(lane)
            elif role == "E" and opened:
                lane = opened.pop()
                heapq.heappush(group.free, lane)
            else:
                phase = "I"
                lane = group.instant_lane(node)
            track = ("lane", lane)

        counter = None
        if slice_kind == "node" and phase in ("B", "E"):
            group.running += 1 if phase == "B" else -1
            counter = group.running

        def add(*fields_: Any, source: int = source) -> None:
            records.append(Record(*fields_, source=source))

        if phase == "B":
            start = fields(event)
            if slice_kind == "step":
                # A step's name says its index (and its end carries it).
                start.pop("step_index", None)
            add(
                "B",
                track,
                slice_name(slice_kind, step, node, on_execution),
                ts,
                {"start": start} if start else {},
                counter,
            )
            continue
        args = {"status": kind, **fields(event)}
        if phase == "E":
            add("E", track, None, ts, args, counter)
            if kind in MARKS and not on_execution:
                add("I", track, MARKS[kind] + fix(node), ts, {})
        elif role == "E":
            add("I", track, slice_name(slice_kind, step, node, on_execution), ts, args)
        else:
            name = kind if node is None else fix(node)
            add("I", track, name, ts, args)
    count = max(groups, default=0) + 1
    return records, [groups[i].lane_names if i in groups else [] for i in range(count)]


def expected(events, origin: int, lanes: str = "compact") -> tuple[list[Record], list[str]]:
    """The records ``decode`` should return for a one-process trace's ``events``,
    and the lane names."""
    records, lane_names = expected_by_source(events, origin, lanes)
    return records, lane_names[0]


def process_groups(trace, process_name: str = "dagron") -> list[tuple[str, int]]:
    """(name, pid) of the process groups ``trace`` should export: a merged trace's
    one per source, named ``host:pid``, with pids made distinct and non-zero (the
    lowest free numbers above every source's pid); else one, named
    ``process_name``, with the pid of the trace's origin (this process when it has
    none; 1 for pid 0, unknown)."""
    sources = trace.sources
    if len(sources) <= 1:
        pid = (sources[0].pid or 1) if sources else os.getpid()
        return [(fix(process_name), pid)]
    pids = [s.pid for s in sources]
    taken: set[int] = set()
    out = []
    candidate = max(pids) + 1
    for source in sources:
        pid = source.pid
        if pid == 0 or pid in taken:
            while candidate in pids or candidate in taken:
                candidate += 1
            pid = candidate
        taken.add(pid)
        out.append((fix(f"{source.host}:{source.pid}"), pid))
    return out


def check(trace, lanes: str = "compact", process_name: str = "dagron") -> Decoded:
    """Decode ``trace.to_perfetto(...)`` and compare it with ``expected_by_source``:
    process groups, lanes, every record, the clock origin and the data loss."""
    events = trace.events
    sources = trace.event_sources()
    dropped = trace.dropped
    data = trace.to_perfetto(lanes=lanes, process_name=process_name)
    decoded = decode(data)
    assert decoded.processes == process_groups(trace, process_name)
    if trace.origin is not None:
        assert decoded.origin == trace.origin.monotonic_ns
    want, lane_names = expected_by_source(
        events, decoded.origin, lanes, sources if len(trace.sources) > 1 else None, dropped
    )
    lane_names += [[]] * (len(decoded.processes) - len(lane_names))
    assert decoded.lanes_by_source == lane_names
    assert len(decoded.records) == len(want), (decoded.records, want)
    for got, wanted in zip(decoded.records, want):
        assert got.same_as(wanted), (got, wanted)
    assert (decoded.packet_loss, decoded.loss_flags) == ((dropped, 1) if dropped else (0, 0))
    return decoded
