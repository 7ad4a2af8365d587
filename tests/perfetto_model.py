"""Reading ``to_perfetto()`` back, and what it should hold.

``decode`` reads a trace with Perfetto's own generated classes
(``perfetto.protos.perfetto.trace.perfetto_trace_pb2``), independent of the writer,
checking on the way what a reader relies on: one packet sequence whose first
interning packet clears the incremental state; every interned id defined (in that
packet or an earlier one) before use, by packets flagged as needing it; every track
described before use; slice ends only on tracks with an open slice; timestamps as
deltas on clock 64, tied to ``BUILTIN_CLOCK_MONOTONIC`` by the clock snapshot.

``expected`` computes from ``trace.events`` alone, by the layout rules the README
states, the same records ``decode`` returns.
"""

from __future__ import annotations

import heapq
import json
import math
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
    """One track event: its phase (B, E, I), track, name, time and annotations."""

    phase: str
    track: tuple
    name: Optional[str]
    ts: int
    args: dict
    counter: Optional[int] = None

    def same_as(self, other: Record) -> bool:
        return (
            (self.phase, self.track, self.name, self.ts, self.counter)
            == (other.phase, other.track, other.name, other.ts, other.counter)
        ) and same(self.args, other.args)


@dataclass
class Decoded:
    records: list[Record]
    origin: int
    process_name: str
    pid: int
    lane_names: list[str]
    open_at_end: dict = field(default_factory=dict)


def decode(data: bytes) -> Decoded:
    trace = pb.Trace()
    trace.ParseFromString(data)
    names: dict[int, str] = {}
    keys: dict[int, str] = {}
    strings: dict[int, str] = {}
    tracks: dict[int, Any] = {}
    lanes: dict[int, int] = {}
    lane_names: list[str] = []
    roles: dict[int, tuple] = {}
    stacks: dict[int, list] = {}
    records: list[Record] = []
    cleared = False
    origin = None
    now = None
    counter_uuids: list[int] = []
    process = None

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
                process = desc
                roles[desc.uuid] = ("process",)
            elif desc.parent_uuid == process.uuid:
                roles[desc.uuid] = (desc.name,)
            else:
                assert tracks[desc.parent_uuid].name == "nodes"
                assert desc.sibling_order_rank == len(lane_names)
                roles[desc.uuid] = ("lane", len(lane_names))
                lane_names.append(desc.name)
                lanes[desc.uuid] = len(lanes)
            continue
        if not packet.HasField("track_event"):
            continue
        assert packet.HasField("timestamp") and origin is not None
        now += packet.timestamp
        event = packet.track_event
        assert event.track_uuid in tracks, "track used before it is described"
        track = roles[event.track_uuid]
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
        counter = None
        if event.extra_counter_values:
            assert list(event.extra_counter_track_uuids) in ([], counter_uuids)
            (counter,) = event.extra_counter_values
        stack = stacks.setdefault(event.track_uuid, [])
        if phase == "B":
            if track[0] == "lane" and lane_names and not track_is_per_node(lane_names):
                assert not stack, "two slices at once on a compact lane"
            stack.append(now)
        elif phase == "E":
            assert stack, "a slice end on a track with nothing open"
            assert stack.pop() <= now
        records.append(Record(phase, track, name, now, args, counter))
    assert origin is not None and process is not None
    open_at_end = {roles[uuid]: len(stack) for uuid, stack in stacks.items() if stack}
    return Decoded(
        records,
        origin,
        process.process.process_name,
        process.process.pid,
        lane_names,
        open_at_end,
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


def expected(events, origin: int, lanes: str = "compact") -> tuple[list[Record], list[str]]:
    """The records ``decode`` should return for ``events``, and the lane names."""
    records: list[Record] = []
    execution: list[tuple] = []
    lane_names: list[str] = []
    free: list[int] = []
    open_compact: dict[tuple, list] = {}
    node_tracks: dict[str, int] = {}
    node_stacks: dict[str, list] = {}
    running = 0

    def new_lane(name: str) -> int:
        lane_names.append(name)
        return len(lane_names) - 1

    def instant_lane(node: str) -> int:
        if lanes == "node":
            return node_tracks[node]
        for kind in LANE_KINDS:
            if open_compact.get((node, kind)):
                return open_compact[(node, kind)][-1]
        if not free:
            heapq.heappush(free, new_lane(f"lane {len(lane_names) + 1}"))
        return free[0]

    for event in events:
        kind = event.event_type.value
        node = event.node_name
        role, slice_kind = ROLE.get(kind, ("I", None))
        ts = origin + math.floor(event.timestamp * 1e9 + 0.5)
        step = event.step_index
        on_execution = node is None or slice_kind in ("execution", "step")
        if lanes == "node" and not on_execution and node not in node_tracks:
            node_tracks[node] = new_lane(fix(node))
            node_stacks[node] = []
        phase = role
        if on_execution:
            track: tuple = ("execution",)
            if role == "B":
                execution.append((slice_kind, step))
            elif role == "E":
                top = execution[-1] if execution else None
                if top and top[0] == slice_kind and (slice_kind != "step" or top[1] == step):
                    execution.pop()
                else:
                    phase = "I"
        elif lanes == "node":
            track = ("lane", node_tracks[node])
            stack = node_stacks[node]
            if role == "B":
                stack.append(slice_kind)
            elif role == "E" and stack and stack[-1] == slice_kind:
                stack.pop()
            elif role == "E":
                phase = "I"
        else:
            opened = open_compact.setdefault((node, slice_kind), [])
            if role == "B":
                lane = heapq.heappop(free) if free else new_lane(f"lane {len(lane_names) + 1}")
                opened.append(lane)
            elif role == "E" and opened:
                lane = opened.pop()
                heapq.heappush(free, lane)
            else:
                phase = "I"
                lane = instant_lane(node)
            track = ("lane", lane)

        counter = None
        if slice_kind == "node" and phase in ("B", "E"):
            running += 1 if phase == "B" else -1
            counter = running
        if phase == "B":
            start = fields(event)
            records.append(
                Record(
                    "B",
                    track,
                    slice_name(slice_kind, step, node, on_execution),
                    ts,
                    {"start": start} if start else {},
                    counter,
                )
            )
            continue
        args = {"status": kind, **fields(event)}
        if phase == "E":
            records.append(Record("E", track, None, ts, args, counter))
            if kind in MARKS and not on_execution:
                records.append(Record("I", track, MARKS[kind] + fix(node), ts, {}))
        elif role == "E":
            records.append(
                Record("I", track, slice_name(slice_kind, step, node, on_execution), ts, args)
            )
        else:
            name = kind if node is None else fix(node)
            records.append(Record("I", track, name, ts, args))
    return records, lane_names


def check(trace, lanes: str = "compact", process_name: str = "dagron") -> Decoded:
    """Decode ``trace.to_perfetto(...)`` and compare it with ``expected``."""
    events = trace.events
    data = trace.to_perfetto(lanes=lanes, process_name=process_name)
    decoded = decode(data)
    assert decoded.process_name == fix(process_name)
    want, lane_names = expected(events, decoded.origin, lanes)
    assert decoded.lane_names == lane_names
    records = decoded.records
    if trace.dropped:
        # A bounded trace that let events go says so first, where Perfetto shows it.
        marker, *records = records
        assert (marker.phase, marker.track, marker.name, marker.args) == (
            "I",
            ("execution",),
            "events dropped",
            {"dropped": trace.dropped},
        ), marker
    assert len(records) == len(want), (records, want)
    for got, wanted in zip(records, want):
        assert got.same_as(wanted), (got, wanted)
    return decoded
