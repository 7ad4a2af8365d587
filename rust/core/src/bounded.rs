//! Bounded traces (`ExecutionTrace(max_events=N)`): a flight recorder that keeps
//! the newest `N` events and lets the oldest go.
//!
//! Events go into a generation (a [`TraceCore`] that admits at most `N` events,
//! counted by its `admission::AdmissionLimit`). When it is full, a writer starts
//! the next generation and swaps it in with one
//! compare-and-swap on an `ArcSwap`; the full one becomes "previous", and the one
//! before that is dropped once no reader holds it. A snapshot is the newest `N`
//! events: the tail of the previous generation followed by the current one. So
//! memory stays below `2 N` events, recording never waits, and readers hold
//! generations alive by reference count while they export.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::error::TraceError;
use crate::event::NewEvent;
use crate::trace::{Restored, SavedEvent, Snapshot, SnapshotSegment, TraceCore};

/// What a generation did with an event offered to it.
pub enum Admission<X> {
    /// Recorded, at this buffer index.
    Recorded(usize),
    /// The generation is full: the event, handed back.
    Full(NewEvent<X>),
}

impl<X, S> TraceCore<X, S> {
    /// Record an event now if this core has room; a full core hands the event back.
    #[inline]
    pub fn record_within(&self, event: NewEvent<X>) -> Result<Admission<X>, TraceError> {
        if !self.admission().admit() {
            return Ok(Admission::Full(event));
        }
        self.record(event).map(Admission::Recorded)
    }
}

/// A bounded trace's newest generations: the full one before (if any) and the one
/// new events go to.
pub struct Generations<X, S> {
    pub previous: Option<Arc<TraceCore<X, S>>>,
    pub current: Arc<TraceCore<X, S>>,
}

pub struct BoundedTrace<X, S> {
    capacity: usize,
    generations: ArcSwap<Generations<X, S>>,
}

impl<X, S> BoundedTrace<X, S> {
    /// `capacity` must be at least 1.
    pub fn new(capacity: usize) -> Self {
        assert!(capacity >= 1, "a bounded trace keeps at least one event");
        let current = Arc::new(TraceCore::bounded(capacity));
        BoundedTrace {
            capacity,
            generations: ArcSwap::from_pointee(Generations {
                previous: None,
                current,
            }),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The generation new events go to (for interning: strings are shared).
    pub fn current(&self) -> Arc<TraceCore<X, S>> {
        Arc::clone(&self.generations.load().current)
    }

    /// Record an event now, starting a new generation when the current one is full.
    pub fn record(&self, mut event: NewEvent<X>) -> Result<(), TraceError> {
        loop {
            let generations = self.generations.load();
            match generations.current.record_within(event)? {
                Admission::Recorded(_) => return Ok(()),
                Admission::Full(returned) => {
                    event = returned;
                    let next = Generations {
                        previous: Some(Arc::clone(&generations.current)),
                        current: Arc::new(generations.current.next_generation(self.capacity)),
                    };
                    // Whoever wins starts the next generation; losers just retry in it.
                    self.generations
                        .compare_and_swap(&generations, Arc::new(next));
                }
            }
        }
    }

    /// The generations as of now; keep them while using a snapshot of them.
    pub fn generations(&self) -> Arc<Generations<X, S>> {
        self.generations.load_full()
    }

    /// Fill an empty bounded trace from saved events (at most `capacity` of them).
    pub fn restore(
        &self,
        epoch: Option<u64>,
        events: Vec<SavedEvent<X>>,
    ) -> Result<(), TraceError> {
        self.current().restore(epoch, events)
    }

    /// `restore` with the saved trace's origin, dropped count and sources.
    pub fn restore_with(
        &self,
        restored: Restored,
        events: Vec<SavedEvent<X>>,
    ) -> Result<(), TraceError> {
        self.current().restore_with(restored, events)
    }
}

impl<X, S> Generations<X, S> {
    /// The newest `capacity` events.
    pub fn snapshot(&self, capacity: usize) -> Snapshot<'_, X, S> {
        let current_len = self.current.len();
        let mut segments = Vec::with_capacity(2);
        if let Some(previous) = &self.previous {
            let previous_len = previous.len();
            let keep = capacity.saturating_sub(current_len).min(previous_len);
            segments.push(SnapshotSegment {
                core: previous,
                start: previous_len - keep,
                len: keep,
            });
        }
        segments.push(SnapshotSegment {
            core: &self.current,
            start: 0,
            len: current_len,
        });
        let kept: usize = segments.iter().map(|segment| segment.len).sum();
        // Every event before the current generation's, plus its own, minus those kept.
        let recorded = self.current.dropped_before() + current_len as u64;
        Snapshot::new(segments).with_dropped(recorded - kept as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventKind, StepArg};
    use crate::trace::StepView;

    fn steps(snapshot: &Snapshot<'_, (), ()>) -> Vec<i64> {
        snapshot
            .iter()
            .map(|e| match e.step {
                StepView::Int(v) => v,
                _ => -1,
            })
            .collect()
    }

    fn record(trace: &BoundedTrace<(), ()>, step: i64) {
        let mut event = NewEvent::new(EventKind::StepStarted);
        event.step = StepArg::Int(step);
        trace.record(event).unwrap();
    }

    #[test]
    fn keeps_the_newest_events() {
        let trace = BoundedTrace::new(5);
        for step in 0..3 {
            record(&trace, step);
        }
        assert_eq!(steps(&trace.generations().snapshot(5)), vec![0, 1, 2]);
        for step in 3..23 {
            record(&trace, step);
        }
        let generations = trace.generations();
        let snapshot = generations.snapshot(5);
        assert_eq!(steps(&snapshot), vec![18, 19, 20, 21, 22]);
        let summary = snapshot.summary();
        assert_eq!(summary.total, 5);
        assert!(summary.duration >= 0.0);
        assert_eq!(snapshot.dropped(), 18);
    }

    #[test]
    fn dropped_counts_every_event_let_go_and_carries_through_restore() {
        let trace = BoundedTrace::new(3);
        assert_eq!(trace.generations().snapshot(3).dropped(), 0);
        for step in 0..3 {
            record(&trace, step);
        }
        assert_eq!(trace.generations().snapshot(3).dropped(), 0);
        for step in 3..100 {
            record(&trace, step);
            let generations = trace.generations();
            assert_eq!(generations.snapshot(3).dropped(), step as u64 - 2);
        }
        let restored: BoundedTrace<(), ()> = BoundedTrace::new(3);
        let saved = steps(&trace.generations().snapshot(3))
            .into_iter()
            .map(|step| {
                let mut event = NewEvent::new(EventKind::StepStarted);
                event.step = StepArg::Int(step);
                SavedEvent { ts: 0.0, event }
            })
            .collect();
        restored
            .restore_with(
                Restored {
                    dropped: 97,
                    ..Restored::default()
                },
                saved,
            )
            .unwrap();
        assert_eq!(restored.generations().snapshot(3).dropped(), 97);
        record(&restored, 100);
        assert_eq!(restored.generations().snapshot(3).dropped(), 98);
        assert_eq!(
            steps(&restored.generations().snapshot(3)),
            vec![98, 99, 100]
        );
    }

    #[test]
    fn threads_keep_exactly_the_newest() {
        let trace = Arc::new(BoundedTrace::new(1000));
        let handles: Vec<_> = (0..4)
            .map(|thread| {
                let trace = Arc::clone(&trace);
                std::thread::spawn(move || {
                    for seq in 0..5000 {
                        record(&trace, thread * 1_000_000 + seq);
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        let generations = trace.generations();
        let snapshot = generations.snapshot(1000);
        assert_eq!(snapshot.len(), 1000);
        // Every thread's events are in order, and the newest event of all is kept.
        let mut last = [-1i64; 4];
        let mut newest = false;
        for step in steps(&snapshot) {
            let (thread, seq) = ((step / 1_000_000) as usize, step % 1_000_000);
            assert!(seq > last[thread], "thread {thread} out of order");
            last[thread] = seq;
            newest |= seq == 4999;
        }
        assert!(newest);
    }
}
