//! Building `TraceEvent` dataclass instances from the core's event views, without
//! running the dataclass `__init__` (its fields are set as one instance dict).

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyInt, PyList};

use super::metadata::PyExtra;
use super::registry::Registry;
use crate::trace::{EventView, StepView};

/// Build many events without triggering the cyclic GC on every few hundred new
/// objects: none of them is garbage, and collections would make this quadratic-ish.
const PAUSE_GC_FROM: usize = 4_096;

pub(crate) fn build_events<'py, 'a>(
    py: Python<'py>,
    count: usize,
    views: impl Iterator<Item = EventView<'a, PyExtra, Py<pyo3::types::PyString>>>,
) -> PyResult<Bound<'py, PyList>> {
    let registry = Registry::get(py)?;
    let gc = if count >= PAUSE_GC_FROM {
        GcPause::new(py)?
    } else {
        GcPause::none()
    };
    let mut items = Vec::with_capacity(count);
    for view in views {
        items.push(build_event(py, registry, &view)?);
    }
    drop(gc);
    PyList::new(py, items)
}

fn build_event<'py>(
    py: Python<'py>,
    registry: &Registry,
    view: &EventView<'_, PyExtra, Py<pyo3::types::PyString>>,
) -> PyResult<Bound<'py, PyAny>> {
    let [event_type, timestamp, node_name, step_index, duration, error, metadata] =
        &registry.field_names;
    let fields = PyDict::new(py);
    fields.set_item(event_type.bind(py), registry.member(view.kind).bind(py))?;
    fields.set_item(timestamp.bind(py), PyFloat::new(py, view.ts))?;
    match view.node {
        Some((_, entry)) => fields.set_item(node_name.bind(py), entry.payload.bind(py))?,
        None => fields.set_item(node_name.bind(py), py.None())?,
    }
    match view.step {
        StepView::None => fields.set_item(step_index.bind(py), py.None())?,
        StepView::Int(value) => fields.set_item(step_index.bind(py), PyInt::new(py, value))?,
        StepView::Object(extra) => match &extra.big_step {
            Some(step) => fields.set_item(step_index.bind(py), step.bind(py))?,
            None => fields.set_item(step_index.bind(py), py.None())?,
        },
    }
    match view.duration {
        Some(value) => fields.set_item(duration.bind(py), PyFloat::new(py, value))?,
        None => fields.set_item(duration.bind(py), py.None())?,
    }
    match view.error {
        Some(entry) => fields.set_item(error.bind(py), entry.payload.bind(py))?,
        None => fields.set_item(error.bind(py), py.None())?,
    }
    match view.object.and_then(|extra| extra.metadata.as_ref()) {
        Some(dict) => fields.set_item(metadata.bind(py), dict.bind(py))?,
        None => fields.set_item(metadata.bind(py), PyDict::new(py))?,
    }
    let event = registry
        .object_new
        .bind(py)
        .call1((registry.event_type.bind(py),))?;
    event.setattr(registry.dict_name.bind(py), fields)?;
    Ok(event)
}

/// Disables the cyclic GC until dropped, if it was enabled.
struct GcPause<'py> {
    gc: Option<Bound<'py, PyModule>>,
}

impl<'py> GcPause<'py> {
    fn none() -> Self {
        GcPause { gc: None }
    }

    fn new(py: Python<'py>) -> PyResult<Self> {
        let gc = py.import("gc")?;
        if gc.call_method0("isenabled")?.is_truthy()? {
            gc.call_method0("disable")?;
            Ok(GcPause { gc: Some(gc) })
        } else {
            Ok(GcPause::none())
        }
    }
}

impl Drop for GcPause<'_> {
    fn drop(&mut self) {
        if let Some(gc) = &self.gc {
            let _ = gc.call_method0("enable");
        }
    }
}
