//! `RunState`: the executors' per-node state machine for one run (internal to
//! `dagron._steps`, which every executor runs on).
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
//!
//! The run's own frame is here too, so that an interrupt (`KeyboardInterrupt` from
//! a signal handler, which can land between any two bytecodes of the executor)
//! never leaves the trace half-closed: used as a context manager, `__enter__`
//! records `EXECUTION_STARTED` and `__exit__` ends whatever is still open (running
//! nodes, nodes not started, the open step) and records `EXECUTION_COMPLETED`,
//! once; each step's start and end, and each node given up, is one call.

use std::sync::{Mutex, MutexGuard};

use pyo3::exceptions::{PyIndexError, PyRuntimeError, PyTimeoutError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyInt, PyList, PyString, PyType};
use pyo3::{PyTraverseError, PyVisit};

use super::errors::type_name;
use super::fallible;
use super::fastcall::{add_method, finish, positional, FastCall, METH_FASTCALL};
use super::recorder::TraceRecorder;
use crate::clock;
use crate::event::{EventKind, StepArg};

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
    /// What the run's frame needs (see the module comment); None if not given.
    frame: Option<Frame>,
    nodes: usize,
    inner: Mutex<Inner>,
}

/// The node names and the other status values, for the run's frame.
struct Frame {
    names: Py<PyList>,
    pending: Py<PyAny>,
    skipped: Py<PyAny>,
    cancelled: Py<PyAny>,
    timed_out: Py<PyAny>,
}

struct Inner {
    closed: bool,
    /// Clock reading (`clock::monotonic_ns`) at each node's start.
    started_ns: Vec<u64>,
    /// When `__enter__` ran.
    began_ns: Option<u64>,
    /// The step started and not yet completed, and when it started.
    open_step: Option<(i64, u64)>,
    /// The run's duration in seconds, once `__exit__` has run.
    finished: Option<f64>,
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

    /// Record a frame event (no node) now, when traced.
    fn record_frame(
        &self,
        py: Python<'_>,
        now_ns: u64,
        kind: EventKind,
        step: StepArg,
        duration: Option<f64>,
    ) -> PyResult<()> {
        match &self.trace {
            Some(trace) => trace
                .get()
                .record_for_run(py, now_ns, kind, None, step, duration, None, None),
            None => Ok(()),
        }
    }

    /// Record `NODE_SKIPPED` or `NODE_CANCELLED` for `node` now, with
    /// `metadata={"reason": reason}`, when traced.
    fn record_given_up(
        &self,
        py: Python<'_>,
        kind: EventKind,
        node: usize,
        reason: &Bound<'_, PyString>,
    ) -> PyResult<()> {
        let Some(trace) = &self.trace else {
            return Ok(());
        };
        let metadata = fallible::dict(py)?.cast_into::<PyDict>()?;
        metadata.set_item(pyo3::intern!(py, "reason"), reason)?;
        trace.get().record_for_run(
            py,
            clock::monotonic_ns(),
            kind,
            Some(node),
            StepArg::None,
            None,
            None,
            Some(metadata.unbind()),
        )
    }

    fn frame(&self) -> PyResult<&Frame> {
        self.frame.as_ref().ok_or_else(|| {
            PyTypeError::new_err("RunState() was made without names and the other statuses")
        })
    }

    /// End each node in `ended` (indices, durations) with an exception of type
    /// `E` whose message `message(name repr)` gives, recording `kind` with it.
    /// An error raised on the way (a `str` subclass's `__repr__`) is returned
    /// after every node has its event.
    fn end_with_errors<E: pyo3::PyTypeInfo>(
        &self,
        py: Python<'_>,
        ended: &[(usize, f64)],
        kind: EventKind,
        message: impl Fn(&str) -> String,
        raised: &mut Option<PyErr>,
    ) -> PyResult<()> {
        let names = self.frame()?.names.bind(py);
        let type_name = E::type_object(py).name()?.to_string();
        for &(node, duration) in ended {
            let shown = match names.get_item(node).and_then(|name| name.repr()) {
                Ok(shown) => shown.to_string(),
                Err(error) => {
                    raised.get_or_insert(error);
                    "?".to_owned()
                }
            };
            let message = message(&shown);
            let exc = PyErr::from_type(E::type_object(py), message.clone()).into_value(py);
            let old = self.errors.bind(py).get_item(node)?;
            self.errors.bind(py).set_item(node, exc)?;
            drop(old);
            let text = PyString::new(py, &format!("{type_name}: {message}"));
            self.record(
                py,
                clock::monotonic_ns(),
                kind,
                node,
                Some(duration),
                Some(&text),
            )?;
        }
        Ok(())
    }

    /// Close the run (no node starts or ends after this) and make every running
    /// node `outcome`, with its duration until now; returns them with durations.
    fn close_running(
        &self,
        py: Python<'_>,
        outcome: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<(usize, f64)>> {
        let mut released = Released::new();
        let mut inner = self.lock();
        inner.closed = true;
        let now = clock::monotonic_ns();
        let mut ended = Vec::new();
        let result = (|| {
            for node in 0..self.nodes {
                if self.is_running(py, node)? {
                    let duration = clock::seconds_between(inner.started_ns[node], now);
                    let seconds = fallible::float(py, duration)?;
                    replace(self.status.bind(py), node, outcome, &mut released)?;
                    replace(self.durations.bind(py), node, &seconds, &mut released)?;
                    ended.push((node, duration));
                }
            }
            Ok(())
        })();
        drop(inner);
        result.map(|()| ended)
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
            inner: Mutex::new(Inner {
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
    /// becomes `outcome`, with its duration until now; returns their indices, for
    /// the caller to set their errors and record their events.
    fn close(&self, py: Python<'_>, outcome: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
        Ok(self
            .close_running(py, outcome)?
            .into_iter()
            .map(|(node, _)| node)
            .collect())
    }

    /// Whether `close` has run.
    #[getter]
    fn closed(&self) -> bool {
        self.lock().closed
    }

    /// Start the run: record `EXECUTION_STARTED` (when traced) and start its clock.
    fn __enter__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, Self>> {
        let state = slf.get();
        state.frame()?;
        let mut inner = state.lock();
        if inner.began_ns.is_some() {
            return Err(PyValueError::new_err("a RunState frames one run only"));
        }
        let now = clock::monotonic_ns();
        inner.began_ns = Some(now);
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
        let mut inner = self.lock();
        let now = clock::monotonic_ns();
        self.record_frame(py, now, EventKind::StepStarted, StepArg::Int(step), None)?;
        inner.open_step = Some((step, now));
        Ok(())
    }

    /// Record `STEP_COMPLETED` (with the step's duration) for the open step.
    fn step_completed(&self, py: Python<'_>) -> PyResult<()> {
        let mut inner = self.lock();
        let Some((step, began)) = inner.open_step else {
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
        inner.open_step = None;
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
        let inner = self.lock();
        if inner.finished.is_some() {
            return Ok(());
        }
        replace(self.status.bind(py), node, outcome, &mut released)?;
        self.record_given_up(py, kind, node, reason)?;
        drop(inner);
        Ok(())
    }

    /// The run's timeout expired: close the run, and end every running node as
    /// TIMED_OUT with a `TimeoutError` ("node 'x' was still running when the
    /// {timeout_text}s execution timeout expired") and its `NODE_TIMED_OUT`.
    fn time_out(&self, py: Python<'_>, timeout_text: &str) -> PyResult<()> {
        let outcome = self.frame()?.timed_out.bind(py).clone();
        let ended = self.close_running(py, &outcome)?;
        let mut raised = None;
        self.end_with_errors::<PyTimeoutError>(
            py,
            &ended,
            EventKind::NodeTimedOut,
            |name| {
                format!("node {name} was still running when the {timeout_text}s execution timeout expired")
            },
            &mut raised,
        )?;
        raised.map_or(Ok(()), Err)
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
        let mut inner = self.lock();
        if inner.finished.is_some() {
            return Ok(false);
        }
        inner.closed = true;
        let now = clock::monotonic_ns();
        let mut running = Vec::new();
        let mut waiting = Vec::new();
        let result = (|| {
            for node in 0..self.nodes {
                let status = self.status.bind(py).get_item(node)?;
                if status.is(&self.running) {
                    let duration = clock::seconds_between(inner.started_ns[node], now);
                    let seconds = fallible::float(py, duration)?;
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
        let open_step = inner.open_step.take();
        let began = inner.began_ns.unwrap_or(now);
        // Set before anything is recorded: no second call does any of this again.
        inner.finished = Some(0.0);
        drop(inner);
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
