//! The O(1) summary of an unbounded trace, read from the counters kept at record
//! time without stopping writers (a seqlock-style retry on the claim count), with
//! a scan as the fallback when writers never pause.

use std::sync::atomic::Ordering::{Acquire, Relaxed};

use super::core::TraceCore;
use crate::summary::Summary;

impl<X, S> TraceCore<X, S> {
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
}
