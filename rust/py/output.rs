//! Where exports go: a Python `str` written in place, a file path (optionally
//! gzip-compressed, written to a temporary name and renamed on success), or a
//! Python file object. Writers stream fixed-size chunks here, so an export to a
//! file needs memory independent of the trace length.

use std::ffi::c_char;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use flate2::write::GzEncoder;
use flate2::Compression;
use pyo3::exceptions::{PyOSError, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

/// Bytes handed to a sink at a time.
pub(crate) const CHUNK: usize = 1 << 18;

extern "C" {
    // Exported by every CPython 3.3+, outside the limited API. Used only after the
    // self-test in `init` shows the in-place write works on this interpreter.
    fn PyUnicode_New(size: ffi::Py_ssize_t, maxchar: u32) -> *mut ffi::PyObject;
    fn PyUnicode_AsUTF8AndSize(
        unicode: *mut ffi::PyObject,
        size: *mut ffi::Py_ssize_t,
    ) -> *const c_char;
}

static IN_PLACE: AtomicBool = AtomicBool::new(false);

/// Check once that a new ASCII `str` can be filled in place (its UTF-8 form is its
/// own storage, as in every CPython since 3.3); otherwise exports copy instead.
pub(crate) fn init(py: Python<'_>) {
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

    /// Append a chunk; `py` only when the GIL is held (else it is taken to grow).
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

/// A file destination: a path (atomic replace, `.gz` compressed) or a file object.
pub(crate) enum FileOutput<'py> {
    Path {
        writer: FileWriter,
        temporary: PathBuf,
        target: PathBuf,
    },
    Object {
        object: Bound<'py, PyAny>,
        text: bool,
    },
}

pub(crate) enum FileWriter {
    Plain(BufWriter<File>),
    Gzip(GzEncoder<BufWriter<File>>),
}

impl FileWriter {
    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            FileWriter::Plain(writer) => writer.write_all(bytes),
            FileWriter::Gzip(writer) => writer.write_all(bytes),
        }
    }

    /// Write everything out (the gzip trailer included) and close the file.
    fn complete(self) -> std::io::Result<()> {
        let buffered = match self {
            FileWriter::Plain(writer) => writer,
            FileWriter::Gzip(writer) => writer.finish()?,
        };
        let file = buffered.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()
    }
}

/// An `OSError` (the errno's subclass, e.g. `FileNotFoundError`) naming `path`.
fn os_error(action: &str, path: &Path, error: std::io::Error) -> PyErr {
    let message = format!("could not {action} {}: {error}", path.display());
    match error.raw_os_error() {
        Some(errno) => PyOSError::new_err((errno, message, path.to_string_lossy().into_owned())),
        None => PyOSError::new_err(message),
    }
}

impl<'py> FileOutput<'py> {
    pub(crate) fn open(dest: &Bound<'py, PyAny>) -> PyResult<Self> {
        let py = dest.py();
        if dest.hasattr("write")? {
            // Like json.dump, write str, except to files known to take bytes.
            let io = py.import("io")?;
            let binary = dest.is_instance(&io.getattr("BufferedIOBase")?)?
                || dest.is_instance(&io.getattr("RawIOBase")?)?;
            return Ok(FileOutput::Object {
                object: dest.clone(),
                text: !binary,
            });
        }
        let os = py.import("os")?;
        let target: PathBuf = os
            .call_method1("fspath", (dest,))
            .and_then(|path| os.call_method1("fsdecode", (path,)))
            .and_then(|path| path.extract())
            .map_err(|_| {
                PyTypeError::new_err(format!(
                    "dest must be a path or a file object with write(), not {}",
                    super::recorder::type_name(dest)
                ))
            })?;
        let file_name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temporary =
            target.with_file_name(format!(".{file_name}.{}.partial", std::process::id()));
        let file = File::create(&temporary).map_err(|e| os_error("create", &target, e))?;
        let buffered = BufWriter::with_capacity(CHUNK, file);
        let writer = if file_name.ends_with(".gz") {
            FileWriter::Gzip(GzEncoder::new(buffered, Compression::fast()))
        } else {
            FileWriter::Plain(buffered)
        };
        Ok(FileOutput::Path {
            writer,
            temporary,
            target,
        })
    }

    /// Like `open`, for binary exports: a file object is handed `bytes`, and a text
    /// file is refused.
    pub(crate) fn open_binary(dest: &Bound<'py, PyAny>) -> PyResult<Self> {
        let mut output = Self::open(dest)?;
        if let FileOutput::Object { object, text } = &mut output {
            if object.is_instance(&object.py().import("io")?.getattr("TextIOBase")?)? {
                return Err(PyTypeError::new_err(
                    "dest is a text file; this export is binary: open it with 'wb'",
                ));
            }
            *text = false;
        }
        Ok(output)
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) -> PyResult<()> {
        match self {
            FileOutput::Path { writer, target, .. } => writer
                .write_all(bytes)
                .map_err(|e| os_error("write", target, e)),
            FileOutput::Object { object, text } => {
                let py = object.py();
                if *text {
                    // SAFETY: exports are ASCII, hence valid UTF-8.
                    let chunk = PyString::new(py, unsafe { std::str::from_utf8_unchecked(bytes) });
                    object.call_method1("write", (chunk,))?;
                } else {
                    object.call_method1("write", (PyBytes::new(py, bytes),))?;
                }
                Ok(())
            }
        }
    }

    /// Complete the file: flush, finish the gzip stream, move it into place.
    pub(crate) fn finish(self) -> PyResult<()> {
        match self {
            FileOutput::Path {
                writer,
                temporary,
                target,
            } => {
                if let Err(error) = writer.complete().map_err(|e| os_error("write", &target, e)) {
                    let _ = std::fs::remove_file(&temporary);
                    return Err(error);
                }
                std::fs::rename(&temporary, &target).map_err(|e| {
                    let _ = std::fs::remove_file(&temporary);
                    os_error("rename into", &target, e)
                })
            }
            FileOutput::Object { .. } => Ok(()),
        }
    }

    /// Give up: remove the partial file.
    pub(crate) fn abandon(self) {
        if let FileOutput::Path {
            writer, temporary, ..
        } = self
        {
            drop(writer);
            let _ = std::fs::remove_file(&temporary);
        }
    }
}
