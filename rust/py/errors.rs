//! How the core's errors and bad arguments become Python exceptions: `trace_error`
//! for [`TraceError`], `bad_argument` for an argument of the wrong type, and the
//! type name those messages use. A leaf of the bindings: it uses nothing else of
//! `py` but `new_objects` (for `MemoryError` without allocating).

use pyo3::exceptions::{PyMemoryError, PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::error::TraceError;

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
