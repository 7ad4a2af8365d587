//! The forward and backward schedule (earliest and latest start, slack, makespan)
//! and the critical path by cost, both over the subgraph of included nodes.

use std::cmp::Ordering;

use super::dag::Graph;

/// Earliest start, latest start and slack (latest minus earliest) of each included
/// node (NaN for the others), and the makespan: the latest earliest finish.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub earliest_start: Vec<f64>,
    pub latest_start: Vec<f64>,
    pub slack: Vec<f64>,
    pub makespan: f64,
}

impl Graph {
    /// The forward and backward pass over the subgraph of `included` nodes, with
    /// `duration[v]` the length of node `v`:
    /// earliest start = the latest `earliest start + duration` among included
    /// predecessors (0 without one); makespan = the latest `earliest start + duration`;
    /// latest start = the earliest latest start among included successors (the
    /// makespan without one) minus the duration, and never below the earliest start
    /// (so slack is never negative through rounding).
    pub fn schedule(&self, duration: &[f64], included: &[bool]) -> Schedule {
        let count = self.node_count();
        let mut earliest = vec![f64::NAN; count];
        let mut makespan: Option<f64> = None;
        for &v in &self.order {
            if !included[v as usize] {
                continue;
            }
            let mut start: Option<f64> = None;
            for &p in self.predecessors(v) {
                if included[p as usize] {
                    let finish = earliest[p as usize] + duration[p as usize];
                    start = Some(start.map_or(finish, |best| best.max(finish)));
                }
            }
            let start = start.unwrap_or(0.0);
            earliest[v as usize] = start;
            let finish = start + duration[v as usize];
            makespan = Some(makespan.map_or(finish, |best| best.max(finish)));
        }
        let makespan = makespan.unwrap_or(0.0);
        let mut latest = vec![f64::NAN; count];
        for &v in self.order.iter().rev() {
            if !included[v as usize] {
                continue;
            }
            let mut end: Option<f64> = None;
            for &s in self.successors(v) {
                if included[s as usize] {
                    let start = latest[s as usize];
                    end = Some(end.map_or(start, |best| best.min(start)));
                }
            }
            // Never before the earliest start: in exact arithmetic it cannot be, but
            // `(e + d) - d` can round to an ulp below `e`, which made a critical node's
            // slack (and a root's latest start) a tiny negative number.
            latest[v as usize] =
                (end.unwrap_or(makespan) - duration[v as usize]).max(earliest[v as usize]);
        }
        let slack = latest.iter().zip(&earliest).map(|(l, e)| l - e).collect();
        Schedule {
            earliest_start: earliest,
            latest_start: latest,
            slack,
            makespan,
        }
    }

    /// The longest path through the `included` nodes weighted by `cost`, and its
    /// total. Each node's bottom level (its cost plus the largest bottom level among
    /// its included successors) is computed leaves first; the path starts at the node
    /// with the largest bottom level and steps to the successor with the largest one.
    /// Ties go to the node `prefer(a, b)` picks (the binding: the smaller name).
    pub fn critical_path(
        &self,
        cost: &[f64],
        included: &[bool],
        mut prefer: impl FnMut(u32, u32) -> bool,
    ) -> (Vec<u32>, f64) {
        let mut bottom = vec![f64::NAN; self.node_count()];
        let mut start: Option<u32> = None;
        for &v in self.order.iter().rev() {
            if !included[v as usize] {
                continue;
            }
            let below = self
                .successors(v)
                .iter()
                .filter(|&&s| included[s as usize])
                .fold(0.0f64, |best, &s| best.max(bottom[s as usize]));
            let level = cost[v as usize] + below;
            bottom[v as usize] = level;
            start = Some(match start {
                Some(best) if !better(level, v, bottom[best as usize], best, &mut prefer) => best,
                _ => v,
            });
        }
        let Some(start) = start else {
            return (Vec::new(), 0.0);
        };
        let mut path = vec![start];
        let mut current = start;
        loop {
            let mut next: Option<u32> = None;
            for &s in self.successors(current) {
                if !included[s as usize] {
                    continue;
                }
                next = Some(match next {
                    Some(best)
                        if !better(
                            bottom[s as usize],
                            s,
                            bottom[best as usize],
                            best,
                            &mut prefer,
                        ) =>
                    {
                        best
                    }
                    _ => s,
                });
            }
            match next {
                Some(s) => {
                    path.push(s);
                    current = s;
                }
                None => break,
            }
        }
        (path, bottom[start as usize])
    }
}

/// Whether `(level, node)` beats `(best_level, best)`: a larger level, or an equal
/// one and `prefer(node, best)`.
#[inline]
fn better(
    level: f64,
    node: u32,
    best_level: f64,
    best: u32,
    prefer: &mut impl FnMut(u32, u32) -> bool,
) -> bool {
    match level.total_cmp(&best_level) {
        Ordering::Greater => true,
        Ordering::Less => false,
        Ordering::Equal => prefer(node, best),
    }
}
