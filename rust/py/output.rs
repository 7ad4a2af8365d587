//! Where exports go: a Python `str` written in place, a file path (optionally
//! gzip-compressed), or a Python file object. Writers stream fixed-size chunks
//! here, so an export to a file needs memory independent of the trace length.
//!
//! A path naming a regular file (or nothing yet) is replaced atomically: each export
//! writes its own exclusively created temporary beside the file (through symlinks,
//! beside their target), with the file's permissions, and renames it into place on
//! success, so readers only ever see one whole export. Any other kind of file (FIFO,
//! device, `/dev/stdout`) is written straight into, as `open(path, "w")` would.

use std::ffi::c_char;
use std::fs::{File, OpenOptions, Permissions};
use std::io::{BufWriter, ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use flate2::write::GzEncoder;
use flate2::Compression;
use pyo3::exceptions::{PyBlockingIOError, PyOSError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyMemoryView, PySlice, PyString};

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

/// A file destination: a path or a file object.
pub(crate) enum FileOutput<'py> {
    Path {
        writer: Box<FileWriter>,
        /// The path as given, for error messages.
        target: PathBuf,
        /// `None`: written straight into `target` (not a regular file).
        replace: Option<Replace>,
    },
    Object {
        object: Bound<'py, PyAny>,
        kind: ObjectKind,
        /// Bytes the object has accepted so far (for `BlockingIOError`).
        written: usize,
    },
}

/// The temporary an atomic replace writes, and the file it then replaces.
pub(crate) struct Replace {
    temporary: PathBuf,
    destination: PathBuf,
}

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

    /// Write everything out (the gzip trailer included) and close the file;
    /// `sync` it to disk first (regular files only: FIFOs and ttys refuse fsync).
    fn complete(self, sync: bool) -> std::io::Result<()> {
        let buffered = match self {
            FileWriter::Plain(writer) => writer,
            FileWriter::Gzip(writer) => writer.finish()?,
        };
        let file = buffered.into_inner().map_err(|e| e.into_error())?;
        if sync {
            file.sync_all()?;
        }
        Ok(())
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

/// The path `dest` names, as `open()` reads it: errors raised by `__fspath__`
/// reach the caller unchanged; a NUL in the path is a `ValueError`.
fn fs_path(dest: &Bound<'_, PyAny>) -> PyResult<PathBuf> {
    let py = dest.py();
    let os = py.import("os")?;
    let is_path = dest.is_instance_of::<PyString>()
        || dest.is_instance_of::<PyBytes>()
        || dest.get_type().hasattr("__fspath__")?;
    if !is_path {
        return Err(PyTypeError::new_err(format!(
            "dest must be a path or a file object with write(), not {}",
            super::errors::type_name(dest)
        )));
    }
    let path = os.call_method1("fsdecode", (os.call_method1("fspath", (dest,))?,))?;
    let path: String = path.extract()?;
    if path.contains('\0') {
        return Err(PyValueError::new_err("embedded null byte"));
    }
    Ok(PathBuf::from(path))
}

/// Where a path export goes: `Ok(Some(file))` when the path exists and is not a
/// regular file (written straight into); else `Ok(None)` and the regular file to
/// replace (symlinks followed), with its permission bits if it exists.
fn resolve(target: &Path) -> PyResult<(Option<File>, PathBuf, Option<u32>)> {
    match std::fs::metadata(target) {
        // Not a regular file, or one reached through /proc/*/fd or /dev/fd (such as
        // /dev/stdout redirected to a file): replacing it would leave the holder of
        // that descriptor writing to a file no longer there.
        Ok(meta) if !meta.is_file() || through_descriptor_link(target) => {
            // Opening a FIFO blocks until a reader comes: let other threads run.
            let file = Python::attach(|py| {
                py.detach(|| {
                    OpenOptions::new()
                        .write(true)
                        .create(true)
                        .truncate(true)
                        .open(target)
                })
            })
            .map_err(|e| os_error("open", target, e))?;
            Ok((Some(file), target.to_path_buf(), None))
        }
        Ok(meta) => {
            let destination = std::fs::canonicalize(target).unwrap_or_else(|_| target.into());
            Ok((None, destination, Some(meta.permissions().mode() & 0o7777)))
        }
        // Nothing there, or a dangling symlink: create what the link names.
        Err(_) => Ok((None, dangling_target(target), None)),
    }
}

/// Whether `path`, or a symlink on the way from it, is under `/proc/` or `/dev/fd/`.
fn through_descriptor_link(path: &Path) -> bool {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        if current.starts_with("/proc") || current.starts_with("/dev/fd") {
            return true;
        }
        match std::fs::read_link(&current) {
            Ok(link) => {
                current = match current.parent() {
                    Some(parent) if link.is_relative() => parent.join(link),
                    _ => link,
                }
            }
            Err(_) => return false,
        }
    }
    false
}

/// The path a chain of symlinks starting at `path` ends at (`path` if none).
fn dangling_target(path: &Path) -> PathBuf {
    let mut current = path.to_path_buf();
    // As the kernel does, give up after 40 links (then `open` reports the loop).
    for _ in 0..40 {
        match std::fs::read_link(&current) {
            Ok(link) => {
                current = match current.parent() {
                    Some(parent) if link.is_relative() => parent.join(link),
                    _ => link,
                }
            }
            Err(_) => return current,
        }
    }
    path.to_path_buf()
}

/// Numbers the temporaries of this process, so concurrent exports never share one.
static TEMPORARIES: AtomicU64 = AtomicU64::new(0);

/// Create, exclusively, a new temporary beside `destination`, with permission
/// bits `mode` (those of the file it replaces) or the default for a new file.
fn create_temporary(destination: &Path, mode: Option<u32>) -> std::io::Result<(File, PathBuf)> {
    let name = destination
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    loop {
        let number = TEMPORARIES.fetch_add(1, Ordering::Relaxed);
        let temporary =
            destination.with_file_name(format!(".{name}.{}.{number}.partial", std::process::id()));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        if mode.is_some() {
            // Readable by nobody else until it has the replaced file's bits.
            options.mode(0o600);
        }
        match options.open(&temporary) {
            Ok(file) => {
                if let Some(mode) = mode {
                    if let Err(error) = file.set_permissions(Permissions::from_mode(mode)) {
                        let _ = std::fs::remove_file(&temporary);
                        return Err(error);
                    }
                }
                return Ok((file, temporary));
            }
            // Another process's (or a stale) temporary: take the next number.
            Err(error) if error.kind() == ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(error),
        }
    }
}

impl<'py> FileOutput<'py> {
    pub(crate) fn open(dest: &Bound<'py, PyAny>) -> PyResult<Self> {
        let py = dest.py();
        if dest.hasattr("write")? {
            // Like json.dump, write str, except to files known to take bytes.
            let io = py.import("io")?;
            let kind = if dest.is_instance(&io.getattr("RawIOBase")?)? {
                ObjectKind::Raw
            } else if dest.is_instance(&io.getattr("BufferedIOBase")?)? {
                ObjectKind::Buffered
            } else {
                ObjectKind::Text
            };
            return Ok(FileOutput::Object {
                object: dest.clone(),
                kind,
                written: 0,
            });
        }
        let target = fs_path(dest)?;
        let gzip = target
            .file_name()
            .is_some_and(|name| name.to_string_lossy().ends_with(".gz"));
        let (direct, destination, mode) = resolve(&target)?;
        let (file, replace) = match direct {
            Some(file) => (file, None),
            None => {
                let (file, temporary) = create_temporary(&destination, mode)
                    .map_err(|e| os_error("create", &target, e))?;
                (
                    file,
                    Some(Replace {
                        temporary,
                        destination,
                    }),
                )
            }
        };
        let buffered = BufWriter::with_capacity(CHUNK, file);
        let writer = if gzip {
            FileWriter::Gzip(GzEncoder::new(buffered, Compression::fast()))
        } else {
            FileWriter::Plain(buffered)
        };
        Ok(FileOutput::Path {
            writer: Box::new(writer),
            target,
            replace,
        })
    }

    /// Like `open`, for binary exports: a file object is handed `bytes`, and a text
    /// file is refused.
    pub(crate) fn open_binary(dest: &Bound<'py, PyAny>) -> PyResult<Self> {
        let mut output = Self::open(dest)?;
        if let FileOutput::Object { object, kind, .. } = &mut output {
            if *kind == ObjectKind::Text {
                if object.is_instance(&object.py().import("io")?.getattr("TextIOBase")?)? {
                    return Err(PyTypeError::new_err(
                        "dest is a text file; this export is binary: open it with 'wb'",
                    ));
                }
                // Neither raw nor buffered by class, not text either: hand it bytes.
                *kind = ObjectKind::Buffered;
            }
        }
        Ok(output)
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) -> PyResult<()> {
        match self {
            FileOutput::Path {
                writer,
                target,
                replace,
            } => {
                let result = if replace.is_some() {
                    writer.write_all(bytes)
                } else {
                    // A FIFO's reader may be a thread of this process.
                    Python::attach(|py| py.detach(|| writer.write_all(bytes)))
                };
                result.map_err(|e| os_error("write", target, e))
            }
            FileOutput::Object {
                object,
                kind,
                written,
            } => {
                let py = object.py();
                if *kind == ObjectKind::Text {
                    // SAFETY: exports are ASCII, hence valid UTF-8.
                    let chunk = PyString::new(py, unsafe { std::str::from_utf8_unchecked(bytes) });
                    object.call_method1("write", (chunk,))?;
                    return Ok(());
                }
                write_bytes(object, *kind, bytes, written)
            }
        }
    }

    /// Complete the file: flush, finish the gzip stream, move it into place.
    pub(crate) fn finish(self) -> PyResult<()> {
        match self {
            FileOutput::Path {
                writer,
                target,
                replace,
            } => {
                // The last flush may block (a FIFO's reader may be a thread of
                // this process) and fsync takes a while: let other threads run.
                let sync = replace.is_some();
                let completed = Python::attach(|py| py.detach(|| writer.complete(sync)))
                    .map_err(|e| os_error("write", &target, e));
                let Some(Replace {
                    temporary,
                    destination,
                }) = replace
                else {
                    return completed;
                };
                if let Err(error) = completed {
                    let _ = std::fs::remove_file(&temporary);
                    return Err(error);
                }
                std::fs::rename(&temporary, &destination).map_err(|e| {
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
            writer,
            replace: Some(Replace { temporary, .. }),
            ..
        } = self
        {
            drop(writer);
            let _ = std::fs::remove_file(&temporary);
        }
    }
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
                    super::errors::type_name(&returned)
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
