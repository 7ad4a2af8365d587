//! The packet writer's state (interned ids handed out, the delta clock, track
//! uuids) and the packets that are not trace events: the clock snapshot, the
//! sequence's first packet (defaults and fixed interned strings), the data-loss
//! stats and the `events dropped` instant.

use super::proto::{
    field, BUILTIN_CLOCK_MONOTONIC, DELTA_CLOCK, FIRST_DYNAMIC_IID, FIXED_NAMES, KEYS, KEY_DROPPED,
    KEY_STATUS, NAME_DROPPED, NAME_EXECUTION, SEQUENCE, SEQ_INCREMENTAL_STATE_CLEARED,
    SEQ_NEEDS_INCREMENTAL_STATE, TYPE_INSTANT,
};
use super::wire::Writer;
use crate::event::EventKind;

/// Names of node lane slices (node, gate, resource) and of the instants marking
/// a failure or timeout: a prefix to the node name.
pub const LANE_PREFIXES: [&[u8]; 5] = [b"", b"gate: ", b"resource: ", b"failed: ", b"timed out: "];
pub const MARK_FAILED: usize = 3;
pub const MARK_TIMED_OUT: usize = 4;

pub struct PacketWriter {
    pub writer: Writer,
    pub next_uuid: u64,
    next_iid: u64,
    /// Per node intern id: iids of its names (see `LANE_PREFIXES`); 0: none.
    name_iids: Vec<[u64; 5]>,
    /// The monotonic clock reading (ns) of timestamp 0.0.
    pub origin_ns: u64,
    last_ns: u64,
    /// The track events name when they give none (the sequence's defaults).
    pub default_track: u64,
    pub scratch: Vec<u8>,
}

impl PacketWriter {
    pub fn new(origin_ns: u64) -> Self {
        PacketWriter {
            writer: Writer::new(),
            next_uuid: 1,
            next_iid: FIRST_DYNAMIC_IID,
            name_iids: Vec::new(),
            origin_ns,
            last_ns: origin_ns,
            default_track: 0,
            scratch: Vec::new(),
        }
    }

    pub fn open_packet(&mut self) {
        self.writer.begin(field::TRACE_PACKET);
        self.writer.uint(field::SEQUENCE_ID, SEQUENCE);
    }

    pub fn close_packet(&mut self, out: &mut Vec<u8>) {
        self.writer.end();
        self.writer.finish_into(out);
    }

    /// The clock, the sequence's defaults (its delta clock, `default_track`, and
    /// `first_counter` for counter values) and the fixed interned strings;
    /// `dropped`: flag the packet after the clock as following a loss.
    pub fn preamble(
        &mut self,
        default_track: u64,
        first_counter: u64,
        dropped: bool,
        out: &mut Vec<u8>,
    ) {
        self.default_track = default_track;
        // A clock snapshot alone in its packet (readers stop at it).
        self.open_packet();
        let origin_ns = self.origin_ns;
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
        w.uint(field::TRACK_UUID, default_track);
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
    pub fn trace_stats(&mut self, dropped: u64, out: &mut Vec<u8>) {
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

    /// Open a packet holding a track event at `ts` (seconds since the origin):
    /// its timestamp on the delta clock and the sequence flag interning needs.
    pub fn open_event_packet(&mut self, ts: f64) {
        // `as` saturates: a negative or NaN time is the origin.
        let ns = self.origin_ns.saturating_add((ts * 1e9).round() as u64);
        let delta = ns.saturating_sub(self.last_ns);
        self.last_ns = self.last_ns.max(ns);
        self.open_event_packet_after(delta);
    }

    /// As [`Self::open_event_packet`], `delta` ns after the last event.
    pub fn open_event_packet_after(&mut self, delta: u64) {
        let w = &mut self.writer;
        w.begin(field::TRACE_PACKET);
        w.uint(field::TIMESTAMP, delta);
        w.uint(field::SEQUENCE_ID, SEQUENCE);
        w.uint(field::SEQUENCE_FLAGS, SEQ_NEEDS_INCREMENTAL_STATE);
    }

    /// Open a track event of `event_type` on `track` (left out when it is the
    /// default one).
    pub fn open_track_event(&mut self, event_type: u64, track: u64) {
        let w = &mut self.writer;
        w.begin(field::TRACK_EVENT);
        w.uint(field::TYPE, event_type);
        if track != self.default_track {
            w.uint(field::TRACK_UUID, track);
        }
    }

    /// The `events dropped` instant: how many a bounded trace let go.
    pub fn dropped(&mut self, dropped: u64, ts: f64, track: u64, out: &mut Vec<u8>) {
        self.open_event_packet(ts);
        self.open_track_event(TYPE_INSTANT, track);
        let w = &mut self.writer;
        w.uint(field::NAME_IID, NAME_DROPPED);
        w.begin(field::DEBUG_ANNOTATIONS);
        w.uint(field::ANNOTATION_NAME_IID, KEY_DROPPED);
        w.uint(field::UINT_VALUE, dropped);
        w.end();
        w.end();
        self.close_packet(out);
    }

    /// The name iid of a node lane slice or mark (`kind`: an index into
    /// `LANE_PREFIXES`), defining it in the open packet if new.
    pub fn lane_name_iid(&mut self, node: u32, text: &[u8], kind: usize) -> u64 {
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
}
