//! The trace core's type and what it is made of: the event and extras buffers, the
//! string table, the clock epoch, the record-time counters, the admission limit
//! of a bounded trace's generation, origin and provenance; its constructors and
//! the string-table and clock accessors. Recording, reading, snapshots, the
//! counted summary and restoring are in the sibling modules.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Acquire, Relaxed};
use std::sync::{Arc, OnceLock};

use crate::admission::AdmissionLimit;
use crate::buffer::AppendBuffer;
use crate::error::{InternError, TraceError};
use crate::event::{EventRecord, Extra};
use crate::intern::{Interner, NameTable};
use crate::origin::{Origin, Provenance};

/// `epoch` before the first event.
pub(super) const UNSET_EPOCH: u64 = u64::MAX;

/// Counters kept at record time so `summary()` costs O(1). Padded (not aligned:
/// see `buffer::raw::CachePadded`) to keep them off the other fields' cache lines.
#[derive(Default)]
#[repr(C)]
pub(super) struct Stats {
    _before: [u64; 16],
    /// completed, failed, skipped, timed out, cancelled (see `EventKind::outcome`).
    pub(super) outcomes: [AtomicU64; 5],
    /// Distinct node names used by events.
    pub(super) nodes: AtomicU64,
    /// Largest timestamp so far, as `f64` bits (timestamps are >= 0, so the bit
    /// patterns order like the values).
    pub(super) max_ts_bits: AtomicU64,
    _after: [u64; 16],
}

/// One trace's events (or one generation of a bounded trace): the buffers, the
/// string table, the clock epoch and the counters `summary` reads.
pub struct TraceCore<X, S> {
    pub(super) events: AppendBuffer<EventRecord>,
    pub(super) extras: AppendBuffer<Extra<X>>,
    /// Shared between the generations of a bounded trace (see `bounded`), so node
    /// ids mean the same in all of them.
    pub(super) strings: Arc<Interner<S>>,
    pub(super) epoch: AtomicU64,
    pub(super) floor_bits: AtomicU64,
    /// Timestamp of the first event: 0.0, except after restoring a bounded trace.
    pub(super) first_ts_bits: AtomicU64,
    pub(super) stats: Stats,
    /// Most events this core accepts (unbounded: no limit), and how many it has
    /// admitted so far (only counted when bounded).
    pub(super) admission: AdmissionLimit,
    /// Maintain per-node links and node statistics (unbounded traces only; a bounded
    /// trace scans its at most `max_events` events instead).
    pub(super) linked: bool,
    /// Where and when the first event was recorded: set by the thread that sets the
    /// epoch, right after it (or by `restore`, before it). Shared by the generations
    /// of a bounded trace.
    pub(super) origin: Arc<OnceLock<Origin>>,
    /// Who recorded each event, for restored and merged traces; absent for a trace
    /// recorded here, whose events all come from its origin.
    pub(super) provenance: OnceLock<Provenance>,
    /// Events that went before this core's first: those of the earlier generations
    /// of a bounded trace, plus the `dropped` count of a restored trace.
    pub(super) dropped_before: AtomicU64,
}

impl<X, S> Default for TraceCore<X, S> {
    fn default() -> Self {
        TraceCore {
            events: AppendBuffer::new(),
            extras: AppendBuffer::new(),
            strings: Arc::new(Interner::default()),
            epoch: AtomicU64::new(UNSET_EPOCH),
            floor_bits: AtomicU64::new(0f64.to_bits()),
            first_ts_bits: AtomicU64::new(0f64.to_bits()),
            stats: Stats::default(),
            admission: AdmissionLimit::unbounded(),
            linked: true,
            origin: Arc::new(OnceLock::new()),
            provenance: OnceLock::new(),
            dropped_before: AtomicU64::new(0),
        }
    }
}

impl<X, S> TraceCore<X, S> {
    pub fn new() -> Self {
        Self::default()
    }

    /// An unbounded core whose first string ids are `names`' (see
    /// `Interner::with_names`): events can name those nodes by id, with no lookup.
    pub fn with_names(names: Arc<NameTable<S>>) -> Result<Self, TraceError> {
        Ok(TraceCore {
            strings: Arc::new(Interner::with_names(names)?),
            ..TraceCore::default()
        })
    }

    /// A first-generation core of a bounded trace.
    pub fn bounded(limit: usize) -> Self {
        TraceCore {
            admission: AdmissionLimit::new(limit),
            linked: false,
            ..TraceCore::default()
        }
    }

    /// A core for the next generation of a bounded trace: same strings and clock,
    /// room for `limit` events.
    pub fn next_generation(&self, limit: usize) -> Self {
        let provenance = OnceLock::new();
        if let Some(restored) = self.provenance.get() {
            // Its events are all recorded here: only the list and own source carry on.
            let _ = provenance.set(Provenance {
                sources: restored.sources.clone(),
                event_sources: Vec::new(),
                own_source: restored.own_source,
            });
        }
        TraceCore {
            strings: Arc::clone(&self.strings),
            epoch: AtomicU64::new(self.epoch.load(Acquire)),
            floor_bits: AtomicU64::new(self.floor_bits.load(Relaxed)),
            admission: AdmissionLimit::new(limit),
            linked: false,
            origin: Arc::clone(&self.origin),
            provenance,
            // This core is full when the next one is made: all its events go before.
            dropped_before: AtomicU64::new(
                self.dropped_before.load(Relaxed) + self.admission.limit() as u64,
            ),
            ..TraceCore::default()
        }
    }

    /// Intern a string (node name or error) and return its id.
    #[inline]
    pub fn intern(&self, text: &[u8], payload: impl FnOnce() -> S) -> Result<u32, TraceError> {
        Ok(self.strings.intern(text, payload)?)
    }

    /// `intern` with a payload that may fail to build.
    #[inline]
    pub fn intern_with<E: From<InternError>>(
        &self,
        text: &[u8],
        payload: impl FnOnce() -> Result<S, E>,
    ) -> Result<u32, E> {
        self.strings.intern_with(text, payload)
    }

    #[inline]
    pub fn lookup(&self, text: &[u8]) -> Option<u32> {
        self.strings.lookup(text)
    }

    /// How many ids belong to the shared names this core started from.
    #[inline]
    pub fn names_len(&self) -> usize {
        self.strings.names_len()
    }

    /// How many events this core admits (see `bounded`).
    #[inline]
    pub(crate) fn admission(&self) -> &AdmissionLimit {
        &self.admission
    }

    /// Number of events recorded and published (waits for in-flight writers).
    pub fn len(&self) -> usize {
        let len = self.events.claimed();
        self.events.wait_published(len);
        len
    }

    pub fn is_empty(&self) -> bool {
        self.events.claimed() == 0
    }

    /// The clock epoch in nanoseconds, if any event was recorded.
    pub fn epoch(&self) -> Option<u64> {
        let epoch = self.epoch.load(Acquire);
        (epoch != UNSET_EPOCH).then_some(epoch)
    }

    /// Where and when the first event was recorded; `None` before any event.
    pub fn origin(&self) -> Option<Origin> {
        loop {
            if let Some(origin) = self.origin.get() {
                return Some(origin.clone());
            }
            self.epoch()?;
            // The thread that set the epoch is setting the origin right now.
            std::thread::yield_now();
        }
    }

    /// Events let go before this core's first (see `dropped_before`).
    pub fn dropped_before(&self) -> u64 {
        self.dropped_before.load(Relaxed)
    }

    /// The stored source index of the event at buffer index `index`.
    #[inline]
    pub(super) fn source_of(&self, index: usize) -> u32 {
        self.provenance
            .get()
            .map_or(0, |provenance| provenance.source_of(index))
    }
}
