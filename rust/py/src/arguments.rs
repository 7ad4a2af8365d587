//! Argument checks for `record` (and the events `__setstate__` restores and trace
//! files load) and for `max_events`: each value's type and range, as behaviour.md 4
//! says, before anything is changed.

use pyo3::exceptions::{PyOverflowError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyString};

use super::errors::bad_argument;
use super::registry::Registry;
use crate::event::{EventKind, StepArg};

/// Optional `record` arguments, type-checked but not yet interned.
pub(crate) struct Checked<'a, 'py> {
    pub kind: EventKind,
    pub node_name: Option<&'a Bound<'py, PyAny>>,
    pub error: Option<&'a Bound<'py, PyAny>>,
    pub step: StepArg,
    pub big_step: Option<Bound<'py, PyAny>>,
    pub duration: Option<f64>,
    pub metadata: Option<Py<PyDict>>,
}

/// Check `record`'s arguments (behaviour.md 4): nothing is changed on error.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn check_arguments<'a, 'py>(
    function: &str,
    registry: &Registry,
    event_type: &'a Bound<'py, PyAny>,
    node_name: Option<&'a Bound<'py, PyAny>>,
    step_index: Option<&'a Bound<'py, PyAny>>,
    duration: Option<&'a Bound<'py, PyAny>>,
    error: Option<&'a Bound<'py, PyAny>>,
    metadata: Option<&'a Bound<'py, PyAny>>,
) -> PyResult<Checked<'a, 'py>> {
    let kind = registry.kind_of(event_type).ok_or_else(|| {
        bad_argument(
            function,
            "event_type",
            "a TraceEventType member",
            event_type,
        )
    })?;
    if let Some(name) = node_name {
        if !name.is_instance_of::<PyString>() {
            return Err(bad_argument(function, "node_name", "str or None", name));
        }
    }
    if let Some(text) = error {
        if !text.is_instance_of::<PyString>() {
            return Err(bad_argument(function, "error", "str or None", text));
        }
    }
    let (step, big_step) = match step_index {
        None => (StepArg::None, None),
        Some(step) => check_step(function, step)?,
    };
    let duration = match duration {
        None => None,
        Some(value) => Some(check_duration(function, value)?),
    };
    let metadata = match metadata {
        None => None,
        Some(dict) => {
            let dict = dict
                .cast::<PyDict>()
                .map_err(|_| bad_argument(function, "metadata", "dict or None", dict))?;
            // An empty dict is not kept: the event gets a fresh {} (behaviour.md 4).
            (!dict.is_empty()).then(|| dict.clone().unbind())
        }
    };
    Ok(Checked {
        kind,
        node_name,
        error,
        step,
        big_step,
        duration,
        metadata,
    })
}

/// A step index (an int, not a bool): `i64`, or the exact int when larger.
#[inline]
pub(crate) fn check_step<'py>(
    function: &str,
    step: &Bound<'py, PyAny>,
) -> PyResult<(StepArg, Option<Bound<'py, PyAny>>)> {
    if !step.is_instance_of::<PyInt>() || step.is_instance_of::<PyBool>() {
        return Err(bad_argument(function, "step_index", "int or None", step));
    }
    let mut overflow = 0;
    // SAFETY: `step` is an int (checked above); the GIL is held.
    let value = unsafe { pyo3::ffi::PyLong_AsLongLongAndOverflow(step.as_ptr(), &mut overflow) };
    if overflow == 0 && !(value == -1 && PyErr::occurred(step.py())) {
        return Ok((StepArg::Int(value), None));
    }
    let _ = PyErr::take(step.py());
    // Too large for i64: keep the exact int object.
    // SAFETY: `step` is an int; PyNumber_Index returns a new reference or NULL.
    let exact = unsafe {
        Bound::from_owned_ptr_or_err(step.py(), pyo3::ffi::PyNumber_Index(step.as_ptr()))
    }?;
    Ok((StepArg::Payload, Some(exact)))
}

#[inline]
pub(crate) fn check_max_events(value: &Bound<'_, PyAny>) -> PyResult<usize> {
    if !value.is_instance_of::<PyInt>() || value.is_instance_of::<PyBool>() {
        return Err(bad_argument(
            "ExecutionTrace",
            "max_events",
            "int or None",
            value,
        ));
    }
    // The int's own value (not a subclass's __index__ or comparisons).
    let mut overflow = 0;
    // SAFETY: `value` is an int (checked above); the GIL is held.
    let n = unsafe { pyo3::ffi::PyLong_AsLongLongAndOverflow(value.as_ptr(), &mut overflow) };
    if overflow == 0 && n == -1 && PyErr::occurred(value.py()) {
        return Err(PyErr::fetch(value.py()));
    }
    if overflow > 0 {
        return Err(PyValueError::new_err(format!(
            "ExecutionTrace() argument 'max_events' is too large: {} (at most {})",
            value.repr()?,
            i64::MAX
        )));
    }
    match usize::try_from(n) {
        Ok(n) if overflow == 0 && n >= 1 => Ok(n),
        _ => Err(PyValueError::new_err(format!(
            "ExecutionTrace() argument 'max_events' must be at least 1, not {}",
            value.repr()?
        ))),
    }
}

/// A duration (int or float) as `f64`; an int too large is an `OverflowError`.
pub(crate) fn check_duration(function: &str, value: &Bound<'_, PyAny>) -> PyResult<f64> {
    if let Ok(float) = value.cast::<PyFloat>() {
        return Ok(float.value());
    }
    if value.is_instance_of::<PyInt>() {
        // The int's own value (not a subclass's __float__), as `float(int(x))`.
        // SAFETY: `value` is an int; the GIL is held.
        let converted = unsafe { pyo3::ffi::PyLong_AsDouble(value.as_ptr()) };
        if converted == -1.0 {
            if let Some(error) = PyErr::take(value.py()) {
                return Err(if error.is_instance_of::<PyOverflowError>(value.py()) {
                    PyOverflowError::new_err(format!(
                        "{function}() argument 'duration' is an int too large to convert to float"
                    ))
                } else {
                    error
                });
            }
        }
        return Ok(converted);
    }
    Err(bad_argument(
        function,
        "duration",
        "int, float or None",
        value,
    ))
}
