//! General `METH_FASTCALL` plumbing for the methods on the recording path: adding
//! a raw method to a class, taking `self` and positional arguments, and handing a
//! result (or an exception, or a panic) back to CPython. `record_call` (`record`)
//! and `run` (the executor's hot methods) build on it.
//!
//! Why not `#[pymethods]`: for an abi3-py39 build, pyo3 cannot use vectorcall, so
//! each call builds an argument tuple (and a dict for keywords), and it matches
//! each keyword by converting its name with `PyUnicode_AsUTF8String` (a new bytes
//! object per keyword, per call), which made keyword calls 3-4x slower than the
//! recording itself.

use std::ffi::{c_char, c_int, CStr};

use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::panic::PanicException;
use pyo3::prelude::*;
use pyo3::types::PyType;

/// In the stable ABI from 3.10 but supported by every CPython 3.7+.
pub(crate) const METH_FASTCALL: c_int = 0x0080;

/// A `METH_FASTCALL | METH_KEYWORDS` method.
pub(crate) type FastCallWithKeywords = unsafe extern "C" fn(
    *mut ffi::PyObject,
    *const *mut ffi::PyObject,
    ffi::Py_ssize_t,
    *mut ffi::PyObject,
) -> *mut ffi::PyObject;

/// A `METH_FASTCALL` method.
pub(crate) type FastCall = unsafe extern "C" fn(
    *mut ffi::PyObject,
    *const *mut ffi::PyObject,
    ffi::Py_ssize_t,
) -> *mut ffi::PyObject;

pub(crate) fn add_method(
    class: &Bound<'_, PyType>,
    name: &'static CStr,
    method: ffi::PyCFunction,
    flags: c_int,
    doc: &'static CStr,
) -> PyResult<()> {
    let definition = Box::leak(Box::new(ffi::PyMethodDef {
        ml_name: name.as_ptr(),
        ml_meth: ffi::PyMethodDefPointer {
            PyCFunction: method,
        },
        ml_flags: flags,
        ml_doc: doc.as_ptr() as *const c_char,
    }));
    // SAFETY: `class` is a live type object and `definition` lives forever (leaked).
    let descriptor = unsafe { ffi::PyDescr_NewMethod(class.as_ptr().cast(), definition) };
    // SAFETY: a new reference or NULL with an exception set.
    let descriptor = unsafe { Bound::from_owned_ptr_or_err(class.py(), descriptor) }?;
    class.setattr(name.to_string_lossy().as_ref(), descriptor)
}

/// Hand a method's outcome to CPython: a new reference, or NULL with the exception
/// set.
pub(crate) fn finish(
    py: Python<'_>,
    name: &str,
    outcome: std::thread::Result<PyResult<Bound<'_, PyAny>>>,
) -> *mut ffi::PyObject {
    match outcome {
        Ok(Ok(value)) => value.into_ptr(),
        Ok(Err(error)) => {
            error.restore(py);
            std::ptr::null_mut()
        }
        Err(_) => {
            PanicException::new_err(format!("panic in {name}")).restore(py);
            std::ptr::null_mut()
        }
    }
}

/// `self` and exactly `N` positional arguments, borrowed.
///
/// # Safety
/// The arguments must be those of a METH_FASTCALL call.
pub(crate) unsafe fn positional<'py, const N: usize>(
    py: Python<'py>,
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    name: &str,
) -> PyResult<(Bound<'py, PyAny>, [Bound<'py, PyAny>; N])> {
    if nargs as usize != N {
        return Err(PyTypeError::new_err(format!(
            "{name}() takes exactly {N} positional argument{} ({nargs} given)",
            if N == 1 { "" } else { "s" }
        )));
    }
    // SAFETY: `slf` is the instance the descriptor was called on, and `args` holds
    // `nargs` (= N) borrowed references.
    unsafe {
        Ok((
            Bound::from_borrowed_ptr(py, slf),
            std::array::from_fn(|k| Bound::from_borrowed_ptr(py, *args.add(k))),
        ))
    }
}
