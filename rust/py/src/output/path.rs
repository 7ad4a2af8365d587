//! A path destination: the path `dest` names (as `open()` reads it), and the file
//! an export to it writes.
//!
//! A path naming a regular file (or nothing yet) is replaced atomically: each export
//! writes its own exclusively created temporary beside the file (through symlinks,
//! beside their target), with the file's permissions, and renames it into place on
//! success, so readers only ever see one whole export. Any other kind of file (FIFO,
//! device, `/dev/stdout`) is written straight into, as `open(path, "w")` would.

use std::fs::{File, OpenOptions, Permissions};
use std::io::ErrorKind;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use pyo3::exceptions::{PyOSError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::errors::type_name;

/// The temporary an atomic replace writes, and the file it then replaces.
pub(crate) struct Replace {
    temporary: PathBuf,
    destination: PathBuf,
}

impl Replace {
    /// Move the temporary into place once its writing `completed`; remove it if
    /// that failed or the rename fails (`target` is the path as given, for errors).
    pub(super) fn commit(self, completed: PyResult<()>, target: &Path) -> PyResult<()> {
        let Replace {
            temporary,
            destination,
        } = self;
        if let Err(error) = completed {
            let _ = std::fs::remove_file(&temporary);
            return Err(error);
        }
        std::fs::rename(&temporary, &destination).map_err(|e| {
            let _ = std::fs::remove_file(&temporary);
            os_error("rename into", target, e)
        })
    }

    /// Give up: remove the temporary (its file must be closed first).
    pub(super) fn discard(self) {
        let _ = std::fs::remove_file(&self.temporary);
    }
}

/// Open the file an export to `target` writes: the file itself when it is not a
/// regular file (`None`), else a new temporary and the replace it is for.
pub(super) fn open(target: &Path) -> PyResult<(File, Option<Replace>)> {
    let (direct, destination, mode) = resolve(target)?;
    match direct {
        Some(file) => Ok((file, None)),
        None => {
            let (file, temporary) =
                create_temporary(&destination, mode).map_err(|e| os_error("create", target, e))?;
            Ok((
                file,
                Some(Replace {
                    temporary,
                    destination,
                }),
            ))
        }
    }
}

/// An `OSError` (the errno's subclass, e.g. `FileNotFoundError`) naming `path`.
pub(super) fn os_error(action: &str, path: &Path, error: std::io::Error) -> PyErr {
    let message = format!("could not {action} {}: {error}", path.display());
    match error.raw_os_error() {
        Some(errno) => PyOSError::new_err((errno, message, path.to_string_lossy().into_owned())),
        None => PyOSError::new_err(message),
    }
}

/// The path `dest` names, as `open()` reads it: errors raised by `__fspath__`
/// reach the caller unchanged; a NUL in the path is a `ValueError`.
pub(super) fn fs_path(dest: &Bound<'_, PyAny>) -> PyResult<PathBuf> {
    let py = dest.py();
    let os = py.import("os")?;
    let is_path = dest.is_instance_of::<PyString>()
        || dest.is_instance_of::<PyBytes>()
        || dest.get_type().hasattr("__fspath__")?;
    if !is_path {
        return Err(PyTypeError::new_err(format!(
            "dest must be a path or a file object with write(), not {}",
            type_name(dest)
        )));
    }
    let path = os.call_method1("fsdecode", (os.call_method1("fspath", (dest,))?,))?;
    // Through the file system encoding, as open() does: a name that is not valid
    // UTF-8 (its bytes kept as lone surrogates by fsdecode) names the same file.
    let path: PathBuf = path.extract()?;
    if path.as_os_str().as_encoded_bytes().contains(&0) {
        return Err(PyValueError::new_err("embedded null byte"));
    }
    Ok(path)
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
