//! How the core's errors and bad arguments become Python exceptions: `trace_error`
//! for [`TraceError`], `bad_argument` for an argument of the wrong type, and the
//! type name those messages use. A leaf of the bindings: it uses nothing else of
//! `py` but `new_objects` (for `MemoryError` without allocating).

use pyo3::exceptions::{PyMemoryError, PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::error::{AllocError, InternError, TraceError};

/// A Python exception carried through the core's generic code (writers, interning),
/// whose error type must convert from the core's `AllocError` or `InternError`: the
/// orphan rule lets this crate write those conversions only into a type of its own,
/// so `PyErr` travels in this newtype and comes back out with `?`.
pub(crate) struct PyFailure(PyErr);

impl From<AllocError> for PyFailure {
    fn from(error: AllocError) -> PyFailure {
        PyFailure(alloc_error(error))
    }
}

impl From<InternError> for PyFailure {
    fn from(error: InternError) -> PyFailure {
        PyFailure(intern_error(error))
    }
}

impl From<PyErr> for PyFailure {
    fn from(error: PyErr) -> PyFailure {
        PyFailure(error)
    }
}

impl From<PyFailure> for PyErr {
    fn from(failure: PyFailure) -> PyErr {
        failure.0
    }
}

impl PyFailure {
    /// Whether the exception is a `MemoryError`.
    pub(crate) fn is_memory_error(&self, py: Python<'_>) -> bool {
        self.0.is_instance_of::<PyMemoryError>(py)
    }
}

/// A Python-side sink (a file, a `str` being built) as the core's writers take it.
pub(crate) fn core_sink<'a>(
    sink: &'a mut dyn FnMut(&[u8]) -> PyResult<()>,
) -> impl FnMut(&[u8]) -> Result<(), PyFailure> + 'a {
    move |chunk| sink(chunk).map_err(PyFailure)
}

/// The core ran out of memory: `MemoryError`, made without allocating.
#[cold]
pub(crate) fn alloc_error(_: AllocError) -> PyErr {
    Python::attach(super::new_objects::no_memory)
}

/// Interning a string failed (no memory, or the table is full).
#[cold]
fn intern_error(error: InternError) -> PyErr {
    trace_error(error.into())
}

pub(crate) fn trace_error(error: TraceError) -> PyErr {
    match error {
        TraceError::Alloc => Python::attach(super::new_objects::no_memory),
        TraceError::TooManyStrings => {
            PyMemoryError::new_err("too many distinct node names and error strings (limit 2**32)")
        }
        TraceError::InvalidState(reason) => {
            PyValueError::new_err(format!("invalid ExecutionTrace state: {reason}"))
        }
    }
}

pub(crate) fn type_name(object: &Bound<'_, PyAny>) -> String {
    object
        .get_type()
        .name()
        .map(|name| name.to_string())
        .unwrap_or_else(|_| "object".to_owned())
}

#[cold]
pub(crate) fn bad_argument(
    function: &str,
    parameter: &str,
    expected: &str,
    got: &Bound<'_, PyAny>,
) -> PyErr {
    PyTypeError::new_err(format!(
        "{function}() argument '{parameter}' must be {expected}, not {}",
        type_name(got)
    ))
}
