//! The Python side of the Perfetto and named Chrome exports: argument checks, and
//! the process groups to draw: a plain trace's one (named by `process_name`, or
//! `dagron` in Chrome JSON), or a merged trace's one per source (`host:pid`, see
//! `export::sources_for`). The writers are `export::perfetto` and `export::chrome`.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use super::errors::type_name;
use super::metadata::{ChromePayloadWriter, JsonPayloadWriter};
use super::output::CHUNK;
use super::payload::PyExtra;
use super::strings::str_bytes;
use crate::export::perfetto::{self, Lanes};
use crate::export::{chrome, distinct_pids, sources_for, NamedSource, OutputBuffer, Source};
use crate::origin::Sources;
use crate::trace::Snapshot;

type PySnapshot<'a> = Snapshot<'a, PyExtra, Py<PyString>>;

/// `to_perfetto` / `write_perfetto` keyword arguments, checked.
pub(crate) struct PerfettoOptions {
    process_name: Vec<u8>,
    lanes: Lanes,
}

impl PerfettoOptions {
    pub(crate) fn check(
        function: &str,
        process_name: Option<&Bound<'_, PyAny>>,
        lanes: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let process_name = match process_name {
            None => b"dagron".to_vec(),
            Some(name) if name.is_instance_of::<PyString>() => str_bytes(name)?.as_bytes().to_vec(),
            Some(other) => {
                return Err(PyTypeError::new_err(format!(
                    "{function}() argument 'process_name' must be str, not {}",
                    type_name(other)
                )))
            }
        };
        let lanes = match lanes {
            None => Lanes::Compact,
            Some(value) => {
                if !value.is_instance_of::<PyString>() {
                    return Err(PyTypeError::new_err(format!(
                        "{function}() argument 'lanes' must be str, not {}",
                        type_name(value)
                    )));
                }
                match str_bytes(value)?.as_bytes() {
                    b"compact" => Lanes::Compact,
                    b"node" => Lanes::PerNode,
                    _ => {
                        return Err(PyValueError::new_err(format!(
                            "{function}() argument 'lanes' must be 'compact' or 'node', not {}",
                            value.repr()?
                        )))
                    }
                }
            }
        };
        Ok(PerfettoOptions {
            process_name,
            lanes,
        })
    }
}

/// The process groups of an export: one per source of a merged trace, or
/// `plain` for a trace whose events all come from one process (or none).
fn process_groups(sources: &Sources, plain: impl FnOnce() -> NamedSource) -> Vec<NamedSource> {
    if sources.list.len() > 1 {
        sources_for(&sources.list)
    } else {
        vec![plain()]
    }
}

/// Stream the Perfetto trace of `snapshot` (clock origin `epoch`) to `sink`.
pub(crate) fn write(
    py: Python<'_>,
    snapshot: &PySnapshot<'_>,
    epoch: Option<u64>,
    options: &PerfettoOptions,
    sink: &mut dyn FnMut(&[u8]) -> PyResult<()>,
) -> PyResult<()> {
    let sources = snapshot.sources();
    let origin = snapshot.origin();
    let groups = process_groups(&sources, || NamedSource {
        name: options.process_name.clone(),
        // Where it was recorded (pid 0, unknown for a trace loaded from JSON, as 1,
        // like a merged trace's); this process before any event.
        pid: match &origin {
            Some(origin) => distinct_pids(&[origin.pid])[0],
            None => i64::from(std::process::id()),
        },
    });
    let borrowed: Vec<Source<'_>> = groups.iter().map(NamedSource::borrow).collect();
    let layout = perfetto::Options {
        sources: &borrowed,
        dropped: snapshot.dropped(),
        lanes: options.lanes,
        // Timestamp 0.0 is the origin's instant (for a merged trace, that of the
        // trace it was aligned on); the epoch only for a trace with no origin yet.
        clock_origin_ns: origin.map_or(epoch.unwrap_or(0), |origin| origin.monotonic_ns),
    };
    let mut sink = crate::errors::core_sink(sink);
    let mut out = OutputBuffer::streaming(&mut sink, CHUNK);
    perfetto::write(
        snapshot,
        |event| sources.of(event.source) as usize,
        &layout,
        &mut out,
        &mut JsonPayloadWriter::new(py)?,
    )?;
    Ok(out.finish().map(drop)?)
}

/// The Perfetto trace as `bytes`.
pub(crate) fn to_bytes<'py>(
    py: Python<'py>,
    snapshot: &PySnapshot<'_>,
    epoch: Option<u64>,
    options: &PerfettoOptions,
) -> PyResult<Bound<'py, PyBytes>> {
    let mut bytes = Vec::new();
    bytes
        .try_reserve(snapshot.len().saturating_mul(perfetto::EVENT_SIZE_HINT) + 256)
        .map_err(|_| super::new_objects::no_memory(py))?;
    write(py, snapshot, epoch, options, &mut |chunk| {
        bytes.extend_from_slice(chunk);
        Ok(())
    })?;
    Ok(PyBytes::new(py, &bytes))
}

/// `to_chrome_trace(named=True)` into `sink` (no Python object is touched).
pub(crate) fn write_named_chrome(
    snapshot: &PySnapshot<'_>,
    sink: &mut dyn FnMut(&[u8]) -> PyResult<()>,
) -> PyResult<()> {
    let sources = snapshot.sources();
    // A plain trace keeps the documented output's pid 1.
    let groups = process_groups(&sources, || NamedSource {
        name: b"dagron".to_vec(),
        pid: 1,
    });
    let borrowed: Vec<Source<'_>> = groups.iter().map(NamedSource::borrow).collect();
    let mut sink = crate::errors::core_sink(sink);
    let mut out = OutputBuffer::streaming(&mut sink, CHUNK);
    chrome::write_named(
        snapshot,
        |event| sources.of(event.source) as usize,
        &borrowed,
        snapshot.dropped(),
        &mut out,
        &mut ChromePayloadWriter,
    )?;
    Ok(out.finish().map(drop)?)
}
