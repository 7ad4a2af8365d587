//! What the HTML report (`dagron.report`) reads from a trace, in one call: the node
//! runs (the core's one pairing pass, `crate::runs`) as packed little-endian
//! columns ready to embed, the runs' errors and metadata, and the events that are
//! not node runs (execution and steps). No Python object is made per run except
//! for the runs that carry an error or metadata.

use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

use super::events::build_events;
use super::recorder::PySnapshot;
use crate::runs::{NodeRuns, NO_EVENT};

/// `values` as the narrowest of u8 / u16 / u32 that holds them all, little-endian,
/// and that width's name.
fn narrow(values: &[u32]) -> (&'static str, Vec<u8>) {
    let largest = values.iter().copied().max().unwrap_or(0);
    if largest <= u32::from(u8::MAX) {
        ("u8", values.iter().map(|&v| v as u8).collect())
    } else if largest <= u32::from(u16::MAX) {
        (
            "u16",
            values
                .iter()
                .flat_map(|&v| (v as u16).to_le_bytes())
                .collect(),
        )
    } else {
        (
            "u32",
            values.iter().flat_map(|&v| v.to_le_bytes()).collect(),
        )
    }
}

fn column<'py>(
    py: Python<'py>,
    name: &str,
    kind: &str,
    bytes: &[u8],
) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(
        py,
        [
            name.into_pyobject(py)?.into_any(),
            kind.into_pyobject(py)?.into_any(),
            PyBytes::new(py, bytes).into_any(),
        ],
    )
}

/// `(names, sources, lanes, columns, errors, metadata, events)`:
/// - `names`, `sources`: the node-name table and the sources' `host:pid`;
/// - `lanes`: per source, how many compact lanes its runs use;
/// - `columns`: `(name, kind, bytes)` per column (start f64, end f64, duration f32,
///   node, lane, source: narrowest unsigned; status u8, `RunStatus as u8`, the
///   order of `RunStatus::ALL`);
/// - `errors`: `(runs, which, texts)`: the runs with an error, each one's index
///   into `texts`, each error text once;
/// - `metadata`: `(run, start_metadata, end_metadata)` for each run whose start or
///   end event carries a non-empty dict (None for the half that does not);
/// - `events`: `(indices, sources, events)`: the events that name no node, their
///   positions in the trace and their source indices.
pub(crate) fn report_data<'py>(
    py: Python<'py>,
    snapshot: &PySnapshot<'_>,
) -> PyResult<Bound<'py, PyTuple>> {
    let runs = py.detach(|| NodeRuns::collect(snapshot));

    let names = PyList::new(
        py,
        runs.names.iter().map(|(_, entry)| entry.payload.bind(py)),
    )?;
    let sources = PyList::new(
        py,
        runs.sources.list.iter().map(|origin| origin.display_name()),
    )?;

    // Each source's lane count: its highest lane + 1.
    let mut lanes = vec![0u32; runs.sources.list.len()];
    for (&source, &lane) in runs.source.iter().zip(&runs.lane) {
        let most = &mut lanes[source as usize];
        *most = (*most).max(lane + 1);
    }

    let f64_bytes =
        |values: &[f64]| -> Vec<u8> { values.iter().flat_map(|v| v.to_le_bytes()).collect() };
    let durations: Vec<u8> = runs
        .duration
        .iter()
        .flat_map(|&v| (v as f32).to_le_bytes())
        .collect();
    let status: Vec<u8> = runs.status.iter().map(|&s| s as u8).collect();
    let (node_kind, node) = narrow(&runs.node);
    let (lane_kind, lane) = narrow(&runs.lane);
    let (source_kind, source) = narrow(&runs.source);
    let columns = PyList::new(
        py,
        [
            column(py, "start", "f64", &f64_bytes(&runs.start))?,
            column(py, "end", "f64", &f64_bytes(&runs.end))?,
            column(py, "duration", "f32", &durations)?,
            column(py, "node", node_kind, &node)?,
            column(py, "lane", lane_kind, &lane)?,
            column(py, "source", source_kind, &source)?,
            column(py, "status", "u8", &status)?,
        ],
    )?;

    // Errors: each text once (entries are interned: one address per text).
    let mut error_runs = Vec::new();
    let mut which = Vec::new();
    let mut texts = Vec::new();
    let mut seen: HashMap<*const (), usize> = HashMap::new();
    for (run, error) in runs.error.iter().enumerate() {
        if let Some(entry) = error {
            let key = (*entry as *const _) as *const ();
            let at = *seen.entry(key).or_insert_with(|| {
                texts.push(entry.payload.bind(py).clone());
                texts.len() - 1
            });
            error_runs.push(run);
            which.push(at);
        }
    }
    let errors = PyTuple::new(
        py,
        [
            PyList::new(py, error_runs)?.into_any(),
            PyList::new(py, which)?.into_any(),
            PyList::new(py, texts)?.into_any(),
        ],
    )?;

    // One pass over the events: the metadata of each event that has some, and the
    // events that name no node.
    let mut metadata_of: HashMap<i64, Bound<'py, PyDict>> = HashMap::new();
    let mut indices = Vec::new();
    let mut of_source = Vec::new();
    let mut chosen = Vec::new();
    for (position, event) in snapshot.iter().enumerate() {
        if let Some(dict) = event.payload.and_then(|extra| extra.metadata.as_ref()) {
            let dict = dict.bind(py);
            if !dict.is_empty() {
                metadata_of.insert(position as i64, dict.clone());
            }
        }
        if event.node.is_none() {
            indices.push(position);
            of_source.push(runs.sources.of(event.source));
            chosen.push(event);
        }
    }
    let mut metadata = Vec::new();
    if !metadata_of.is_empty() {
        let none = py.None().into_bound(py);
        for run in 0..runs.len() {
            let (first, last) = (runs.start_event[run], runs.end_event[run]);
            let began = metadata_of.get(&first).filter(|_| first != NO_EVENT);
            let ended = metadata_of
                .get(&last)
                .filter(|_| last != NO_EVENT && last != first);
            if began.is_none() && ended.is_none() {
                continue;
            }
            let half = |dict: Option<&Bound<'py, PyDict>>| {
                dict.map_or(none.clone(), |dict| dict.clone().into_any())
            };
            metadata.push(PyTuple::new(
                py,
                [run.into_pyobject(py)?.into_any(), half(began), half(ended)],
            )?);
        }
    }
    let events = build_events(py, chosen.len(), chosen.into_iter())?;
    let events = PyTuple::new(
        py,
        [
            PyList::new(py, indices)?.into_any(),
            PyList::new(py, of_source)?.into_any(),
            events.into_any(),
        ],
    )?;
    PyTuple::new(
        py,
        [
            names.into_any(),
            sources.into_any(),
            PyList::new(py, lanes)?.into_any(),
            columns.into_any(),
            errors.into_any(),
            PyList::new(py, metadata)?.into_any(),
            events.into_any(),
        ],
    )
}
