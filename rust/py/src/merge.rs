//! `ExecutionTrace.merge` on the Python side: checks the traces and offsets, then
//! hands the traces' snapshots to the core's merge (`crate::merge`) into a new
//! trace of the caller's class.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyString, PyType};

use super::errors::{trace_error, type_name};
use super::payload::PyExtra;
use super::recorder::TraceRecorder;
use dagron_core::merge::{merge_into, MergeInput};

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
    let Some(core) = target.get().store.unbounded() else {
        return Err(PyTypeError::new_err(
            "merge() needs an unbounded trace class",
        ));
    };
    let held: Vec<_> = inputs
        .iter()
        .map(|input| input.get().store.hold())
        .collect();
    let merge_inputs: Vec<MergeInput<'_, PyExtra, Py<PyString>>> = held
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
