//! A Python file object as an export's destination: what its `write` takes
//! (`str`, or bytes with the buffered or the raw file's protocol), and handing it
//! each chunk the way `json.dump` and `io.BufferedWriter` would.

use pyo3::exceptions::{PyBlockingIOError, PyOSError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyMemoryView, PySlice, PyString};

use crate::errors::type_name;

/// What a file object's `write` takes and how it reports what it took.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum ObjectKind {
    /// `str` chunks, return value ignored (as `json.dump` does).
    Text,
    /// `io.BufferedIOBase`: bytes; a short count is continued.
    Buffered,
    /// `io.RawIOBase`: bytes; may take fewer than offered, `None` if it would block.
    Raw,
}

impl ObjectKind {
    /// Like json.dump, write str, except to files known to take bytes.
    pub(super) fn of(object: &Bound<'_, PyAny>) -> PyResult<Self> {
        let io = object.py().import("io")?;
        Ok(if object.is_instance(&io.getattr("RawIOBase")?)? {
            ObjectKind::Raw
        } else if object.is_instance(&io.getattr("BufferedIOBase")?)? {
            ObjectKind::Buffered
        } else {
            ObjectKind::Text
        })
    }
}

/// Hand one chunk to a file object's `write`, as `kind` says it takes it;
/// `written` counts the bytes it has accepted so far (for `BlockingIOError`).
pub(super) fn write_chunk(
    object: &Bound<'_, PyAny>,
    kind: ObjectKind,
    bytes: &[u8],
    written: &mut usize,
) -> PyResult<()> {
    if kind == ObjectKind::Text {
        // SAFETY: exports are ASCII, hence valid UTF-8.
        let chunk = PyString::new(object.py(), unsafe { std::str::from_utf8_unchecked(bytes) });
        object.call_method1("write", (chunk,))?;
        return Ok(());
    }
    write_bytes(object, kind, bytes, written)
}

/// Hand `bytes` to a binary file object's `write` until it has taken them all,
/// as `io.BufferedWriter` does with a raw file: a short count is followed by a
/// call with the rest; `None` from a raw file (it would block) raises
/// `BlockingIOError` with `characters_written`.
fn write_bytes(
    object: &Bound<'_, PyAny>,
    kind: ObjectKind,
    bytes: &[u8],
    written: &mut usize,
) -> PyResult<()> {
    let py = object.py();
    let chunk = PyBytes::new(py, bytes);
    let mut view: Option<Bound<'_, PyAny>> = None;
    let mut offset = 0;
    while offset < bytes.len() {
        let remaining = bytes.len() - offset;
        let returned = if offset == 0 {
            object.call_method1("write", (&chunk,))?
        } else {
            // The rest without copying it: a memoryview slice, as BufferedWriter passes.
            let whole = match &view {
                Some(whole) => whole,
                None => view.insert(PyMemoryView::from(chunk.as_any())?.into_any()),
            };
            let rest =
                whole.get_item(PySlice::new(py, offset as isize, bytes.len() as isize, 1))?;
            object.call_method1("write", (rest,))?
        };
        if returned.is_none() {
            if kind == ObjectKind::Raw {
                return Err(PyBlockingIOError::new_err((
                    libc::EAGAIN,
                    "write could not complete without blocking",
                    *written,
                )));
            }
            // A buffered file takes everything or raises; None is a write()
            // that does not report a count.
            *written += remaining;
            return Ok(());
        }
        let taken = match returned.extract::<isize>() {
            Ok(taken) => taken,
            Err(_) if kind == ObjectKind::Buffered => remaining as isize,
            Err(_) => {
                return Err(PyTypeError::new_err(format!(
                    "write() should return an int or None, not {}",
                    type_name(&returned)
                )))
            }
        };
        if taken <= 0 || taken as usize > remaining {
            return Err(PyOSError::new_err(format!(
                "write() returned invalid length {taken} (should have been between 1 and \
                 {remaining})"
            )));
        }
        offset += taken as usize;
        *written += taken as usize;
    }
    Ok(())
}
