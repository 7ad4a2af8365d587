//! A trace's node spans, as `dagron.compare` splits a trace's wall time along its
//! observed critical path: each node's first start and last end, the busy intervals
//! (when at least one node ran) and the trace's own bounds, read off its node runs.
//!
//! The trace spans from its first run's start to its last end (a skipped or
//! cancelled node's instant counts). A node's first start is that of its first run
//! that ran (ended, or still open); its last end, the latest end of a run that ended.
//! A run that ended busies `start..end`; an open run busies from its start to the
//! trace's end. The nodes with a start and those with an end are also listed in the
//! order each was first met (the comparison breaks ties between equal ends by it).

use crate::runs::RunStatus;

/// One trace's node spans (see the module's documentation).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TraceSpans {
    /// By node: its first start, NaN when it has none.
    pub first_start: Vec<f64>,
    /// By node: its last end, NaN when it has none.
    pub last_end: Vec<f64>,
    /// The nodes with a first start, in order of their first run that ran.
    pub started: Vec<u32>,
    /// The nodes with a last end, in order of their first run that ended.
    pub ended: Vec<u32>,
    /// Busy intervals, sorted and merged (none overlaps or touches the next).
    pub busy_from: Vec<f64>,
    pub busy_to: Vec<f64>,
    /// The trace's first run start and last end; NaN for both when no run ended.
    pub run_start: f64,
    pub run_end: f64,
}

/// The spans of one trace's runs: row `i` is node `global[node[i]]` (the comparison's
/// numbering, `count` nodes), with its status, start and end.
pub fn trace_spans(
    global: &[u32],
    node: &[u32],
    status: &[RunStatus],
    start: &[f64],
    end: &[f64],
    count: usize,
) -> TraceSpans {
    let mut spans = TraceSpans {
        first_start: vec![f64::NAN; count],
        last_end: vec![f64::NAN; count],
        ..TraceSpans::default()
    };
    let (mut run_start, mut run_end) = (f64::INFINITY, f64::NEG_INFINITY);
    let mut intervals: Vec<(f64, f64)> = Vec::new();
    let mut open_starts: Vec<f64> = Vec::new();
    for row in 0..node.len() {
        let id = global[node[row] as usize];
        let (began, ended) = (start[row], end[row]);
        if began < run_start {
            run_start = began;
        }
        if ended > run_end {
            run_end = ended; // NaN (an open run's end) never compares greater
        }
        let state = status[row];
        let open = state == RunStatus::Open;
        if !(open || state.is_ended()) {
            continue; // skipped, cancelled: an instant, nothing ran
        }
        let earlier = |new: f64, old: f64| new < old;
        keep(
            &mut spans.first_start,
            &mut spans.started,
            id,
            began,
            earlier,
        );
        if open {
            open_starts.push(began);
            continue;
        }
        if !ended.is_nan() {
            let later = |new: f64, old: f64| new > old;
            keep(&mut spans.last_end, &mut spans.ended, id, ended, later);
        }
        if ended > began {
            intervals.push((began, ended));
        }
    }
    if run_start > run_end {
        run_start = f64::NAN;
        run_end = f64::NAN;
    }
    intervals.extend(
        open_starts
            .into_iter()
            .filter(|&began| began < run_end)
            .map(|began| (began, run_end)),
    );
    intervals.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    for (began, ended) in intervals {
        match spans.busy_to.last_mut() {
            Some(last) if began <= *last => {
                if ended > *last {
                    *last = ended;
                }
            }
            _ => {
                spans.busy_from.push(began);
                spans.busy_to.push(ended);
            }
        }
    }
    spans.run_start = run_start;
    spans.run_end = run_end;
    spans
}

/// Node `id`'s value in `by_node` (NaN: none yet, and `id` joins `order`): set to
/// `value` where there is none or `better(value, current)`. `value` is not NaN.
fn keep(
    by_node: &mut [f64],
    order: &mut Vec<u32>,
    id: u32,
    value: f64,
    better: impl Fn(f64, f64) -> bool,
) {
    let slot = &mut by_node[id as usize];
    if slot.is_nan() {
        order.push(id);
        *slot = value;
    } else if better(value, *slot) {
        *slot = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RunStatus::*;

    #[test]
    fn spans_of_runs_that_ended_stayed_open_or_were_instants() {
        // Node 0 ran twice (2..3, 1..4: first start 1 in first-met order), node 1 is
        // open from 5, node 2 was skipped at 9, node 3 ran 6..6 (no busy time).
        let global = [0, 1, 2, 3];
        let node = [0, 0, 1, 2, 3];
        let status = [Completed, Failed, Open, Skipped, Completed];
        let start = [2.0, 1.0, 5.0, 9.0, 6.0];
        let end = [3.0, 4.0, f64::NAN, 9.0, 6.0];
        let spans = trace_spans(&global, &node, &status, &start, &end, 4);
        assert_eq!(spans.started, vec![0, 1, 3]);
        assert_eq!(spans.ended, vec![0, 3]);
        let text = |values: &[f64]| values.iter().map(|v| v.to_string()).collect::<Vec<_>>();
        assert_eq!(text(&spans.first_start), ["1", "5", "NaN", "6"]);
        assert_eq!(text(&spans.last_end), ["4", "NaN", "NaN", "6"]);
        assert_eq!(spans.busy_from, vec![1.0, 5.0]);
        assert_eq!(spans.busy_to, vec![4.0, 9.0]);
        assert_eq!((spans.run_start, spans.run_end), (1.0, 9.0));
    }

    #[test]
    fn a_trace_where_nothing_ended_has_no_bounds() {
        let spans = trace_spans(&[0], &[0], &[Open], &[1.0], &[f64::NAN], 1);
        assert_eq!((spans.started, spans.first_start), (vec![0], vec![1.0]));
        assert!(spans.ended.is_empty() && spans.busy_from.is_empty());
        assert!(spans.run_start.is_nan() && spans.run_end.is_nan());
        let empty = trace_spans(&[], &[], &[], &[], &[], 0);
        assert!(empty.run_start.is_nan() && empty.started.is_empty());
    }
}
