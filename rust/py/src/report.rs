//! What the HTML report (`dagron.report`) reads from a trace, in one call: the node
//! runs (the core's one pairing pass, `crate::runs`) as packed little-endian
//! columns ready to embed, the runs' errors and metadata, and the events that are
//! not node runs (execution and steps). No Python object is made per run except
//! for the runs that carry an error or metadata.

use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use super::events::build_events;
use super::recorder::PySnapshot;
use dagron_core::runs::{NodeRuns, NO_EVENT};

/// A column packed into a new `bytes` object: `width` bytes per value, each
/// written by `put` (little-endian) straight into the object.
fn packed<'py, T: Copy>(
    py: Python<'py>,
    values: &[T],
    width: usize,
    put: impl Fn(T, &mut [u8]),
) -> PyResult<Bound<'py, PyBytes>> {
    PyBytes::new_with(py, values.len() * width, |buffer| {
        for (value, slot) in values.iter().zip(buffer.chunks_exact_mut(width)) {
            put(*value, slot);
        }
        Ok(())
    })
}

/// `values` as the narrowest of u8 / u16 / u32 that holds them all, and that
/// width's name.
fn narrow<'py>(py: Python<'py>, values: &[u32]) -> PyResult<(&'static str, Bound<'py, PyBytes>)> {
    let largest = values.iter().copied().max().unwrap_or(0);
    Ok(if largest <= u32::from(u8::MAX) {
        ("u8", packed(py, values, 1, |v, out| out[0] = v as u8)?)
    } else if largest <= u32::from(u16::MAX) {
        let put = |v: u32, out: &mut [u8]| out.copy_from_slice(&(v as u16).to_le_bytes());
        ("u16", packed(py, values, 2, put)?)
    } else {
        (
            "u32",
            packed(py, values, 4, |v, out| {
                out.copy_from_slice(&v.to_le_bytes())
            })?,
        )
    })
}

/// The node names one per line, when each is UTF-8 with no line break, NUL or
/// `<` (so the text passes through an HTML `<script>` element unchanged and splits
/// back into the names); None otherwise.
fn names_text<S>(runs: &NodeRuns<'_, S>) -> Option<String> {
    if runs.names.is_empty() {
        return None; // "" would split into one empty name
    }
    let size = runs
        .names
        .iter()
        .map(|(_, entry)| entry.text.len() + 1)
        .sum();
    let mut text = String::with_capacity(size);
    for (position, (_, entry)) in runs.names.iter().enumerate() {
        let name = std::str::from_utf8(&entry.text).ok()?;
        if name.bytes().any(|b| matches!(b, b'\n' | b'\r' | 0 | b'<')) {
            return None;
        }
        if position > 0 {
            text.push('\n');
        }
        text.push_str(name);
    }
    Some(text)
}

fn column<'py>(
    py: Python<'py>,
    name: &str,
    kind: &str,
    bytes: Bound<'py, PyBytes>,
) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(
        py,
        [
            name.into_pyobject(py)?.into_any(),
            kind.into_pyobject(py)?.into_any(),
            bytes.into_any(),
        ],
    )
}

/// `(names, sources, lanes, columns, errors, metadata, events)`:
/// - `names`: the node-name table, as one `str` of lines (see `names_text`) or,
///   when the names do not allow that, a list; `sources`: each source's `host:pid`;
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
    let mut runs = py.detach(|| NodeRuns::collect(snapshot));

    let names = match names_text(&runs) {
        Some(text) => PyString::new(py, &text).into_any(),
        None => PyList::new(
            py,
            runs.names.iter().map(|(_, entry)| entry.payload.bind(py)),
        )?
        .into_any(),
    };
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
    // The columns, each packed and then freed (nothing reads the runs again), so
    // the peak is the runs plus one column.
    drop(std::mem::take(&mut runs.error));
    drop(std::mem::take(&mut runs.start_event));
    drop(std::mem::take(&mut runs.end_event));
    let f64_column = |values: Vec<f64>| {
        packed(py, &values, 8, |v, out| {
            out.copy_from_slice(&v.to_le_bytes())
        })
    };
    let mut columns = Vec::with_capacity(7);
    columns.push(column(
        py,
        "start",
        "f64",
        f64_column(std::mem::take(&mut runs.start))?,
    )?);
    columns.push(column(
        py,
        "end",
        "f64",
        f64_column(std::mem::take(&mut runs.end))?,
    )?);
    let put = |v: f64, out: &mut [u8]| out.copy_from_slice(&(v as f32).to_le_bytes());
    let duration = packed(py, &std::mem::take(&mut runs.duration), 4, put)?;
    columns.push(column(py, "duration", "f32", duration)?);
    for (name, values) in [
        ("node", std::mem::take(&mut runs.node)),
        ("lane", std::mem::take(&mut runs.lane)),
        ("source", std::mem::take(&mut runs.source)),
    ] {
        let (kind, bytes) = narrow(py, &values)?;
        columns.push(column(py, name, kind, bytes)?);
    }
    let status = packed(py, &runs.status, 1, |v, out| out[0] = v as u8)?;
    columns.push(column(py, "status", "u8", status)?);
    let columns = PyList::new(py, columns)?;

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
