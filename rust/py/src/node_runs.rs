//! `NodeRuns`, the Python face of the core's node-runs pass (`crate::runs`): its
//! columns as Python lists, built once per `trace.node_runs()` call; and the
//! per-node times the profiling passes read off the same rows, with no Python
//! object per event or per run.

use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyDict, PyList, PyString};

use super::arrow::{node_runs_table, ArrowTable};
use super::recorder::PySnapshot;
use crate::runs::{NodeRuns, NodeTimes, RunStatus};

/// One row per run of a node, as index-aligned columns (see `docs/node-runs.md`).
#[pyclass(frozen, module = "dagron._core", name = "NodeRuns")]
pub struct PyNodeRuns {
    /// The node-name table: each name once, in order of first run.
    #[pyo3(get)]
    names: Py<PyList>,
    /// `host:pid` of each source, in `trace.sources` order.
    #[pyo3(get)]
    sources: Py<PyList>,
    #[pyo3(get)]
    node: Py<PyList>,
    #[pyo3(get)]
    source: Py<PyList>,
    #[pyo3(get)]
    lane: Py<PyList>,
    #[pyo3(get)]
    start: Py<PyList>,
    #[pyo3(get)]
    end: Py<PyList>,
    #[pyo3(get)]
    duration: Py<PyList>,
    #[pyo3(get)]
    status: Py<PyList>,
    #[pyo3(get)]
    error: Py<PyList>,
    #[pyo3(get)]
    start_event: Py<PyList>,
    #[pyo3(get)]
    end_event: Py<PyList>,
    len: usize,
}

#[pymethods]
impl PyNodeRuns {
    fn __len__(&self) -> usize {
        self.len
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "<NodeRuns: {} runs of {} nodes>",
            self.len,
            self.names.bind(py).len()
        )
    }

    /// The runs as an Arrow table (`docs/tables.md`).
    fn to_arrow(slf: &Bound<'_, Self>) -> PyResult<ArrowTable> {
        node_runs_table::to_arrow(slf.as_any())
    }

    /// The runs as an Arrow C stream (the PyCapsule interface).
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(
        slf: &Bound<'py, Self>,
        requested_schema: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        node_runs_table::stream(slf.as_any())
    }

    fn __arrow_c_schema__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyCapsule>> {
        node_runs_table::schema(slf.as_any())
    }

    /// The runs as a pandas `DataFrame` (needs pyarrow and pandas).
    fn to_pandas<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        node_runs_table::convert(slf.as_any(), "to_pandas")
    }

    /// The runs as a polars `DataFrame` (needs polars).
    fn to_polars<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        node_runs_table::convert(slf.as_any(), "to_polars")
    }
}

/// `trace.node_runs()` of `snapshot`.
pub(crate) fn node_runs(py: Python<'_>, snapshot: &PySnapshot<'_>) -> PyResult<PyNodeRuns> {
    let runs = py.detach(|| NodeRuns::collect(snapshot));
    let list = |items: Vec<Bound<'_, PyAny>>| -> PyResult<Py<PyList>> {
        Ok(PyList::new(py, items)?.unbind())
    };
    let statuses = RunStatus::ALL.map(|status| PyString::intern(py, status.value()));
    let names = runs
        .names
        .iter()
        .map(|(_, entry)| entry.payload.bind(py).clone().into_any())
        .collect();
    let sources = runs
        .sources
        .list
        .iter()
        .map(|origin| Ok(PyString::new(py, &origin.display_name()).into_any()))
        .collect::<PyResult<_>>()?;
    let status = runs
        .status
        .iter()
        .map(|&status| statuses[status as usize].clone().into_any())
        .collect();
    let error = runs
        .error
        .iter()
        .map(|error| match error {
            Some(entry) => entry.payload.bind(py).clone().into_any(),
            None => py.None().into_bound(py),
        })
        .collect();
    Ok(PyNodeRuns {
        names: list(names)?,
        sources: list(sources)?,
        node: PyList::new(py, &runs.node)?.unbind(),
        source: PyList::new(py, &runs.source)?.unbind(),
        lane: PyList::new(py, &runs.lane)?.unbind(),
        start: PyList::new(py, &runs.start)?.unbind(),
        end: PyList::new(py, &runs.end)?.unbind(),
        duration: PyList::new(py, &runs.duration)?.unbind(),
        status: list(status)?,
        error: list(error)?,
        start_event: PyList::new(py, &runs.start_event)?.unbind(),
        end_event: PyList::new(py, &runs.end_event)?.unbind(),
        len: runs.len(),
    })
}

/// Per node of a graph of `count` nodes, when it started and ended, read off the
/// runs of `snapshot`; `index` maps node names to graph indices (other names, and
/// indices not below `count`, are ignored). None for an empty snapshot.
///
/// `names` are the graph's node names by index. A trace recorded with the DAG's
/// shared name table (an executor's) interns node `i`'s name object as id `i`:
/// where the entry holds that very object, its index is `i` with no lookup.
pub(crate) fn node_times(
    py: Python<'_>,
    snapshot: &PySnapshot<'_>,
    names: &Bound<'_, PyList>,
    index: &Bound<'_, PyDict>,
    count: usize,
) -> PyResult<Option<NodeTimes>> {
    if snapshot.is_empty() {
        return Ok(None);
    }
    let runs = py.detach(|| NodeRuns::collect(snapshot));
    let graph_index = runs
        .names
        .iter()
        .map(|&(id, entry)| {
            let name = entry.payload.bind(py);
            if (id as usize) < count.min(names.len()) && names.get_item(id as usize)?.is(name) {
                return Ok(Some(id));
            }
            match index.get_item(name)? {
                Some(value) => Ok(Some(value.extract::<usize>()?)
                    .filter(|&v| v < count)
                    .map(|v| v as u32)),
                None => Ok(None),
            }
        })
        .collect::<PyResult<Vec<_>>>()?;
    Ok(Some(py.detach(|| {
        NodeTimes::from_runs(&runs, &graph_index, count)
    })))
}
