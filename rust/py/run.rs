//! `RunState`: the executor's per-node state machine for one run (internal to
//! `dagron.executor`).
//!
//! Worker threads and the run's main thread race on a node's state: a worker ends
//! a task while the main thread times the run out. Each transition, and the event
//! it records, happens here in one call under one short lock: a call that never
//! lets go of the GIL, so no thread is ever parked on this lock while the holder
//! waits for the GIL (which a Python `threading.Lock` around the same steps does:
//! measured, it cost the executor a context switch per node). Once `close` has run,
//! no call records anything or changes a node.
//!
//! The node lists (status, results, errors, durations) stay Python lists that the
//! executor reads; only this object writes the transitions below.

use std::sync::{Mutex, MutexGuard};

use pyo3::exceptions::{PyIndexError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyInt, PyList, PyString, PyType};
use pyo3::{PyTraverseError, PyVisit};

use super::fallible;
use super::fastcall::{add_method, finish, positional, FastCall, METH_FASTCALL};
use super::recorder::{type_name, TraceRecorder};
use crate::clock;
use crate::event::EventKind;

/// One run's node states: see the module comment.
#[pyclass(frozen, module = "dagron._core")]
pub struct RunState {
    status: Py<PyList>,
    results: Py<PyList>,
    errors: Py<PyList>,
    durations: Py<PyList>,
    running: Py<PyAny>,
    completed: Py<PyAny>,
    failed: Py<PyAny>,
    /// A trace made with the DAG's `_node_names`, or None when tracing is off.
    trace: Option<Py<TraceRecorder>>,
    nodes: usize,
    inner: Mutex<Inner>,
}

struct Inner {
    closed: bool,
    /// Clock reading (`clock::monotonic_ns`) at each node's start.
    started_ns: Vec<u64>,
}

/// Old list items replaced under the lock, released after it: dropping one may run
/// Python code (`__del__`), which must never run while the lock is held.
type Released<'py> = Vec<Bound<'py, PyAny>>;

/// `list[index] = value`, keeping the old item in `released`.
#[inline]
fn replace<'py>(
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
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing is left half-done by a panic under this lock worth refusing.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    #[inline]
    fn check_index(&self, node: usize) -> PyResult<()> {
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
    fn is_running(&self, py: Python<'_>, node: usize) -> PyResult<bool> {
        Ok(self.status.bind(py).get_item(node)?.is(&self.running))
    }

    #[inline]
    fn record(
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
    fn start(&self, py: Python<'_>, node: usize) -> PyResult<bool> {
        self.check_index(node)?;
        let mut released = Released::new();
        let mut inner = self.lock();
        if inner.closed {
            return Ok(false);
        }
        let now = clock::monotonic_ns();
        self.record(py, now, EventKind::NodeStarted, node, None, None)?;
        inner.started_ns[node] = now;
        let result = replace(
            self.status.bind(py),
            node,
            self.running.bind(py),
            &mut released,
        );
        drop(inner);
        result.map(|()| true)
    }

    /// End running node `node` as COMPLETED with `value` (and `NODE_COMPLETED`);
    /// false if it is no longer running (timed out or abandoned meanwhile).
    fn complete(&self, py: Python<'_>, node: usize, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.end(py, node, Ended::Completed(value))
    }

    /// End running node `node` (see `Ended`), recording its event with the
    /// duration since its start; false if it is no longer running.
    fn end(&self, py: Python<'_>, node: usize, how: Ended<'_, '_>) -> PyResult<bool> {
        self.check_index(node)?;
        let mut released = Released::new();
        let inner = self.lock();
        if !self.is_running(py, node)? {
            return Ok(false);
        }
        let now = clock::monotonic_ns();
        let duration = clock::seconds_between(inner.started_ns[node], now);
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
        let result = (|| {
            replace(self.status.bind(py), node, status.bind(py), &mut released)?;
            replace(list.bind(py), node, value, &mut released)?;
            let duration = fallible::float(py, duration)?;
            replace(self.durations.bind(py), node, &duration, &mut released)
        })();
        drop(inner);
        result.map(|()| true)
    }
}

/// How a running node ends.
enum Ended<'a, 'py> {
    /// With its task's return value.
    Completed(&'a Bound<'py, PyAny>),
    /// With the exception its task raised, and that exception as `"Type: message"`.
    Failed(&'a Bound<'py, PyAny>, &'a Bound<'py, PyString>),
}

#[pymethods]
impl RunState {
    /// `status`, `results`, `errors` and `durations` are the run's per-node lists
    /// (all as long); `running`, `completed` and `failed` the status values this
    /// object writes; `trace` a trace made with the DAG's `_node_names`, or None.
    #[new]
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (status, results, errors, durations, running, completed, failed, trace=None))]
    fn new(
        status: Bound<'_, PyList>,
        results: Bound<'_, PyList>,
        errors: Bound<'_, PyList>,
        durations: Bound<'_, PyList>,
        running: Bound<'_, PyAny>,
        completed: Bound<'_, PyAny>,
        failed: Bound<'_, PyAny>,
        trace: Option<Bound<'_, TraceRecorder>>,
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
        Ok(RunState {
            status: status.unbind(),
            results: results.unbind(),
            errors: errors.unbind(),
            durations: durations.unbind(),
            running: running.unbind(),
            completed: completed.unbind(),
            failed: failed.unbind(),
            trace: trace.map(Bound::unbind),
            nodes,
            inner: Mutex::new(Inner {
                closed: false,
                started_ns: vec![0; nodes],
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
    /// becomes `outcome`, with its duration until now; returns their indices, for
    /// the caller to set their errors and record their events.
    fn close(&self, py: Python<'_>, outcome: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
        let mut released = Released::new();
        let mut inner = self.lock();
        inner.closed = true;
        let now = clock::monotonic_ns();
        let mut ended = Vec::new();
        let result = (|| {
            for node in 0..self.nodes {
                if self.is_running(py, node)? {
                    let duration = clock::seconds_between(inner.started_ns[node], now);
                    let duration = fallible::float(py, duration)?;
                    replace(self.status.bind(py), node, outcome, &mut released)?;
                    replace(self.durations.bind(py), node, &duration, &mut released)?;
                    ended.push(node);
                }
            }
            Ok(())
        })();
        drop(inner);
        result.map(|()| ended)
    }

    /// Whether `close` has run.
    #[getter]
    fn closed(&self) -> bool {
        self.lock().closed
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

const START_DOC: &std::ffi::CStr = c"start($self, node, /)\n--\n\nMark node index `node` RUNNING (recording NODE_STARTED when traced) and\nreturn True; False once the run is closed.";

const COMPLETE_DOC: &std::ffi::CStr = c"complete($self, node, value, /)\n--\n\nEnd running node `node` as COMPLETED with result `value` (recording\nNODE_COMPLETED when traced) and return True; False if it is no longer running.";

/// Install the per-node methods as raw METH_FASTCALL methods (see `fastcall`).
pub(crate) fn install(class: &Bound<'_, PyType>) -> PyResult<()> {
    let start: FastCall = start_fastcall;
    // SAFETY: CPython calls `ml_meth` with the signature its flags name
    // (METH_FASTCALL), which is `start`'s; both are plain function pointers.
    let start = unsafe { std::mem::transmute::<FastCall, ffi::PyCFunction>(start) };
    add_method(class, c"start", start, METH_FASTCALL, START_DOC)?;
    let complete: FastCall = complete_fastcall;
    // SAFETY: as above.
    let complete = unsafe { std::mem::transmute::<FastCall, ffi::PyCFunction>(complete) };
    add_method(class, c"complete", complete, METH_FASTCALL, COMPLETE_DOC)
}

/// A node index argument: a non-negative `int`.
fn node_index(node: &Bound<'_, PyAny>) -> PyResult<usize> {
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

#[inline]
fn boolean(py: Python<'_>, value: bool) -> Bound<'_, PyAny> {
    pyo3::types::PyBool::new(py, value).to_owned().into_any()
}

/// Run a RunState method called through METH_FASTCALL with `N` arguments.
///
/// # Safety
/// The arguments must be those of a METH_FASTCALL call.
unsafe fn call<const N: usize>(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    name: &str,
    method: impl FnOnce(Python<'_>, &RunState, [Bound<'_, PyAny>; N]) -> PyResult<bool>,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls methods with the GIL held (attached thread state).
    let py = unsafe { Python::assume_attached() };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: the caller passes the METH_FASTCALL arguments unchanged.
        let (slf, args) = unsafe { positional::<N>(py, slf, args, nargs, name) }?;
        let state = slf
            .cast::<RunState>()
            .map_err(|_| PyTypeError::new_err(format!("{name}() needs a RunState")))?;
        Ok(boolean(py, method(py, state.get(), args)?))
    }));
    finish(py, name, outcome)
}

unsafe extern "C" fn start_fastcall(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
) -> *mut ffi::PyObject {
    // SAFETY: CPython's METH_FASTCALL arguments, unchanged.
    unsafe {
        call::<1>(slf, args, nargs, "RunState.start", |py, state, [node]| {
            state.start(py, node_index(&node)?)
        })
    }
}

unsafe extern "C" fn complete_fastcall(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
) -> *mut ffi::PyObject {
    // SAFETY: CPython's METH_FASTCALL arguments, unchanged.
    unsafe {
        call::<2>(
            slf,
            args,
            nargs,
            "RunState.complete",
            |py, state, [node, value]| state.complete(py, node_index(&node)?, &value),
        )
    }
}
