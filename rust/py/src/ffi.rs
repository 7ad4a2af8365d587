//! The raw CPython C API this crate declares itself: functions every supported
//! CPython exports that pyo3 leaves out of an abi3-py39 build. Every `extern "C"`
//! declaration of the crate is here, once; everything else comes from `pyo3::ffi`.
//! (The `METH_FASTCALL` method types and flag are in `fastcall`.)

use std::ffi::c_char;

use pyo3::ffi;

extern "C" {
    /// A new, uninitialised `str` of `size` code points, none above `maxchar`.
    ///
    /// Exported by every CPython 3.3+, outside the limited API; used only after
    /// `output::self_test_in_place_str` shows that filling a new `str` in place works on this
    /// interpreter.
    pub(crate) fn PyUnicode_New(size: ffi::Py_ssize_t, maxchar: u32) -> *mut ffi::PyObject;

    /// The string's cached UTF-8 form and its length (no copy after the first call),
    /// or NULL with an exception set (lone surrogates).
    ///
    /// Part of the stable ABI only from 3.10, but exported by every CPython 3.x; pyo3
    /// does not declare it for an abi3-py39 build.
    pub(crate) fn PyUnicode_AsUTF8AndSize(
        unicode: *mut ffi::PyObject,
        size: *mut ffi::Py_ssize_t,
    ) -> *const c_char;
}
