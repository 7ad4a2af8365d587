//! The journal's Python functions: `read_journal`, which turns a decoded journal
//! into a pickle-style state, and `_flush_journals`.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

use super::new_objects;
use super::provenance::origin_tuple;
use super::strings::decode;
use dagron_core::journal::format::{self, JournalStep};

/// `read_journal(data, name, progress=None, decompressed=False) -> (state,
/// lost_bytes)`: the events of a journal as an `ExecutionTrace` state (see
/// `state`), and how many bytes of a cut last block were dropped. Errors name
/// `name` and the offset (`decompressed`: `data` was gunzipped, and offsets are
/// said to be in the decompressed data). `progress(done, total)` is called every
/// 65,536 events and at the end.
#[pyfunction]
#[pyo3(signature = (data, name, progress = None, decompressed = false))]
pub(crate) fn read_journal<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyBytes>,
    name: &str,
    progress: Option<&Bound<'py, PyAny>>,
    decompressed: bool,
) -> PyResult<(Bound<'py, PyTuple>, usize)> {
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
    let json_loads = py.import("json")?.getattr("loads")?;
    let int = py.get_type::<pyo3::types::PyInt>();
    let signed = PyDict::new(py);
    signed.set_item("signed", true)?;
    let registry = super::registry::Registry::get(py)?;
    // Millions of new tuples, none of them garbage: no collections meanwhile. Only
    // paused, never frozen: the program's own garbage is collected as usual after.
    let gc = GcDisabled::new(py)?;
    let mut events = Vec::new();
    events
        .try_reserve_exact(decoded.events.len())
        .map_err(|_| new_objects::no_memory(py))?;
    for (position, event) in decoded.events.iter().enumerate() {
        if position % crate::export::CHECKPOINT_EVERY == 0 {
            py.check_signals()?;
            if let Some(progress) = progress {
                progress.call1((position, decoded.events.len()))?;
            }
        }
        let step = match &event.step {
            JournalStep::None => None,
            JournalStep::Int(value) => Some(new_objects::int(py, *value)?),
            // The decoder checked: ASCII digits, maybe a sign.
            JournalStep::Big(text) => Some(int.call1((String::from_utf8_lossy(text),))?),
            JournalStep::BigBytes(bytes) => Some(int.call_method(
                "from_bytes",
                (PyBytes::new(py, bytes), "little"),
                Some(&signed),
            )?),
        };
        let metadata = match &event.metadata {
            Some(text) => {
                let value = json_loads
                    .call1((PyBytes::new(py, text),))
                    .ok()
                    .filter(|value| value.is_instance_of::<PyDict>());
                Some(value.ok_or_else(|| {
                    PyValueError::new_err(format!(
                        "{name}: event {position}: metadata is not a JSON object"
                    ))
                })?)
            }
            None => None,
        };
        let kind = registry
            .member(event.kind)
            .bind(py)
            .getattr(pyo3::intern!(py, "value"))?;
        let string = |id: Option<u32>| id.map(|id| strings[id as usize].clone());
        events.push(new_objects::tuple(
            py,
            &[
                Some(kind),
                Some(new_objects::float(py, event.ts)?),
                string(event.node),
                step,
                match event.duration {
                    Some(value) => Some(new_objects::float(py, value)?),
                    None => None,
                },
                string(event.error),
                metadata,
            ],
        )?);
    }
    drop(gc);
    if let Some(progress) = progress {
        progress.call1((decoded.events.len(), decoded.events.len()))?;
    }
    let origin = decoded
        .origin
        .as_ref()
        .map(|origin| origin_tuple(py, origin))
        .transpose()?;
    let provenance = (origin, decoded.dropped, py.None(), py.None()).into_pyobject(py)?;
    let state = (
        super::pickle::STATE_VERSION,
        py.None(),
        PyList::new(py, events)?,
        py.None(),
        provenance,
    )
        .into_pyobject(py)?;
    Ok((state, decoded.lost_bytes))
}

/// Flush every journal (registered with `atexit`, so that a normal exit loses
/// nothing recorded, and warns of any journal that failed).
#[pyfunction]
pub(crate) fn _flush_journals(py: Python<'_>) -> PyResult<()> {
    super::journal_live::flush_all(py)
}

/// Disables the cyclic GC until dropped, if it was enabled; changes nothing else.
struct GcDisabled<'py> {
    gc: Option<Bound<'py, PyModule>>,
}

impl<'py> GcDisabled<'py> {
    fn new(py: Python<'py>) -> PyResult<Self> {
        let gc = py.import("gc")?;
        let enabled = gc.call_method0("isenabled")?.is_truthy()?;
        if enabled {
            gc.call_method0("disable")?;
        }
        Ok(GcDisabled {
            gc: enabled.then_some(gc),
        })
    }
}

impl Drop for GcDisabled<'_> {
    fn drop(&mut self) {
        if let Some(gc) = &self.gc {
            let _ = gc.call_method0("enable");
        }
    }
}
