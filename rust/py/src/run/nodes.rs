//! `RunState`'s fields, and the per-node transitions on the hot path (start,
//! complete, fail), each with its event, under the one lock.

use std::sync::{Mutex, MutexGuard};

use pyo3::exceptions::{PyIndexError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyInt, PyList, PyString};

use crate::clock;
use crate::errors::type_name;
use crate::event::EventKind;
use crate::new_objects;
use crate::recorder::TraceRecorder;

/// One run's node states: see the module comment.
#[pyclass(frozen, module = "dagron._core")]
pub struct RunState {
    pub(super) status: Py<PyList>,
    pub(super) results: Py<PyList>,
    pub(super) errors: Py<PyList>,
    pub(super) durations: Py<PyList>,
    pub(super) running: Py<PyAny>,
    pub(super) completed: Py<PyAny>,
    pub(super) failed: Py<PyAny>,
    /// A trace made with the DAG's `_node_names`, or None when tracing is off.
    pub(super) trace: Option<Py<TraceRecorder>>,
    /// What the run's frame needs (see the module comment); None if not given.
    pub(super) frame: Option<Frame>,
    pub(super) nodes: usize,
    pub(super) progress: Mutex<Progress>,
}

/// The node names and the other status values, for the run's frame.
pub(super) struct Frame {
    pub(super) names: Py<PyList>,
    pub(super) pending: Py<PyAny>,
    pub(super) skipped: Py<PyAny>,
    pub(super) cancelled: Py<PyAny>,
    pub(super) timed_out: Py<PyAny>,
}

/// What the lock guards: whether the run is closed, when each node and the run
/// started, the open step, and the run's duration once it ended.
pub(super) struct Progress {
    pub(super) closed: bool,
    /// Clock reading (`clock::monotonic_ns`) at each node's start.
    pub(super) started_ns: Vec<u64>,
    /// When `__enter__` ran.
    pub(super) began_ns: Option<u64>,
    /// The step started and not yet completed, and when it started.
    pub(super) open_step: Option<(i64, u64)>,
    /// The run's duration in seconds, once `__exit__` has run.
    pub(super) finished: Option<f64>,
}

/// Old list items replaced under the lock, released after it: dropping one may run
/// Python code (`__del__`), which must never run while the lock is held.
pub(super) type Released<'py> = Vec<Bound<'py, PyAny>>;

/// `list[index] = value`, keeping the old item in `released`.
#[inline]
pub(super) fn replace<'py>(
    list: &Bound<'py, PyList>,
    index: usize,
    value: &Bound<'py, PyAny>,
    released: &mut Released<'py>,
) -> PyResult<()> {
    released.push(list.get_item(index)?);
    list.set_item(index, value)
}

impl RunState {
    #[inline]
    pub(super) fn lock(&self) -> MutexGuard<'_, Progress> {
        // Nothing is left half-done by a panic under this lock worth refusing.
        self.progress
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    #[inline]
    pub(super) fn check_index(&self, node: usize) -> PyResult<()> {
        if node < self.nodes {
            Ok(())
        } else {
            Err(PyIndexError::new_err(format!(
                "node index {node} is out of range for {} nodes",
                self.nodes
            )))
        }
    }

    #[inline]
    pub(super) fn is_running(&self, py: Python<'_>, node: usize) -> PyResult<bool> {
        Ok(self.status.bind(py).get_item(node)?.is(&self.running))
    }

    #[inline]
    pub(super) fn record(
        &self,
        py: Python<'_>,
        now_ns: u64,
        kind: EventKind,
        node: usize,
        duration: Option<f64>,
        error: Option<&Bound<'_, PyString>>,
    ) -> PyResult<()> {
        match &self.trace {
            Some(trace) => trace
                .get()
                .record_named_node(py, now_ns, kind, node, duration, error),
            None => Ok(()),
        }
    }
    /// Start node `node` (RUNNING, and `NODE_STARTED` when traced); false once the
    /// run is closed.
    #[inline]
    pub(super) fn start(&self, py: Python<'_>, node: usize) -> PyResult<bool> {
        self.begin(py, node, true)
    }

    /// Make node `node` RUNNING from now, recording its `NODE_STARTED` when
    /// `recorded_here` (else its worker records its own); false once the run is closed.
    #[inline]
    pub(super) fn begin(&self, py: Python<'_>, node: usize, recorded_here: bool) -> PyResult<bool> {
        self.check_index(node)?;
        let mut released = Released::new();
        let mut progress = self.lock();
        if progress.closed {
            return Ok(false);
        }
        let now = clock::monotonic_ns();
        if recorded_here {
            self.record(py, now, EventKind::NodeStarted, node, None, None)?;
        }
        progress.started_ns[node] = now;
        let result = replace(
            self.status.bind(py),
            node,
            self.running.bind(py),
            &mut released,
        );
        drop(progress);
        result.map(|()| true)
    }

    /// End running node `node` as COMPLETED with `value` (and `NODE_COMPLETED`);
    /// false if it is no longer running (timed out or abandoned meanwhile).
    pub(super) fn complete(
        &self,
        py: Python<'_>,
        node: usize,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        self.end(py, node, Ended::Completed(value))
    }

    /// End running node `node` (see `Ended`), recording its event with the
    /// duration since its start; false if it is no longer running.
    pub(super) fn end(&self, py: Python<'_>, node: usize, how: Ended<'_, '_>) -> PyResult<bool> {
        self.check_index(node)?;
        let mut released = Released::new();
        let progress = self.lock();
        if !self.is_running(py, node)? {
            return Ok(false);
        }
        let now = clock::monotonic_ns();
        let duration = clock::seconds_between(progress.started_ns[node], now);
        let (status, list, value) = match how {
            Ended::Completed(value) => {
                self.record(
                    py,
                    now,
                    EventKind::NodeCompleted,
                    node,
                    Some(duration),
                    None,
                )?;
                (&self.completed, &self.results, value)
            }
            Ended::Failed(exc, text) => {
                self.record(
                    py,
                    now,
                    EventKind::NodeFailed,
                    node,
                    Some(duration),
                    Some(text),
                )?;
                (&self.failed, &self.errors, exc)
            }
        };
        let result = self.write_end(py, node, (status, list, value), duration, &mut released);
        drop(progress);
        result.map(|()| true)
    }

    /// Write a running node's end into the lists (call under the lock): its status,
    /// its value in `list` (results or errors), its duration in seconds.
    pub(super) fn write_end<'py>(
        &self,
        py: Python<'py>,
        node: usize,
        (status, list, value): (&Py<PyAny>, &Py<PyList>, &Bound<'py, PyAny>),
        duration: f64,
        released: &mut Released<'py>,
    ) -> PyResult<()> {
        replace(self.status.bind(py), node, status.bind(py), released)?;
        replace(list.bind(py), node, value, released)?;
        let duration = new_objects::float(py, duration)?;
        replace(self.durations.bind(py), node, &duration, released)
    }
}

/// How a running node ends.
pub(super) enum Ended<'a, 'py> {
    /// With its task's return value.
    Completed(&'a Bound<'py, PyAny>),
    /// With the exception its task raised, and that exception as `"Type: message"`.
    Failed(&'a Bound<'py, PyAny>, &'a Bound<'py, PyString>),
}

/// A node index argument: a non-negative `int`.
pub(super) fn node_index(node: &Bound<'_, PyAny>) -> PyResult<usize> {
    if !node.is_instance_of::<PyInt>() {
        return Err(PyTypeError::new_err(format!(
            "node index must be int, not {}",
            type_name(node)
        )));
    }
    node.extract::<usize>().map_err(|_| {
        PyIndexError::new_err(format!(
            "node index {} is out of range",
            node.repr()
                .map_or_else(|_| "?".to_owned(), |r| r.to_string())
        ))
    })
}
