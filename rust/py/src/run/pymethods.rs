//! `RunState`'s Python methods: the constructor, and the calls that change the
//! run as a whole (its frame, `close`) or a node off the hot path (`fail`, `give_up`,
//! `time_out_overdue`, and `start_elsewhere` / `settle` for a node run elsewhere).

use std::sync::Mutex;

use pyo3::exceptions::{PyRuntimeError, PyTimeoutError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};
use pyo3::{PyTraverseError, PyVisit};

use super::nodes::{node_index, replace, Ended, Frame, Progress, Released, RunState};
use crate::clock;
use crate::event::{EventKind, StepArg};
use crate::new_objects;
use crate::recorder::TraceRecorder;

#[pymethods]
impl RunState {
    /// `status`, `results`, `errors` and `durations` are the run's per-node lists
    /// (all as long); `running`, `completed` and `failed` the status values this
    /// object writes; `trace` a trace made with the DAG's `_node_names`, or None.
    ///
    /// For the run's frame (`with state:`, `step_started`, `give_up`, `time_out`),
    /// also `names` (the node names, as long) and the `pending`, `skipped`,
    /// `cancelled` and `timed_out` status values.
    #[new]
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (
        status, results, errors, durations, running, completed, failed, trace=None, *,
        names=None, pending=None, skipped=None, cancelled=None, timed_out=None
    ))]
    fn new(
        status: Bound<'_, PyList>,
        results: Bound<'_, PyList>,
        errors: Bound<'_, PyList>,
        durations: Bound<'_, PyList>,
        running: Bound<'_, PyAny>,
        completed: Bound<'_, PyAny>,
        failed: Bound<'_, PyAny>,
        trace: Option<Bound<'_, TraceRecorder>>,
        names: Option<Bound<'_, PyList>>,
        pending: Option<Bound<'_, PyAny>>,
        skipped: Option<Bound<'_, PyAny>>,
        cancelled: Option<Bound<'_, PyAny>>,
        timed_out: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let nodes = status.len();
        if [&results, &errors, &durations]
            .iter()
            .any(|list| list.len() != nodes)
        {
            return Err(PyValueError::new_err(
                "RunState() lists must all have one item per node",
            ));
        }
        if let Some(trace) = &trace {
            let names = trace.get().node_names_len();
            if names != Some(nodes) {
                return Err(PyValueError::new_err(format!(
                    "RunState() trace must be made with the {nodes} node names of the run \
                     (_node_names), not {}",
                    names.map_or_else(|| "a bounded trace".to_owned(), |n| format!("{n} names"))
                )));
            }
        }
        let frame = match (names, pending, skipped, cancelled, timed_out) {
            (None, None, None, None, None) => None,
            (Some(names), Some(pending), Some(skipped), Some(cancelled), Some(timed_out)) => {
                if names.len() != nodes {
                    return Err(PyValueError::new_err(
                        "RunState() lists must all have one item per node",
                    ));
                }
                Some(Frame {
                    names: names.unbind(),
                    pending: pending.unbind(),
                    skipped: skipped.unbind(),
                    cancelled: cancelled.unbind(),
                    timed_out: timed_out.unbind(),
                })
            }
            _ => {
                return Err(PyTypeError::new_err(
                    "RunState() needs all of names, pending, skipped, cancelled and \
                     timed_out, or none",
                ))
            }
        };
        Ok(RunState {
            frame,
            status: status.unbind(),
            results: results.unbind(),
            errors: errors.unbind(),
            durations: durations.unbind(),
            running: running.unbind(),
            completed: completed.unbind(),
            failed: failed.unbind(),
            trace: trace.map(Bound::unbind),
            nodes,
            progress: Mutex::new(Progress {
                closed: false,
                started_ns: vec![0; nodes],
                began_ns: None,
                open_step: None,
                finished: None,
            }),
        })
    }

    /// End running node `node` as FAILED with exception `exc` (and `NODE_FAILED`
    /// with `error=error_text`); false if it is no longer running.
    fn fail(
        &self,
        py: Python<'_>,
        node: &Bound<'_, PyAny>,
        exc: &Bound<'_, PyAny>,
        error_text: &Bound<'_, PyString>,
    ) -> PyResult<bool> {
        self.end(py, node_index(node)?, Ended::Failed(exc, error_text))
    }

    /// Close the run: no node starts or ends here after this. Every running node
    /// becomes `outcome`, with its duration until now, and nothing is recorded;
    /// returns their indices. (A run with a frame is closed by `__exit__`.)
    fn close(&self, py: Python<'_>, outcome: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
        let mut released = Released::new();
        let mut progress = self.lock();
        progress.closed = true;
        let now = clock::monotonic_ns();
        let mut ended = Vec::new();
        let result = (|| {
            for node in 0..self.nodes {
                if self.is_running(py, node)? {
                    let duration = clock::seconds_between(progress.started_ns[node], now);
                    let seconds = new_objects::float(py, duration)?;
                    replace(self.status.bind(py), node, outcome, &mut released)?;
                    replace(self.durations.bind(py), node, &seconds, &mut released)?;
                    ended.push(node);
                }
            }
            Ok::<_, PyErr>(())
        })();
        drop(progress);
        result.map(|()| ended)
    }

    /// Whether the run is closed (`close`, or its frame has ended): nothing starts
    /// or ends now.
    #[getter]
    fn closed(&self) -> bool {
        self.lock().closed
    }

    /// Start the run: record `EXECUTION_STARTED` (when traced) and start its clock.
    fn __enter__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, Self>> {
        let state = slf.get();
        state.frame()?;
        let mut progress = state.lock();
        if progress.began_ns.is_some() {
            return Err(PyValueError::new_err("a RunState frames one run only"));
        }
        let now = clock::monotonic_ns();
        progress.began_ns = Some(now);
        state.record_frame(
            slf.py(),
            now,
            EventKind::ExecutionStarted,
            StepArg::None,
            None,
        )?;
        Ok(slf.clone())
    }

    /// Record `STEP_STARTED` for step `step`, which is now the open step.
    fn step_started(&self, py: Python<'_>, step: i64) -> PyResult<()> {
        let mut progress = self.lock();
        let now = clock::monotonic_ns();
        self.record_frame(py, now, EventKind::StepStarted, StepArg::Int(step), None)?;
        progress.open_step = Some((step, now));
        Ok(())
    }

    /// Record `STEP_COMPLETED` (with the step's duration) for the open step.
    fn step_completed(&self, py: Python<'_>) -> PyResult<()> {
        let mut progress = self.lock();
        let Some((step, began)) = progress.open_step else {
            return Err(PyValueError::new_err("no step is open"));
        };
        let now = clock::monotonic_ns();
        let duration = clock::seconds_between(began, now);
        self.record_frame(
            py,
            now,
            EventKind::StepCompleted,
            StepArg::Int(step),
            Some(duration),
        )?;
        progress.open_step = None;
        Ok(())
    }

    /// End node `node`, which will not run, as `outcome` (the `skipped` or the
    /// `cancelled` status) and record its `NODE_SKIPPED` or `NODE_CANCELLED` with
    /// `metadata={"reason": reason}`.
    fn give_up(
        &self,
        py: Python<'_>,
        node: usize,
        outcome: &Bound<'_, PyAny>,
        reason: &Bound<'_, PyString>,
    ) -> PyResult<()> {
        self.check_index(node)?;
        let frame = self.frame()?;
        let kind = if outcome.is(&frame.skipped) {
            EventKind::NodeSkipped
        } else if outcome.is(&frame.cancelled) {
            EventKind::NodeCancelled
        } else {
            return Err(PyValueError::new_err(
                "give_up() outcome must be the skipped or the cancelled status",
            ));
        };
        let mut released = Released::new();
        let progress = self.lock();
        if progress.finished.is_some() {
            return Ok(());
        }
        replace(self.status.bind(py), node, outcome, &mut released)?;
        self.record_given_up(py, kind, node, reason)?;
        drop(progress);
        Ok(())
    }

    /// Time out the nodes of `nodes` that are still running `timeout` seconds after
    /// they started: each becomes TIMED_OUT, with its duration until now, a
    /// `TimeoutError` ("node 'x' was still running {timeout_text}s after it
    /// started") and its `NODE_TIMED_OUT`. Returns the nodes timed out, and the
    /// seconds until the next of the others would time out (None: none is running).
    fn time_out_overdue(
        &self,
        py: Python<'_>,
        nodes: Vec<usize>,
        timeout: f64,
        timeout_text: &str,
    ) -> PyResult<(Vec<usize>, Option<f64>)> {
        for &node in &nodes {
            self.check_index(node)?;
        }
        let outcome = self.frame()?.timed_out.bind(py).clone();
        let mut released = Released::new();
        let progress = self.lock();
        let now = clock::monotonic_ns();
        let mut ended = Vec::new();
        let mut next: Option<f64> = None;
        let result = (|| {
            for &node in &nodes {
                if !self.is_running(py, node)? {
                    continue;
                }
                let elapsed = clock::seconds_between(progress.started_ns[node], now);
                if elapsed >= timeout {
                    let seconds = new_objects::float(py, elapsed)?;
                    replace(self.status.bind(py), node, &outcome, &mut released)?;
                    replace(self.durations.bind(py), node, &seconds, &mut released)?;
                    ended.push((node, elapsed));
                } else {
                    let left = timeout - elapsed;
                    next = Some(next.map_or(left, |n| n.min(left)));
                }
            }
            Ok::<_, PyErr>(())
        })();
        drop(progress);
        result?;
        let mut raised = None;
        self.end_with_errors::<PyTimeoutError>(
            py,
            &ended,
            EventKind::NodeTimedOut,
            |name| format!("node {name} was still running {timeout_text}s after it started"),
            &mut raised,
        )?;
        if let Some(error) = raised {
            return Err(error);
        }
        Ok((ended.into_iter().map(|(node, _)| node).collect(), next))
    }

    /// Start node `node`, which runs elsewhere (its worker records its own
    /// `NODE_STARTED`): RUNNING from now, nothing recorded; false once closed.
    fn start_elsewhere(&self, py: Python<'_>, node: usize) -> PyResult<bool> {
        self.begin(py, node, false)
    }

    /// End running node `node`, which ran elsewhere and recorded its own end event:
    /// COMPLETED with result `value` (`completed`) or FAILED with exception `value`,
    /// and `duration` seconds as its worker measured them. Nothing is recorded;
    /// false if it is no longer running.
    fn settle(
        &self,
        py: Python<'_>,
        node: usize,
        completed: bool,
        value: &Bound<'_, PyAny>,
        duration: f64,
    ) -> PyResult<bool> {
        self.check_index(node)?;
        let mut released = Released::new();
        let progress = self.lock();
        if !self.is_running(py, node)? {
            return Ok(false);
        }
        let (status, list) = if completed {
            (&self.completed, &self.results)
        } else {
            (&self.failed, &self.errors)
        };
        let result = self.write_end(py, node, (status, list, value), duration, &mut released);
        drop(progress);
        result.map(|()| true)
    }

    /// End the run, whatever happened: running nodes become FAILED
    /// (`RuntimeError("execution interrupted by <escaping exception type>")`), nodes
    /// not started CANCELLED (reason `"interrupted"`), the open step is completed,
    /// and `EXECUTION_COMPLETED` recorded with the run's duration. Runs once;
    /// never suppresses the exception.
    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: &Bound<'_, PyAny>,
        exc: &Bound<'_, PyAny>,
        _traceback: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let frame = self.frame()?;
        let mut released = Released::new();
        let mut progress = self.lock();
        if progress.finished.is_some() {
            return Ok(false);
        }
        progress.closed = true;
        let now = clock::monotonic_ns();
        let mut running = Vec::new();
        let mut waiting = Vec::new();
        let result = (|| {
            for node in 0..self.nodes {
                let status = self.status.bind(py).get_item(node)?;
                if status.is(&self.running) {
                    let duration = clock::seconds_between(progress.started_ns[node], now);
                    let seconds = new_objects::float(py, duration)?;
                    replace(
                        self.status.bind(py),
                        node,
                        self.failed.bind(py),
                        &mut released,
                    )?;
                    replace(self.durations.bind(py), node, &seconds, &mut released)?;
                    running.push((node, duration));
                } else if status.is(&frame.pending) {
                    replace(
                        self.status.bind(py),
                        node,
                        frame.cancelled.bind(py),
                        &mut released,
                    )?;
                    waiting.push(node);
                }
            }
            Ok::<_, PyErr>(())
        })();
        let open_step = progress.open_step.take();
        let began = progress.began_ns.unwrap_or(now);
        // Set before anything is recorded: no second call does any of this again.
        progress.finished = Some(0.0);
        drop(progress);
        result?;
        let cause = if exc.is_none() {
            String::new()
        } else {
            let name = exc
                .get_type()
                .name()
                .map_or_else(|_| "BaseException".to_owned(), |n| n.to_string());
            format!(" by {name}")
        };
        let mut raised = None;
        self.end_with_errors::<PyRuntimeError>(
            py,
            &running,
            EventKind::NodeFailed,
            |_| format!("execution interrupted{cause}"),
            &mut raised,
        )?;
        let reason = pyo3::intern!(py, "interrupted");
        for node in waiting {
            self.record_given_up(py, EventKind::NodeCancelled, node, reason)?;
        }
        if let Some((step, _)) = open_step {
            let now = clock::monotonic_ns();
            self.record_frame(py, now, EventKind::StepCompleted, StepArg::Int(step), None)?;
        }
        let now = clock::monotonic_ns();
        let total = clock::seconds_between(began, now);
        self.lock().finished = Some(total);
        self.record_frame(
            py,
            now,
            EventKind::ExecutionCompleted,
            StepArg::None,
            Some(total),
        )?;
        raised.map_or(Ok(false), Err)
    }

    /// The run's duration in seconds (from `__enter__` to `__exit__`), once it ended.
    #[getter]
    fn duration(&self) -> Option<f64> {
        self.lock().finished
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        for list in [&self.status, &self.results, &self.errors, &self.durations] {
            visit.call(list)?;
        }
        if let Some(trace) = &self.trace {
            visit.call(trace)?;
        }
        Ok(())
    }
}
