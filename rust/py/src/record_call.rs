//! `record` as a raw `METH_FASTCALL | METH_KEYWORDS` method (see `fastcall` for
//! why): positional and keyword arguments matched to the six parameters, then
//! `TraceRecorder::record_checked`. Keyword names are matched by identity against
//! the interned parameter names (the names in calling code are interned too), with
//! a by-value comparison as the fallback.

use std::ffi::CStr;
use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::exceptions::{PySystemError, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyString, PyType};

use super::fastcall::{add_method, finish, FastCallWithKeywords, METH_FASTCALL};
use super::recorder::TraceRecorder;

const PARAMETERS: [&str; 6] = [
    "event_type",
    "node_name",
    "step_index",
    "duration",
    "error",
    "metadata",
];

static NAMES: PyOnceLock<[Py<PyString>; 6]> = PyOnceLock::new();

const RECORD_DOC: &CStr = c"record($self, event_type, *, node_name=None, step_index=None, duration=None, error=None, metadata=None)\n--\n\nRecord a trace event. The timestamp is captured now (monotonic clock), relative to the\ntrace's first event.";

/// Install `record` on the class.
pub(crate) fn install(class: &Bound<'_, PyType>) -> PyResult<()> {
    let py = class.py();
    NAMES.get_or_init(py, || {
        PARAMETERS.map(|name| PyString::intern(py, name).unbind())
    });
    let record: FastCallWithKeywords = record_fastcall;
    // SAFETY: CPython calls `ml_meth` with the signature its flags name
    // (METH_FASTCALL | METH_KEYWORDS), which is `record`'s; the union field is
    // only the pointer's storage, and both are plain function pointers.
    let record = unsafe { std::mem::transmute::<FastCallWithKeywords, ffi::PyCFunction>(record) };
    add_method(
        class,
        c"record",
        record,
        METH_FASTCALL | ffi::METH_KEYWORDS,
        RECORD_DOC,
    )
}

/// The recorder a method was called on.
fn recorder<'a, 'py>(
    slf: &'a Bound<'py, PyAny>,
    name: &str,
) -> PyResult<&'a Bound<'py, TraceRecorder>> {
    slf.cast::<TraceRecorder>()
        .map_err(|_| PyTypeError::new_err(format!("{name}() needs an ExecutionTrace")))
}

unsafe extern "C" fn record_fastcall(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls methods with the GIL held (attached thread state).
    let py = unsafe { Python::assume_attached() };
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the arguments come from CPython's vectorcall protocol unchanged.
        unsafe { record(py, slf, args, nargs, kwnames) }
    }));
    finish(
        py,
        "record",
        outcome.map(|result| result.map(|()| py.None().into_bound(py))),
    )
}

/// # Safety
/// The arguments must be those of a METH_FASTCALL | METH_KEYWORDS call.
unsafe fn record(
    py: Python<'_>,
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> PyResult<()> {
    // SAFETY: `slf` is the instance the descriptor was called on (borrowed).
    let slf = unsafe { Bound::from_borrowed_ptr(py, slf) };
    let recorder = recorder(&slf, "record")?;
    let nargs = nargs as usize;
    if nargs > 1 {
        return Err(PyTypeError::new_err(format!(
            "record() takes 1 positional argument but {nargs} were given"
        )));
    }
    let mut values: [Option<Bound<'_, PyAny>>; 6] = Default::default();
    if nargs == 1 {
        // SAFETY: `args` holds `nargs` borrowed references.
        values[0] = Some(unsafe { Bound::from_borrowed_ptr(py, *args) });
    }
    if !kwnames.is_null() {
        let names = NAMES
            .get(py)
            .ok_or_else(|| PySystemError::new_err("record() was not installed"))?;
        // SAFETY: `kwnames` is a tuple of str when not NULL.
        let count = unsafe { ffi::PyTuple_Size(kwnames) } as usize;
        for k in 0..count {
            // SAFETY: k < count; PyTuple_GetItem returns a borrowed reference.
            let name = unsafe { ffi::PyTuple_GetItem(kwnames, k as ffi::Py_ssize_t) };
            // SAFETY: keyword values follow the positional ones in `args`.
            let value = unsafe { Bound::from_borrowed_ptr(py, *args.add(nargs + k)) };
            let slot = match names.iter().position(|n| n.as_ptr() == name) {
                Some(slot) => slot,
                None => find_by_value(py, names, name)?,
            };
            if values[slot].is_some() {
                return Err(PyTypeError::new_err(format!(
                    "record() got multiple values for argument '{}'",
                    PARAMETERS[slot]
                )));
            }
            values[slot] = Some(value);
        }
    }
    let [event_type, node_name, step_index, duration, error, metadata] = &values;
    let Some(event_type) = event_type else {
        return Err(PyTypeError::new_err(
            "record() missing 1 required positional argument: 'event_type'",
        ));
    };
    recorder.get().record_checked(
        py,
        event_type,
        present(node_name),
        present(step_index),
        present(duration),
        present(error),
        present(metadata),
    )
}

/// An argument that was given and is not `None`.
#[inline]
fn present<'a, 'py>(value: &'a Option<Bound<'py, PyAny>>) -> Option<&'a Bound<'py, PyAny>> {
    value.as_ref().filter(|v| !v.is_none())
}

#[cold]
fn find_by_value(
    py: Python<'_>,
    names: &[Py<PyString>; 6],
    name: *mut ffi::PyObject,
) -> PyResult<usize> {
    // SAFETY: `name` is a borrowed reference to a str from `kwnames`.
    let name = unsafe { Bound::from_borrowed_ptr(py, name) };
    for (slot, candidate) in names.iter().enumerate() {
        if name.eq(candidate.bind(py))? {
            return Ok(slot);
        }
    }
    Err(PyTypeError::new_err(format!(
        "record() got an unexpected keyword argument '{}'",
        name.str()?
    )))
}
