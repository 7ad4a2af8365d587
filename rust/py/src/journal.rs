//! The journal's Python functions: `_load_journal`, which restores a decoded
//! journal straight into a fresh trace through the core's `restore`, and
//! `_flush_journals`.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyInt, PyType};

use super::arguments::{check_step, Checked};
use super::load::{fresh_trace, Progress};
use super::new_objects;
use super::recorder::TraceRecorder;
use super::strings::decode;
use crate::event::StepArg;
use crate::trace::{Restored, SavedEvent};
use dagron_core::journal::format::{self, JournalStep};

/// `_load_journal(cls, data, name, progress=None, decompressed=False) -> (trace,
/// lost_bytes)`: a new trace of `cls` holding the events of a journal, and how many
/// bytes of a cut last block were dropped. Errors are `ValueError`s naming `name`
/// and the offset (`decompressed`: `data` was gunzipped, and offsets are said to be
/// in the decompressed data). `progress(done, total)` is called every 65,536 events
/// and at the end.
#[pyfunction]
#[pyo3(signature = (cls, data, name, progress = None, decompressed = false))]
pub(crate) fn _load_journal<'py>(
    cls: &Bound<'py, PyType>,
    data: &Bound<'py, PyBytes>,
    name: &str,
    progress: Option<&Bound<'py, PyAny>>,
    decompressed: bool,
) -> PyResult<(Bound<'py, TraceRecorder>, usize)> {
    let py = cls.py();
    // Not detached: `data` is a Python object, and bytes are immutable but the
    // buffer is only guaranteed while the GIL keeps it alive.
    let decoded = format::decode(data.as_bytes()).map_err(|error| {
        let of = if decompressed {
            " of the decompressed data"
        } else {
            ""
        };
        PyValueError::new_err(format!(
            "{name}: {} at offset {}{of}",
            error.reason, error.offset
        ))
    })?;
    let strings = decoded
        .strings
        .iter()
        .enumerate()
        .map(|(id, text)| {
            decode(py, text).map(Bound::into_any).map_err(|_| {
                PyValueError::new_err(format!("{name}: string {id} is not valid UTF-8"))
            })
        })
        .collect::<PyResult<Vec<_>>>()?;
    let trace = fresh_trace(cls)?;
    let recorder = trace.get();
    let json_loads = py.import("json")?.getattr("loads")?;
    let int = py.get_type::<PyInt>();
    let signed = PyDict::new(py);
    signed.set_item("signed", true)?;
    let progress = Progress {
        callback: progress,
        total: decoded.events.len(),
    };
    let mut saved = Vec::new();
    saved
        .try_reserve_exact(decoded.events.len())
        .map_err(|_| new_objects::no_memory(py))?;
    for (position, event) in decoded.events.iter().enumerate() {
        progress.checkpoint(py, position)?;
        let (step, big_step) = match &event.step {
            JournalStep::None => (StepArg::None, None),
            JournalStep::Int(value) => (StepArg::Int(*value), None),
            // The decoder checked: ASCII digits, maybe a sign.
            JournalStep::Big(text) => check_step(
                "__setstate__",
                &int.call1((String::from_utf8_lossy(text),))?,
            )?,
            JournalStep::BigBytes(bytes) => check_step(
                "__setstate__",
                &int.call_method(
                    "from_bytes",
                    (PyBytes::new(py, bytes), "little"),
                    Some(&signed),
                )?,
            )?,
        };
        let metadata = match &event.metadata {
            Some(text) => {
                let value = json_loads.call1((PyBytes::new(py, text),)).ok();
                let dict = value.and_then(|value| value.cast_into::<PyDict>().ok());
                let dict = dict.ok_or_else(|| {
                    PyValueError::new_err(format!(
                        "{name}: event {position}: metadata is not a JSON object"
                    ))
                })?;
                // An empty dict is not kept: the event gets a fresh {} (behaviour.md 4).
                (!dict.is_empty()).then(|| dict.unbind())
            }
            None => None,
        };
        let string = |id: Option<u32>| id.map(|id| &strings[id as usize]);
        let checked = Checked {
            kind: event.kind,
            node_name: string(event.node),
            error: string(event.error),
            step,
            big_step,
            duration: event.duration,
            metadata,
        };
        saved.push(SavedEvent {
            ts: event.ts,
            event: recorder.new_event(py, checked)?,
        });
    }
    progress.done()?;
    let restored = Restored {
        epoch: None,
        origin: decoded.origin,
        dropped: decoded.dropped,
        provenance: None,
    };
    recorder.restore(restored, saved).map_err(|error| {
        if error.is_instance_of::<PyValueError>(py) || error.is_instance_of::<PyTypeError>(py) {
            let text = error
                .value(py)
                .str()
                .map(|text| text.to_string_lossy().into_owned());
            PyValueError::new_err(format!("{name}: {}", text.unwrap_or_default()))
        } else {
            error
        }
    })?;
    Ok((trace, decoded.lost_bytes))
}

/// Flush every journal (registered with `atexit`, so that a normal exit loses
/// nothing recorded, and warns of any journal that failed).
#[pyfunction]
pub(crate) fn _flush_journals(py: Python<'_>) -> PyResult<()> {
    super::journal_live::flush_all(py)
}
