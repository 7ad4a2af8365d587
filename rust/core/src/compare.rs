//! Per-node duration statistics of two sides of runs, and the Mann-Whitney U test that
//! says whether a node's change is beyond run-to-run noise (`dagron.compare`).
//!
//! Each side gives one column of durations per trace, indexed by node (NaN where the
//! node ended no run in that trace), plus `(node, duration)` pairs for nodes that ended
//! more than one run in a trace. Per node and side: the sorted samples' count, median,
//! quartiles (linear interpolation between ranks) and extremes; between the sides: the
//! change of the median, its ratio to the baseline median, U and the two-sided p-value.
//!
//! The test: U counts the (baseline, candidate) pairs where the candidate's value is
//! larger, ties counting one half. Without ties and with at most `EXACT_LIMIT` values in
//! all, p is exact (U's distribution counted by recurrence, once per pair of sizes);
//! otherwise the normal approximation with the tie correction and a continuity
//! correction.

use std::collections::HashMap;

use crate::runs::RunStatus;

/// Above this many values in all, p comes from the normal approximation.
pub const EXACT_LIMIT: usize = 50;

/// What the test says about a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Verdict {
    /// A side has no sample: no change to test.
    Absent = 0,
    /// No outcome could reach `alpha` with these sample sizes.
    TooFew = 1,
    /// `p > alpha`.
    Noise = 2,
    /// `p <= alpha`.
    Changed = 3,
}

/// One side's per-node order statistics.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SideStats {
    pub ended: Vec<u32>,
    pub median: Vec<f64>,
    pub p25: Vec<f64>,
    pub p75: Vec<f64>,
    pub min: Vec<f64>,
    pub max: Vec<f64>,
}

/// Both sides' statistics and the change between them, per node.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct NodeStats {
    pub baseline: SideStats,
    pub candidate: SideStats,
    pub change: Vec<f64>,
    pub relative: Vec<f64>,
    pub u: Vec<f64>,
    pub p: Vec<f64>,
    pub verdict: Vec<Verdict>,
}

/// One side's samples: a duration column per trace, and extra `(node, duration)` runs.
pub struct Samples<'a> {
    pub columns: &'a [Vec<f64>],
    pub extra: &'a [(usize, f64)],
}

impl Samples<'_> {
    /// Node `node`'s samples, sorted, into `out`.
    fn gather(&self, node: usize, extra: &[Vec<f64>], out: &mut Vec<f64>) {
        out.clear();
        for column in self.columns {
            if let Some(&value) = column.get(node) {
                if !value.is_nan() {
                    out.push(value);
                }
            }
        }
        if let Some(more) = extra.get(node) {
            out.extend_from_slice(more);
        }
        out.sort_unstable_by(f64::total_cmp);
    }

    fn extra_by_node(&self, count: usize) -> Vec<Vec<f64>> {
        let mut by_node = Vec::new();
        if !self.extra.is_empty() {
            by_node.resize_with(count, Vec::new);
            for &(node, value) in self.extra {
                if node < count && !value.is_nan() {
                    by_node[node].push(value);
                }
            }
        }
        by_node
    }
}

/// One trace's node runs reduced for a comparison: per node (in the comparison's node
/// numbering) the duration of its first ended run, the rest as extra samples, and the
/// runs that did not complete.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TraceColumn {
    /// Per node: the duration of its first run that ended (NaN: none did).
    pub durations: Vec<f64>,
    /// Nodes with a duration in `durations`.
    pub filled: usize,
    /// `(node, duration)` of further ended runs of a node.
    pub extra: Vec<(u32, f64)>,
    /// `(node, status)` of every run that did not complete.
    pub other: Vec<(u32, RunStatus)>,
    /// The first run's start and the last run's end (NaN without runs).
    pub start: f64,
    pub end: f64,
    /// Runs that never ended.
    pub open: usize,
}

/// Reduce one trace's runs (`node[i]` through `global` into the comparison's numbering
/// of `count` nodes; ended runs give their `duration`).
pub fn trace_column(
    global: &[u32],
    node: &[u32],
    status: &[RunStatus],
    duration: &[f64],
    start: &[f64],
    end: &[f64],
    count: usize,
) -> TraceColumn {
    let mut column = TraceColumn {
        durations: vec![f64::NAN; count],
        start: f64::INFINITY,
        end: f64::NEG_INFINITY,
        ..TraceColumn::default()
    };
    for row in 0..node.len() {
        let id = global[node[row] as usize];
        let state = status[row];
        if start[row] < column.start {
            column.start = start[row];
        }
        if end[row] > column.end {
            column.end = end[row];
        }
        if state != RunStatus::Completed {
            column.other.push((id, state));
        }
        if state == RunStatus::Open {
            column.open += 1;
        }
        let took = duration[row];
        if state.is_ended() && !took.is_nan() {
            let slot = &mut column.durations[id as usize];
            if slot.is_nan() {
                *slot = took;
                column.filled += 1;
            } else {
                column.extra.push((id, took));
            }
        }
    }
    if column.start > column.end {
        column.start = f64::NAN;
        column.end = f64::NAN;
    }
    column
}

/// The statistics of `count` nodes (see the module's documentation).
pub fn node_stats(base: &Samples<'_>, cand: &Samples<'_>, count: usize, alpha: f64) -> NodeStats {
    let mut stats = NodeStats::default();
    let (base_extra, cand_extra) = (base.extra_by_node(count), cand.extra_by_node(count));
    let mut tables = ExactTables::default();
    let (mut b, mut c) = (Vec::new(), Vec::new());
    let mut merged = Vec::new();
    for node in 0..count {
        base.gather(node, &base_extra, &mut b);
        cand.gather(node, &cand_extra, &mut c);
        push_side(&mut stats.baseline, &b);
        push_side(&mut stats.candidate, &c);
        if b.is_empty() || c.is_empty() {
            stats.change.push(f64::NAN);
            stats.relative.push(f64::NAN);
            stats.u.push(f64::NAN);
            stats.p.push(f64::NAN);
            stats.verdict.push(Verdict::Absent);
            continue;
        }
        let before = median(&b);
        let change = median(&c) - before;
        stats.change.push(change);
        stats.relative.push(if before > 0.0 {
            change / before
        } else {
            f64::NAN
        });
        if tables.smallest_p(b.len(), c.len()) > alpha {
            stats.u.push(f64::NAN);
            stats.p.push(f64::NAN);
            stats.verdict.push(Verdict::TooFew);
            continue;
        }
        let (u, p) = mann_whitney_sorted(&b, &c, &mut tables, &mut merged);
        stats.u.push(u);
        stats.p.push(p);
        stats.verdict.push(if p <= alpha {
            Verdict::Changed
        } else {
            Verdict::Noise
        });
    }
    stats
}

fn push_side(side: &mut SideStats, values: &[f64]) {
    side.ended.push(values.len() as u32);
    if values.is_empty() {
        for column in [
            &mut side.median,
            &mut side.p25,
            &mut side.p75,
            &mut side.min,
            &mut side.max,
        ] {
            column.push(f64::NAN);
        }
        return;
    }
    side.median.push(median(values));
    side.p25.push(quantile(values, 0.25));
    side.p75.push(quantile(values, 0.75));
    side.min.push(values[0]);
    side.max.push(values[values.len() - 1]);
}

/// The median of sorted, non-empty `values`.
pub fn median(values: &[f64]) -> f64 {
    let half = values.len() / 2;
    if values.len() % 2 == 1 {
        values[half]
    } else {
        (values[half - 1] + values[half]) / 2.0
    }
}

/// The `q` quantile of sorted, non-empty `values`, interpolated between ranks.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    let position = (values.len() - 1) as f64 * q;
    let low = position as usize;
    if low + 1 >= values.len() {
        return values[values.len() - 1];
    }
    values[low] + (values[low + 1] - values[low]) * (position - low as f64)
}

/// U's exact null distribution per pair of sample sizes, as two-sided p-values by U.
#[derive(Default)]
pub struct ExactTables {
    tables: HashMap<(usize, usize), Vec<f64>>,
}

impl ExactTables {
    /// The two-sided p-value of each U in 0..=m*n, for sizes m and n without ties.
    fn p_values(&mut self, m: usize, n: usize) -> &[f64] {
        self.tables
            .entry((m, n))
            .or_insert_with(|| exact_p_values(m, n))
    }

    /// The smallest two-sided p the test can give for sizes m and n.
    pub fn smallest_p(&mut self, m: usize, n: usize) -> f64 {
        if m == 0 || n == 0 {
            return 1.0;
        }
        if m + n > EXACT_LIMIT {
            return 0.0;
        }
        self.p_values(m, n)[0]
    }
}

/// Counts of each U for sizes (m, n): the largest value belongs to the first sample
/// (and exceeds all n of the second, adding n) or to the second (adding nothing).
fn exact_p_values(m: usize, n: usize) -> Vec<f64> {
    // rows[b]: the distribution for sizes (a, b), for the current a.
    let mut rows: Vec<Vec<f64>> = vec![vec![1.0]; n + 1];
    for a in 1..=m {
        let mut next: Vec<Vec<f64>> = Vec::with_capacity(n + 1);
        next.push(vec![1.0]);
        for b in 1..=n {
            let mut counts = vec![0.0; a * b + 1];
            for (u, &count) in rows[b].iter().enumerate() {
                counts[u + b] += count;
            }
            for (u, &count) in next[b - 1].iter().enumerate() {
                counts[u] += count;
            }
            next.push(counts);
        }
        rows = next;
    }
    let counts = &rows[n];
    let total: f64 = counts.iter().sum();
    let mut tail = Vec::with_capacity(counts.len());
    let mut running = 0.0;
    for &count in counts {
        running += count;
        tail.push(running / total);
    }
    let top = m * n;
    (0..=top)
        .map(|u| (2.0 * tail[u.min(top - u)]).min(1.0))
        .collect()
}

/// `(U, p)` for samples `a` and `b` (any order; p is NaN when either is empty).
pub fn mann_whitney(a: &[f64], b: &[f64]) -> (f64, f64) {
    if a.is_empty() || b.is_empty() {
        return (0.0, f64::NAN);
    }
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_unstable_by(f64::total_cmp);
    b.sort_unstable_by(f64::total_cmp);
    mann_whitney_sorted(&a, &b, &mut ExactTables::default(), &mut Vec::new())
}

fn mann_whitney_sorted(
    a: &[f64],
    b: &[f64],
    tables: &mut ExactTables,
    merged: &mut Vec<f64>,
) -> (f64, f64) {
    let (m, n) = (a.len(), b.len());
    // U by a merge of the two sorted samples: for each b value, the a values below it
    // and those equal to it.
    let (mut u2, mut below, mut equal_end) = (0usize, 0usize, 0usize);
    for &y in b {
        while below < m && a[below] < y {
            below += 1;
        }
        equal_end = equal_end.max(below);
        while equal_end < m && a[equal_end] == y {
            equal_end += 1;
        }
        u2 += 2 * below + (equal_end - below);
    }
    let u = u2 as f64 / 2.0;
    merged.clear();
    merged.extend_from_slice(a);
    merged.extend_from_slice(b);
    merged.sort_unstable_by(f64::total_cmp);
    let mut correction = 0.0;
    let mut run = 1.0f64;
    for pair in merged.windows(2) {
        if pair[0] == pair[1] {
            run += 1.0;
        } else {
            correction += run * run * run - run;
            run = 1.0;
        }
    }
    correction += run * run * run - run;
    if correction == 0.0 && m + n <= EXACT_LIMIT {
        return (u, tables.p_values(m, n)[u2 / 2]);
    }
    let total = (m + n) as f64;
    let (mf, nf) = (m as f64, n as f64);
    let variance = mf * nf / 12.0 * ((total + 1.0) - correction / (total * (total - 1.0)));
    if variance <= 0.0 {
        return (u, 1.0); // every value equal: no evidence of a change
    }
    let z = ((u - mf * nf / 2.0).abs() - 0.5).max(0.0) / variance.sqrt();
    (u, erfc(z / std::f64::consts::SQRT_2).min(1.0))
}

/// The complementary error function: 1 - erf(x) by erf's Taylor series below 3
/// (absolute error near 1e-13 there), the continued fraction of erfc above.
fn erfc(x: f64) -> f64 {
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x < 3.0 {
        return 1.0 - erf_series(x);
    }
    // erfc(x) = exp(-x^2) / sqrt(pi) / (x + (1/2) / (x + 1 / (x + (3/2) / (x + ...)))),
    // evaluated from the 60th level up (converged to double precision for x >= 3).
    let mut tail = x;
    for k in (1..=60).rev() {
        tail = x + (k as f64 / 2.0) / tail;
    }
    (-x * x).exp() / (std::f64::consts::PI.sqrt() * tail)
}

/// erf(x) = 2/sqrt(pi) * sum over k of (-1)^k x^(2k+1) / (k! (2k+1)).
fn erf_series(x: f64) -> f64 {
    let x2 = x * x;
    let mut power = x; // (-1)^k x^(2k+1) / k!
    let mut sum = x;
    for k in 1..200 {
        power *= -x2 / k as f64;
        let term = power / (2 * k + 1) as f64;
        sum += term;
        if term.abs() < 1e-17 * sum.abs() {
            break;
        }
    }
    sum * std::f64::consts::FRAC_2_SQRT_PI
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_p_of_complete_separation() {
        let (u, p) = mann_whitney(&[1.0, 2.0, 3.0, 4.0, 5.0], &[6.0, 7.0, 8.0, 9.0, 10.0]);
        assert_eq!(u, 25.0);
        assert!((p - 2.0 / 252.0).abs() < 1e-15);
    }

    #[test]
    fn ties_count_one_half() {
        let (u, _) = mann_whitney(&[1.0, 2.0, 2.0, 3.0, 4.0], &[2.0, 3.0, 3.0, 5.0, 6.0]);
        assert_eq!(u, 19.0);
    }

    #[test]
    fn erfc_matches_known_values() {
        for (x, want) in [
            (0.0, 1.0),
            (0.3, 0.671_373_240_540_872_6),
            (1.0, 0.157_299_207_050_285_13),
            (2.0, 0.004_677_734_981_047_266),
            (3.5, 7.430_983_723_414_128e-7),
        ] {
            assert!((erfc(x) - want).abs() < 1e-12, "{x}");
        }
    }

    #[test]
    fn a_trace_column_keeps_first_durations_and_counts_the_rest() {
        use RunStatus::*;
        let column = trace_column(
            &[2, 0, 1],
            &[0, 1, 0, 2, 1],
            &[Completed, Failed, Completed, Skipped, Open],
            &[1.0, 2.0, 3.0, 0.0, f64::NAN],
            &[0.0, 0.5, 1.0, 2.0, 2.5],
            &[1.0, 2.5, 4.0, 2.0, f64::NAN],
            4,
        );
        assert_eq!(column.durations[2], 1.0);
        assert_eq!(column.durations[0], 2.0);
        assert!(column.durations[1].is_nan() && column.durations[3].is_nan());
        assert_eq!((column.filled, column.extra.clone()), (2, vec![(2, 3.0)]));
        assert_eq!(column.other, vec![(0, Failed), (1, Skipped), (0, Open)]);
        assert_eq!((column.start, column.end, column.open), (0.0, 4.0, 1));
    }

    #[test]
    fn node_stats_of_uniform_columns() {
        let base = vec![vec![1.0, 5.0], vec![2.0, 5.0], vec![3.0, f64::NAN]];
        let cand = vec![vec![2.0, 5.0], vec![4.0, 6.0], vec![6.0, 7.0]];
        let stats = node_stats(
            &Samples {
                columns: &base,
                extra: &[(1, 9.0)],
            },
            &Samples {
                columns: &cand,
                extra: &[],
            },
            2,
            0.05,
        );
        assert_eq!(stats.baseline.ended, vec![3, 3]);
        assert_eq!(stats.baseline.median, vec![2.0, 5.0]);
        assert_eq!(stats.candidate.median, vec![4.0, 6.0]);
        assert_eq!(stats.change, vec![2.0, 1.0]);
        assert_eq!(stats.relative, vec![1.0, 0.2]);
        assert_eq!(stats.verdict, vec![Verdict::TooFew, Verdict::TooFew]);
        assert_eq!(stats.baseline.p25, vec![1.5, 5.0]);
        assert_eq!(stats.baseline.max, vec![3.0, 9.0]);
    }
}
