//! An export collected as a Python `str`: written in place into a new ASCII `str`
//! (nobody else sees it until it is finished) where the self-test run at import
//! shows this interpreter allows it, else gathered in a `Vec` and copied at the end.

use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::ffi::{PyUnicode_AsUTF8AndSize, PyUnicode_New};

static IN_PLACE: AtomicBool = AtomicBool::new(false);

/// Self-test, run once at import: check that a new ASCII `str` can be filled in
/// place (its UTF-8 form is its own storage, as in every CPython since 3.3);
/// otherwise exports copy instead.
pub(crate) fn self_test_in_place_str(py: Python<'_>) {
    let works = (|| -> Option<bool> {
        let mut text = AsciiStr::allocate(py, 3).ok()?;
        text.append(py, b"abc").ok()?;
        let text = text.finish(py).ok()?;
        Some(text.to_cow().ok()? == "abc")
    })();
    IN_PLACE.store(works == Some(true), Ordering::Relaxed);
}

/// A `str` being written: ASCII only, owned by us alone until `finish`.
pub(crate) struct AsciiStr {
    object: *mut ffi::PyObject,
    data: *mut u8,
    len: usize,
    capacity: usize,
}

// SAFETY: the object is referenced only by this value; its memory may be written from
// any thread, and it is resized or released only with the GIL (see `append`, `Drop`).
unsafe impl Send for AsciiStr {}

impl AsciiStr {
    fn allocate(py: Python<'_>, capacity: usize) -> PyResult<Self> {
        let capacity = capacity.max(1);
        // SAFETY: plain constructor call; returns a new reference or NULL.
        let object = unsafe { PyUnicode_New(capacity as ffi::Py_ssize_t, 127) };
        if object.is_null() {
            return Err(PyErr::fetch(py));
        }
        let mut text = AsciiStr {
            object,
            data: std::ptr::null_mut(),
            len: 0,
            capacity,
        };
        text.refresh(py)?;
        Ok(text)
    }

    /// Re-read the storage pointer (after creation or a resize).
    fn refresh(&mut self, py: Python<'_>) -> PyResult<()> {
        let mut size = 0;
        // SAFETY: `object` is our live compact ASCII str; for those the UTF-8 form is
        // the character storage itself (no copy is made).
        let data = unsafe { PyUnicode_AsUTF8AndSize(self.object, &mut size) };
        if data.is_null() {
            return Err(PyErr::fetch(py));
        }
        self.data = data as *mut u8;
        Ok(())
    }

    fn resize(&mut self, py: Python<'_>, capacity: usize) -> PyResult<()> {
        // SAFETY: we hold the only reference, so resizing in place is allowed.
        if unsafe { ffi::PyUnicode_Resize(&mut self.object, capacity as ffi::Py_ssize_t) } != 0 {
            self.object = std::ptr::null_mut();
            return Err(PyErr::fetch(py));
        }
        self.capacity = capacity;
        self.refresh(py)
    }

    /// Append ASCII bytes, growing with the GIL held.
    pub(crate) fn append(&mut self, py: Python<'_>, bytes: &[u8]) -> PyResult<()> {
        debug_assert!(bytes.is_ascii());
        let needed = self.len + bytes.len();
        if needed > self.capacity {
            self.resize(py, needed.max(self.capacity * 2))?;
        }
        // SAFETY: `data` has `capacity >= needed` bytes and nobody else sees the str yet.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.data.add(self.len), bytes.len())
        };
        self.len = needed;
        Ok(())
    }

    fn finish(mut self, py: Python<'_>) -> PyResult<Bound<'_, PyString>> {
        if self.len != self.capacity {
            let len = self.len;
            self.resize(py, len)?;
        }
        let object = std::mem::replace(&mut self.object, std::ptr::null_mut());
        // SAFETY: a new reference to a str we finished writing.
        Ok(unsafe { Bound::from_owned_ptr(py, object).cast_into_unchecked::<PyString>() })
    }
}

impl Drop for AsciiStr {
    fn drop(&mut self) {
        if !self.object.is_null() {
            // Release the half-written string (error paths); needs the GIL.
            Python::attach(|_| {
                // SAFETY: we own this reference.
                unsafe { ffi::Py_DecRef(self.object) }
            });
        }
    }
}

/// Collects an export as a `str`, in place when possible.
pub(crate) enum StrOutput {
    InPlace(AsciiStr),
    Copied(Vec<u8>),
}

impl StrOutput {
    pub(crate) fn new(py: Python<'_>, estimate: usize) -> PyResult<Self> {
        if IN_PLACE.load(Ordering::Relaxed) {
            Ok(StrOutput::InPlace(AsciiStr::allocate(py, estimate)?))
        } else {
            Ok(StrOutput::Copied(Vec::with_capacity(estimate)))
        }
    }

    /// Append a chunk; the GIL is taken only when the `str` must grow.
    pub(crate) fn append(&mut self, bytes: &[u8]) -> PyResult<()> {
        match self {
            StrOutput::InPlace(text) => {
                if text.len + bytes.len() <= text.capacity {
                    // SAFETY: room checked; only we see the string.
                    unsafe {
                        std::ptr::copy_nonoverlapping(
                            bytes.as_ptr(),
                            text.data.add(text.len),
                            bytes.len(),
                        )
                    };
                    text.len += bytes.len();
                    Ok(())
                } else {
                    Python::attach(|py| text.append(py, bytes))
                }
            }
            StrOutput::Copied(buffer) => {
                buffer.extend_from_slice(bytes);
                Ok(())
            }
        }
    }

    pub(crate) fn finish(self, py: Python<'_>) -> PyResult<Bound<'_, PyString>> {
        match self {
            StrOutput::InPlace(text) => text.finish(py),
            StrOutput::Copied(buffer) => {
                // SAFETY: exports are ASCII, hence valid UTF-8.
                Ok(PyString::new(py, unsafe {
                    std::str::from_utf8_unchecked(&buffer)
                }))
            }
        }
    }
}
