//! Node runs: one row per run of a node, from one pass over a snapshot.
//!
//! The pairing is the Perfetto export's, by its own code: each source's events go
//! through a [`Layout`] with [`Lanes::Compact`], which closes the newest open run of
//! a node with its end and gives a run the lowest free lane of its source (gate
//! waits and resource holds take lanes too). A run's row is made at its start and
//! tagged on the layout's open slice, so the end the layout pairs it with fills
//! that row. Skipped and cancelled nodes are instants (one event, start == end, on
//! the lane Perfetto draws them on); so is an end whose start the trace does not
//! hold. Rows are in the order of their first event; columns are index-aligned.
//!
//! The pass also notes the run's bounds (first `EXECUTION_STARTED`, last
//! `EXECUTION_COMPLETED`, first and last timestamps), and [`NodeTimes`] reads
//! per-node start and end times off the rows for the profiling passes.

use crate::event::EventKind;
use crate::export::perfetto::layout::{Lanes, Layout, Role, SliceKind, StepKey, Track};
use crate::intern::InternEntry;
use crate::origin::Sources;
use crate::trace::Snapshot;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum RunStatus {
    Completed,
    Failed,
    TimedOut,
    /// Started, and no end paired with it.
    Open,
    Skipped,
    Cancelled,
}

impl RunStatus {
    pub const ALL: [RunStatus; 6] = [
        RunStatus::Completed,
        RunStatus::Failed,
        RunStatus::TimedOut,
        RunStatus::Open,
        RunStatus::Skipped,
        RunStatus::Cancelled,
    ];

    /// The status as the `status` column spells it.
    pub fn value(self) -> &'static str {
        match self {
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::TimedOut => "timed_out",
            RunStatus::Open => "open",
            RunStatus::Skipped => "skipped",
            RunStatus::Cancelled => "cancelled",
        }
    }

    /// The status an event of kind `kind` gives a run it ends (or is).
    fn of(kind: EventKind) -> Option<RunStatus> {
        match kind {
            EventKind::NodeCompleted => Some(RunStatus::Completed),
            EventKind::NodeFailed => Some(RunStatus::Failed),
            EventKind::NodeTimedOut => Some(RunStatus::TimedOut),
            EventKind::NodeSkipped => Some(RunStatus::Skipped),
            EventKind::NodeCancelled => Some(RunStatus::Cancelled),
            _ => None,
        }
    }

    /// Whether the run began with a `NODE_STARTED` event or ended with an end
    /// event (not an instant of its own).
    pub fn is_ended(self) -> bool {
        matches!(
            self,
            RunStatus::Completed | RunStatus::Failed | RunStatus::TimedOut
        )
    }
}

/// No event (`start_event` of an end whose start is not held, `end_event` of an
/// open run).
pub const NO_EVENT: i64 = -1;

/// The runs of a snapshot, as columns.
pub struct NodeRuns<'a, S> {
    /// The nodes with a run, in order of their first run: intern id and entry.
    pub names: Vec<(u32, &'a InternEntry<S>)>,
    /// The snapshot's sources (`source` indexes `sources.list`).
    pub sources: Sources,
    pub node: Vec<u32>,
    pub source: Vec<u32>,
    pub lane: Vec<u32>,
    pub start: Vec<f64>,
    pub end: Vec<f64>,
    pub duration: Vec<f64>,
    pub status: Vec<RunStatus>,
    pub error: Vec<Option<&'a InternEntry<S>>>,
    pub start_event: Vec<i64>,
    pub end_event: Vec<i64>,
    pub bounds: RunBounds,
}

/// Where the whole run begins and ends, as the events say.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RunBounds {
    pub first_execution_start: Option<f64>,
    pub last_execution_end: Option<f64>,
    /// Timestamps of the first and last events (None when there are none).
    pub first: Option<f64>,
    pub last: Option<f64>,
}

impl<S> NodeRuns<'_, S> {
    pub fn len(&self) -> usize {
        self.node.len()
    }

    pub fn is_empty(&self) -> bool {
        self.node.is_empty()
    }
}

impl<'a, S> NodeRuns<'a, S> {
    /// The runs of `snapshot`, in one pass.
    pub fn collect<X>(snapshot: &Snapshot<'a, X, S>) -> Self {
        let sources = snapshot.sources();
        let mut runs = NodeRuns {
            names: Vec::new(),
            sources,
            node: Vec::new(),
            source: Vec::new(),
            lane: Vec::new(),
            start: Vec::new(),
            end: Vec::new(),
            duration: Vec::new(),
            status: Vec::new(),
            error: Vec::new(),
            start_event: Vec::new(),
            end_event: Vec::new(),
            bounds: RunBounds::default(),
        };
        // Per intern id, its index in `names` + 1 (0: no run yet).
        let mut node_index = vec![0u32; snapshot.string_count()];
        let mut layouts: Vec<Layout> = Vec::new();
        for (position, event) in snapshot.iter().enumerate() {
            let bounds = &mut runs.bounds;
            bounds.first.get_or_insert(event.ts);
            bounds.last = Some(event.ts);
            let role = Role::of(event.kind);
            match role {
                Role::Begin(SliceKind::Execution) => {
                    bounds.first_execution_start.get_or_insert(event.ts);
                }
                Role::End(SliceKind::Execution) => bounds.last_execution_end = Some(event.ts),
                _ => {}
            }
            let Some((id, entry)) = event.node else {
                continue;
            };
            if matches!(
                role,
                Role::Begin(SliceKind::Execution | SliceKind::Step)
                    | Role::End(SliceKind::Execution | SliceKind::Step)
            ) {
                // On the execution track: no lane is involved.
                continue;
            }
            let source = runs.sources.of(event.source) as usize;
            if source >= layouts.len() {
                layouts.resize_with(source + 1, || Layout::new(Lanes::Compact));
            }
            let row = runs.node.len() as u64;
            let placement = layouts[source].place_tagged(event.kind, Some(id), StepKey::None, row);
            let Track::Lane(lane) = placement.track else {
                continue;
            };
            let status = RunStatus::of(event.kind);
            let ts = event.ts;
            let at = position as i64;
            match placement.role {
                Role::Begin(SliceKind::Node) => {
                    let node = runs.node_index(&mut node_index, id, entry);
                    runs.push(node, source, lane, ts, RunStatus::Open, at);
                }
                Role::End(SliceKind::Node) => {
                    let row = placement.begin_tag as usize;
                    let began = runs.start[row];
                    runs.end[row] = ts;
                    runs.duration[row] = event.duration.unwrap_or(ts - began);
                    runs.status[row] = status.unwrap_or(RunStatus::Completed);
                    runs.error[row] = event.error;
                    runs.end_event[row] = at;
                }
                Role::Point => {
                    let Some(status) = status else {
                        continue;
                    };
                    // An instant of its own, or an end whose start is not held.
                    let node = runs.node_index(&mut node_index, id, entry);
                    let ended = status.is_ended();
                    let first = if ended { NO_EVENT } else { at };
                    runs.push(node, source, lane, ts, status, first);
                    let row = runs.len() - 1;
                    runs.end[row] = ts;
                    runs.duration[row] = match event.duration {
                        Some(duration) if ended => duration,
                        _ => 0.0,
                    };
                    runs.error[row] = event.error;
                    runs.end_event[row] = at;
                }
                _ => {}
            }
        }
        runs
    }

    fn node_index(&mut self, table: &mut [u32], id: u32, entry: &'a InternEntry<S>) -> u32 {
        let slot = &mut table[id as usize];
        if *slot == 0 {
            self.names.push((id, entry));
            *slot = self.names.len() as u32;
        }
        *slot - 1
    }

    fn push(&mut self, node: u32, source: usize, lane: u32, ts: f64, status: RunStatus, at: i64) {
        self.node.push(node);
        self.source.push(source as u32);
        self.lane.push(lane);
        self.start.push(ts);
        self.end.push(f64::NAN);
        self.duration.push(f64::NAN);
        self.status.push(status);
        self.error.push(None);
        self.start_event.push(at);
        self.end_event.push(NO_EVENT);
    }
}

/// Per node of a graph, when it started and ended, and the run's span: what the
/// observed-profile passes read.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeTimes {
    /// The first `NODE_STARTED` of each node; NaN when none.
    pub starts: Vec<f64>,
    /// The last end event (completed, failed, timed out) of each node; NaN when none.
    pub ends: Vec<f64>,
    /// The first `EXECUTION_STARTED`, else the first event.
    pub run_start: f64,
    /// The last `EXECUTION_COMPLETED`, else the last event.
    pub run_end: f64,
}

impl NodeTimes {
    /// Read off `runs`: `graph_index[k]` is the graph node of `runs.names[k]` (None:
    /// not a node of the graph), `count` the graph's node count.
    pub fn from_runs<S>(runs: &NodeRuns<'_, S>, graph_index: &[Option<u32>], count: usize) -> Self {
        let mut starts = vec![f64::NAN; count];
        let mut ends = vec![f64::NAN; count];
        // The end event's position, to keep the last one.
        let mut last_end = vec![NO_EVENT; count];
        for row in 0..runs.len() {
            let Some(v) = graph_index[runs.node[row] as usize] else {
                continue;
            };
            let v = v as usize;
            let status = runs.status[row];
            if matches!(status, RunStatus::Skipped | RunStatus::Cancelled) {
                continue;
            }
            if runs.start_event[row] != NO_EVENT && starts[v].is_nan() {
                starts[v] = runs.start[row];
            }
            if status.is_ended() && runs.end_event[row] > last_end[v] {
                last_end[v] = runs.end_event[row];
                ends[v] = runs.end[row];
            }
        }
        let bounds = runs.bounds;
        NodeTimes {
            starts,
            ends,
            run_start: bounds
                .first_execution_start
                .or(bounds.first)
                .unwrap_or(f64::NAN),
            run_end: bounds
                .last_execution_end
                .or(bounds.last)
                .unwrap_or(f64::NAN),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::NewEvent;
    use crate::trace::TraceCore;
    use EventKind::*;

    fn record(
        core: &TraceCore<(), ()>,
        kind: EventKind,
        node: Option<&str>,
        duration: Option<f64>,
    ) {
        let mut event = NewEvent::new(kind);
        event.node = node.map(|name| core.intern(name.as_bytes(), || ()).unwrap());
        event.duration = duration;
        core.record(event).unwrap();
    }

    fn table(runs: &NodeRuns<'_, ()>) -> Vec<(String, u32, &'static str, i64, i64)> {
        (0..runs.len())
            .map(|row| {
                let (_, entry) = runs.names[runs.node[row] as usize];
                (
                    String::from_utf8(entry.text.to_vec()).unwrap(),
                    runs.lane[row],
                    runs.status[row].value(),
                    runs.start_event[row],
                    runs.end_event[row],
                )
            })
            .collect()
    }

    #[test]
    fn runs_pair_as_compact_lanes_do() {
        let core: TraceCore<(), ()> = TraceCore::new();
        record(&core, ExecutionStarted, None, None);
        record(&core, NodeCompleted, Some("gone"), Some(0.5)); // 1: no start held
        record(&core, NodeStarted, Some("a"), None); // 2: lane 0
        record(&core, NodeStarted, Some("a"), None); // 3: lane 1
        record(&core, NodeSkipped, Some("s"), None); // 4: lowest free lane: 2
        record(&core, NodeFailed, Some("a"), None); // 5: closes 3
        record(&core, NodeCacheHit, Some("a"), None); // 6: not a run
        record(&core, NodeStarted, Some("b"), None); // 7: lane 1 again
        record(&core, ExecutionCompleted, None, Some(1.0));
        let snapshot = core.snapshot();
        let runs = NodeRuns::collect(&snapshot);
        assert_eq!(
            table(&runs),
            [
                ("gone".into(), 0, "completed", -1, 1),
                ("a".into(), 0, "open", 2, -1),
                ("a".into(), 1, "failed", 3, 5),
                ("s".into(), 2, "skipped", 4, 4),
                ("b".into(), 1, "open", 7, -1),
            ]
        );
        assert_eq!(runs.duration[0], 0.5);
        assert!(runs.duration[1].is_nan() && runs.end[1].is_nan());
        assert_eq!(runs.duration[3], 0.0);
        let ts = |position: usize| snapshot.get(position).ts;
        assert_eq!(runs.duration[2], ts(5) - ts(3));
        assert_eq!(runs.bounds.first_execution_start, Some(0.0));
        assert_eq!(runs.bounds.last_execution_end, Some(ts(8)));

        // Graph nodes: a -> 0, b -> 2, gone -> 1; s is not in the graph.
        let ids: Vec<Option<u32>> = runs
            .names
            .iter()
            .map(|(_, entry)| match &entry.text[..] {
                b"a" => Some(0),
                b"b" => Some(2),
                b"gone" => Some(1),
                _ => None,
            })
            .collect();
        let times = NodeTimes::from_runs(&runs, &ids, 4);
        assert_eq!(times.starts[0], ts(2));
        assert_eq!(times.ends[0], ts(5));
        assert!(times.starts[1].is_nan());
        assert_eq!(times.ends[1], ts(1));
        assert_eq!(times.starts[2], ts(7));
        assert!(times.ends[2].is_nan() && times.starts[3].is_nan());
        assert_eq!((times.run_start, times.run_end), (0.0, ts(8)));
    }

    #[test]
    fn an_empty_snapshot_has_no_runs() {
        let core: TraceCore<(), ()> = TraceCore::new();
        let runs = NodeRuns::collect(&core.snapshot());
        assert!(runs.is_empty() && runs.names.is_empty());
        let times = NodeTimes::from_runs(&runs, &[], 2);
        assert!(times.run_start.is_nan() && times.starts.iter().all(|t| t.is_nan()));
    }
}
