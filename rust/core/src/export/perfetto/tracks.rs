//! The tracks of each source (a process): its process track, and under it the
//! `execution` track, the `nodes` group of lanes and the `running nodes`
//! counter, each described by a `TrackDescriptor` packet when first used.

use super::layout::{Lanes, Layout};
use super::packet::PacketWriter;
use super::proto::{field, CHILD_ORDERING_EXPLICIT, SIBLING_MERGE_NONE, UNIT_COUNT};
use crate::export::Source;
use crate::json_text::number::write_u64;

/// Per-source track uuids.
pub struct SourceTracks {
    pub process: u64,
    pub execution: u64,
    pub counter: u64,
    /// The group holding the node lanes (whose order viewers keep, unlike that
    /// of a process's own children, which they sort by name).
    pub nodes: u64,
    /// The uuid the first lane gets (set aside up front: it can be the
    /// sequence's default track).
    pub first_lane: u64,
    /// Which of `execution`, `nodes`, `counter` are described yet.
    described: [bool; 3],
    pub lanes: Vec<u64>,
    pub layout: Layout,
}

/// A source's tracks that are described when first used.
#[derive(Clone, Copy)]
pub enum Child {
    Execution,
    Nodes,
    Counter,
}

#[derive(Clone, Copy)]
enum Kind {
    Slices,
    Group,
    Counter,
}

impl SourceTracks {
    /// A source's tracks, with uuids from `packets` (none described yet).
    pub fn new(packets: &mut PacketWriter, lanes: Lanes) -> Self {
        let first = packets.next_uuid;
        packets.next_uuid += 5;
        SourceTracks {
            process: first,
            execution: first + 1,
            counter: first + 2,
            nodes: first + 3,
            first_lane: first + 4,
            described: [false; 3],
            lanes: Vec::new(),
            layout: Layout::new(lanes),
        }
    }
}

impl PacketWriter {
    pub fn process_track(&mut self, source: &Source<'_>, tracks: &SourceTracks, out: &mut Vec<u8>) {
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
    pub fn describe(&mut self, tracks: &mut SourceTracks, child: Child, out: &mut Vec<u8>) {
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

    /// Describe the lane `tracks.layout` just created (named `node` for
    /// `Lanes::PerNode`, else `lane N`), and add it to `tracks.lanes`.
    pub fn new_lane(
        &mut self,
        lanes: Lanes,
        tracks: &mut SourceTracks,
        node: Option<&[u8]>,
        out: &mut Vec<u8>,
    ) {
        let index = tracks.lanes.len();
        let uuid = if index == 0 {
            tracks.first_lane
        } else {
            self.next_uuid += 1;
            self.next_uuid - 1
        };
        let rank = index as i64;
        match (lanes, node) {
            (Lanes::PerNode, Some(text)) => {
                self.child_track(uuid, tracks.nodes, b"", text, rank, Kind::Slices, out)
            }
            _ => {
                let mut name = std::mem::take(&mut self.scratch);
                name.clear();
                write_u64(&mut name, index as u64 + 1);
                self.child_track(uuid, tracks.nodes, b"lane ", &name, rank, Kind::Slices, out);
                self.scratch = name;
            }
        }
        tracks.lanes.push(uuid);
    }
}
