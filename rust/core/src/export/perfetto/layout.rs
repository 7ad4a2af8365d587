//! Where each event goes in the Perfetto trace: which track, and whether it begins
//! a slice, ends one, or is an instant. One pass, in event order, with memory in
//! the number of open slices and node names (not in the trace length).
//!
//! Slices pair a start with an end of the same kind and node: execution, step (on
//! the execution track), node run, gate wait, resource hold (on node lanes). Events
//! without a node name go on the execution track, which nests its slices: an end
//! closes the innermost open slice when that is its match (steps also match on the
//! step index), and is otherwise an instant. Node lanes:
//!
//! - [`Lanes::Compact`]: an open slice has a lane to itself, the lowest-numbered
//!   lane free when it begins; an end closes the newest open slice of its kind and
//!   node (so ends in any order pair up). Lanes never hold two slices at once.
//! - [`Lanes::PerNode`]: one track per node name, in order of first appearance.
//!   Slices of one node nest there like on the execution track.
//!
//! Instants (skipped, cancelled, cache hit/miss, ends with nothing to close) go on
//! the lane of the node's open slice if it has one, else the lowest free lane
//! (compact) or the node's track; without a node, on the execution track.
//!
//! This is the one pairing rule of the crate: `crate::runs` (node runs, which
//! OpenTelemetry and profiling read) places events with the same `Layout`, tagging
//! each begin with its row so the end this layout pairs it with finds that row.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::event::EventKind;

/// How node slices are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lanes {
    Compact,
    PerNode,
}

/// What a slice stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SliceKind {
    Execution,
    Step,
    Node,
    Gate,
    Resource,
}

impl SliceKind {
    /// The kinds that go on node lanes, as indices.
    #[inline]
    fn lane_index(self) -> usize {
        match self {
            SliceKind::Node => 0,
            SliceKind::Gate => 1,
            SliceKind::Resource => 2,
            _ => unreachable!("only node kinds go on lanes"),
        }
    }
}

/// An event's role: the kind of slice it begins or ends, or none (an instant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Begin(SliceKind),
    End(SliceKind),
    Point,
}

impl Role {
    pub fn of(kind: EventKind) -> Role {
        use EventKind::*;
        match kind {
            ExecutionStarted => Role::Begin(SliceKind::Execution),
            ExecutionCompleted => Role::End(SliceKind::Execution),
            StepStarted => Role::Begin(SliceKind::Step),
            StepCompleted => Role::End(SliceKind::Step),
            NodeStarted => Role::Begin(SliceKind::Node),
            NodeCompleted | NodeFailed | NodeTimedOut => Role::End(SliceKind::Node),
            NodeGateWaiting => Role::Begin(SliceKind::Gate),
            NodeGateResolved => Role::End(SliceKind::Gate),
            ResourceAcquired => Role::Begin(SliceKind::Resource),
            ResourceReleased => Role::End(SliceKind::Resource),
            NodeSkipped | NodeCancelled | NodeCacheHit | NodeCacheMiss => Role::Point,
        }
    }
}

/// A step index as far as matching steps goes (indices beyond `i64` all match).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKey {
    None,
    Int(i64),
    Big,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Track {
    Execution,
    /// A node lane (compact) or node track (per node), numbered from 0 in the
    /// order they were created.
    Lane(u32),
}

/// What to write for one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub track: Track,
    /// `Begin`/`End` as given, or `Point` for an instant (an end with no match too).
    pub role: Role,
    /// The number of running node slices after this event, when it changed.
    pub running: Option<i64>,
    /// This event needed a lane that did not exist yet (`track` is it).
    pub new_lane: bool,
    /// For an end that closed a node-lane slice: the tag its begin was placed with
    /// (see [`Layout::place_tagged`]); else 0.
    pub begin_tag: u64,
}

#[derive(Clone, Copy, Default)]
struct NodeSlot {
    /// Per node: its track + 1 (0: none yet).
    track: u32,
    /// Compact: newest open slice per lane kind; per node: the track's innermost.
    /// Indices + 1 into `Layout::slices` (0: none).
    open: [u32; 3],
}

/// An open slice on node lanes: its lane (compact) or lane kind (per node), and
/// the next older entry of the same stack.
#[derive(Clone, Copy)]
struct OpenSlice {
    value: u32,
    next: u32,
    /// What the caller placed the begin with.
    tag: u64,
}

pub struct Layout {
    lanes: Lanes,
    execution: Vec<(SliceKind, StepKey)>,
    nodes: Vec<NodeSlot>,
    slices: Vec<OpenSlice>,
    /// Head (index + 1) of the list of unused `slices` entries.
    free_slice: u32,
    lane_count: u32,
    free_lanes: BinaryHeap<Reverse<u32>>,
    running: i64,
}

impl Layout {
    pub fn new(lanes: Lanes) -> Self {
        Layout {
            lanes,
            execution: Vec::new(),
            nodes: Vec::new(),
            slices: Vec::new(),
            free_slice: 0,
            lane_count: 0,
            free_lanes: BinaryHeap::new(),
            running: 0,
        }
    }

    /// How many lanes (or node tracks) exist.
    pub fn lane_count(&self) -> u32 {
        self.lane_count
    }

    /// Place an event of kind `kind` for node `node` (an intern id).
    pub fn place(&mut self, kind: EventKind, node: Option<u32>, step: StepKey) -> Placement {
        self.place_tagged(kind, node, step, 0)
    }

    /// [`Layout::place`], keeping `tag` with a slice this event begins on a node
    /// lane: the end that closes it gets it back as [`Placement::begin_tag`]. This
    /// is how the node-runs pass pairs a run's start with its end, by this layout's
    /// own rule.
    pub fn place_tagged(
        &mut self,
        kind: EventKind,
        node: Option<u32>,
        step: StepKey,
        tag: u64,
    ) -> Placement {
        let role = Role::of(kind);
        let on_execution = matches!(
            role,
            Role::Begin(SliceKind::Execution | SliceKind::Step)
                | Role::End(SliceKind::Execution | SliceKind::Step)
        );
        let mut placement = match node {
            Some(node) if !on_execution => match self.lanes {
                Lanes::Compact => self.place_compact(role, node, tag),
                Lanes::PerNode => self.place_per_node(role, node, tag),
            },
            _ => self.place_execution(role, step),
        };
        match placement.role {
            Role::Begin(SliceKind::Node) => self.running += 1,
            Role::End(SliceKind::Node) => self.running -= 1,
            _ => return placement,
        }
        placement.running = Some(self.running);
        placement
    }

    fn place_execution(&mut self, role: Role, step: StepKey) -> Placement {
        let role = match role {
            Role::Begin(kind) => {
                self.execution.push((kind, step));
                role
            }
            Role::End(kind) => match self.execution.last() {
                Some(&(open, open_step))
                    if open == kind && (kind != SliceKind::Step || open_step == step) =>
                {
                    self.execution.pop();
                    role
                }
                _ => Role::Point,
            },
            Role::Point => Role::Point,
        };
        Placement {
            track: Track::Execution,
            role,
            running: None,
            new_lane: false,
            begin_tag: 0,
        }
    }

    fn slot(&mut self, node: u32) -> &mut NodeSlot {
        let index = node as usize;
        if index >= self.nodes.len() {
            self.nodes.resize(index + 1, NodeSlot::default());
        }
        &mut self.nodes[index]
    }

    fn push_slice(&mut self, value: u32, next: u32, tag: u64) -> u32 {
        let slice = OpenSlice { value, next, tag };
        if self.free_slice != 0 {
            let index = self.free_slice;
            self.free_slice = self.slices[index as usize - 1].next;
            self.slices[index as usize - 1] = slice;
            index
        } else {
            self.slices.push(slice);
            self.slices.len() as u32
        }
    }

    /// Remove entry `index` (+ 1) and return it.
    fn pop_slice(&mut self, index: u32) -> OpenSlice {
        let slice = self.slices[index as usize - 1];
        self.slices[index as usize - 1].next = self.free_slice;
        self.free_slice = index;
        slice
    }

    fn new_lane(&mut self) -> u32 {
        self.lane_count += 1;
        self.lane_count - 1
    }

    fn place_compact(&mut self, role: Role, node: u32, tag: u64) -> Placement {
        let mut new_lane = false;
        let mut begin_tag = 0;
        let (lane, role) = match role {
            Role::Begin(kind) => {
                let lane = match self.free_lanes.pop() {
                    Some(Reverse(lane)) => lane,
                    None => {
                        new_lane = true;
                        self.new_lane()
                    }
                };
                let head = self.slot(node).open[kind.lane_index()];
                let entry = self.push_slice(lane, head, tag);
                self.slot(node).open[kind.lane_index()] = entry;
                (lane, role)
            }
            Role::End(kind) => {
                let head = self.slot(node).open[kind.lane_index()];
                if head != 0 {
                    let slice = self.pop_slice(head);
                    self.slot(node).open[kind.lane_index()] = slice.next;
                    self.free_lanes.push(Reverse(slice.value));
                    begin_tag = slice.tag;
                    (slice.value, role)
                } else {
                    let (lane, created) = self.instant_lane(node);
                    new_lane = created;
                    (lane, Role::Point)
                }
            }
            Role::Point => {
                let (lane, created) = self.instant_lane(node);
                new_lane = created;
                (lane, Role::Point)
            }
        };
        Placement {
            track: Track::Lane(lane),
            role,
            running: None,
            new_lane,
            begin_tag,
        }
    }

    /// Compact: the lane of the node's newest open slice, else the lowest free lane
    /// (which stays free). Also whether it had to be created.
    fn instant_lane(&mut self, node: u32) -> (u32, bool) {
        let open = self.slot(node).open;
        if let Some(&head) = open.iter().find(|&&head| head != 0) {
            return (self.slices[head as usize - 1].value, false);
        }
        if let Some(&Reverse(lane)) = self.free_lanes.peek() {
            return (lane, false);
        }
        let lane = self.new_lane();
        self.free_lanes.push(Reverse(lane));
        (lane, true)
    }

    fn place_per_node(&mut self, role: Role, node: u32, tag: u64) -> Placement {
        let mut new_lane = false;
        let mut begin_tag = 0;
        if self.slot(node).track == 0 {
            let track = self.new_lane();
            self.slot(node).track = track + 1;
            new_lane = true;
        }
        let slot = *self.slot(node);
        let role = match role {
            Role::Begin(kind) => {
                let entry = self.push_slice(kind.lane_index() as u32, slot.open[0], tag);
                self.slot(node).open[0] = entry;
                role
            }
            Role::End(kind) => {
                let top = slot.open[0];
                if top != 0 && self.slices[top as usize - 1].value == kind.lane_index() as u32 {
                    let slice = self.pop_slice(top);
                    self.slot(node).open[0] = slice.next;
                    begin_tag = slice.tag;
                    role
                } else {
                    Role::Point
                }
            }
            Role::Point => Role::Point,
        };
        Placement {
            track: Track::Lane(slot.track - 1),
            role,
            running: None,
            new_lane,
            begin_tag,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use EventKind::*;

    fn lanes_of(layout: &mut Layout, events: &[(EventKind, u32)]) -> Vec<(Track, Role)> {
        events
            .iter()
            .map(|&(kind, node)| {
                let placement = layout.place(kind, Some(node), StepKey::None);
                (placement.track, placement.role)
            })
            .collect()
    }

    #[test]
    fn compact_lanes_take_the_first_free_lane() {
        let mut layout = Layout::new(Lanes::Compact);
        let placed = lanes_of(
            &mut layout,
            &[
                (NodeStarted, 0),
                (NodeStarted, 1),
                (NodeStarted, 2),
                (NodeCompleted, 1),
                (NodeStarted, 3),   // lane 1 is free again
                (NodeCompleted, 0), // lane 0 free
                (NodeSkipped, 4),   // instant on the lowest free lane, which stays free
                (NodeStarted, 5),   // lane 0
                (NodeFailed, 9),    // no start: an instant on a free lane (new: 3)
                (NodeCacheHit, 2),  // on node 2's lane
            ],
        );
        use Role::*;
        use SliceKind::Node;
        let lane = Track::Lane;
        assert_eq!(
            placed,
            [
                (lane(0), Begin(Node)),
                (lane(1), Begin(Node)),
                (lane(2), Begin(Node)),
                (lane(1), End(Node)),
                (lane(1), Begin(Node)),
                (lane(0), End(Node)),
                (lane(0), Point),
                (lane(0), Begin(Node)),
                (lane(3), Point),
                (lane(2), Point),
            ]
        );
        assert_eq!(layout.lane_count(), 4);
        assert_eq!(layout.running, 3);
    }

    #[test]
    fn a_hundred_thousand_nodes_eight_at_a_time_use_eight_lanes() {
        let mut layout = Layout::new(Lanes::Compact);
        let mut max_running = 0;
        for node in 0..100_000u32 {
            if node >= 8 {
                layout.place(NodeCompleted, Some(node - 8), StepKey::None);
            }
            let placement = layout.place(NodeStarted, Some(node), StepKey::None);
            max_running = max_running.max(placement.running.unwrap());
        }
        assert_eq!(layout.lane_count(), 8);
        assert_eq!(max_running, 8);
        // Open-slice entries are reused: no growth with the trace length.
        assert!(layout.slices.len() <= 8);
    }

    #[test]
    fn ends_in_any_order_pair_with_their_own_start() {
        let mut layout = Layout::new(Lanes::Compact);
        let placed = lanes_of(
            &mut layout,
            &[
                (ResourceAcquired, 0),
                (NodeStarted, 0),
                (ResourceReleased, 0), // before the node completes: still its own lane
                (NodeCompleted, 0),
            ],
        );
        use Role::*;
        use SliceKind::*;
        assert_eq!(
            placed,
            [
                (Track::Lane(0), Begin(Resource)),
                (Track::Lane(1), Begin(Node)),
                (Track::Lane(0), End(Resource)),
                (Track::Lane(1), End(Node)),
            ]
        );
    }

    #[test]
    fn per_node_tracks_nest_and_mismatched_ends_become_instants() {
        let mut layout = Layout::new(Lanes::PerNode);
        let placed = lanes_of(
            &mut layout,
            &[
                (NodeGateWaiting, 7),
                (NodeGateResolved, 7),
                (ResourceAcquired, 7),
                (NodeStarted, 7),
                (NodeStarted, 3),
                (ResourceReleased, 7), // the node slice is innermost: no match
                (NodeCompleted, 7),
                (NodeCompleted, 3),
            ],
        );
        use Role::*;
        use SliceKind::*;
        assert_eq!(
            placed,
            [
                (Track::Lane(0), Begin(Gate)),
                (Track::Lane(0), End(Gate)),
                (Track::Lane(0), Begin(Resource)),
                (Track::Lane(0), Begin(Node)),
                (Track::Lane(1), Begin(Node)),
                (Track::Lane(0), Point),
                (Track::Lane(0), End(Node)),
                (Track::Lane(1), End(Node)),
            ]
        );
    }

    #[test]
    fn the_execution_track_nests_steps_and_matches_indices() {
        let mut layout = Layout::new(Lanes::Compact);
        let mut place = |kind, step| layout.place(kind, None, step).role;
        use Role::*;
        use SliceKind::*;
        assert_eq!(place(ExecutionStarted, StepKey::None), Begin(Execution));
        assert_eq!(place(StepStarted, StepKey::Int(0)), Begin(Step));
        assert_eq!(place(StepCompleted, StepKey::Int(1)), Point);
        assert_eq!(place(StepCompleted, StepKey::Int(0)), End(Step));
        assert_eq!(place(NodeSkipped, StepKey::None), Point);
        assert_eq!(place(NodeStarted, StepKey::None), Begin(Node));
        assert_eq!(place(ExecutionCompleted, StepKey::None), Point);
        assert_eq!(place(NodeCompleted, StepKey::None), End(Node));
        assert_eq!(place(ExecutionCompleted, StepKey::None), End(Execution));
        assert_eq!(place(ExecutionCompleted, StepKey::None), Point);
    }
}
