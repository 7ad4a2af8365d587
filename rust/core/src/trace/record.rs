//! Recording: the timestamp of a clock reading (setting the epoch on the first
//! event), the encoding of an event into a record (and an extra, when it needs
//! one), and, for an unbounded trace, the per-node links and record-time counters,
//! all written before the record's slot is published.

use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};

use super::core::{TraceCore, UNSET_EPOCH};
use crate::clock;
use crate::error::TraceError;
use crate::event::{flags, EventRecord, Extra, NewEvent, StepArg, NO_PREV, PREV_OVERFLOW};
use crate::origin::Origin;

impl<X, S> TraceCore<X, S> {
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

    pub(super) fn push(&self, ts: f64, event: NewEvent<X>) -> Result<usize, TraceError> {
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
        let step_or_extra = if error.is_some()
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
                step_or_extra,
                prev,
                kind: kind as u8,
                flags: record_flags,
            }
        })?;
        Ok(index)
    }
}
