//! A file export's destination, a path or a Python file object, behind one
//! `write` and `finish`: a path's file is written through a buffer (gzip-compressed
//! for a `.gz` name) and, for a regular file, moved into place at the end (see
//! `path`); a file object is handed each chunk (see `file_object`).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use flate2::write::GzEncoder;
use flate2::Compression;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

use super::file_object::{write_chunk, ObjectKind};
use super::path::{self, fs_path, os_error, Replace};

/// Bytes handed to a sink at a time.
pub(crate) const CHUNK: usize = 1 << 18;

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

/// A path export's open file, written through a buffer (and gzip, for `.gz`).
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

impl<'py> FileOutput<'py> {
    pub(crate) fn open(dest: &Bound<'py, PyAny>) -> PyResult<Self> {
        if dest.hasattr("write")? {
            return Ok(FileOutput::Object {
                object: dest.clone(),
                kind: ObjectKind::of(dest)?,
                written: 0,
            });
        }
        let target = fs_path(dest)?;
        let gzip = target
            .file_name()
            .is_some_and(|name| name.to_string_lossy().ends_with(".gz"));
        let (file, replace) = path::open(&target)?;
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
            } => write_chunk(object, *kind, bytes, written),
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
                match replace {
                    Some(replace) => replace.commit(completed, &target),
                    None => completed,
                }
            }
            FileOutput::Object { .. } => Ok(()),
        }
    }

    /// Give up: remove the partial file.
    pub(crate) fn abandon(self) {
        if let FileOutput::Path {
            writer,
            replace: Some(replace),
            ..
        } = self
        {
            drop(writer);
            replace.discard();
        }
    }
}
