//! Loading a `write_json` / `to_json` export: the records `json.loads` made, each
//! checked as the format says (an object with the documented keys, each field of
//! its type) and restored straight into a fresh trace through the core's
//! `restore`. What is wrong is a `TraceFileError` naming the file and the event.
//!
//! Which error wins is the order of the checks as a whole file: a record that is
//! not an object with the right keys (anywhere in the file), then the first record
//! with a field of the wrong type or value, then the origin (the file's name), then
//! a number the core cannot hold, then the timestamps' order.

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyType};

use super::arguments::{check_duration, check_step, Checked};
use super::load::{fresh_trace, Progress};
use super::new_objects;
use super::provenance::origin_from;
use super::recorder::TraceRecorder;
use super::registry::FIELD_NAMES;
use super::strings::str_bytes;
use crate::event::{EventKind, StepArg};
use crate::trace::{Restored, SavedEvent};

/// The function the shared argument checks name in their errors (a loaded file's
/// texts have always named it: loading went through `__setstate__`).
const FUNCTION: &str = "__setstate__";

/// `_load_json(cls, records, name, host, progress=None) -> trace`: a new trace of
/// `cls` holding the events of `records` (the list a JSON export decodes to), with
/// origin `(host, 0, 0, 0)`. `progress(done, total)` is called every 65,536 events
/// and at the end.
#[pyfunction]
#[pyo3(signature = (cls, records, name, host, progress = None))]
pub(crate) fn _load_json<'py>(
    cls: &Bound<'py, PyType>,
    records: &Bound<'py, PyList>,
    name: &Bound<'py, PyString>,
    host: &Bound<'py, PyAny>,
    progress: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, TraceRecorder>> {
    let py = cls.py();
    let trace = fresh_trace(cls)?;
    let recorder = trace.get();
    let progress = Progress {
        callback: progress,
        total: records.len(),
    };
    let mut keys = Keys::default();
    let mut saved = Vec::new();
    saved
        .try_reserve_exact(records.len())
        .map_err(|_| new_objects::no_memory(py))?;
    // The first field of a wrong type (event, field, value): reported once every
    // record's keys are known to be right.
    let mut bad_field: Option<(usize, usize, Bound<'py, PyAny>)> = None;
    // The first value the core cannot hold, reported after the origin is checked.
    let mut unfit: Option<PyErr> = None;
    for (position, record) in records.iter().enumerate() {
        progress.checkpoint(py, position)?;
        let Ok(record) = record.cast::<PyDict>() else {
            return Err(file_error(
                name,
                &format!(": event {position}: expected an object"),
            ));
        };
        let mut fields: [Option<Bound<'py, PyAny>>; 7] = Default::default();
        let mut unknown = false;
        for (key, value) in record.iter() {
            match keys.index(&key) {
                Some(field) => fields[field] = Some(value),
                None => unknown = true,
            }
        }
        if unknown || fields[0].is_none() || fields[1].is_none() {
            return Err(keys_error(name, position, record));
        }
        if bad_field.is_some() {
            continue;
        }
        if let Some(field) = field_problem(&fields) {
            let value = fields[field]
                .clone()
                .unwrap_or_else(|| py.None().into_bound(py));
            bad_field = Some((position, field, value));
            continue;
        }
        if unfit.is_some() {
            continue;
        }
        match saved_event(py, recorder, position, &fields) {
            Ok(event) => saved.push(event),
            Err(error) => unfit = Some(named(name, error)),
        }
    }
    if let Some((position, field, value)) = bad_field {
        let detail = format!(": event {position}: bad {} ", FIELD_NAMES[field]);
        return Err(file_error_with(name, &detail, &value.repr()?));
    }
    progress.done()?;
    let origin = (host, 0, 0, 0).into_pyobject(py)?;
    let origin = origin_from(origin.as_any()).map_err(|error| named(name, error))?;
    if let Some(error) = unfit {
        return Err(error);
    }
    let restored = Restored {
        epoch: None,
        origin: Some(origin),
        dropped: 0,
        provenance: None,
    };
    recorder
        .restore(restored, saved)
        .map_err(|error| named(name, error))?;
    Ok(trace)
}

/// The field (an index into `FIELD_NAMES`) whose value is of the wrong type or
/// value, in the fields' order; bool is neither an int nor a number.
fn field_problem(fields: &[Option<Bound<'_, PyAny>>; 7]) -> Option<usize> {
    let given = |field: usize| fields[field].as_ref().filter(|value| !value.is_none());
    let integer = |value: &Bound<'_, PyAny>| {
        value.is_instance_of::<PyInt>() && !value.is_instance_of::<PyBool>()
    };
    let number = |value: &Bound<'_, PyAny>| integer(value) || value.is_instance_of::<PyFloat>();
    let string = |value: &Bound<'_, PyAny>| value.is_instance_of::<PyString>();
    let checks = [
        fields[0].as_ref().and_then(kind_of).is_some(),
        fields[1].as_ref().is_some_and(number),
        given(2).is_none_or(string),
        given(3).is_none_or(integer),
        given(4).is_none_or(number),
        given(5).is_none_or(string),
        given(6).is_none_or(|value| value.is_instance_of::<PyDict>()),
    ];
    checks.iter().position(|ok| !ok)
}

/// The event kind a JSON `event_type` names (one of the core's values), if any.
fn kind_of(value: &Bound<'_, PyAny>) -> Option<EventKind> {
    let text = value.cast::<PyString>().ok()?;
    let bytes = str_bytes(text.as_any()).ok()?;
    let named = |kind: &&EventKind| kind.value().as_bytes() == bytes.as_bytes();
    EventKind::ALL.iter().find(named).copied()
}

/// One checked record as the core's saved event (strings interned).
fn saved_event(
    py: Python<'_>,
    recorder: &TraceRecorder,
    position: usize,
    fields: &[Option<Bound<'_, PyAny>>; 7],
) -> PyResult<SavedEvent<super::payload::PyExtra>> {
    let given = |field: usize| fields[field].as_ref().filter(|value| !value.is_none());
    let kind = fields[0].as_ref().and_then(kind_of).expect("checked");
    let timestamp = fields[1].as_ref().expect("checked");
    let ts: f64 = timestamp
        .extract()
        .map_err(|error| unfit_number(py, position, "timestamp", timestamp, error))?;
    let (step, big_step) = match given(3) {
        Some(step) => check_step(FUNCTION, step)?,
        None => (StepArg::None, None),
    };
    let duration = given(4)
        .map(|value| {
            check_duration(FUNCTION, value)
                .map_err(|error| unfit_number(py, position, "duration", value, error))
        })
        .transpose()?;
    let metadata = given(6).and_then(|value| {
        let dict = value.cast::<PyDict>().ok()?;
        // An empty dict is not kept: the event gets a fresh {} (behaviour.md 4).
        (!dict.is_empty()).then(|| dict.clone().unbind())
    });
    let checked = Checked {
        kind,
        node_name: given(2),
        error: given(5),
        step,
        big_step,
        duration,
        metadata,
    };
    Ok(SavedEvent {
        ts,
        event: recorder.new_event(py, checked)?,
    })
}

/// A number (checked to be an int or a float) that is no `f64`: an int too large,
/// told by its event and length; anything else raised while converting propagates.
fn unfit_number(
    py: Python<'_>,
    position: usize,
    field: &str,
    value: &Bound<'_, PyAny>,
    error: PyErr,
) -> PyErr {
    if !(error.is_instance_of::<PyTypeError>(py)
        || error.is_instance_of::<PyValueError>(py)
        || error.is_instance_of::<PyOverflowError>(py))
    {
        return error;
    }
    let digits = value
        .str()
        .map(|text| text.to_string_lossy().trim_start_matches('-').len())
        .unwrap_or(0);
    PyValueError::new_err(format!(
        "event {position}: {field} is an integer of {digits} digits, too large for a float"
    ))
}

/// `ValueError`s and `TypeError`s as `TraceFileError("{name}: {error}")`; anything
/// else (`OverflowError` for a duration too large, `MemoryError`) unchanged.
fn named(name: &Bound<'_, PyString>, error: PyErr) -> PyErr {
    let py = name.py();
    if !(error.is_instance_of::<PyValueError>(py) || error.is_instance_of::<PyTypeError>(py)) {
        return error;
    }
    let cause = error.value(py);
    let wrapped = match cause.str() {
        Ok(text) => file_error_with(name, ": ", &text),
        Err(error) => return error,
    };
    // As `raise TraceFileError(...) from None` in an `except` clause leaves it.
    let value = wrapped.value(py);
    let hide = value
        .setattr(pyo3::intern!(py, "__context__"), cause)
        .and_then(|()| value.setattr(pyo3::intern!(py, "__suppress_context__"), true));
    match hide {
        Ok(()) => wrapped,
        Err(error) => error,
    }
}

/// The error of a record whose keys are not the format's.
fn keys_error(name: &Bound<'_, PyString>, position: usize, record: &Bound<'_, PyDict>) -> PyErr {
    let py = name.py();
    let got = || -> PyResult<Bound<'_, PyString>> {
        let keys = record
            .keys()
            .iter()
            .map(|key| key.str())
            .collect::<PyResult<Vec<_>>>()?;
        let joined = PyString::new(py, ", ").call_method1("join", (keys,))?;
        Ok(joined.cast_into::<PyString>()?)
    };
    match got() {
        Ok(got) => {
            let detail = format!(
                ": event {position}: expected keys {}; got ",
                FIELD_NAMES.join(", ")
            );
            file_error_with(name, &detail, &got)
        }
        Err(error) => error,
    }
}

fn file_error(name: &Bound<'_, PyString>, detail: &str) -> PyErr {
    file_error_with(name, detail, &PyString::new(name.py(), ""))
}

/// `TraceFileError(name + detail + tail)`: `name` and `tail` may hold what only a
/// Python `str` can (lone surrogates from `os.fsdecode`, a `repr`).
fn file_error_with(name: &Bound<'_, PyString>, detail: &str, tail: &Bound<'_, PyString>) -> PyErr {
    let py = name.py();
    let error = || -> PyResult<PyErr> {
        let message = name.add(PyString::new(py, detail))?.add(tail)?;
        let class = py.import("dagron.errors")?.getattr("TraceFileError")?;
        Ok(PyErr::from_value(class.call1((message,))?))
    };
    error().unwrap_or_else(|error| error)
}

/// Each key of the format once seen (the decoder shares one `str` per key among
/// its objects), so most records' keys are found by identity.
#[derive(Default)]
struct Keys<'py> {
    seen: [Option<Bound<'py, PyAny>>; 7],
}

impl<'py> Keys<'py> {
    /// The field `key` names, or None for a key the format does not have.
    #[inline]
    fn index(&mut self, key: &Bound<'py, PyAny>) -> Option<usize> {
        let known = |seen: &Option<Bound<'py, PyAny>>| seen.as_ref().is_some_and(|s| s.is(key));
        if let Some(field) = self.seen.iter().position(known) {
            return Some(field);
        }
        let text = key.cast::<PyString>().ok()?;
        let bytes = str_bytes(text.as_any()).ok()?;
        let field = FIELD_NAMES
            .iter()
            .position(|name| name.as_bytes() == bytes.as_bytes())?;
        self.seen[field] = Some(key.clone());
        Some(field)
    }
}
