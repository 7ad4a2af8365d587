//! Snapshots: the events of one moment as segments of cores' buffers, put in
//! chronological order (one pass when already ordered, a stable sort by timestamp
//! otherwise), read by position, with their sources and a summary by a scan.

use super::core::TraceCore;
use super::read::EventView;
use crate::event::EventRecord;
use crate::origin::{Origin, Sources};
use crate::summary::Summary;

impl<X, S> TraceCore<X, S> {
    /// The events recorded so far, in chronological order.
    pub fn snapshot(&self) -> Snapshot<'_, X, S> {
        let len = self.len();
        Snapshot::new(vec![SnapshotSegment {
            core: self,
            start: 0,
            len,
        }])
        .with_dropped(self.dropped_before())
    }
}

/// A run of consecutive buffer indices of one core.
pub struct SnapshotSegment<'a, X, S> {
    pub core: &'a TraceCore<X, S>,
    pub start: usize,
    pub len: usize,
}

/// The events of one moment, in chronological order: one segment for a trace,
/// two (the tail of the previous generation, then the current one) for a bounded
/// trace.
pub struct Snapshot<'a, X, S> {
    segments: Vec<SnapshotSegment<'a, X, S>>,
    len: usize,
    /// Positions in segment order, chronologically, when that differs from
    /// segment order.
    order: Option<Vec<usize>>,
    /// Events the trace had let go as of this snapshot.
    dropped: u64,
}

impl<'a, X, S> Snapshot<'a, X, S> {
    pub fn new(segments: Vec<SnapshotSegment<'a, X, S>>) -> Self {
        let len = segments.iter().map(|segment| segment.len).sum();
        let mut snapshot = Snapshot {
            segments,
            len,
            order: None,
            dropped: 0,
        };
        let mut sorted = true;
        let mut last = f64::NEG_INFINITY;
        for segment in &snapshot.segments {
            segment.core.events.for_each_from(
                segment.start,
                segment.start + segment.len,
                |_, record| {
                    let ts = record.ts;
                    sorted &= ts >= last;
                    last = ts;
                },
            );
        }
        if !sorted {
            let mut order: Vec<usize> = (0..len).collect();
            // Stable: equal timestamps keep segment (record) order.
            order.sort_by(|&a, &b| {
                snapshot
                    .ts_unordered(a)
                    .total_cmp(&snapshot.ts_unordered(b))
            });
            snapshot.order = Some(order);
        }
        snapshot
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn with_dropped(mut self, dropped: u64) -> Self {
        self.dropped = dropped;
        self
    }

    /// Events the trace had let go (a `max_events` trace's oldest) as of this
    /// snapshot.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The origin of the trace these events belong to (`None` when empty).
    pub fn origin(&self) -> Option<Origin> {
        self.segments
            .first()
            .and_then(|segment| segment.core.origin())
    }

    /// The distinct sources of these events, in order of first appearance; map an
    /// event's `source` with [`Sources::of`]. One source (the origin) for a trace
    /// recorded here; none when empty.
    pub fn sources(&self) -> Sources {
        if self.is_empty() {
            return Sources::default();
        }
        let stored = self
            .segments
            .iter()
            .find_map(|segment| segment.core.provenance.get());
        match stored {
            Some(provenance) => {
                Sources::collect(&provenance.sources, self.iter().map(|event| event.source))
            }
            None => self.origin().map(Sources::single).unwrap_or_default(),
        }
    }

    /// What a saved copy of these events needs to keep their sources: the list and
    /// each event's index into it, or `None` when every event comes from the
    /// origin's process (a trace recorded in one process needs nothing more).
    pub fn saved_sources(&self) -> Option<(Vec<Origin>, Vec<u32>)> {
        let sources = self.sources();
        let origin = self.origin()?;
        match sources.list.as_slice() {
            [] => None,
            [only] if only.identity() == origin.identity() => None,
            _ => {
                let per_event = self.event_sources(&sources);
                Some((sources.list, per_event))
            }
        }
    }

    /// Each event's index into [`Snapshot::sources`]' list, in snapshot order.
    pub fn event_sources(&self, sources: &Sources) -> Vec<u32> {
        self.iter().map(|event| sources.of(event.source)).collect()
    }

    /// The segment and buffer index of position `position` in segment order.
    #[inline]
    fn locate(&self, mut position: usize) -> (&SnapshotSegment<'a, X, S>, usize) {
        for segment in &self.segments {
            if position < segment.len {
                return (segment, segment.start + position);
            }
            position -= segment.len;
        }
        panic!("snapshot position out of range")
    }

    fn ts_unordered(&self, position: usize) -> f64 {
        let (segment, index) = self.locate(position);
        segment.core.events.wait(index).ts
    }

    /// The `position`-th event in chronological order.
    #[inline]
    pub fn get(&self, position: usize) -> EventView<'a, X, S> {
        let position = match &self.order {
            Some(order) => order[position],
            None => position,
        };
        let (segment, index) = self.locate(position);
        segment.core.view(index)
    }

    /// Visit the events in chronological order by their records: `f` gets the core
    /// and buffer index of each (to read the rest with [`TraceCore::view`] when the
    /// record is not enough), the record, and its stored source index. Cheaper than
    /// [`Snapshot::iter`] for writers that need an event's strings or extra rarely.
    pub fn for_each_record(
        &self,
        mut f: impl FnMut(&'a TraceCore<X, S>, usize, &EventRecord, u32),
    ) {
        match &self.order {
            None => {
                for segment in &self.segments {
                    let core = segment.core;
                    let own = core.provenance.get();
                    core.events.for_each_from(
                        segment.start,
                        segment.start + segment.len,
                        |index, record| {
                            let source = own.map_or(0, |provenance| provenance.source_of(index));
                            f(core, index, record, source)
                        },
                    );
                }
            }
            Some(order) => {
                for &position in order {
                    let (segment, index) = self.locate(position);
                    let core = segment.core;
                    f(core, index, core.events.wait(index), core.source_of(index));
                }
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = EventView<'a, X, S>> + '_ {
        (0..self.len).map(move |position| self.get(position))
    }

    /// Number of interned strings (bound on node ids), for per-node tables.
    pub fn string_count(&self) -> usize {
        self.segments
            .first()
            .map_or(0, |segment| segment.core.strings.len())
    }

    /// The summary counts by a pass over these events.
    pub fn summary(&self) -> Summary {
        let mut outcomes = [0u64; 5];
        let mut nodes = std::collections::HashSet::new();
        let mut first = None;
        let mut last = 0.0;
        for event in self.iter() {
            if let Some(outcome) = event.kind.outcome() {
                outcomes[outcome] += 1;
            }
            if let Some((id, _)) = event.node {
                nodes.insert(id);
            }
            first.get_or_insert(event.ts);
            last = event.ts;
        }
        let duration = first.map_or(0.0, |first| last - first);
        Summary::new(self.len as u64, outcomes, nodes.len() as u64, duration)
    }

    /// The events naming node `id`, by a pass over these events.
    pub fn events_for_node(&self, id: u32) -> Vec<EventView<'a, X, S>> {
        self.iter()
            .filter(|event| event.node.is_some_and(|(node, _)| node == id))
            .collect()
    }
}
