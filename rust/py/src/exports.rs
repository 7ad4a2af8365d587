//! The plumbing of the recorder's exports: a snapshot through the core's JSON or
//! Chrome writer into a Python `str` or a file, streamed in chunks, with nothing
//! left under the file's name when writing fails.

use pyo3::prelude::*;
use pyo3::types::PyString;

use super::metadata::{ChromePayloadWriter, JsonPayloadWriter};
use super::output::{FileOutput, StrOutput, CHUNK};
use super::perfetto;
use super::recorder::PySnapshot;
use crate::export::{self, OutputBuffer};

pub(crate) fn chrome_string<'py>(
    py: Python<'py>,
    snapshot: &PySnapshot<'_>,
    named: bool,
) -> PyResult<Bound<'py, PyString>> {
    let mut output = StrOutput::new(py, snapshot.len() * export::chrome::EVENT_SIZE_HINT + 32)?;
    // No Python object is touched: other threads may run (and record) meanwhile.
    py.detach(|| write_chrome(snapshot, named, &mut |chunk| output.append(chunk)))?;
    output.finish(py)
}

pub(crate) fn write_json(
    py: Python<'_>,
    snapshot: &PySnapshot<'_>,
    sink: &mut dyn FnMut(&[u8]) -> PyResult<()>,
) -> PyResult<()> {
    let mut sink = crate::errors::core_sink(sink);
    let mut out = OutputBuffer::streaming(&mut sink, CHUNK);
    export::json::write(snapshot, &mut out, &mut JsonPayloadWriter::new(py)?)?;
    Ok(out.finish().map(drop)?)
}

pub(crate) fn write_chrome(
    snapshot: &PySnapshot<'_>,
    named: bool,
    sink: &mut dyn FnMut(&[u8]) -> PyResult<()>,
) -> PyResult<()> {
    if named {
        return perfetto::write_named_chrome(snapshot, sink);
    }
    let mut sink = crate::errors::core_sink(sink);
    let mut out = OutputBuffer::streaming(&mut sink, CHUNK);
    export::chrome::write(snapshot, &mut out, &mut ChromePayloadWriter)?;
    Ok(out.finish().map(drop)?)
}

/// Run `write` into the file `dest`; on error nothing is left under its name.
pub(crate) fn to_file(
    dest: &Bound<'_, PyAny>,
    write: impl FnOnce(&mut dyn FnMut(&[u8]) -> PyResult<()>) -> PyResult<()>,
) -> PyResult<()> {
    write_to(FileOutput::open(dest)?, write)
}

/// Run `write` into `file`; on error nothing is left under its name.
pub(crate) fn write_to(
    mut file: FileOutput<'_>,
    write: impl FnOnce(&mut dyn FnMut(&[u8]) -> PyResult<()>) -> PyResult<()>,
) -> PyResult<()> {
    match write(&mut |chunk| file.write(chunk)) {
        Ok(()) => file.finish(),
        Err(error) => {
            file.abandon();
            Err(error)
        }
    }
}
