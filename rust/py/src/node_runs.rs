//! `NodeRuns`, the Python face of the core's node-runs pass (`crate::runs`): its
//! columns as Python lists, built once per `trace.node_runs()` call; and the
//! per-node times the profiling passes read off the same rows, with no Python
//! object per event or per run.

use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyDict, PyList, PyString};

use super::arrow::{node_runs_table, ArrowTable};
use super::recorder::PySnapshot;
use crate::runs::{NodeRuns, NodeTimes, RunStatus};
use dagron_core::graph::{Graph, Observed};

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

/// A trace's node runs matched to the nodes of a graph, and what the observed
/// profile makes of them, gathered without the GIL (on profiling's second thread).
///
/// A run's name is graph node `i` where it is the graph's own name object `i`: a
/// trace recorded with the DAG's shared name table (an executor's) interns node
/// `i`'s name as id `i`. Other names are looked up by name in `finish`, with the
/// GIL; names that are not nodes of the graph are ignored.
pub(crate) struct ObservedRuns<'a> {
    runs: NodeRuns<'a, Py<PyString>>,
    graph_index: Vec<Option<u32>>,
    /// Rows of `runs.names` not matched by identity.
    unmatched: Vec<usize>,
    /// The answer, when every name was matched by identity.
    done: Option<(NodeTimes, Observed)>,
}

impl<'a> ObservedRuns<'a> {
    /// `name_at[i]`: the address of the graph's name object `i`.
    pub(crate) fn gather(snapshot: &PySnapshot<'a>, name_at: &[usize], graph: &Graph) -> Self {
        let runs = NodeRuns::collect(snapshot);
        let mut unmatched = Vec::new();
        let graph_index = runs
            .names
            .iter()
            .enumerate()
            .map(|(row, &(id, entry))| {
                // Addresses only: no reference count is touched without the GIL.
                let own = name_at.get(id as usize) == Some(&(entry.payload.as_ptr() as usize));
                if !own {
                    unmatched.push(row);
                }
                own.then_some(id)
            })
            .collect();
        let mut gathered = ObservedRuns {
            runs,
            graph_index,
            unmatched,
            done: None,
        };
        if gathered.unmatched.is_empty() {
            gathered.done = Some(gathered.observe(graph));
        }
        gathered
    }

    /// Per-node times and the observed figures, once the names not matched by
    /// identity are looked up in `index` (names to graph indices).
    pub(crate) fn finish(
        mut self,
        py: Python<'_>,
        index: &Bound<'_, PyDict>,
        graph: &Graph,
    ) -> PyResult<(NodeTimes, Observed)> {
        if let Some(done) = self.done.take() {
            return Ok(done);
        }
        let count = graph.node_count();
        for &row in &self.unmatched {
            let name = self.runs.names[row].1.payload.bind(py);
            self.graph_index[row] = match index.get_item(name)? {
                Some(value) => Some(value.extract::<usize>()?)
                    .filter(|&v| v < count)
                    .map(|v| v as u32),
                None => None,
            };
        }
        Ok(py.detach(|| self.observe(graph)))
    }

    fn observe(&self, graph: &Graph) -> (NodeTimes, Observed) {
        let times = NodeTimes::from_runs(&self.runs, &self.graph_index, graph.node_count());
        let observed = graph.observe(&times.starts, &times.ends, times.run_start, times.run_end);
        (times, observed)
    }
}
