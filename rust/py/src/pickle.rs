//! Pickling and copying: `__reduce__` saves every event as plain Python values,
//! `__setstate__` restores them into a fresh trace through the core's `restore`.
//!
//! The object is rebuilt with `copyreg.__newobj_ex__(cls, (), {"max_events": N})`
//! (no `__init__` call, so subclasses with their own `__init__` round-trip) and
//! state `(2, epoch_ns or None, [(type value, timestamp, node_name, step_index,
//! duration, error, metadata or None), ...], instance __dict__ or None, (origin or
//! None, dropped, sources or None, event sources or None))` with origins as
//! `(host, pid, monotonic_ns, wall_ns)` tuples and event sources as little-endian
//! u32 bytes, plus a sixth item, `{slot name: value}`, when a subclass's `__slots__`
//! hold values. Version 1 states (the first four items) still restore.
//!
//! This file owns that layout: `STATE_VERSION` is the one copy of the version, and
//! `_trace_state` builds a state from saved events for the Python side (traces
//! copied from other objects, as `to_otel` does). Loading files does not go through
//! a state: see `load`.

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use super::arguments::check_arguments;
use super::new_objects;
use super::payload::PyExtra;
use super::provenance::{origin_from, origin_tuple};
use super::recorder::TraceRecorder;
use super::registry::Registry;
use crate::event::EventKind;
use crate::export::CHECKPOINT_EVERY;
use crate::origin::Provenance;
use crate::trace::{Restored, SavedEvent, Snapshot, StepView};

pub(crate) const STATE_VERSION: u32 = 2;

pub(crate) fn reduce<'py>(slf: &Bound<'py, TraceRecorder>) -> PyResult<Bound<'py, PyTuple>> {
    let py = slf.py();
    let recorder = slf.get();
    let (saved, provenance) = recorder.with_snapshot(|snapshot| {
        PyResult::Ok((saved_events(py, snapshot)?, saved_provenance(py, snapshot)?))
    })?;
    let instance_dict = slf
        .getattr("__dict__")
        .ok()
        .filter(|d| d.cast::<PyDict>().is_ok_and(|d| !d.is_empty()));
    let slots = slot_values(slf)?;
    let state = if slots.is_empty() {
        (
            STATE_VERSION,
            recorder.epoch(),
            PyList::new(py, saved)?,
            instance_dict,
            provenance,
        )
            .into_pyobject(py)?
    } else {
        (
            STATE_VERSION,
            recorder.epoch(),
            PyList::new(py, saved)?,
            instance_dict,
            provenance,
            slots,
        )
            .into_pyobject(py)?
    };
    let kwargs = PyDict::new(py);
    if let Some(max_events) = recorder.max_events() {
        kwargs.set_item("max_events", max_events)?;
    }
    let newobj_ex = py.import("copyreg")?.getattr("__newobj_ex__")?;
    let args = (slf.get_type(), PyTuple::empty(py), kwargs).into_pyobject(py)?;
    (newobj_ex, args, state).into_pyobject(py)
}

/// The 5-item state of saved `events` (tuples as `__reduce__` writes them) with
/// origin `origin` (a `(host, pid, monotonic_ns, wall_ns)` tuple or None), `dropped`
/// events let go, and optionally `sources` (origin tuples) with each event's index
/// into them.
#[pyfunction]
#[pyo3(signature = (events, origin = None, dropped = 0, sources = None, event_sources = None))]
pub(crate) fn _trace_state<'py>(
    events: &Bound<'py, PyList>,
    origin: Option<Bound<'py, PyAny>>,
    dropped: u64,
    sources: Option<Bound<'py, PyList>>,
    event_sources: Option<Vec<u32>>,
) -> PyResult<Bound<'py, PyTuple>> {
    let py = events.py();
    let packed = event_sources.map(|indices| {
        let bytes: Vec<u8> = indices.iter().flat_map(|s| s.to_le_bytes()).collect();
        pyo3::types::PyBytes::new(py, &bytes)
    });
    let provenance = (origin, dropped, sources, packed).into_pyobject(py)?;
    (STATE_VERSION, py.None(), events, py.None(), provenance).into_pyobject(py)
}

/// `(origin, dropped, sources, event sources)` for the state's last item.
fn saved_provenance<'py>(
    py: Python<'py>,
    snapshot: &Snapshot<'_, PyExtra, Py<PyString>>,
) -> PyResult<Bound<'py, PyTuple>> {
    let origin = snapshot
        .origin()
        .map(|origin| origin_tuple(py, &origin))
        .transpose()?;
    let (sources, event_sources) = match snapshot.saved_sources() {
        Some((list, per_event)) => {
            let list = list
                .iter()
                .map(|origin| origin_tuple(py, origin))
                .collect::<PyResult<Vec<_>>>()?;
            let bytes: Vec<u8> = per_event.iter().flat_map(|s| s.to_le_bytes()).collect();
            (
                Some(PyList::new(py, list)?),
                Some(pyo3::types::PyBytes::new(py, &bytes)),
            )
        }
        None => (None, None),
    };
    (origin, snapshot.dropped(), sources, event_sources).into_pyobject(py)
}

/// A state's last item: origin, dropped, sources and event sources.
type SavedProvenance<'py> = (
    Option<Bound<'py, PyAny>>,
    u64,
    Option<Bound<'py, PyList>>,
    Option<Vec<u8>>,
);

/// The saved origin, dropped count and sources from a state's last item.
fn restored_provenance(
    item: Option<&Bound<'_, PyAny>>,
    epoch: Option<u64>,
    events: usize,
) -> PyResult<Restored> {
    let invalid = |why: &str| PyValueError::new_err(format!("invalid ExecutionTrace state: {why}"));
    let Some(item) = item else {
        return Ok(Restored {
            epoch,
            ..Restored::default()
        });
    };
    let (origin, dropped, sources, event_sources): SavedProvenance<'_> = item
        .extract()
        .map_err(|_| invalid("expected (origin, dropped, sources, event sources)"))?;
    let origin = origin.map(|o| origin_from(&o)).transpose()?;
    let provenance = match (sources, event_sources, &origin) {
        (Some(list), Some(bytes), Some(origin)) => {
            if bytes.len() != events * 4 {
                return Err(invalid("event sources do not match the events"));
            }
            let list = list
                .iter()
                .map(|o| origin_from(&o))
                .collect::<PyResult<Vec<_>>>()?;
            let per_event = bytes
                .chunks_exact(4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            Some(Provenance::restored(list, per_event, origin))
        }
        (None, None, _) => None,
        _ => return Err(invalid("sources need an origin and event sources")),
    };
    Ok(Restored {
        epoch,
        origin,
        dropped,
        provenance,
    })
}

/// The values held in the `__slots__` of `slf`'s class and its bases (those set),
/// found as `copyreg` finds them for `object.__reduce_ex__`.
fn slot_values<'py>(slf: &Bound<'py, TraceRecorder>) -> PyResult<Bound<'py, PyDict>> {
    let py = slf.py();
    let values = PyDict::new(py);
    let names = py
        .import("copyreg")?
        .call_method1("_slotnames", (slf.get_type(),))?;
    for name in names.try_iter()? {
        let name = name?;
        match slf.getattr(name.cast::<PyString>()?) {
            Ok(value) => values.set_item(name, value)?,
            Err(error) if error.is_instance_of::<pyo3::exceptions::PyAttributeError>(py) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(values)
}

fn saved_events<'py>(
    py: Python<'py>,
    snapshot: &Snapshot<'_, PyExtra, Py<PyString>>,
) -> PyResult<Vec<Bound<'py, PyAny>>> {
    let registry = Registry::get(py)?;
    let mut saved = Vec::new();
    saved
        .try_reserve_exact(snapshot.len())
        .map_err(|_| new_objects::no_memory(py))?;
    for (position, event) in snapshot.iter().enumerate() {
        if position % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1 {
            py.check_signals()?;
        }
        let kind = registry
            .member(event.kind)
            .bind(py)
            .getattr(pyo3::intern!(py, "value"))?;
        let step = match event.step {
            StepView::None => None,
            StepView::Int(value) => Some(new_objects::int(py, value)?),
            StepView::Payload(extra) => extra.big_step.as_ref().map(|step| step.bind(py).clone()),
        };
        let duration = match event.duration {
            Some(value) => Some(new_objects::float(py, value)?),
            None => None,
        };
        let item = new_objects::tuple(
            py,
            &[
                Some(kind),
                Some(new_objects::float(py, event.ts)?),
                event
                    .node
                    .map(|(_, entry)| entry.payload.bind(py).clone().into_any()),
                step,
                duration,
                event
                    .error
                    .map(|entry| entry.payload.bind(py).clone().into_any()),
                event
                    .payload
                    .and_then(|extra| extra.metadata.as_ref())
                    .map(|dict| dict.bind(py).clone().into_any()),
            ],
        )?;
        saved.push(item);
    }
    Ok(saved)
}

pub(crate) fn restore(slf: &Bound<'_, TraceRecorder>, state: &Bound<'_, PyAny>) -> PyResult<()> {
    let py = slf.py();
    let invalid = |why: &str| PyValueError::new_err(format!("invalid ExecutionTrace state: {why}"));
    // A value of the wrong type or range is an invalid state; anything else raised
    // while converting (KeyboardInterrupt in an `__index__`, MemoryError) propagates.
    let invalid_unless_raised = |error: PyErr, why: &str| {
        if error.is_instance_of::<PyTypeError>(py)
            || error.is_instance_of::<PyValueError>(py)
            || error.is_instance_of::<PyOverflowError>(py)
        {
            invalid(why)
        } else {
            error
        }
    };
    let layout = "expected (version, epoch, events, dict, provenance[, slots])";
    let parts = state.cast::<PyTuple>().map_err(|_| invalid(layout))?;
    let version: u32 = parts
        .get_item(0)
        .and_then(|v| v.extract())
        .map_err(|e| invalid_unless_raised(e, layout))?;
    // Version 1 had no provenance item; only version 2 saves slots.
    let (has_provenance, has_slots) = match (version, parts.len()) {
        (1, 4) => (false, false),
        (STATE_VERSION, 5) => (true, false),
        (STATE_VERSION, 6) => (true, true),
        (1 | STATE_VERSION, _) => return Err(invalid(layout)),
        _ => return Err(invalid(&format!("unsupported version {version}"))),
    };
    let (epoch, events, instance_dict): (
        Option<u64>,
        Bound<'_, PyList>,
        Option<Bound<'_, PyDict>>,
    ) = parts
        .get_slice(1, 4)
        .extract()
        .map_err(|e| invalid_unless_raised(e, layout))?;
    let provenance_item = has_provenance.then(|| parts.get_item(4)).transpose()?;
    let restored = restored_provenance(provenance_item.as_ref(), epoch, events.len())?;
    let slots = if has_slots {
        Some(
            parts
                .get_item(5)?
                .cast_into::<PyDict>()
                .map_err(|_| invalid("slots must be a dict"))?,
        )
    } else {
        None
    };
    let registry = Registry::get(py)?;
    let recorder = slf.get();
    let mut saved = Vec::new();
    saved
        .try_reserve_exact(events.len())
        .map_err(|_| new_objects::no_memory(py))?;
    for item in events.iter() {
        let fields = item
            .cast::<PyTuple>()
            .map_err(|_| invalid("each event must be a tuple"))?;
        if fields.len() != 7 {
            return Err(invalid("each event must have 7 fields"));
        }
        let value: String = fields
            .get_item(0)?
            .extract()
            .map_err(|_| invalid("event type must be a str"))?;
        let kind = EventKind::from_value(&value)
            .ok_or_else(|| invalid(&format!("unknown event type {value:?}")))?;
        let ts: f64 = fields
            .get_item(1)?
            .extract()
            .map_err(|e| invalid_unless_raised(e, "timestamp must be a float"))?;
        let member = registry.member(kind).bind(py).clone();
        let optional = |i: usize| -> PyResult<Option<Bound<'_, PyAny>>> {
            let value = fields.get_item(i)?;
            Ok((!value.is_none()).then_some(value))
        };
        let (node, step, duration, error, metadata) = (
            optional(2)?,
            optional(3)?,
            optional(4)?,
            optional(5)?,
            optional(6)?,
        );
        let checked = check_arguments(
            "__setstate__",
            registry,
            &member,
            node.as_ref(),
            step.as_ref(),
            duration.as_ref(),
            error.as_ref(),
            metadata.as_ref(),
        )?;
        saved.push(SavedEvent {
            ts,
            event: recorder.new_event(py, checked)?,
        });
    }
    recorder.restore(restored, saved)?;
    if let Some(dict) = instance_dict {
        if let Ok(own) = slf.getattr("__dict__") {
            own.cast::<PyDict>()?.update(dict.as_mapping())?;
        }
    }
    if let Some(slots) = slots {
        for (name, value) in slots.iter() {
            slf.as_any().setattr(name.cast::<PyString>()?, value)?;
        }
    }
    Ok(())
}
