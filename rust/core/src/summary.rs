//! The text of `summary()` (behaviour.md 4.3), from counts the trace keeps.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub total: u64,
    pub unique_nodes: u64,
    pub completed: u64,
    pub failed: u64,
    pub skipped: u64,
    pub timed_out: u64,
    pub cancelled: u64,
    /// Last timestamp minus first, 0 when empty.
    pub duration: f64,
}

impl Summary {
    /// `outcomes` in `EventKind::outcome` order.
    pub fn new(total: u64, outcomes: [u64; 5], unique_nodes: u64, duration: f64) -> Self {
        let [completed, failed, skipped, timed_out, cancelled] = outcomes;
        Summary {
            total,
            unique_nodes,
            completed,
            failed,
            skipped,
            timed_out,
            cancelled,
            duration,
        }
    }
}

impl fmt::Display for Summary {
    /// Nine lines, no trailing newline; Duration as Python's `f"{d:.4f}s"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Execution Trace Summary\n  Total events: {}\n  Unique nodes: {}\n  Completed: {}\n  \
             Failed: {}\n  Skipped: {}\n  Timed out: {}\n  Cancelled: {}\n  Duration: {:.4}s",
            self.total,
            self.unique_nodes,
            self.completed,
            self.failed,
            self.skipped,
            self.timed_out,
            self.cancelled,
            self.duration
        )
    }
}

#[cfg(test)]
mod tests {
    use super::Summary;

    #[test]
    fn text_matches_the_contract() {
        let summary = Summary::new(14, [4, 1, 0, 0, 0], 5, 1.23449999);
        assert_eq!(
            summary.to_string(),
            "Execution Trace Summary\n  Total events: 14\n  Unique nodes: 5\n  Completed: 4\n  \
             Failed: 1\n  Skipped: 0\n  Timed out: 0\n  Cancelled: 0\n  Duration: 1.2345s"
        );
        // Python rounds exact ties to even with "%.4f"; so does Rust.
        assert!(Summary::new(0, [0; 5], 0, 0.03125)
            .to_string()
            .ends_with("Duration: 0.0312s"));
        assert!(Summary::new(0, [0; 5], 0, 0.0)
            .to_string()
            .ends_with("Duration: 0.0000s"));
    }
}
