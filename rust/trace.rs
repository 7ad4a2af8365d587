//! The trace: records events into the lock-free buffers and hands out consistent,
//! chronological snapshots. No Python types here; the bindings supply two payload
//! types: `X` (metadata and oversized step indices) and `S` (the Python form of an
//! interned string).
//!
//! # Clock model
//! The epoch is the monotonic clock reading of the trace's first event, set by a
//! compare-and-swap from whichever thread records first. A timestamp is
//! `(now - epoch) / 1e9` seconds, saturating at 0 for a racing thread that read the
//! clock just before the winner, and never below `floor` (the last timestamp of a
//! restored trace). So the earliest event is exactly `0.0`.
//!
//! # Order
//! Events are stored in claim order. Threads racing between reading the clock and
//! claiming a slot can leave neighbours slightly out of timestamp order, so readers
//! order a snapshot by `(timestamp, index)`: chronological, ties in record order,
//! and each thread's own events in its order (its clock readings never decrease).
//! When records are already ordered (always, under the GIL) this costs one pass.

use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, OnceLock};

use crate::buffer::AppendBuffer;
use crate::clock;
use crate::error::{InternError, TraceError};
use crate::event::{
    flags, EventKind, EventRecord, Extra, NewEvent, StepArg, NO_PREV, PREV_OVERFLOW,
};
use crate::intern::{InternEntry, Interner, NameTable};
use crate::origin::{Origin, Provenance, Sources};
use crate::summary::Summary;

const UNSET_EPOCH: u64 = u64::MAX;

/// Counters kept at record time so `summary()` costs O(1). Padded (not aligned:
/// see `buffer::raw::CachePadded`) to keep them off the other fields' cache lines.
#[derive(Default)]
#[repr(C)]
struct Stats {
    _before: [u64; 16],
    /// completed, failed, skipped, timed out, cancelled (see `EventKind::outcome`).
    outcomes: [AtomicU64; 5],
    /// Distinct node names used by events.
    nodes: AtomicU64,
    /// Largest timestamp so far, as `f64` bits (timestamps are >= 0, so the bit
    /// patterns order like the values).
    max_ts_bits: AtomicU64,
    _after: [u64; 16],
}

pub struct TraceCore<X, S> {
    events: AppendBuffer<EventRecord>,
    extras: AppendBuffer<Extra<X>>,
    /// Shared between the generations of a bounded trace (see `bounded`), so node
    /// ids mean the same in all of them.
    strings: Arc<Interner<S>>,
    epoch: AtomicU64,
    floor_bits: AtomicU64,
    /// Timestamp of the first event: 0.0, except after restoring a bounded trace.
    first_ts_bits: AtomicU64,
    stats: Stats,
    /// Most events this core accepts (`usize::MAX`: unbounded), and how many it has
    /// admitted so far (only counted when bounded).
    limit: usize,
    admitted: AtomicUsize,
    /// Maintain per-node links and node statistics (unbounded traces only; a bounded
    /// trace scans its at most `max_events` events instead).
    linked: bool,
    /// Where and when the first event was recorded: set by the thread that sets the
    /// epoch, right after it (or by `restore`, before it). Shared by the generations
    /// of a bounded trace.
    origin: Arc<OnceLock<Origin>>,
    /// Who recorded each event, for restored and merged traces; absent for a trace
    /// recorded here, whose events all come from its origin.
    provenance: OnceLock<Provenance>,
    /// Events that went before this core's first: those of the earlier generations
    /// of a bounded trace, plus the `dropped` count of a restored trace.
    dropped_before: AtomicU64,
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
            limit: usize::MAX,
            admitted: AtomicUsize::new(0),
            linked: true,
            origin: Arc::new(OnceLock::new()),
            provenance: OnceLock::new(),
            dropped_before: AtomicU64::new(0),
        }
    }
}

/// A step index as read back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StepView<'a, X> {
    None,
    Int(i64),
    Payload(&'a X),
}

/// One event as read back from a snapshot.
pub struct EventView<'a, X, S> {
    pub index: usize,
    pub kind: EventKind,
    pub ts: f64,
    pub node: Option<(u32, &'a InternEntry<S>)>,
    pub step: StepView<'a, X>,
    pub duration: Option<f64>,
    pub error: Option<&'a InternEntry<S>>,
    pub payload: Option<&'a X>,
    /// Stored source index: map it with the snapshot's [`Sources`] (see
    /// [`Snapshot::sources`]).
    pub source: u32,
}

/// A restored event (from a saved state): the timestamp is given, not measured.
pub struct SavedEvent<X> {
    pub ts: f64,
    pub event: NewEvent<X>,
}

impl<X, S> TraceCore<X, S> {
    pub fn new() -> Self {
        Self::default()
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

    /// Record an event now. On error nothing is recorded.
    #[inline]
    pub fn record(&self, event: NewEvent<X>) -> Result<usize, TraceError> {
        self.record_at(clock::monotonic_ns(), event)
    }

    /// Record an event whose clock reading (`clock::monotonic_ns`) the caller took
    /// just now, and may use itself (the executor times its tasks with it).
    #[inline]
    pub fn record_at(&self, now_ns: u64, event: NewEvent<X>) -> Result<usize, TraceError> {
        let ts = self.timestamp(now_ns);
        self.push(ts, event)
    }

    /// An unbounded core whose first string ids are `names`' (see
    /// `Interner::with_names`): events can name those nodes by id, with no lookup.
    pub fn with_names(names: Arc<NameTable<S>>) -> Result<Self, TraceError> {
        Ok(TraceCore {
            strings: Arc::new(Interner::with_names(names)?),
            ..TraceCore::default()
        })
    }

    /// How many ids belong to the shared names this core started from.
    #[inline]
    pub fn names_len(&self) -> usize {
        self.strings.names_len()
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
            limit,
            linked: false,
            origin: Arc::clone(&self.origin),
            provenance,
            // This core is full when the next one is made: all its events go before.
            dropped_before: AtomicU64::new(self.dropped_before.load(Relaxed) + self.limit as u64),
            ..TraceCore::default()
        }
    }

    /// A first-generation core of a bounded trace.
    pub fn bounded(limit: usize) -> Self {
        TraceCore {
            limit,
            linked: false,
            ..TraceCore::default()
        }
    }

    /// Record an event now if this core has room; a full core hands the event back.
    #[inline]
    pub fn record_within(
        &self,
        event: NewEvent<X>,
    ) -> Result<Result<usize, NewEvent<X>>, TraceError> {
        if !self.admit() {
            return Ok(Err(event));
        }
        self.record(event).map(Ok)
    }

    /// Take one of the `limit` places; false when all are taken.
    #[inline]
    fn admit(&self) -> bool {
        let mut admitted = self.admitted.load(Relaxed);
        loop {
            if admitted >= self.limit {
                return false;
            }
            match self
                .admitted
                .compare_exchange_weak(admitted, admitted + 1, Relaxed, Relaxed)
            {
                Ok(_) => return true,
                Err(now) => admitted = now,
            }
        }
    }

    /// The timestamp of clock reading `now`.
    #[inline]
    fn timestamp(&self, now: u64) -> f64 {
        // Acquire pairs with the AcqRel CAS below (or the Release store in `restore`).
        let mut epoch = self.epoch.load(Acquire);
        if epoch == UNSET_EPOCH {
            epoch = match self
                .epoch
                .compare_exchange(UNSET_EPOCH, now, AcqRel, Acquire)
            {
                Ok(_) => {
                    self.origin.get_or_init(|| Origin::here(now));
                    now
                }
                Err(winner) => winner,
            };
        }
        let ts = clock::seconds_between(epoch, now);
        ts.max(f64::from_bits(self.floor_bits.load(Relaxed)))
    }

    fn push(&self, ts: f64, event: NewEvent<X>) -> Result<usize, TraceError> {
        let NewEvent {
            kind,
            node,
            error,
            step,
            duration,
            payload,
        } = event;
        let mut record_flags = 0u8;
        if duration.is_some() {
            record_flags |= flags::DURATION;
        }
        if step != StepArg::None {
            record_flags |= flags::STEP;
        }
        let inline_step = match step {
            StepArg::Int(value) => i32::try_from(value).ok(),
            _ => None,
        };
        let aux = if error.is_some()
            || payload.is_some()
            || (step != StepArg::None && inline_step.is_none())
        {
            record_flags |= flags::EXTRA;
            let extra_step = match step {
                StepArg::Int(value) => Some(value),
                _ => None,
            };
            let index = self.extras.push(Extra {
                step: extra_step,
                error,
                payload,
            })?;
            // Extras beyond u32 would need a wider record; 4 billion events with
            // errors or metadata is far past any machine this runs on.
            u32::try_from(index).map_err(|_| TraceError::Alloc)?
        } else {
            inline_step.unwrap_or(0) as u32
        };
        // Per-node links and statistics are kept by unbounded traces only.
        let node_head = node.filter(|_| self.linked).map(|id| self.strings.head(id));
        let index = self.events.push_with(|index| {
            // Everything below happens before the slot is published (see
            // `summary` for why the counters must).
            let mut prev = NO_PREV;
            if let Some(head) = node_head {
                let previous = head.swap(index as u64 + 1, AcqRel);
                prev = u32::try_from(previous).unwrap_or(PREV_OVERFLOW);
                // Heads only grow from 0, so 0 means the node's first event.
                if previous == 0 {
                    self.stats.nodes.fetch_add(1, Release);
                }
            }
            if let Some(outcome) = kind.outcome() {
                self.stats.outcomes[outcome].fetch_add(1, Release);
            }
            self.stats.max_ts_bits.fetch_max(ts.to_bits(), Release);
            EventRecord {
                ts,
                duration: duration.unwrap_or(0.0),
                node: node.map_or(0, |id| id + 1),
                aux,
                prev,
                kind: kind as u8,
                flags: record_flags,
            }
        })?;
        Ok(index)
    }

    /// Visit the binding payloads of every published event (for the bindings' GC
    /// support). Never waits: an event still being written is skipped.
    pub fn for_each_payload(&self, mut f: impl FnMut(&X)) {
        for index in 0..self.extras.claimed() {
            if let Some(Extra {
                payload: Some(payload),
                ..
            }) = self.extras.get(index)
            {
                f(payload);
            }
        }
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
    fn source_of(&self, index: usize) -> u32 {
        self.provenance
            .get()
            .map_or(0, |provenance| provenance.source_of(index))
    }

    /// The events recorded so far, in chronological order.
    pub fn snapshot(&self) -> Snapshot<'_, X, S> {
        let len = self.len();
        Snapshot::new(vec![Part {
            core: self,
            start: 0,
            len,
        }])
        .with_dropped(self.dropped_before())
    }

    /// The events naming node `id`, in chronological order; costs O(those events).
    pub fn events_for_node(&self, id: u32) -> Vec<EventView<'_, X, S>> {
        let len = self.len();
        let mut indices = Vec::new();
        let mut link = self.strings.head(id).load(Acquire);
        while link != 0 {
            let index = (link - 1) as usize;
            let record = self.events.wait(index);
            if index < len {
                indices.push(index);
            }
            link = match record.prev {
                PREV_OVERFLOW => {
                    // Links past 2^32 events do not fit: finish with a scan.
                    self.scan_node_events(id, index, &mut indices);
                    0
                }
                prev => prev as u64,
            };
        }
        indices.sort_by(|&a, &b| {
            let (ta, tb) = (self.events.wait(a).ts, self.events.wait(b).ts);
            ta.total_cmp(&tb).then(a.cmp(&b))
        });
        indices.into_iter().map(|index| self.view(index)).collect()
    }

    #[cold]
    fn scan_node_events(&self, id: u32, below: usize, indices: &mut Vec<usize>) {
        self.events.for_each_until(below, |index, record| {
            if record.node_id() == Some(id) {
                indices.push(index);
            }
        });
    }

    /// The string id of the error of the event at buffer index `index`.
    pub fn error_id(&self, index: usize) -> Option<u32> {
        let record = self.events.wait(index);
        record
            .extra_index()
            .and_then(|extra| self.extras.wait(extra).error)
    }

    /// Read back the event at buffer index `index` (which must be published).
    pub fn view(&self, index: usize) -> EventView<'_, X, S> {
        let record = *self.events.wait(index);
        let extra = record.extra_index().map(|i| self.extras.wait(i));
        let step = if !record.has_step() {
            StepView::None
        } else if let Some(value) = record.inline_step() {
            StepView::Int(value)
        } else {
            match extra {
                Some(Extra {
                    step: Some(value), ..
                }) => StepView::Int(*value),
                Some(Extra {
                    payload: Some(payload),
                    ..
                }) => StepView::Payload(payload),
                _ => StepView::None,
            }
        };
        EventView {
            index,
            kind: record.kind(),
            ts: record.ts,
            node: record.node_id().map(|id| (id, self.strings.get(id))),
            step,
            duration: record.duration(),
            error: extra.and_then(|e| e.error).map(|id| self.strings.get(id)),
            payload: extra.and_then(|e| e.payload.as_ref()),
            source: self.source_of(index),
        }
    }

    /// Counts for `summary()`, consistent with one moment of the trace.
    pub fn summary(&self) -> Summary {
        // Writers bump the counters before publishing their slot. If the claim count
        // is the same before and after reading the counters, and every slot below it
        // is published, the counters describe exactly those events.
        for _ in 0..16 {
            let len = self.len();
            let outcomes = self.stats.outcomes.each_ref().map(|c| c.load(Acquire));
            let nodes = self.stats.nodes.load(Acquire);
            let max_ts = f64::from_bits(self.stats.max_ts_bits.load(Acquire));
            if self.events.claimed() == len {
                let first = f64::from_bits(self.first_ts_bits.load(Relaxed));
                let duration = if len == 0 { 0.0 } else { max_ts - first };
                return Summary::new(len as u64, outcomes, nodes, duration);
            }
        }
        self.summary_by_scan()
    }

    /// `summary()` computed from a snapshot, for when writers never pause.
    pub fn summary_by_scan(&self) -> Summary {
        self.snapshot().summary()
    }

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
        if self.limit != usize::MAX {
            if events.len() > self.limit {
                return Err(TraceError::InvalidState(format!(
                    "{} events do not fit in max_events={}",
                    events.len(),
                    self.limit
                )));
            }
            self.admitted.store(events.len(), Relaxed);
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
        // Release pairs with the Acquire load in `now`.
        self.epoch.store(epoch, Release);
        Ok(())
    }
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

/// A run of consecutive buffer indices of one core.
pub struct Part<'a, X, S> {
    pub core: &'a TraceCore<X, S>,
    pub start: usize,
    pub len: usize,
}

/// The events of one moment, in chronological order: one part for a trace, two
/// (the tail of the previous generation, then the current one) for a bounded trace.
pub struct Snapshot<'a, X, S> {
    parts: Vec<Part<'a, X, S>>,
    len: usize,
    /// Positions in part order, chronologically, when that differs from part order.
    order: Option<Vec<usize>>,
    /// Events the trace had let go as of this snapshot.
    dropped: u64,
}

impl<'a, X, S> Snapshot<'a, X, S> {
    pub fn new(parts: Vec<Part<'a, X, S>>) -> Self {
        let len = parts.iter().map(|part| part.len).sum();
        let mut snapshot = Snapshot {
            parts,
            len,
            order: None,
            dropped: 0,
        };
        let mut sorted = true;
        let mut last = f64::NEG_INFINITY;
        for part in &snapshot.parts {
            part.core
                .events
                .for_each_from(part.start, part.start + part.len, |_, record| {
                    let ts = record.ts;
                    sorted &= ts >= last;
                    last = ts;
                });
        }
        if !sorted {
            let mut order: Vec<usize> = (0..len).collect();
            // Stable: equal timestamps keep part (record) order.
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
        self.parts.first().and_then(|part| part.core.origin())
    }

    /// The distinct sources of these events, in order of first appearance; map an
    /// event's `source` with [`Sources::of`]. One source (the origin) for a trace
    /// recorded here; none when empty.
    pub fn sources(&self) -> Sources {
        if self.is_empty() {
            return Sources::default();
        }
        let stored = self
            .parts
            .iter()
            .find_map(|part| part.core.provenance.get());
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

    /// The part and buffer index of position `position` in part order.
    #[inline]
    fn locate(&self, mut position: usize) -> (&Part<'a, X, S>, usize) {
        for part in &self.parts {
            if position < part.len {
                return (part, part.start + position);
            }
            position -= part.len;
        }
        panic!("snapshot position out of range")
    }

    fn ts_unordered(&self, position: usize) -> f64 {
        let (part, index) = self.locate(position);
        part.core.events.wait(index).ts
    }

    /// The `position`-th event in chronological order.
    #[inline]
    pub fn get(&self, position: usize) -> EventView<'a, X, S> {
        let position = match &self.order {
            Some(order) => order[position],
            None => position,
        };
        let (part, index) = self.locate(position);
        part.core.view(index)
    }

    pub fn iter(&self) -> impl Iterator<Item = EventView<'a, X, S>> + '_ {
        (0..self.len).map(move |position| self.get(position))
    }

    /// Number of interned strings (bound on node ids), for per-node tables.
    pub fn string_count(&self) -> usize {
        self.parts.first().map_or(0, |part| part.core.strings.len())
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    type Core = TraceCore<(), ()>;

    fn node(core: &Core, name: &str) -> u32 {
        core.intern(name.as_bytes(), || ()).unwrap()
    }

    #[test]
    fn first_event_is_zero_and_time_moves_forward() {
        let core = Core::new();
        core.record(NewEvent::new(EventKind::ExecutionStarted))
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        core.record(NewEvent::new(EventKind::ExecutionCompleted))
            .unwrap();
        let snapshot = core.snapshot();
        let ts: Vec<f64> = snapshot.iter().map(|e| e.ts).collect();
        assert_eq!(ts[0], 0.0);
        assert!(ts[1] >= 0.004, "{ts:?}");
    }

    #[test]
    fn fields_round_trip() {
        let core = Core::new();
        let extract = node(&core, "extract");
        let boom = node(&core, "ValueError: boom");
        let mut event = NewEvent::new(EventKind::NodeFailed);
        event.node = Some(extract);
        event.error = Some(boom);
        event.duration = Some(0.25);
        event.step = StepArg::Int(1 << 40);
        core.record(event).unwrap();
        let mut small = NewEvent::new(EventKind::StepStarted);
        small.step = StepArg::Int(-3);
        core.record(small).unwrap();
        let snapshot = core.snapshot();
        let failed = snapshot.get(0);
        assert_eq!(failed.kind, EventKind::NodeFailed);
        assert_eq!(
            failed.node.map(|(id, e)| (id, &*e.text)),
            Some((extract, &b"extract"[..]))
        );
        assert_eq!(
            failed.error.map(|e| &*e.text),
            Some(&b"ValueError: boom"[..])
        );
        assert_eq!(failed.duration, Some(0.25));
        assert_eq!(failed.step, StepView::Int(1 << 40));
        let step = snapshot.get(1);
        assert_eq!(step.step, StepView::Int(-3));
        assert_eq!(step.node.map(|(id, _)| id), None);
        assert_eq!(step.duration, None);
    }

    #[test]
    fn events_for_node_follows_links() {
        let core = Core::new();
        let names: Vec<u32> = (0..3).map(|i| node(&core, &format!("n{i}"))).collect();
        for round in 0..10 {
            for &id in &names {
                let mut event = NewEvent::new(EventKind::NodeStarted);
                event.node = Some(id);
                event.step = StepArg::Int(round);
                core.record(event).unwrap();
            }
        }
        let events = core.events_for_node(names[1]);
        let rounds: Vec<i64> = events
            .iter()
            .map(|e| match e.step {
                StepView::Int(v) => v,
                _ => -1,
            })
            .collect();
        assert_eq!(rounds, (0..10).collect::<Vec<_>>());
        assert!(events
            .iter()
            .all(|e| e.node.map(|(id, _)| id) == Some(names[1])));
    }

    #[test]
    fn a_core_started_from_shared_names_links_and_counts_per_trace() {
        let mut builder = crate::intern::NameTableBuilder::with_capacity(3).unwrap();
        for text in ["a", "b", "c"] {
            builder.push(text.as_bytes(), ()).unwrap();
        }
        let shared = Arc::new(builder.finish());
        let first = Core::with_names(Arc::clone(&shared)).unwrap();
        let second = Core::with_names(shared).unwrap();
        assert_eq!(first.names_len(), 3);
        for (round, id) in [2u32, 0, 2, 2].into_iter().enumerate() {
            let mut event = NewEvent::new(EventKind::NodeCompleted);
            event.node = Some(id);
            event.step = StepArg::Int(round as i64);
            first.record(event).unwrap();
        }
        // A name outside the table gets the next id and links like the others.
        let other = node(&first, "d");
        assert_eq!(other, 3);
        let mut event = NewEvent::new(EventKind::NodeFailed);
        event.node = Some(other);
        first.record(event).unwrap();
        let steps = |events: Vec<EventView<'_, (), ()>>| -> Vec<i64> {
            events
                .iter()
                .map(|e| match e.step {
                    StepView::Int(v) => v,
                    _ => -1,
                })
                .collect()
        };
        assert_eq!(steps(first.events_for_node(2)), [0, 2, 3]);
        assert_eq!(steps(first.events_for_node(0)), [1]);
        assert_eq!(steps(first.events_for_node(1)), Vec::<i64>::new());
        assert_eq!(steps(first.events_for_node(other)), [-1]);
        // Three distinct nodes used (c, a, d): table entries alone do not count.
        assert_eq!(first.summary().unique_nodes, 3);
        assert_eq!(first.summary(), first.summary_by_scan());
        // The other trace sharing the table saw none of it.
        assert!(second.events_for_node(2).is_empty());
        assert_eq!(second.summary().unique_nodes, 0);
        assert_eq!(second.lookup(b"d"), None);
    }

    #[test]
    fn summary_counts_match_a_scan() {
        let core = Core::new();
        let kinds = [
            EventKind::NodeCompleted,
            EventKind::NodeFailed,
            EventKind::NodeSkipped,
            EventKind::NodeTimedOut,
            EventKind::NodeCancelled,
            EventKind::StepStarted,
        ];
        for i in 0..600 {
            let mut event = NewEvent::new(kinds[i % kinds.len()]);
            if i % 4 != 0 {
                event.node = Some(node(&core, &format!("n{}", i % 7)));
            }
            core.record(event).unwrap();
        }
        assert_eq!(core.summary(), core.summary_by_scan());
        assert_eq!(core.summary().total, 600);
    }

    #[test]
    fn threads_lose_nothing_and_keep_their_order() {
        const THREADS: usize = 8;
        const PER_THREAD: i64 = 5_000;
        let core = Arc::new(Core::new());
        let ids: Vec<u32> = (0..THREADS)
            .map(|t| node(&core, &format!("t{t}")))
            .collect();
        let handles: Vec<_> = ids
            .iter()
            .map(|&id| {
                let core = Arc::clone(&core);
                std::thread::spawn(move || {
                    for seq in 0..PER_THREAD {
                        let mut event = NewEvent::new(EventKind::NodeCompleted);
                        event.node = Some(id);
                        event.step = StepArg::Int(seq);
                        core.record(event).unwrap();
                    }
                })
            })
            .collect();
        // Read while writing: every snapshot is chronological and per-thread ordered.
        for _ in 0..20 {
            check_snapshot(&core, THREADS, None);
        }
        for handle in handles {
            handle.join().unwrap();
        }
        check_snapshot(&core, THREADS, Some(PER_THREAD));
        let summary = core.summary();
        assert_eq!(summary.total, THREADS as u64 * PER_THREAD as u64);
        assert_eq!(summary.completed, THREADS as u64 * PER_THREAD as u64);
        assert_eq!(summary.unique_nodes, THREADS as u64);
        for &id in &ids {
            assert_eq!(core.events_for_node(id).len(), PER_THREAD as usize);
        }
    }

    /// The Python stress test's shape from Rust threads: 16 writers, 2 readers taking
    /// snapshots and summaries the whole time, 5 runs. `DAGRON_STRESS=1` for the full
    /// 16 x 250,000 per run; otherwise 16 x 20,000.
    #[test]
    fn stress_sixteen_writers_two_readers() {
        const WRITERS: usize = 16;
        let per_thread: i64 = if std::env::var_os("DAGRON_STRESS").is_some() {
            250_000
        } else {
            20_000
        };
        for _run in 0..5 {
            let core = Arc::new(Core::new());
            let ids: Vec<u32> = (0..WRITERS)
                .map(|t| node(&core, &format!("t{t}")))
                .collect();
            let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let readers: Vec<_> = (0..2)
                .map(|_| {
                    let core = Arc::clone(&core);
                    let done = Arc::clone(&done);
                    std::thread::spawn(move || {
                        let mut snapshots = 0;
                        while !done.load(std::sync::atomic::Ordering::Acquire) {
                            check_snapshot(&core, WRITERS, None);
                            let summary = core.summary();
                            assert_eq!(summary.completed, summary.total);
                            assert!(summary.unique_nodes <= WRITERS as u64);
                            snapshots += 1;
                        }
                        snapshots
                    })
                })
                .collect();
            let writers: Vec<_> = ids
                .iter()
                .map(|&id| {
                    let core = Arc::clone(&core);
                    std::thread::spawn(move || {
                        for seq in 0..per_thread {
                            let mut event = NewEvent::new(EventKind::NodeCompleted);
                            event.node = Some(id);
                            event.step = StepArg::Int(seq);
                            core.record(event).unwrap();
                        }
                    })
                })
                .collect();
            for writer in writers {
                writer.join().unwrap();
            }
            done.store(true, std::sync::atomic::Ordering::Release);
            let snapshots: usize = readers.into_iter().map(|r| r.join().unwrap()).sum();
            check_snapshot(&core, WRITERS, Some(per_thread));
            let summary = core.summary();
            assert_eq!(summary.total, WRITERS as u64 * per_thread as u64);
            assert_eq!(summary, core.summary_by_scan());
            assert!(snapshots > 0);
        }
    }

    fn check_snapshot(core: &Core, threads: usize, expect_each: Option<i64>) {
        let snapshot = core.snapshot();
        let mut next = vec![0i64; threads];
        let mut last = 0.0;
        for event in snapshot.iter() {
            assert!(event.ts >= last);
            last = event.ts;
            let (id, _) = event.node.unwrap();
            let StepView::Int(seq) = event.step else {
                panic!("missing step")
            };
            assert_eq!(
                seq, next[id as usize],
                "thread {id} out of order or duplicated"
            );
            next[id as usize] += 1;
        }
        if let Some(each) = expect_each {
            assert_eq!(next, vec![each; threads]);
        }
    }

    #[test]
    fn restore_continues_after_the_last_timestamp() {
        let core = Core::new();
        let saved = vec![
            SavedEvent {
                ts: 0.0,
                event: NewEvent::new(EventKind::ExecutionStarted),
            },
            SavedEvent {
                ts: 5000.0,
                event: NewEvent::new(EventKind::ExecutionCompleted),
            },
        ];
        core.restore(Some(1), saved).unwrap();
        core.record(NewEvent::new(EventKind::StepStarted)).unwrap();
        let ts: Vec<f64> = core.snapshot().iter().map(|e| e.ts).collect();
        assert_eq!(&ts[..2], &[0.0, 5000.0]);
        assert!(ts[2] >= 5000.0);
        let bad = vec![SavedEvent {
            ts: -1.0,
            event: NewEvent::new(EventKind::ExecutionStarted),
        }];
        assert!(matches!(
            Core::new().restore(None, bad),
            Err(TraceError::InvalidState(_))
        ));
    }

    #[test]
    fn restore_reads_negative_zero_as_zero() {
        let core = Core::new();
        let saved = [-0.0, 0.0, -0.0]
            .into_iter()
            .map(|ts| SavedEvent {
                ts,
                event: NewEvent::new(EventKind::StepStarted),
            })
            .collect();
        core.restore(None, saved).unwrap();
        let bits: Vec<u64> = core.snapshot().iter().map(|e| e.ts.to_bits()).collect();
        assert_eq!(bits, vec![0.0f64.to_bits(); 3]);
    }
}
