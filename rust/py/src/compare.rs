//! `_trace_column`, `_node_stats`, `_mann_whitney` and `_trace_spans`: the bindings
//! over `crate::compare` and `crate::spans` that `dagron.compare` uses. `_trace_column` reads a `NodeRuns`'
//! columns and gives the trace's durations as native-endian float64 bytes;
//! `_node_stats` takes those bytes back and answers the same way (a dict of bytes:
//! float64 columns, `ended` as uint32, `verdict` as one byte a node), so no Python float
//! is made per value. The passes run without the GIL.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};

use crate::recorder::TraceRecorder;
use crate::runs::{NodeRuns, RunStatus};
use dagron_core::compare::{self, Samples, SideStats};
use dagron_core::spans;

/// `_trace_column`'s answer: durations (float64 bytes), filled, extra, other, start,
/// end, open runs.
type Column<'py> = (
    Bound<'py, PyBytes>,
    usize,
    Vec<(u32, f64)>,
    Vec<(u32, &'static str)>,
    f64,
    f64,
    usize,
);

/// One trace's node runs (`runs`, a `NodeRuns`) reduced by `crate::compare::trace_column`,
/// numbering nodes through `index` (name -> number) and `table` (the names by number),
/// which gain the names they lack.
#[pyfunction]
pub fn _trace_column<'py>(
    runs: &Bound<'py, PyAny>,
    index: &Bound<'py, PyDict>,
    table: &Bound<'py, PyList>,
) -> PyResult<Column<'py>> {
    let py = runs.py();
    let c = RunColumns::of(runs, index, table, "_trace_column")?;
    let count = table.len();
    let column = py.detach(|| {
        compare::trace_column(
            &c.global,
            &c.node,
            &c.status,
            &c.duration,
            &c.start,
            &c.end,
            count,
        )
    });
    Ok(answer(py, column))
}

/// `_trace_column` of `trace`'s own runs, read straight off the core's pass (no
/// `NodeRuns` lists are made), with how many runs, nodes and sources it had.
#[pyfunction]
pub fn _trace_column_of<'py>(
    trace: &Bound<'py, TraceRecorder>,
    index: &Bound<'py, PyDict>,
    table: &Bound<'py, PyList>,
) -> PyResult<(Column<'py>, usize, usize, usize)> {
    let py = trace.py();
    with_own_runs(trace, index, table, |runs, global, count| {
        let column = py.detach(|| {
            compare::trace_column(
                global,
                &runs.node,
                &runs.status,
                &runs.duration,
                &runs.start,
                &runs.end,
                count,
            )
        });
        let sizes = (runs.len(), runs.names.len(), runs.sources.list.len());
        (answer(py, column), sizes.0, sizes.1, sizes.2)
    })
}

/// `_trace_spans`'s answer: by node, first starts and last ends (float64 bytes, NaN
/// for none); the nodes with a start and those with an end in first-met order (uint32
/// bytes); the busy intervals' starts and ends; the trace's start and end. Bytes, so
/// that no Python object is made per node.
type Spans<'py> = (
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    Vec<f64>,
    Vec<f64>,
    f64,
    f64,
);

/// One trace's node spans (`dagron_core::spans`) from its node runs (`runs`, a
/// `NodeRuns`), numbering nodes as `_trace_column` does.
#[pyfunction]
pub fn _trace_spans<'py>(
    runs: &Bound<'py, PyAny>,
    index: &Bound<'py, PyDict>,
    table: &Bound<'py, PyList>,
) -> PyResult<Spans<'py>> {
    let py = runs.py();
    let c = RunColumns::of(runs, index, table, "_trace_spans")?;
    let count = table.len();
    let found =
        py.detach(|| spans::trace_spans(&c.global, &c.node, &c.status, &c.start, &c.end, count));
    Ok(spans_answer(py, found))
}

/// `_trace_spans` of `trace`'s own runs, read straight off the core's pass.
#[pyfunction]
pub fn _trace_spans_of<'py>(
    trace: &Bound<'py, TraceRecorder>,
    index: &Bound<'py, PyDict>,
    table: &Bound<'py, PyList>,
) -> PyResult<Spans<'py>> {
    let py = trace.py();
    with_own_runs(trace, index, table, |runs, global, count| {
        let found = py.detach(|| {
            spans::trace_spans(
                global,
                &runs.node,
                &runs.status,
                &runs.start,
                &runs.end,
                count,
            )
        });
        spans_answer(py, found)
    })
}

fn spans_answer(py: Python<'_>, found: spans::TraceSpans) -> Spans<'_> {
    (
        float_bytes(py, &found.first_start),
        u32_bytes(py, &found.started),
        float_bytes(py, &found.last_end),
        u32_bytes(py, &found.ended),
        found.busy_from,
        found.busy_to,
        found.run_start,
        found.run_end,
    )
}

/// A `NodeRuns`' columns, checked to line up, with each name's number (through
/// `index` and `table`, which gain the names they lack).
struct RunColumns {
    global: Vec<u32>,
    node: Vec<u32>,
    duration: Vec<f64>,
    start: Vec<f64>,
    end: Vec<f64>,
    status: Vec<RunStatus>,
}

impl RunColumns {
    fn of(
        runs: &Bound<'_, PyAny>,
        index: &Bound<'_, PyDict>,
        table: &Bound<'_, PyList>,
        function: &str,
    ) -> PyResult<Self> {
        let mut global: Vec<u32> = Vec::new();
        for name in runs.getattr("names")?.try_iter()? {
            global.push(number(&name?, index, table)?);
        }
        let columns = RunColumns {
            global,
            node: runs.getattr("node")?.extract()?,
            duration: runs.getattr("duration")?.extract()?,
            start: runs.getattr("start")?.extract()?,
            end: runs.getattr("end")?.extract()?,
            status: statuses(&runs.getattr("status")?)?,
        };
        let rows = columns.node.len();
        let lengths = [
            columns.duration.len(),
            columns.start.len(),
            columns.end.len(),
            columns.status.len(),
        ];
        if lengths != [rows; 4]
            || columns
                .node
                .iter()
                .any(|&n| n as usize >= columns.global.len())
        {
            return Err(PyValueError::new_err(format!(
                "{function}: the node runs' columns do not line up"
            )));
        }
        Ok(columns)
    }
}

/// `f(runs, global, count)` over `trace`'s own runs, read off the core's pass: each
/// run name's number in `global` (through `index` and `table`, which gain the names
/// they lack) and `count` numbered names in all.
fn with_own_runs<R>(
    trace: &Bound<'_, TraceRecorder>,
    index: &Bound<'_, PyDict>,
    table: &Bound<'_, PyList>,
    f: impl FnOnce(&NodeRuns<'_, Py<PyString>>, &[u32], usize) -> R,
) -> PyResult<R> {
    let py = trace.py();
    trace.get().with_snapshot(|snapshot| {
        let runs = py.detach(|| NodeRuns::collect(snapshot));
        let mut global = Vec::with_capacity(runs.names.len());
        for (_, entry) in &runs.names {
            global.push(number(entry.payload.bind(py), index, table)?);
        }
        Ok(f(&runs, &global, table.len()))
    })
}

/// The number of node `name` in `index` (name -> number) and `table` (the names by
/// number), which gain it when it is new.
fn number(
    name: &Bound<'_, PyAny>,
    index: &Bound<'_, PyDict>,
    table: &Bound<'_, PyList>,
) -> PyResult<u32> {
    Ok(match index.get_item(name)? {
        Some(id) => id.extract::<u32>()?,
        None => {
            let id = table.len() as u32;
            table.append(name)?;
            index.set_item(name, id)?;
            id
        }
    })
}

/// `_trace_column`'s answer from the core's reduction.
fn answer(py: Python<'_>, column: compare::TraceColumn) -> Column<'_> {
    let other = column
        .other
        .iter()
        .map(|&(id, state)| (id, state.value()))
        .collect();
    (
        float_bytes(py, &column.durations),
        column.filled,
        column.extra,
        other,
        column.start,
        column.end,
        column.open,
    )
}

/// The `status` column's strings as `RunStatus` (interned strings match by identity).
fn statuses(column: &Bound<'_, PyAny>) -> PyResult<Vec<RunStatus>> {
    let py = column.py();
    let known = RunStatus::ALL.map(|status| (PyString::intern(py, status.value()), status));
    let mut out = Vec::new();
    for item in column.try_iter()? {
        let item = item?;
        let found = known
            .iter()
            .find(|(text, _)| item.is(text))
            .map(|&(_, status)| status);
        let status = match found {
            Some(status) => status,
            None => {
                let text: String = item.extract()?;
                RunStatus::ALL
                    .into_iter()
                    .find(|status| status.value() == text)
                    .ok_or_else(|| {
                        PyValueError::new_err(format!("_trace_column: unknown status {text:?}"))
                    })?
            }
        };
        out.push(status);
    }
    Ok(out)
}

/// Per-node statistics of two sides (see `crate::compare`): a dict of bytes, one item
/// per node; `verdict` codes: 0 absent, 1 too few runs, 2 noise, 3 changed.
#[pyfunction]
#[pyo3(signature = (base_columns, base_extra, cand_columns, cand_extra, count, alpha))]
pub fn _node_stats<'py>(
    py: Python<'py>,
    base_columns: Vec<Bound<'py, PyBytes>>,
    base_extra: Vec<(usize, f64)>,
    cand_columns: Vec<Bound<'py, PyBytes>>,
    cand_extra: Vec<(usize, f64)>,
    count: usize,
    alpha: f64,
) -> PyResult<Bound<'py, PyDict>> {
    if !(alpha > 0.0 && alpha < 1.0) {
        return Err(PyValueError::new_err(format!(
            "alpha must be between 0 and 1, not {alpha}"
        )));
    }
    let base_columns = floats(&base_columns)?;
    let cand_columns = floats(&cand_columns)?;
    let stats = py.detach(|| {
        compare::node_stats(
            &Samples {
                columns: &base_columns,
                extra: &base_extra,
            },
            &Samples {
                columns: &cand_columns,
                extra: &cand_extra,
            },
            count,
            alpha,
        )
    });
    let out = PyDict::new(py);
    side(&out, "baseline", &stats.baseline)?;
    side(&out, "candidate", &stats.candidate)?;
    out.set_item("change", float_bytes(py, &stats.change))?;
    out.set_item("relative", float_bytes(py, &stats.relative))?;
    out.set_item("u", float_bytes(py, &stats.u))?;
    out.set_item("p", float_bytes(py, &stats.p))?;
    let codes: Vec<u8> = stats.verdict.iter().map(|&v| v as u8).collect();
    out.set_item("verdict", PyBytes::new(py, &codes))?;
    Ok(out)
}

/// Each column's bytes as float64s; a length that is not a multiple of 8 is an error.
fn floats(columns: &[Bound<'_, PyBytes>]) -> PyResult<Vec<Vec<f64>>> {
    columns
        .iter()
        .map(|column| {
            let bytes = column.as_bytes();
            if bytes.len() % 8 != 0 {
                return Err(PyValueError::new_err(format!(
                    "_node_stats: a column of {} bytes is not float64 values",
                    bytes.len()
                )));
            }
            Ok(bytes
                .chunks_exact(8)
                .map(|chunk| f64::from_ne_bytes(chunk.try_into().expect("8 bytes")))
                .collect())
        })
        .collect()
}

fn float_bytes<'py>(py: Python<'py>, values: &[f64]) -> Bound<'py, PyBytes> {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_ne_bytes()).collect();
    PyBytes::new(py, &bytes)
}

fn u32_bytes<'py>(py: Python<'py>, values: &[u32]) -> Bound<'py, PyBytes> {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_ne_bytes()).collect();
    PyBytes::new(py, &bytes)
}

fn side(out: &Bound<'_, PyDict>, name: &str, stats: &SideStats) -> PyResult<()> {
    let py = out.py();
    out.set_item(format!("{name}_ended"), u32_bytes(py, &stats.ended))?;
    out.set_item(format!("{name}_median"), float_bytes(py, &stats.median))?;
    out.set_item(format!("{name}_p25"), float_bytes(py, &stats.p25))?;
    out.set_item(format!("{name}_p75"), float_bytes(py, &stats.p75))?;
    out.set_item(format!("{name}_min"), float_bytes(py, &stats.min))?;
    out.set_item(format!("{name}_max"), float_bytes(py, &stats.max))?;
    Ok(())
}

/// `(U, p)` of the two-sided Mann-Whitney U test of samples `a` and `b`; p is None
/// when either is empty.
#[pyfunction]
pub fn _mann_whitney(a: Vec<f64>, b: Vec<f64>) -> (f64, Option<f64>) {
    let (u, p) = compare::mann_whitney(&a, &b);
    (u, if p.is_nan() { None } else { Some(p) })
}
