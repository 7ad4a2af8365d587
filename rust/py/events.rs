//! Building `TraceEvent` dataclass instances from the core's event views, without
//! running the dataclass `__init__` (its fields are set as one instance dict).

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyList;

use super::fallible;
use super::metadata::PyExtra;
use super::registry::Registry;
use crate::export::CHECKPOINT_EVERY;
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
    let mut items = Vec::new();
    items
        .try_reserve_exact(count)
        .map_err(|_| crate::buffer::AllocError)?;
    for (position, view) in views.enumerate() {
        items.push(build_event(py, registry, &view)?);
        if position % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1 {
            py.check_signals()?;
        }
    }
    drop(gc);
    PyList::new(py, items)
}

fn build_event<'py>(
    py: Python<'py>,
    registry: &Registry,
    view: &EventView<'_, PyExtra, Py<pyo3::types::PyString>>,
) -> PyResult<Bound<'py, PyAny>> {
    // SAFETY: object.__new__ with the prebuilt (TraceEvent,) tuple; new reference or NULL.
    let event = unsafe {
        Bound::from_owned_ptr_or_err(
            py,
            ffi::PyObject_Call(
                registry.object_new.as_ptr(),
                registry.new_args.as_ptr(),
                std::ptr::null_mut(),
            ),
        )
    }?;
    // Attribute by attribute: the instance keeps CPython's compact per-instance
    // storage (no separate dict object), as one built by the dataclass __init__ would.
    let set = |slot: usize, value: &Bound<'py, PyAny>| -> PyResult<()> {
        // SAFETY: all three objects are live; SetAttr does not steal references.
        let status = unsafe {
            ffi::PyObject_SetAttr(
                event.as_ptr(),
                registry.field_names[slot].as_ptr(),
                value.as_ptr(),
            )
        };
        if status == 0 {
            Ok(())
        } else {
            Err(PyErr::fetch(py))
        }
    };
    let none = py.None().into_bound(py);
    set(0, registry.member(view.kind).bind(py))?;
    set(1, &fallible::float(py, view.ts)?)?;
    set(
        2,
        view.node
            .map_or(&none, |(_, entry)| entry.payload.bind(py).as_any()),
    )?;
    match view.step {
        StepView::None => set(3, &none)?,
        StepView::Int(value) => set(3, &fallible::int(py, value)?)?,
        StepView::Object(extra) => set(
            3,
            extra.big_step.as_ref().map_or(&none, |step| step.bind(py)),
        )?,
    }
    match view.duration {
        Some(value) => set(4, &fallible::float(py, value)?)?,
        None => set(4, &none)?,
    }
    set(
        5,
        view.error
            .map_or(&none, |entry| entry.payload.bind(py).as_any()),
    )?;
    match view.object.and_then(|extra| extra.metadata.as_ref()) {
        Some(dict) => set(6, dict.bind(py).as_any())?,
        None => set(6, &fallible::dict(py)?)?,
    }
    Ok(event)
}

/// Disables the cyclic GC until dropped, if it was enabled.
pub(crate) struct GcPause<'py> {
    gc: Option<Bound<'py, PyModule>>,
}

impl<'py> GcPause<'py> {
    fn none() -> Self {
        GcPause { gc: None }
    }

    pub(crate) fn new(py: Python<'py>) -> PyResult<Self> {
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
            // Re-enabling alone would make the next allocation run a young
            // collection over every event just built (none of them garbage).
            // freeze + unfreeze moves them straight to the oldest generation and
            // resets the young count; skipped if the program uses gc.freeze itself.
            let frozen = gc
                .call_method0("get_freeze_count")
                .and_then(|n| n.extract::<usize>());
            if matches!(frozen, Ok(0)) {
                let _ = gc.call_method0("freeze");
                let _ = gc.call_method0("unfreeze");
            }
            let _ = gc.call_method0("enable");
        }
    }
}
