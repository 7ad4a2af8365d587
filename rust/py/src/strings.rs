//! Python `str` to the core's generalized UTF-8 bytes and back, without copying in
//! the common case.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use super::ffi::PyUnicode_AsUTF8AndSize;

/// The bytes of a `str`: borrowed from the string's UTF-8 cache, or owned when the
/// string holds lone surrogates (which UTF-8 cannot hold; encoded as `surrogatepass`).
pub(crate) enum StrBytes<'py> {
    Borrowed(&'py [u8]),
    Owned(Bound<'py, PyBytes>),
}

impl StrBytes<'_> {
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            StrBytes::Borrowed(bytes) => bytes,
            StrBytes::Owned(bytes) => bytes.as_bytes(),
        }
    }
}

/// The generalized UTF-8 bytes of `text`, which must be a `str` (or subclass).
#[inline]
pub(crate) fn str_bytes<'a, 'py>(text: &'a Bound<'py, PyAny>) -> PyResult<StrBytes<'a>> {
    let mut size: ffi::Py_ssize_t = 0;
    // SAFETY: `text` is a live str object (checked by the caller) and the GIL is held.
    let data = unsafe { PyUnicode_AsUTF8AndSize(text.as_ptr(), &mut size) };
    if !data.is_null() {
        // SAFETY: CPython keeps the UTF-8 buffer alive as long as the string object,
        // which `text` keeps alive for 'a.
        return Ok(StrBytes::Borrowed(unsafe {
            std::slice::from_raw_parts(data.cast::<u8>(), size as usize)
        }));
    }
    surrogate_bytes(text)
}

#[cold]
fn surrogate_bytes<'a>(text: &'a Bound<'_, PyAny>) -> PyResult<StrBytes<'a>> {
    let py = text.py();
    // Drop the UnicodeEncodeError from the fast path.
    let _ = PyErr::take(py);
    // SAFETY: `text` is a str, the codec and error names are NUL-terminated literals.
    let encoded = unsafe {
        ffi::PyUnicode_AsEncodedString(text.as_ptr(), c"utf-8".as_ptr(), c"surrogatepass".as_ptr())
    };
    // SAFETY: a new reference or NULL with an exception set.
    let encoded = unsafe { Bound::from_owned_ptr_or_err(py, encoded) }?;
    Ok(StrBytes::Owned(encoded.cast_into::<PyBytes>()?))
}

/// An exact `str` with the same content as `text` (itself when it is exact).
pub(crate) fn exact_str(text: &Bound<'_, PyAny>, bytes: &[u8]) -> PyResult<Py<PyString>> {
    if text.is_exact_instance_of::<PyString>() {
        // SAFETY: just checked.
        return Ok(unsafe { text.clone().cast_into_unchecked::<PyString>() }.unbind());
    }
    Ok(decode(text.py(), bytes)?.unbind())
}

/// Decode generalized UTF-8 into a `str`.
pub(crate) fn decode<'py>(py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyString>> {
    // SAFETY: pointer and length describe `bytes`; the error name is a literal.
    let text = unsafe {
        ffi::PyUnicode_DecodeUTF8(
            bytes.as_ptr().cast(),
            bytes.len() as ffi::Py_ssize_t,
            c"surrogatepass".as_ptr(),
        )
    };
    // SAFETY: a new reference or NULL with an exception set.
    let text = unsafe { Bound::from_owned_ptr_or_err(py, text) }?;
    // SAFETY: PyUnicode_DecodeUTF8 returns a str.
    Ok(unsafe { text.cast_into_unchecked::<PyString>() })
}
