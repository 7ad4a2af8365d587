//! Origins, sources and merging on the Python side: converts origins to and from
//! `(host, pid, monotonic_ns, wall_ns)` tuples (which `dagron.execution.tracing`
//! wraps in `TraceOrigin`), checks `merge`'s arguments, and hands the snapshots to
//! the core's merge.

use std::sync::Arc;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple, PyType};

use super::payload::PyExtra;
use super::recorder::{trace_error, type_name, Store, TraceRecorder};
use crate::bounded::Generations;
use crate::merge::{merge_into, MergeInput};
use crate::origin::Origin;
use crate::trace::Snapshot;

type Payload = Py<PyString>;

pub(crate) fn origin_tuple<'py>(py: Python<'py>, origin: &Origin) -> PyResult<Bound<'py, PyTuple>> {
    (
        origin.host.as_str(),
        origin.pid,
        origin.monotonic_ns,
        origin.wall_ns,
    )
        .into_pyobject(py)
}

/// An origin from a `(host, pid, monotonic_ns, wall_ns)` tuple.
pub(crate) fn origin_from(value: &Bound<'_, PyAny>) -> PyResult<Origin> {
    let fields: (String, u32, u64, i64) = value.extract().map_err(|_| {
        PyValueError::new_err(format!(
            "an origin must be (host: str, pid: int, monotonic_ns: int, wall_ns: int), not {}",
            value.repr().map_or_else(|_| "?".into(), |r| r.to_string())
        ))
    })?;
    let (host, pid, monotonic_ns, wall_ns) = fields;
    Ok(Origin {
        host,
        pid,
        monotonic_ns,
        wall_ns,
    })
}

/// What keeps a trace's events alive while they are read: the core itself, or a
/// bounded trace's generations as of now.
enum Held<'a> {
    Core(&'a super::recorder::Core),
    Generations(Arc<Generations<PyExtra, Payload>>, usize),
}

impl Held<'_> {
    fn of(recorder: &TraceRecorder) -> Held<'_> {
        match &recorder.store {
            Store::Unbounded(core) => Held::Core(core),
            Store::Bounded(bounded) => Held::Generations(bounded.generations(), bounded.capacity()),
        }
    }

    fn snapshot(&self) -> Snapshot<'_, PyExtra, Payload> {
        match self {
            Held::Core(core) => core.snapshot(),
            Held::Generations(generations, capacity) => generations.snapshot(*capacity),
        }
    }
}

/// Offsets in seconds, one per trace, as nanoseconds.
fn offsets_ns(offsets: Option<&Bound<'_, PyAny>>, traces: usize) -> PyResult<Vec<i64>> {
    let Some(offsets) = offsets.filter(|o| !o.is_none()) else {
        return Ok(vec![0; traces]);
    };
    let mut converted = Vec::with_capacity(traces);
    for (position, value) in offsets.try_iter()?.enumerate() {
        let value = value?;
        let seconds: f64 = if value.is_instance_of::<pyo3::types::PyBool>() {
            f64::NAN
        } else {
            value.extract().unwrap_or(f64::NAN)
        };
        let ns = (seconds * 1e9).round();
        if !ns.is_finite() || ns.abs() >= 9.2e18 {
            return Err(PyValueError::new_err(format!(
                "merge() offsets[{position}] must be a finite number of seconds, not {}",
                value.repr()?
            )));
        }
        converted.push(ns as i64);
    }
    if converted.len() != traces {
        return Err(PyValueError::new_err(format!(
            "merge() got {} offsets for {traces} traces",
            converted.len()
        )));
    }
    Ok(converted)
}

/// `ExecutionTrace.merge(traces, *, offsets=None)`: a new trace of `cls` holding
/// every event of every trace on one timeline.
pub(crate) fn merge<'py>(
    cls: &Bound<'py, PyType>,
    traces: &Bound<'py, PyAny>,
    offsets: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = cls.py();
    let mut inputs: Vec<Bound<'py, TraceRecorder>> = Vec::new();
    for (position, trace) in traces.try_iter()?.enumerate() {
        let trace = trace?;
        let recorder = trace.cast::<TraceRecorder>().map_err(|_| {
            PyTypeError::new_err(format!(
                "merge() traces[{position}] must be an ExecutionTrace, not {}",
                type_name(&trace)
            ))
        })?;
        inputs.push(recorder.clone());
    }
    let offsets = offsets_ns(offsets, inputs.len())?;
    // Like unpickling: __new__ without __init__, so any subclass works.
    let merged = cls.call_method1(pyo3::intern!(py, "__new__"), (cls,))?;
    let target = merged.cast::<TraceRecorder>()?.clone();
    let Store::Unbounded(core) = &target.get().store else {
        return Err(PyTypeError::new_err(
            "merge() needs an unbounded trace class",
        ));
    };
    let held: Vec<Held<'_>> = inputs.iter().map(|input| Held::of(input.get())).collect();
    let merge_inputs: Vec<MergeInput<'_, PyExtra, Payload>> = held
        .iter()
        .zip(offsets)
        .map(|(held, offset_ns)| MergeInput {
            snapshot: held.snapshot(),
            offset_ns,
        })
        .collect();
    merge_into(
        core,
        &merge_inputs,
        |extra| PyExtra {
            // Kept by reference, as `record` keeps them.
            metadata: extra.metadata.as_ref().map(|m| m.clone_ref(py)),
            big_step: extra.big_step.as_ref().map(|s| s.clone_ref(py)),
            journal: None,
        },
        |text| text.clone_ref(py),
    )
    .map_err(trace_error)?;
    Ok(merged)
}

/// `trace.sources` as origin tuples, and `trace.event_sources()`.
pub(crate) fn sources<'py>(
    py: Python<'py>,
    snapshot: &Snapshot<'_, PyExtra, Payload>,
) -> PyResult<Bound<'py, PyList>> {
    let sources = snapshot.sources();
    let tuples = sources
        .list
        .iter()
        .map(|origin| origin_tuple(py, origin))
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, tuples)
}

pub(crate) fn event_sources<'py>(
    py: Python<'py>,
    snapshot: &Snapshot<'_, PyExtra, Payload>,
) -> PyResult<Bound<'py, PyList>> {
    let sources = snapshot.sources();
    PyList::new(py, snapshot.event_sources(&sources))
}
