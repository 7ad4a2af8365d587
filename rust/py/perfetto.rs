//! The Python side of the Perfetto and named Chrome exports: argument checks and
//! the sources to draw (a trace recorded in one process: one, named by
//! `process_name`; a merged trace: one per source, named `host:pid`). The writers
//! are `export::perfetto` and `export::chrome`.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use super::metadata::{ChromeObjects, JsonObjects, PyExtra};
use super::output::CHUNK;
use super::recorder::type_name;
use super::strings::str_bytes;
use crate::export::perfetto::{self, Lanes};
use crate::export::{chrome, Out, Source};
use crate::trace::Snapshot;

type PySnapshot<'a> = Snapshot<'a, PyExtra, Py<PyString>>;

/// The snapshot's sources as the writers take them: names and pids, and the map
/// from an event's stored source to its place in that list.
struct SourceNames {
    found: crate::origin::Sources,
    names: Vec<(Vec<u8>, i64)>,
}

impl SourceNames {
    fn of(snapshot: &PySnapshot<'_>, single_name: &[u8]) -> Self {
        let found = snapshot.sources();
        let names = if found.list.len() > 1 {
            found
                .list
                .iter()
                .map(|origin| (origin.display_name().into_bytes(), i64::from(origin.pid)))
                .collect()
        } else {
            let pid = found
                .list
                .first()
                .map_or(std::process::id(), |origin| origin.pid);
            vec![(single_name.to_vec(), i64::from(pid))]
        };
        SourceNames { found, names }
    }

    fn sources(&self) -> Vec<Source<'_>> {
        self.names
            .iter()
            .map(|(name, pid)| Source { name, pid: *pid })
            .collect()
    }
}

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

/// Stream the Perfetto trace of `snapshot` (clock origin `epoch`) to `sink`.
pub(crate) fn write(
    py: Python<'_>,
    snapshot: &PySnapshot<'_>,
    epoch: Option<u64>,
    options: &PerfettoOptions,
    sink: &mut dyn FnMut(&[u8]) -> PyResult<()>,
) -> PyResult<()> {
    let names = SourceNames::of(snapshot, &options.process_name);
    let sources = names.sources();
    let layout = perfetto::Options {
        sources: &sources,
        dropped: snapshot.dropped(),
        lanes: options.lanes,
        clock_origin_ns: epoch.unwrap_or(0),
    };
    let mut out = Out::streaming(sink, CHUNK);
    perfetto::write(
        snapshot,
        |event| names.found.of(event.source) as usize,
        &layout,
        &mut out,
        &mut JsonObjects::new(py)?,
    )?;
    out.finish().map(drop)
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
        .map_err(|_| super::fallible::no_memory(py))?;
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
    let names = SourceNames::of(snapshot, b"dagron");
    let sources = names.sources();
    let mut out = Out::streaming(sink, CHUNK);
    chrome::write_named(
        snapshot,
        |event| names.found.of(event.source) as usize,
        &sources,
        snapshot.dropped(),
        &mut out,
        &mut ChromeObjects,
    )?;
    out.finish().map(drop)
}
