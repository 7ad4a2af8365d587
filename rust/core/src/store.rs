//! The trace policy: one type, [`TraceStore`], for a trace that keeps every event
//! (one [`TraceCore`]) or, with `max_events`, the newest events only (a
//! [`BoundedTrace`]). It records, interns, snapshots, summarises, finds a node's
//! events, walks payloads and restores in either mode, choosing per mode how (a
//! node's events by their links or by a scan; the summary from counters or by a
//! scan). The bindings only convert arguments and results.

use std::sync::Arc;

use crate::bounded::{BoundedTrace, Generations};
use crate::error::{InternError, TraceError};
use crate::event::NewEvent;
use crate::intern::NameTable;
use crate::origin::Origin;
use crate::summary::Summary;
use crate::trace::{EventView, Restored, SavedEvent, Snapshot, TraceCore};

/// Where a trace's events live. Not boxed: the unbounded core is on every
/// record's path.
#[allow(clippy::large_enum_variant)]
pub enum TraceStore<X, S> {
    /// Every event, in one core that links each node's events and counts them.
    Unbounded(TraceCore<X, S>),
    /// The newest `capacity` events, in generations (see `bounded`).
    Bounded(BoundedTrace<X, S>),
}

/// A trace's events held alive while they are read: the core itself, or a bounded
/// trace's generations as of the moment it was taken.
pub enum HeldEvents<'a, X, S> {
    Core(&'a TraceCore<X, S>),
    Generations(Arc<Generations<X, S>>, usize),
}

impl<X, S> HeldEvents<'_, X, S> {
    /// The held events in chronological order.
    pub fn snapshot(&self) -> Snapshot<'_, X, S> {
        match self {
            HeldEvents::Core(core) => core.snapshot(),
            HeldEvents::Generations(generations, capacity) => generations.snapshot(*capacity),
        }
    }

    /// The held events naming node `id`, in chronological order: by the core's
    /// per-node links (O(those events)), or by a scan of a bounded trace's at most
    /// `max_events` events.
    pub fn events_for_node(&self, id: u32) -> Vec<EventView<'_, X, S>> {
        match self {
            HeldEvents::Core(core) => core.events_for_node(id),
            HeldEvents::Generations(..) => self.snapshot().events_for_node(id),
        }
    }
}

impl<X, S> TraceStore<X, S> {
    /// An unbounded trace.
    pub fn new() -> Self {
        TraceStore::Unbounded(TraceCore::new())
    }

    /// An unbounded trace whose first string ids are `names`' (see
    /// `TraceCore::with_names`).
    pub fn with_names(names: Arc<NameTable<S>>) -> Result<Self, TraceError> {
        Ok(TraceStore::Unbounded(TraceCore::with_names(names)?))
    }

    /// A trace that keeps the newest `capacity` events (at least 1).
    pub fn bounded(capacity: usize) -> Self {
        TraceStore::Bounded(BoundedTrace::new(capacity))
    }

    /// The core of an unbounded trace (`None` when bounded), for what only an
    /// unbounded trace supports: recording by shared node index, journals, merging.
    #[inline]
    pub fn unbounded(&self) -> Option<&TraceCore<X, S>> {
        match self {
            TraceStore::Unbounded(core) => Some(core),
            TraceStore::Bounded(_) => None,
        }
    }

    /// The bound (`max_events`), or `None` for an unbounded trace.
    pub fn capacity(&self) -> Option<usize> {
        match self {
            TraceStore::Unbounded(_) => None,
            TraceStore::Bounded(bounded) => Some(bounded.capacity()),
        }
    }

    /// How many shared node names the trace started from (0: none); `None` when
    /// bounded.
    pub fn names_len(&self) -> Option<usize> {
        self.unbounded().map(TraceCore::names_len)
    }

    /// Record an event now. On error nothing is recorded.
    #[inline]
    pub fn record(&self, event: NewEvent<X>) -> Result<(), TraceError> {
        match self {
            TraceStore::Unbounded(core) => core.record(event).map(drop),
            TraceStore::Bounded(bounded) => bounded.record(event),
        }
    }

    /// Run `f` with the core that holds this trace's strings and clock: the core
    /// itself, or a bounded trace's current generation (all generations share
    /// both).
    #[inline]
    fn with_current_core<R>(&self, f: impl FnOnce(&TraceCore<X, S>) -> R) -> R {
        match self {
            TraceStore::Unbounded(core) => f(core),
            TraceStore::Bounded(bounded) => f(&bounded.current()),
        }
    }

    /// Intern a string (node name or error) whose payload may fail to build, and
    /// return its id.
    #[inline]
    pub fn intern_with<E: From<InternError>>(
        &self,
        text: &[u8],
        payload: impl FnOnce() -> Result<S, E>,
    ) -> Result<u32, E> {
        self.with_current_core(|core| core.intern_with(text, payload))
    }

    /// The id of `text`, if it was interned.
    #[inline]
    pub fn lookup(&self, text: &[u8]) -> Option<u32> {
        self.with_current_core(|core| core.lookup(text))
    }

    /// The clock epoch in nanoseconds, if any event was recorded.
    pub fn epoch(&self) -> Option<u64> {
        self.with_current_core(TraceCore::epoch)
    }

    /// Where and when the first event was recorded; `None` before any event.
    pub fn origin(&self) -> Option<Origin> {
        self.with_current_core(TraceCore::origin)
    }

    /// The events as of now, held alive while they are read.
    pub fn hold(&self) -> HeldEvents<'_, X, S> {
        match self {
            TraceStore::Unbounded(core) => HeldEvents::Core(core),
            TraceStore::Bounded(bounded) => {
                HeldEvents::Generations(bounded.generations(), bounded.capacity())
            }
        }
    }

    /// Run `f` on a snapshot of the events as of now.
    pub fn with_snapshot<R>(&self, f: impl FnOnce(&Snapshot<'_, X, S>) -> R) -> R {
        f(&self.hold().snapshot())
    }

    /// Events let go: a bounded trace's oldest, plus those a restored or merged
    /// trace had let go.
    pub fn dropped(&self) -> u64 {
        match self {
            TraceStore::Unbounded(core) => core.dropped_before(),
            TraceStore::Bounded(_) => self.with_snapshot(|snapshot| snapshot.dropped()),
        }
    }

    /// The summary's counts: kept at record time by an unbounded trace (O(1)), by a
    /// scan of a bounded trace's at most `max_events` events.
    pub fn summary(&self) -> Summary {
        match self {
            TraceStore::Unbounded(core) => core.summary(),
            TraceStore::Bounded(_) => self.with_snapshot(|snapshot| snapshot.summary()),
        }
    }

    /// Visit the payload of every event kept (in every live generation), for the
    /// bindings' GC support. Never waits: an event still being written is skipped.
    pub fn for_each_payload(&self, mut f: impl FnMut(&X)) {
        match self {
            TraceStore::Unbounded(core) => core.for_each_payload(f),
            TraceStore::Bounded(bounded) => {
                let generations = bounded.generations();
                if let Some(previous) = &generations.previous {
                    previous.for_each_payload(&mut f);
                }
                generations.current.for_each_payload(f);
            }
        }
    }

    /// Fill an empty trace from saved events, with the saved trace's epoch,
    /// origin, dropped count and sources (see `TraceCore::restore_with`).
    pub fn restore(
        &self,
        restored: Restored,
        events: Vec<SavedEvent<X>>,
    ) -> Result<(), TraceError> {
        match self {
            TraceStore::Unbounded(core) => core.restore_with(restored, events),
            TraceStore::Bounded(bounded) => bounded.restore_with(restored, events),
        }
    }
}

impl<X, S> Default for TraceStore<X, S> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventKind, StepArg};
    use crate::trace::StepView;

    type Store = TraceStore<i64, ()>;

    /// Both modes: unbounded, and bounded with room for `capacity` events.
    fn both(capacity: usize) -> [Store; 2] {
        [Store::new(), Store::bounded(capacity)]
    }

    fn node(store: &Store, name: &str) -> u32 {
        store
            .intern_with(name.as_bytes(), || Ok::<_, InternError>(()))
            .unwrap()
    }

    /// Record `kind` for `node` with step `step` and payload `step`.
    fn record(store: &Store, kind: EventKind, node: Option<u32>, step: i64) {
        let mut event = NewEvent::new(kind);
        event.node = node;
        event.step = StepArg::Int(step);
        event.payload = Some(step);
        store.record(event).unwrap();
    }

    fn steps<'a>(events: impl Iterator<Item = EventView<'a, i64, ()>>) -> Vec<i64> {
        events
            .map(|event| match event.step {
                StepView::Int(value) => value,
                _ => -1,
            })
            .collect()
    }

    const KINDS: [EventKind; 6] = [
        EventKind::NodeCompleted,
        EventKind::NodeFailed,
        EventKind::NodeSkipped,
        EventKind::NodeTimedOut,
        EventKind::NodeCancelled,
        EventKind::StepStarted,
    ];

    /// 100 events over nodes n0..n6 (every fourth without a node).
    fn fill(store: &Store) -> Vec<u32> {
        let nodes: Vec<u32> = (0..7).map(|i| node(store, &format!("n{i}"))).collect();
        for step in 0..100 {
            let named = (step % 4 != 0).then_some(nodes[step as usize % 7]);
            record(store, KINDS[step as usize % KINDS.len()], named, step);
        }
        nodes
    }

    #[test]
    fn modes_report_their_bound_and_shared_names() {
        let [unbounded, bounded] = both(10);
        assert_eq!(unbounded.capacity(), None);
        assert_eq!(bounded.capacity(), Some(10));
        assert_eq!(unbounded.names_len(), Some(0));
        assert_eq!(bounded.names_len(), None);
        assert!(unbounded.unbounded().is_some());
        assert!(bounded.unbounded().is_none());
    }

    #[test]
    fn records_and_snapshots_in_order_in_both_modes() {
        let [unbounded, bounded] = both(30);
        for store in [&unbounded, &bounded] {
            assert_eq!(store.epoch(), None);
            assert_eq!(store.origin(), None);
            fill(store);
            assert!(store.epoch().is_some());
            assert_eq!(store.origin().unwrap().monotonic_ns, store.epoch().unwrap());
        }
        let all: Vec<i64> = (0..100).collect();
        assert_eq!(unbounded.with_snapshot(|s| steps(s.iter())), all);
        // The bounded trace keeps the newest 30, oldest first.
        assert_eq!(bounded.with_snapshot(|s| steps(s.iter())), all[70..]);
        let ts: Vec<f64> = bounded.with_snapshot(|s| s.iter().map(|e| e.ts).collect());
        assert!(ts.windows(2).all(|pair| pair[0] <= pair[1]), "{ts:?}");
    }

    #[test]
    fn interned_strings_are_shared_by_all_generations() {
        let store = Store::bounded(2);
        let first = node(&store, "first");
        for step in 0..10 {
            record(&store, EventKind::NodeStarted, Some(first), step);
        }
        // The current generation is not the first one, yet knows the name.
        assert_eq!(store.lookup(b"first"), Some(first));
        assert_eq!(node(&store, "first"), first);
        assert_eq!(store.lookup(b"other"), None);
    }

    #[test]
    fn events_for_node_in_both_modes() {
        let [unbounded, bounded] = both(30);
        let nodes = fill(&unbounded);
        assert_eq!(fill(&bounded), nodes);
        let expected = |from: i64, id: u32| -> Vec<i64> {
            (from..100)
                .filter(|step| step % 4 != 0 && nodes[*step as usize % 7] == id)
                .collect()
        };
        for &id in &nodes {
            let held = unbounded.hold();
            assert_eq!(steps(held.events_for_node(id).into_iter()), expected(0, id));
            let held = bounded.hold();
            assert_eq!(
                steps(held.events_for_node(id).into_iter()),
                expected(70, id)
            );
        }
    }

    #[test]
    fn summary_equals_a_scan_in_both_modes() {
        let [unbounded, bounded] = both(30);
        for store in [&unbounded, &bounded] {
            assert_eq!(store.summary().total, 0);
            fill(store);
            let scanned = store.with_snapshot(|snapshot| snapshot.summary());
            assert_eq!(store.summary(), scanned);
        }
        let summary = unbounded.summary();
        assert_eq!(summary.total, 100);
        assert_eq!(summary.unique_nodes, 7);
        assert_eq!(
            [summary.completed, summary.failed, summary.skipped],
            [17, 17, 17]
        );
        let summary = bounded.summary();
        assert_eq!(summary.total, 30);
        // Steps 70..100: kinds by step % 6.
        assert_eq!(
            summary.completed,
            (70..100).filter(|s| s % 6 == 0).count() as u64
        );
    }

    #[test]
    fn dropped_counts_what_a_bounded_trace_let_go() {
        let [unbounded, bounded] = both(30);
        for store in [&unbounded, &bounded] {
            assert_eq!(store.dropped(), 0);
            fill(store);
        }
        assert_eq!(unbounded.dropped(), 0);
        assert_eq!(bounded.dropped(), 70);
        assert_eq!(bounded.with_snapshot(|s| s.dropped()), 70);
    }

    #[test]
    fn payload_walk_sees_every_kept_generation() {
        let [unbounded, bounded] = both(30);
        for store in [&unbounded, &bounded] {
            fill(store);
        }
        let walk = |store: &Store| {
            let mut seen = Vec::new();
            store.for_each_payload(|&payload| seen.push(payload));
            seen.sort_unstable();
            seen
        };
        assert_eq!(walk(&unbounded), (0..100).collect::<Vec<_>>());
        // Generations of 30: the previous (60..90) and the current (90..100) live.
        assert_eq!(walk(&bounded), (60..100).collect::<Vec<_>>());
    }

    #[test]
    fn restore_fills_either_mode_and_recording_goes_on() {
        let saved = || -> Vec<SavedEvent<i64>> {
            (0..5)
                .map(|step| {
                    let mut event = NewEvent::new(EventKind::StepStarted);
                    event.step = StepArg::Int(step);
                    SavedEvent {
                        ts: step as f64,
                        event,
                    }
                })
                .collect()
        };
        let [unbounded, bounded] = both(5);
        for store in [&unbounded, &bounded] {
            let restored = Restored {
                dropped: 3,
                ..Restored::default()
            };
            store.restore(restored, saved()).unwrap();
            assert_eq!(store.with_snapshot(|s| steps(s.iter())), [0, 1, 2, 3, 4]);
            assert_eq!(store.dropped(), 3);
            record(store, EventKind::StepCompleted, None, 5);
            let last = store.with_snapshot(|s| s.get(s.len() - 1).ts);
            assert!(last >= 4.0);
            // A trace holding events cannot be restored again.
            assert!(matches!(
                store.restore(Restored::default(), saved()),
                Err(TraceError::InvalidState(_))
            ));
        }
        assert_eq!(unbounded.with_snapshot(|s| s.len()), 6);
        // The bounded trace let the oldest go to keep 5.
        assert_eq!(bounded.with_snapshot(|s| steps(s.iter())), [1, 2, 3, 4, 5]);
        assert_eq!(bounded.dropped(), 4);
        // More events than the bound do not restore.
        let too_many = Store::bounded(4);
        assert!(matches!(
            too_many.restore(Restored::default(), saved()),
            Err(TraceError::InvalidState(_))
        ));
    }
}
