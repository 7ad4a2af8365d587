//! `RunState.start` and `RunState.complete`, the executor's per-node calls, as raw
//! `METH_FASTCALL` methods (`crate::fastcall` says why).

use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyType;

use super::nodes::{node_index, RunState};
use crate::fastcall::{add_method, finish, positional, FastCall, METH_FASTCALL};

const START_DOC: &std::ffi::CStr = c"start($self, node, /)\n--\n\nMark node index `node` RUNNING (recording NODE_STARTED when traced) and\nreturn True; False once the run is closed.";

const COMPLETE_DOC: &std::ffi::CStr = c"complete($self, node, value, /)\n--\n\nEnd running node `node` as COMPLETED with result `value` (recording\nNODE_COMPLETED when traced) and return True; False if it is no longer running.";

/// Install the per-node methods as raw METH_FASTCALL methods.
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
