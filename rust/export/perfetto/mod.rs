//! `to_perfetto()` / `write_perfetto()`: the trace as a Perfetto protobuf trace
//! (`Trace` of `TracePacket`s carrying `TrackEvent`s), streamed from a snapshot.
//!
//! What the file holds, per source (a process; one for a plain trace, one per
//! `host:pid` for a merged one):
//! - a process track (the source's name and pid), and under it, each described
//!   when first used (so a worker's group holds no empty `execution` track), an
//!   `execution` track (the run and its steps), a `nodes` group of lanes (see
//!   [`layout`]; the group keeps its children's order, which viewers sort by name
//!   directly under a process), and a `running nodes` counter (fed by that
//!   source's node slices);
//! - one `TrackEvent` per trace event: a slice begin or end, or an instant; after a
//!   failed or timed-out node slice, an instant `failed: <node>` / `timed out:
//!   <node>` on its lane;
//! - debug annotations: on an end or instant, `status` (the event type's value),
//!   then `step_index`, `duration`, `error`, `metadata` when present; a start's own
//!   fields go in a `start` dict, so they never collide with its end's;
//! - when the trace let events go (`dropped`): a `TraceStats` packet counting them
//!   as `trace_writer_packet_loss` of buffer 0, the first packet after the clock
//!   flagged `previous_packet_dropped`, and the `TraceStats` naming the sequence in
//!   its `writer_stats` (so readers also count a gap on it). Trace processors turn
//!   these into data-loss stats, which the Perfetto UI flags on opening the trace;
//!   an `events dropped` instant on the first source's execution track says how
//!   many on the timeline.
//!
//! All packets share one sequence. Names, annotation keys and status strings are
//! interned (defined in the packet that first uses them; packets using them carry
//! `SEQ_NEEDS_INCREMENTAL_STATE`). Timestamps are nanoseconds on the monotonic
//! clock (`time.monotonic()`'s), written as deltas on a sequence clock (id 64) that
//! a `ClockSnapshot` ties to `BUILTIN_CLOCK_MONOTONIC`, the declared trace clock.

pub mod layout;
pub mod wire;

pub use layout::Lanes;
use layout::{Layout, Placement, Role, SliceKind, StepKey, Track};
use wire::Writer;

pub use super::Source;
use super::{OutputBuffer, PayloadWriter, CHECKPOINT_EVERY};
use crate::event::{EventKind, KIND_COUNT};
use crate::json_text::number::{write_i64, write_u64};
use crate::trace::{EventView, Snapshot, StepView};

/// Rough bytes per event, to size an in-memory export.
pub const EVENT_SIZE_HINT: usize = 24;

/// Field numbers, from Perfetto's `protos/perfetto/trace/`.
mod field {
    pub const TRACE_PACKET: u32 = 1;
    // TracePacket
    pub const TIMESTAMP: u32 = 8;
    pub const SEQUENCE_ID: u32 = 10;
    pub const TRACK_EVENT: u32 = 11;
    pub const INTERNED_DATA: u32 = 12;
    pub const SEQUENCE_FLAGS: u32 = 13;
    pub const CLOCK_SNAPSHOT: u32 = 6;
    pub const DEFAULTS: u32 = 59;
    pub const TRACK_DESCRIPTOR: u32 = 60;
    pub const TRACE_STATS: u32 = 35;
    pub const PREVIOUS_PACKET_DROPPED: u32 = 42;
    // TraceStats, TraceStats.BufferStats, TraceStats.WriterStats
    pub const BUFFER_STATS: u32 = 1;
    pub const WRITER_STATS: u32 = 18;
    pub const TRACE_WRITER_PACKET_LOSS: u32 = 19;
    pub const WRITER_SEQUENCE_ID: u32 = 1;
    pub const WRITER_BUFFER: u32 = 4;
    // TracePacketDefaults
    pub const DEFAULT_CLOCK_ID: u32 = 58;
    pub const TRACK_EVENT_DEFAULTS: u32 = 11;
    // ClockSnapshot, ClockSnapshot.Clock
    pub const CLOCKS: u32 = 1;
    pub const PRIMARY_TRACE_CLOCK: u32 = 2;
    pub const CLOCK_ID: u32 = 1;
    pub const CLOCK_TIMESTAMP: u32 = 2;
    pub const CLOCK_INCREMENTAL: u32 = 3;
    // InternedData; EventName, DebugAnnotationName, InternedString share iid = 1, name = 2
    pub const EVENT_NAMES: u32 = 2;
    pub const ANNOTATION_NAMES: u32 = 3;
    pub const ANNOTATION_STRINGS: u32 = 29;
    pub const IID: u32 = 1;
    pub const INTERNED_NAME: u32 = 2;
    // TrackEvent (and TrackEventDefaults for the counter uuids)
    pub const TYPE: u32 = 9;
    pub const TRACK_UUID: u32 = 11;
    pub const NAME_IID: u32 = 10;
    pub const NAME: u32 = 23;
    pub const EXTRA_COUNTER_UUIDS: u32 = 31;
    pub const EXTRA_COUNTER_VALUES: u32 = 12;
    pub const DEBUG_ANNOTATIONS: u32 = 4;
    // DebugAnnotation
    pub const ANNOTATION_NAME_IID: u32 = 1;
    pub const ANNOTATION_NAME: u32 = 10;
    pub const BOOL_VALUE: u32 = 2;
    pub const UINT_VALUE: u32 = 3;
    pub const INT_VALUE: u32 = 4;
    pub const DOUBLE_VALUE: u32 = 5;
    pub const STRING_VALUE: u32 = 6;
    pub const STRING_VALUE_IID: u32 = 17;
    pub const LEGACY_JSON_VALUE: u32 = 9;
    pub const NESTED_VALUE: u32 = 8;
    pub const NESTED_TYPE: u32 = 1;
    pub const DICT_ENTRIES: u32 = 11;
    pub const ARRAY_VALUES: u32 = 12;
    // TrackDescriptor, ProcessDescriptor, CounterDescriptor
    pub const UUID: u32 = 1;
    pub const TRACK_NAME: u32 = 2;
    pub const PROCESS: u32 = 3;
    pub const PARENT_UUID: u32 = 5;
    pub const COUNTER: u32 = 8;
    pub const CHILD_ORDERING: u32 = 11;
    pub const SIBLING_ORDER_RANK: u32 = 12;
    pub const SIBLING_MERGE_BEHAVIOR: u32 = 15;
    pub const PID: u32 = 1;
    pub const PROCESS_NAME: u32 = 6;
    pub const COUNTER_UNIT: u32 = 3;
}

const SEQUENCE: u64 = 1;
const SEQ_INCREMENTAL_STATE_CLEARED: u64 = 1;
const SEQ_NEEDS_INCREMENTAL_STATE: u64 = 2;
const BUILTIN_CLOCK_MONOTONIC: u64 = 3;
/// A sequence-scoped clock whose packet timestamps are deltas.
const DELTA_CLOCK: u64 = 64;
const TYPE_SLICE_BEGIN: u64 = 1;
const TYPE_SLICE_END: u64 = 2;
const TYPE_INSTANT: u64 = 3;
const CHILD_ORDERING_EXPLICIT: u64 = 3;
const SIBLING_MERGE_NONE: u64 = 2;
const UNIT_COUNT: u64 = 2;

/// Interned event names defined up front (iids), then one per event type value.
const NAME_EXECUTION: u64 = 1;
const NAME_NODE: u64 = 2;
const NAME_GATE: u64 = 3;
const NAME_RESOURCE: u64 = 4;
const NAME_DROPPED: u64 = 5;
const NAME_KIND_BASE: u64 = 6;
const FIXED_NAMES: [&str; 5] = ["execution", "node", "gate", "resource", "events dropped"];
/// Iids for node names start here.
const FIRST_DYNAMIC_IID: u64 = NAME_KIND_BASE + KIND_COUNT as u64;

/// Interned debug annotation names.
pub const KEY_STATUS: u64 = 1;
pub const KEY_STEP_INDEX: u64 = 2;
pub const KEY_DURATION: u64 = 3;
pub const KEY_ERROR: u64 = 4;
pub const KEY_METADATA: u64 = 5;
pub const KEY_START: u64 = 6;
pub const KEY_DROPPED: u64 = 7;
const KEYS: [&str; 7] = [
    "status",
    "step_index",
    "duration",
    "error",
    "metadata",
    "start",
    "dropped",
];

/// Names of node lane slices (node, gate, resource) and of the instants marking
/// a failure or timeout: a prefix to the node name.
const LANE_PREFIXES: [&[u8]; 5] = [b"", b"gate: ", b"resource: ", b"failed: ", b"timed out: "];
const MARK_FAILED: usize = 3;
const MARK_TIMED_OUT: usize = 4;

/// What the writer needs besides the events.
pub struct Options<'a> {
    /// At least one; events name theirs by index.
    pub sources: &'a [Source<'a>],
    /// Events a bounded trace let go (shown as an instant when non-zero).
    pub dropped: u64,
    pub lanes: Lanes,
    /// The monotonic clock reading (ns) of timestamp 0.0.
    pub clock_origin_ns: u64,
}

/// Builders of debug annotation values, for the bindings' metadata walk: each
/// writes one value into the `DebugAnnotation` being written.
pub mod value {
    use super::field;
    const NESTED_DICT: u64 = 1;
    const NESTED_ARRAY: u64 = 2;
    use super::wire::Writer;

    pub fn string(writer: &mut Writer, text: &[u8]) {
        writer.text(field::STRING_VALUE, text);
    }
    pub fn boolean(writer: &mut Writer, value: bool) {
        writer.boolean(field::BOOL_VALUE, value);
    }
    pub fn int(writer: &mut Writer, value: i64) {
        writer.int(field::INT_VALUE, value);
    }
    pub fn uint(writer: &mut Writer, value: u64) {
        writer.uint(field::UINT_VALUE, value);
    }
    pub fn double(writer: &mut Writer, value: f64) {
        writer.double(field::DOUBLE_VALUE, value);
    }
    /// `None`: a `nested_value` with no type and no value (readers add no
    /// argument for it; a JSON `null` would stop some trace processors).
    pub fn null(writer: &mut Writer) {
        writer.begin(field::NESTED_VALUE);
        writer.end();
    }
    /// An empty dict or list (which `dict_entries` and `array_values` cannot
    /// tell apart from "no value"): a `nested_value` of that type with no items.
    pub fn empty(writer: &mut Writer, dict: bool) {
        writer.begin(field::NESTED_VALUE);
        writer.uint(
            field::NESTED_TYPE,
            if dict { NESTED_DICT } else { NESTED_ARRAY },
        );
        writer.end();
    }
    /// An integer beyond 64 bits, as its decimal JSON text.
    pub fn big_int(writer: &mut Writer, decimal: &[u8]) {
        writer.text(field::LEGACY_JSON_VALUE, decimal);
    }
    /// Open a dict entry named `key`; write its value, then [`end`].
    pub fn begin_entry(writer: &mut Writer, key: &[u8]) {
        writer.begin(field::DICT_ENTRIES);
        writer.text(field::ANNOTATION_NAME, key);
    }
    /// Open a list item; write its value, then [`end`].
    pub fn begin_item(writer: &mut Writer) {
        writer.begin(field::ARRAY_VALUES);
    }
    pub fn end(writer: &mut Writer) {
        writer.end();
    }
}

/// Per-source track uuids.
struct SourceTracks {
    process: u64,
    execution: u64,
    counter: u64,
    /// The group holding the node lanes (whose order viewers keep, unlike that
    /// of a process's own children, which they sort by name).
    nodes: u64,
    /// Which of `execution`, `nodes`, `counter` are described yet.
    described: [bool; 3],
    lanes: Vec<u64>,
    layout: Layout,
}

/// A source's tracks that are described when first used.
#[derive(Clone, Copy)]
enum Child {
    Execution,
    Nodes,
    Counter,
}

struct PacketWriter {
    writer: Writer,
    next_uuid: u64,
    next_iid: u64,
    /// Per node intern id: iids of its names (see `LANE_PREFIXES`); 0: none.
    name_iids: Vec<[u64; 5]>,
    last_ns: u64,
    scratch: Vec<u8>,
}

pub fn write<X, S, O: PayloadWriter<X>>(
    snapshot: &Snapshot<'_, X, S>,
    mut source_of: impl FnMut(&EventView<'_, X, S>) -> usize,
    options: &Options<'_>,
    out: &mut OutputBuffer<'_, O::Error>,
    payloads: &mut O,
) -> Result<(), O::Error> {
    let default_source = [Source {
        name: b"dagron",
        pid: 0,
    }];
    let sources = if options.sources.is_empty() {
        &default_source[..]
    } else {
        options.sources
    };
    let mut packets = PacketWriter {
        writer: Writer::new(),
        next_uuid: 1,
        next_iid: FIRST_DYNAMIC_IID,
        name_iids: Vec::new(),
        last_ns: options.clock_origin_ns,
        scratch: Vec::new(),
    };
    let mut tracks: Vec<SourceTracks> = sources
        .iter()
        .map(|_| {
            let first = packets.next_uuid;
            packets.next_uuid += 4;
            SourceTracks {
                process: first,
                execution: first + 1,
                counter: first + 2,
                nodes: first + 3,
                described: [false; 3],
                lanes: Vec::new(),
                layout: Layout::new(options.lanes),
            }
        })
        .collect();
    packets.preamble(
        options.clock_origin_ns,
        tracks[0].counter,
        options.dropped > 0,
        &mut out.buf,
    );
    if options.dropped > 0 {
        packets.trace_stats(options.dropped, &mut out.buf);
    }
    for (source, track) in sources.iter().zip(&tracks) {
        packets.process_track(source, track, &mut out.buf);
    }
    out.boundary()?;
    if options.dropped > 0 {
        let ts = if snapshot.is_empty() {
            0.0
        } else {
            snapshot.get(0).ts
        };
        packets.describe(&mut tracks[0], Child::Execution, &mut out.buf);
        packets.dropped(options, ts, tracks[0].execution, &mut out.buf);
    }
    for (position, event) in snapshot.iter().enumerate() {
        let source = source_of(&event).min(tracks.len() - 1);
        let tracks = &mut tracks[source];
        let step = match event.step {
            StepView::None => StepKey::None,
            StepView::Int(value) => StepKey::Int(value),
            StepView::Payload(_) => StepKey::Big,
        };
        let placement = tracks
            .layout
            .place(event.kind, event.node.map(|(id, _)| id), step);
        if placement.track == Track::Execution {
            packets.describe(tracks, Child::Execution, &mut out.buf);
        }
        if placement.new_lane {
            packets.describe(tracks, Child::Nodes, &mut out.buf);
            let uuid = packets.new_lane(options.lanes, tracks, &event, &mut out.buf);
            tracks.lanes.push(uuid);
        }
        if placement.running.is_some() {
            packets.describe(tracks, Child::Counter, &mut out.buf);
        }
        let counter = (source != 0).then_some(tracks.counter);
        packets.event(&event, &placement, tracks, counter, options, payloads)?;
        packets.mark_failure(&event, &placement, tracks);
        packets.writer.finish_into(&mut out.buf);
        if position % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1 {
            payloads.checkpoint()?;
        }
        out.boundary()?;
    }
    Ok(())
}

impl PacketWriter {
    fn open_packet(&mut self) {
        self.writer.begin(field::TRACE_PACKET);
        self.writer.uint(field::SEQUENCE_ID, SEQUENCE);
    }

    fn close_packet(&mut self, out: &mut Vec<u8>) {
        self.writer.end();
        self.writer.finish_into(out);
    }

    /// The clock, the sequence's defaults and the fixed interned strings;
    /// `dropped`: flag the packet after the clock as following a loss.
    fn preamble(&mut self, origin_ns: u64, first_counter: u64, dropped: bool, out: &mut Vec<u8>) {
        // A clock snapshot alone in its packet (readers stop at it).
        self.open_packet();
        let w = &mut self.writer;
        w.begin(field::CLOCK_SNAPSHOT);
        for (clock, incremental) in [(DELTA_CLOCK, true), (BUILTIN_CLOCK_MONOTONIC, false)] {
            w.begin(field::CLOCKS);
            w.uint(field::CLOCK_ID, clock);
            w.uint(field::CLOCK_TIMESTAMP, origin_ns);
            if incremental {
                w.boolean(field::CLOCK_INCREMENTAL, true);
            }
            w.end();
        }
        w.uint(field::PRIMARY_TRACE_CLOCK, BUILTIN_CLOCK_MONOTONIC);
        w.end();
        self.close_packet(out);

        self.open_packet();
        let w = &mut self.writer;
        w.uint(field::SEQUENCE_FLAGS, SEQ_INCREMENTAL_STATE_CLEARED);
        if dropped {
            // Not on the sequence's first packet: readers count a loss only
            // after a packet of the sequence was seen.
            w.uint(field::PREVIOUS_PACKET_DROPPED, 1);
        }
        w.begin(field::DEFAULTS);
        w.uint(field::DEFAULT_CLOCK_ID, DELTA_CLOCK);
        w.begin(field::TRACK_EVENT_DEFAULTS);
        w.uint(field::EXTRA_COUNTER_UUIDS, first_counter);
        w.end();
        w.end();
        w.begin(field::INTERNED_DATA);
        let kind_names = EventKind::ALL.map(|kind| kind.value());
        for (iid, name) in (NAME_EXECUTION..).zip(FIXED_NAMES.iter().chain(&kind_names)) {
            w.begin(field::EVENT_NAMES);
            w.uint(field::IID, iid);
            w.text(field::INTERNED_NAME, name.as_bytes());
            w.end();
        }
        for (iid, name) in (KEY_STATUS..).zip(KEYS) {
            w.begin(field::ANNOTATION_NAMES);
            w.uint(field::IID, iid);
            w.text(field::INTERNED_NAME, name.as_bytes());
            w.end();
        }
        for (iid, name) in (1..).zip(kind_names) {
            w.begin(field::ANNOTATION_STRINGS);
            w.uint(field::IID, iid);
            w.bytes(field::INTERNED_NAME, name.as_bytes());
            w.end();
        }
        w.end();
        self.close_packet(out);
    }

    /// `dropped` events as packets the writer lost, on this sequence's buffer.
    fn trace_stats(&mut self, dropped: u64, out: &mut Vec<u8>) {
        self.open_packet();
        let w = &mut self.writer;
        w.begin(field::TRACE_STATS);
        w.begin(field::BUFFER_STATS);
        w.uint(field::TRACE_WRITER_PACKET_LOSS, dropped);
        w.end();
        w.begin(field::WRITER_STATS);
        w.uint(field::WRITER_SEQUENCE_ID, SEQUENCE);
        w.uint(field::WRITER_BUFFER, 0);
        w.end();
        w.end();
        self.close_packet(out);
    }

    fn process_track(&mut self, source: &Source<'_>, tracks: &SourceTracks, out: &mut Vec<u8>) {
        self.open_packet();
        let w = &mut self.writer;
        w.begin(field::TRACK_DESCRIPTOR);
        w.uint(field::UUID, tracks.process);
        w.begin(field::PROCESS);
        w.int(field::PID, source.pid);
        w.text(field::PROCESS_NAME, source.name);
        w.end();
        w.uint(field::CHILD_ORDERING, CHILD_ORDERING_EXPLICIT);
        w.end();
        self.close_packet(out);
    }

    /// Describe a source's `child` track unless it is already.
    fn describe(&mut self, tracks: &mut SourceTracks, child: Child, out: &mut Vec<u8>) {
        let slot = child as usize;
        if tracks.described[slot] {
            return;
        }
        tracks.described[slot] = true;
        let (uuid, name, kind): (u64, &[u8], Kind) = match child {
            Child::Execution => (tracks.execution, b"execution", Kind::Slices),
            Child::Nodes => (tracks.nodes, b"nodes", Kind::Group),
            Child::Counter => (tracks.counter, b"running nodes", Kind::Counter),
        };
        self.child_track(uuid, tracks.process, b"", name, slot as i64, kind, out);
    }

    #[allow(clippy::too_many_arguments)]
    fn child_track(
        &mut self,
        uuid: u64,
        parent: u64,
        prefix: &[u8],
        name: &[u8],
        rank: i64,
        kind: Kind,
        out: &mut Vec<u8>,
    ) {
        self.open_packet();
        let w = &mut self.writer;
        w.begin(field::TRACK_DESCRIPTOR);
        w.uint(field::UUID, uuid);
        w.uint(field::PARENT_UUID, parent);
        w.text_with_prefix(field::TRACK_NAME, prefix, name);
        w.int(field::SIBLING_ORDER_RANK, rank);
        w.uint(field::SIBLING_MERGE_BEHAVIOR, SIBLING_MERGE_NONE);
        match kind {
            Kind::Slices => {}
            Kind::Group => w.uint(field::CHILD_ORDERING, CHILD_ORDERING_EXPLICIT),
            Kind::Counter => {
                w.begin(field::COUNTER);
                w.uint(field::COUNTER_UNIT, UNIT_COUNT);
                w.end();
            }
        }
        w.end();
        self.close_packet(out);
    }

    /// Describe the lane `tracks.layout` just created; return its uuid.
    fn new_lane<X, S>(
        &mut self,
        lanes: Lanes,
        tracks: &SourceTracks,
        event: &EventView<'_, X, S>,
        out: &mut Vec<u8>,
    ) -> u64 {
        let uuid = self.next_uuid;
        self.next_uuid += 1;
        let index = tracks.lanes.len();
        let rank = index as i64;
        match (lanes, event.node) {
            (Lanes::PerNode, Some((_, entry))) => self.child_track(
                uuid,
                tracks.nodes,
                b"",
                &entry.text,
                rank,
                Kind::Slices,
                out,
            ),
            _ => {
                let mut name = std::mem::take(&mut self.scratch);
                name.clear();
                write_u64(&mut name, index as u64 + 1);
                self.child_track(uuid, tracks.nodes, b"lane ", &name, rank, Kind::Slices, out);
                self.scratch = name;
            }
        }
        uuid
    }

    /// Advance the delta clock to `ts` (seconds since the origin).
    fn timestamp(&mut self, origin_ns: u64, ts: f64) {
        // `as` saturates: a negative or NaN time is the origin.
        let ns = origin_ns.saturating_add((ts * 1e9).round() as u64);
        let delta = ns.saturating_sub(self.last_ns);
        self.last_ns = self.last_ns.max(ns);
        self.writer.uint(field::TIMESTAMP, delta);
    }

    fn dropped(&mut self, options: &Options<'_>, ts: f64, track: u64, out: &mut Vec<u8>) {
        self.open_packet();
        self.timestamp(options.clock_origin_ns, ts);
        let w = &mut self.writer;
        w.uint(field::SEQUENCE_FLAGS, SEQ_NEEDS_INCREMENTAL_STATE);
        w.begin(field::TRACK_EVENT);
        w.uint(field::TYPE, TYPE_INSTANT);
        w.uint(field::TRACK_UUID, track);
        w.uint(field::NAME_IID, NAME_DROPPED);
        w.begin(field::DEBUG_ANNOTATIONS);
        w.uint(field::ANNOTATION_NAME_IID, KEY_DROPPED);
        w.uint(field::UINT_VALUE, options.dropped);
        w.end();
        w.end();
        self.close_packet(out);
    }

    /// The name iid of a node lane slice, defining it in this packet if new.
    fn lane_name_iid(&mut self, node: u32, text: &[u8], kind: usize) -> u64 {
        let index = node as usize;
        if index >= self.name_iids.len() {
            self.name_iids.resize(index + 1, [0; 5]);
        }
        let iid = self.name_iids[index][kind];
        if iid != 0 {
            return iid;
        }
        let iid = self.next_iid;
        self.next_iid += 1;
        self.name_iids[index][kind] = iid;
        let w = &mut self.writer;
        w.begin(field::INTERNED_DATA);
        w.begin(field::EVENT_NAMES);
        w.uint(field::IID, iid);
        w.text_with_prefix(field::INTERNED_NAME, LANE_PREFIXES[kind], text);
        w.end();
        w.end();
        iid
    }

    /// One event's packet (left open in the writer until `finish_into`).
    fn event<X, S, O: PayloadWriter<X>>(
        &mut self,
        event: &EventView<'_, X, S>,
        placement: &Placement,
        tracks: &SourceTracks,
        counter: Option<u64>,
        options: &Options<'_>,
        payloads: &mut O,
    ) -> Result<(), O::Error> {
        self.writer.begin(field::TRACE_PACKET);
        self.timestamp(options.clock_origin_ns, event.ts);
        self.writer.uint(field::SEQUENCE_ID, SEQUENCE);
        self.writer
            .uint(field::SEQUENCE_FLAGS, SEQ_NEEDS_INCREMENTAL_STATE);
        let (event_type, name) = match placement.role {
            Role::Begin(kind) => (TYPE_SLICE_BEGIN, self.slice_name(kind, event, placement)),
            Role::End(_) => (TYPE_SLICE_END, Name::None),
            Role::Point => {
                let name = match (Role::of(event.kind), event.node) {
                    // An end with nothing to close: named like the slice it would end.
                    (Role::End(kind), _) => self.slice_name(kind, event, placement),
                    // A point event: by its node, or its type when it has none.
                    (_, Some((id, entry))) => Name::Iid(self.lane_name_iid(id, &entry.text, 0)),
                    (_, None) => Name::Iid(NAME_KIND_BASE + event.kind as u64),
                };
                (TYPE_INSTANT, name)
            }
        };
        let track = match placement.track {
            Track::Execution => tracks.execution,
            Track::Lane(lane) => tracks.lanes[lane as usize],
        };
        self.writer.begin(field::TRACK_EVENT);
        self.writer.uint(field::TYPE, event_type);
        self.writer.uint(field::TRACK_UUID, track);
        match name {
            Name::None => {}
            Name::Iid(iid) => self.writer.uint(field::NAME_IID, iid),
            Name::Step => {
                let mut text = std::mem::take(&mut self.scratch);
                text.clear();
                text.extend_from_slice(b"step");
                match event.step {
                    StepView::None => {}
                    StepView::Int(value) => {
                        text.push(b' ');
                        write_i64(&mut text, value);
                    }
                    StepView::Payload(payload) => {
                        text.push(b' ');
                        payloads.write_big_step(payload, &mut text)?;
                    }
                }
                self.writer.text(field::NAME, &text);
                self.scratch = text;
            }
        }
        if let Some(running) = placement.running {
            if let Some(counter) = counter {
                self.writer.uint(field::EXTRA_COUNTER_UUIDS, counter);
            }
            self.writer.int(field::EXTRA_COUNTER_VALUES, running);
        }
        match placement.role {
            Role::Begin(_) => {
                if has_fields(event, payloads)? {
                    self.writer.begin(field::DEBUG_ANNOTATIONS);
                    self.writer.uint(field::ANNOTATION_NAME_IID, KEY_START);
                    self.fields(event, field::DICT_ENTRIES, payloads)?;
                    self.writer.end();
                }
            }
            Role::End(_) | Role::Point => {
                self.writer.begin(field::DEBUG_ANNOTATIONS);
                self.writer.uint(field::ANNOTATION_NAME_IID, KEY_STATUS);
                self.writer
                    .uint(field::STRING_VALUE_IID, event.kind as u64 + 1);
                self.writer.end();
                self.fields(event, field::DEBUG_ANNOTATIONS, payloads)?;
            }
        }
        self.writer.end();
        self.writer.end();
        Ok(())
    }

    fn slice_name<X, S>(
        &mut self,
        kind: SliceKind,
        event: &EventView<'_, X, S>,
        placement: &Placement,
    ) -> Name {
        match (kind, event.node) {
            (SliceKind::Execution, _) => Name::Iid(NAME_EXECUTION),
            (SliceKind::Step, _) => Name::Step,
            (kind, Some((id, entry))) if placement.track != Track::Execution => {
                Name::Iid(self.lane_name_iid(id, &entry.text, lane_kind(kind)))
            }
            (SliceKind::Node, _) => Name::Iid(NAME_NODE),
            (SliceKind::Gate, _) => Name::Iid(NAME_GATE),
            (SliceKind::Resource, _) => Name::Iid(NAME_RESOURCE),
        }
    }

    /// After a node slice that failed or timed out, an instant at its end, named
    /// `failed: <node>` or `timed out: <node>`, so such slices stand out.
    fn mark_failure<X, S>(
        &mut self,
        event: &EventView<'_, X, S>,
        placement: &Placement,
        tracks: &SourceTracks,
    ) {
        let mark = match event.kind {
            EventKind::NodeFailed => MARK_FAILED,
            EventKind::NodeTimedOut => MARK_TIMED_OUT,
            _ => return,
        };
        let (Role::End(_), Track::Lane(lane), Some((id, entry))) =
            (placement.role, placement.track, event.node)
        else {
            return;
        };
        self.writer.begin(field::TRACE_PACKET);
        self.writer.uint(field::TIMESTAMP, 0);
        self.writer.uint(field::SEQUENCE_ID, SEQUENCE);
        self.writer
            .uint(field::SEQUENCE_FLAGS, SEQ_NEEDS_INCREMENTAL_STATE);
        let iid = self.lane_name_iid(id, &entry.text, mark);
        self.writer.begin(field::TRACK_EVENT);
        self.writer.uint(field::TYPE, TYPE_INSTANT);
        self.writer
            .uint(field::TRACK_UUID, tracks.lanes[lane as usize]);
        self.writer.uint(field::NAME_IID, iid);
        self.writer.end();
        self.writer.end();
    }

    /// `step_index`, `duration`, `error`, `metadata` as annotations in `container`
    /// (the event's annotations, or a dict's entries).
    fn fields<X, S, O: PayloadWriter<X>>(
        &mut self,
        event: &EventView<'_, X, S>,
        container: u32,
        payloads: &mut O,
    ) -> Result<(), O::Error> {
        let w = &mut self.writer;
        match event.step {
            StepView::None => {}
            StepView::Int(value) => {
                w.begin(container);
                w.uint(field::ANNOTATION_NAME_IID, KEY_STEP_INDEX);
                w.int(field::INT_VALUE, value);
                w.end();
            }
            StepView::Payload(payload) => {
                let mut text = std::mem::take(&mut self.scratch);
                text.clear();
                payloads.write_big_step(payload, &mut text)?;
                w.begin(container);
                w.uint(field::ANNOTATION_NAME_IID, KEY_STEP_INDEX);
                // Beyond i64: unsigned if it fits, as metadata ints are.
                match std::str::from_utf8(&text)
                    .ok()
                    .and_then(|t| t.parse::<u64>().ok())
                {
                    Some(number) => value::uint(w, number),
                    None => value::big_int(w, &text),
                }
                w.end();
                self.scratch = text;
            }
        }
        if let Some(duration) = event.duration {
            w.begin(container);
            w.uint(field::ANNOTATION_NAME_IID, KEY_DURATION);
            w.double(field::DOUBLE_VALUE, duration);
            w.end();
        }
        if let Some(error) = event.error {
            w.begin(container);
            w.uint(field::ANNOTATION_NAME_IID, KEY_ERROR);
            w.text(field::STRING_VALUE, &error.text);
            w.end();
        }
        if let Some(payload) = event.payload {
            if payloads.has_metadata(payload)? {
                w.begin(container);
                w.uint(field::ANNOTATION_NAME_IID, KEY_METADATA);
                payloads.write_metadata_annotation(payload, w)?;
                w.end();
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Slices,
    Group,
    Counter,
}

enum Name {
    None,
    Iid(u64),
    /// `step N`, written inline (step indices are unbounded in number).
    Step,
}

fn lane_kind(kind: SliceKind) -> usize {
    match kind {
        SliceKind::Gate => 1,
        SliceKind::Resource => 2,
        _ => 0,
    }
}

/// Whether a start has anything to annotate.
fn has_fields<X, S, O: PayloadWriter<X>>(
    event: &EventView<'_, X, S>,
    payloads: &mut O,
) -> Result<bool, O::Error> {
    if !matches!(event.step, StepView::None) || event.duration.is_some() || event.error.is_some() {
        return Ok(true);
    }
    match event.payload {
        Some(payload) => payloads.has_metadata(payload),
        None => Ok(false),
    }
}

#[cfg(test)]
mod tests;
