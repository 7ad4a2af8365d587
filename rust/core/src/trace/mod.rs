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
//!
//! # Files
//! `core` (the type, constructors, accessors), `record` (timestamps, encoding,
//! per-node links), `read` (decoding, a node's events), `snapshot` (ordering),
//! `counters` (the O(1) summary), `restore` (saved events back in).

mod core;
mod counters;
mod read;
mod record;
mod restore;
mod snapshot;
#[cfg(test)]
mod tests;

pub use self::core::TraceCore;
pub use read::{EventView, StepView};
pub use restore::{Restored, SavedEvent};
pub use snapshot::{Snapshot, SnapshotSegment};
