//! What a run's recorded start and end times say: the observed critical path,
//! each node's scheduling delay and the run's idle time.

use super::dag::Graph;

/// What a run's recorded start and end times say.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// The chain of nodes that decided the run's length, first to last.
    pub critical_path: Vec<u32>,
    /// Per node: start minus the latest end among its predecessors (minus the run's
    /// start for a node without an ended predecessor); NaN for nodes that never started.
    pub scheduling_delay: Vec<f64>,
    /// Seconds of the run during which no node was running.
    pub idle: f64,
}

impl Graph {
    /// What the recorded times say. `start[v]` / `end[v]`: when node `v` started and
    /// ended, NaN when not recorded; the run spans `run_start..run_end`.
    ///
    /// - Observed critical path: from the node that ended last, step back to the
    ///   predecessor that ended last no later than the current node started, until
    ///   none is left; the chain is returned first to last. Ties go to the lower
    ///   node index (predecessor lists are in index order).
    /// - Scheduling delay: start minus the latest end among the node's predecessors
    ///   that ended (the run's start when none did).
    /// - Idle: the run's length minus the time covered by at least one node running;
    ///   a node that started and has no end counts as running until the run's end.
    pub fn observe(&self, start: &[f64], end: &[f64], run_start: f64, run_end: f64) -> Observed {
        let mut last: Option<u32> = None;
        for (v, &finish) in end.iter().enumerate() {
            if !finish.is_nan() && last.is_none_or(|best| finish > end[best as usize]) {
                last = Some(v as u32);
            }
        }
        let mut critical_path = Vec::new();
        let mut current = last;
        while let Some(v) = current {
            critical_path.push(v);
            let began = start[v as usize];
            current = None;
            if began.is_nan() {
                break;
            }
            for &p in self.predecessors(v) {
                let finish = end[p as usize];
                if finish <= began && current.is_none_or(|best| finish > end[best as usize]) {
                    current = Some(p);
                }
            }
        }
        critical_path.reverse();

        let scheduling_delay = (0..self.node_count() as u32)
            .map(|v| {
                let began = start[v as usize];
                if began.is_nan() {
                    return f64::NAN;
                }
                let ready = self
                    .predecessors(v)
                    .iter()
                    .map(|&p| end[p as usize])
                    .filter(|finish| !finish.is_nan())
                    .fold(None, |best: Option<f64>, finish| {
                        Some(best.map_or(finish, |b| b.max(finish)))
                    })
                    .unwrap_or(run_start);
                began - ready
            })
            .collect();

        let mut spans: Vec<(f64, f64)> = start
            .iter()
            .zip(end)
            .filter(|(began, _)| !began.is_nan())
            .map(|(&began, &finish)| {
                let finish = if finish.is_nan() { run_end } else { finish };
                (began.max(run_start), finish.min(run_end))
            })
            .filter(|(began, finish)| began < finish)
            .collect();
        spans.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        let mut covered = 0.0;
        let mut open: Option<(f64, f64)> = None;
        for (began, finish) in spans {
            open = match open {
                Some((from, to)) if began <= to => Some((from, to.max(finish))),
                Some((from, to)) => {
                    covered += to - from;
                    Some((began, finish))
                }
                None => Some((began, finish)),
            };
        }
        if let Some((from, to)) = open {
            covered += to - from;
        }
        let idle = (run_end - run_start - covered).max(0.0);
        Observed {
            critical_path,
            scheduling_delay,
            idle,
        }
    }
}
