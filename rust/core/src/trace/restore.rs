//! Restoring: filling an empty core from saved events (pickling, copying, merging,
//! loading a journal), after checking them, with the saved epoch, origin, dropped
//! count and sources.

use std::sync::atomic::Ordering::{Relaxed, Release};

use super::core::TraceCore;
use crate::clock;
use crate::error::TraceError;
use crate::event::NewEvent;
use crate::origin::{Origin, Provenance};

/// A restored event (from a saved state): the timestamp is given, not measured.
pub struct SavedEvent<X> {
    pub ts: f64,
    pub event: NewEvent<X>,
}

/// What a saved trace carries besides its events.
#[derive(Debug, Default)]
pub struct Restored {
    /// The saved trace's clock epoch (see `restore`).
    pub epoch: Option<u64>,
    /// Its origin; `None`: unknown (an old saved state), taken as recorded here.
    pub origin: Option<Origin>,
    /// Events it had let go.
    pub dropped: u64,
    /// Who recorded each event, when not all by the origin's process.
    pub provenance: Option<Provenance>,
}

impl<X, S> TraceCore<X, S> {
    /// Fill an empty trace from saved events (pickling, copying). Timestamps must be
    /// finite, start at 0.0 and never decrease. `epoch` is the saved trace's clock
    /// epoch: kept when this clock can continue it, otherwise moved so that new
    /// events land after the last saved one.
    pub fn restore(
        &self,
        epoch: Option<u64>,
        events: Vec<SavedEvent<X>>,
    ) -> Result<(), TraceError> {
        self.restore_with(
            Restored {
                epoch,
                ..Restored::default()
            },
            events,
        )
    }

    /// `restore` with the saved trace's origin, dropped count and sources.
    /// `provenance.event_sources`, when given, holds one source per saved event.
    pub fn restore_with(
        &self,
        restored: Restored,
        mut events: Vec<SavedEvent<X>>,
    ) -> Result<(), TraceError> {
        let Restored {
            epoch,
            origin,
            dropped,
            provenance,
        } = restored;
        if !self.is_empty() {
            return Err(TraceError::InvalidState(
                "the trace already holds events".into(),
            ));
        }
        let mut last = 0.0f64;
        for (position, saved) in events.iter_mut().enumerate() {
            // -0.0 is read as 0.0: kept as is, it would pass "not before 0.0" yet
            // sort and compare (by bits) as a different value.
            if saved.ts == 0.0 {
                saved.ts = 0.0;
            }
            let ts = saved.ts;
            if !(ts.is_finite() && ts >= last) {
                return Err(TraceError::InvalidState(format!(
                    "event {position} has timestamp {ts}; timestamps must be finite, at least 0.0 \
                     and never decrease"
                )));
            }
            last = ts;
        }
        if let Some(provenance) = &provenance {
            let sources = provenance.sources.len();
            if provenance.event_sources.len() != events.len() {
                return Err(TraceError::InvalidState(format!(
                    "{} event sources for {} events",
                    provenance.event_sources.len(),
                    events.len()
                )));
            }
            let all = provenance.event_sources.iter();
            if let Some(bad) = all
                .chain([&provenance.own_source])
                .find(|&&s| s as usize >= sources)
            {
                return Err(TraceError::InvalidState(format!(
                    "source index {bad} out of range for {sources} sources"
                )));
            }
        }
        self.events.reserve(events.len())?;
        self.dropped_before.store(dropped, Relaxed);
        let Some(first) = events.first().map(|saved| saved.ts) else {
            return Ok(());
        };
        // A bounded trace's oldest kept event need not be at 0.0.
        self.first_ts_bits.store(first.to_bits(), Relaxed);
        let now = clock::monotonic_ns();
        let elapsed_ns = (last * 1e9).ceil() as u64 + 1;
        let epoch = match epoch {
            Some(epoch) if epoch <= now && now - epoch >= elapsed_ns => epoch,
            _ => now.saturating_sub(elapsed_ns),
        };
        if self.admission.is_bounded() && !self.admission.take(events.len()) {
            return Err(TraceError::InvalidState(format!(
                "{} events do not fit in max_events={}",
                events.len(),
                self.admission.limit()
            )));
        }
        // Set before the epoch is published (below), so a reader that sees the epoch
        // finds the origin.
        let _ = self
            .origin
            .set(origin.unwrap_or_else(|| Origin::here(epoch)));
        if let Some(provenance) = provenance {
            let _ = self.provenance.set(provenance);
        }
        for saved in events {
            self.push(saved.ts, saved.event)?;
        }
        self.floor_bits.store(last.to_bits(), Relaxed);
        // Release pairs with the Acquire load in `timestamp`.
        self.epoch.store(epoch, Release);
        Ok(())
    }
}
