//! Object constructors that report a failed allocation as `MemoryError`.
//!
//! pyo3's infallible constructors (`PyFloat::new`, ...) panic when CPython returns
//! NULL, and a panic while memory is exhausted aborts the process. These return the
//! error instead; `no_memory` raises `MemoryError` without allocating (CPython keeps
//! instances for exactly this), where `PyMemoryError::new_err` would box its message.

use pyo3::ffi;
use pyo3::prelude::*;

/// A new reference from CPython, or the exception it set.
fn owned(py: Python<'_>, object: *mut ffi::PyObject) -> PyResult<Bound<'_, PyAny>> {
    // SAFETY: callers pass the result of a CPython constructor: a new reference, or
    // NULL with an exception set.
    unsafe { Bound::from_owned_ptr_or_err(py, object) }
}

pub(crate) fn float(py: Python<'_>, value: f64) -> PyResult<Bound<'_, PyAny>> {
    // SAFETY: plain constructor; the GIL is held.
    owned(py, unsafe { ffi::PyFloat_FromDouble(value) })
}

pub(crate) fn int(py: Python<'_>, value: i64) -> PyResult<Bound<'_, PyAny>> {
    // SAFETY: plain constructor; the GIL is held.
    owned(py, unsafe { ffi::PyLong_FromLongLong(value) })
}

pub(crate) fn dict(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    // SAFETY: plain constructor; the GIL is held.
    owned(py, unsafe { ffi::PyDict_New() })
}

/// `MemoryError` if an earlier allocation had to use the emergency reserve and it
/// cannot be set aside again yet (see `crate::alloc`).
#[inline]
pub(crate) fn check_reserve(py: Python<'_>) -> PyResult<()> {
    if crate::alloc::reserve_spent() && !crate::alloc::refill() {
        return Err(no_memory(py));
    }
    Ok(())
}

/// A new tuple of `items`, or `MemoryError`.
pub(crate) fn tuple<'py>(
    py: Python<'py>,
    items: &[Option<Bound<'py, PyAny>>],
) -> PyResult<Bound<'py, PyAny>> {
    // SAFETY: plain constructor; the GIL is held.
    let tuple = owned(py, unsafe {
        ffi::PyTuple_New(items.len() as ffi::Py_ssize_t)
    })?;
    for (position, item) in items.iter().enumerate() {
        let item = item.clone().unwrap_or_else(|| py.None().into_bound(py));
        // SAFETY: a fresh tuple of this length; SetItem steals the new reference.
        unsafe {
            ffi::PyTuple_SetItem(tuple.as_ptr(), position as ffi::Py_ssize_t, item.into_ptr())
        };
    }
    Ok(tuple)
}

/// `MemoryError`, raised the way CPython raises it when nothing can be allocated.
#[cold]
pub(crate) fn no_memory(py: Python<'_>) -> PyErr {
    // SAFETY: sets the error indicator; the GIL is held.
    unsafe { ffi::PyErr_NoMemory() };
    PyErr::fetch(py)
}
