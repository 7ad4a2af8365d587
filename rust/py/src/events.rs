//! Building `TraceEvent` dataclass instances from the core's event views, without
//! running the dataclass `__init__`: each field is set as an attribute, so the
//! instance keeps CPython's compact per-instance storage (see `build_event`).

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyList;

use super::new_objects;
use super::payload::PyExtra;
use super::registry::Registry;
use crate::export::CHECKPOINT_EVERY;
use crate::trace::{EventView, StepView};

/// From this many events on, each new event is kept out of the cyclic GC's sight
/// until all are built (see `BuiltEvents`).
const SPARE_GC_FROM: usize = 4_096;

pub(crate) fn build_events<'py, 'a>(
    py: Python<'py>,
    count: usize,
    views: impl Iterator<Item = EventView<'a, PyExtra, Py<pyo3::types::PyString>>>,
) -> PyResult<Bound<'py, PyList>> {
    let registry = Registry::get(py)?;
    let mut built = BuiltEvents {
        events: Vec::new(),
        untracked: count >= SPARE_GC_FROM,
    };
    built
        .events
        .try_reserve_exact(count)
        .map_err(|_| crate::errors::alloc_error(crate::error::AllocError))?;
    for (position, view) in views.enumerate() {
        let event = build_event(py, registry, &view)?;
        if built.untracked {
            // SAFETY: a live object of a GC type (TraceEvent); untracking a tracked
            // object is always allowed. `BuiltEvents::drop` tracks it again.
            unsafe { ffi::PyObject_GC_UnTrack(event.as_ptr().cast()) };
        }
        built.events.push(event);
        if position % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1 {
            py.check_signals()?;
        }
    }
    PyList::new(py, &built.events)
}

/// The events built so far by `build_events`.
///
/// The young collections that building N objects sets off would each scan every
/// event built so far (none of them garbage): quadratic-ish. So a large batch is
/// built untracked, and every event is handed back to the GC (tracked again, as a
/// young object like any other new one) when the batch is done or abandoned. The
/// rest of the program is collected as usual all along: no GC setting is touched.
struct BuiltEvents<'py> {
    events: Vec<Bound<'py, PyAny>>,
    untracked: bool,
}

impl Drop for BuiltEvents<'_> {
    fn drop(&mut self) {
        if !self.untracked {
            return;
        }
        for event in &self.events {
            // SAFETY: live objects of a GC type that we untracked; tracking one that
            // is already tracked is a fatal error, hence the check.
            unsafe {
                if ffi::PyObject_GC_IsTracked(event.as_ptr()) == 0 {
                    ffi::PyObject_GC_Track(event.as_ptr().cast());
                }
            }
        }
    }
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
    set(1, &new_objects::float(py, view.ts)?)?;
    set(
        2,
        view.node
            .map_or(&none, |(_, entry)| entry.payload.bind(py).as_any()),
    )?;
    match view.step {
        StepView::None => set(3, &none)?,
        StepView::Int(value) => set(3, &new_objects::int(py, value)?)?,
        StepView::Payload(extra) => set(
            3,
            extra.big_step.as_ref().map_or(&none, |step| step.bind(py)),
        )?,
    }
    match view.duration {
        Some(value) => set(4, &new_objects::float(py, value)?)?,
        None => set(4, &none)?,
    }
    set(
        5,
        view.error
            .map_or(&none, |entry| entry.payload.bind(py).as_any()),
    )?;
    match view.payload.and_then(|extra| extra.metadata.as_ref()) {
        Some(dict) => set(6, dict.bind(py).as_any())?,
        None => set(6, &new_objects::dict(py)?)?,
    }
    Ok(event)
}
