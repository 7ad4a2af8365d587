//! `GraphIndex`: the binding over `crate::graph` that `dagron.profiling`,
//! `dagron.compare` and `DAG.critical_path` use. It takes a DAG as its successor
//! index lists (the `DAG`'s own adjacency dicts), per-node values as lists of floats
//! and per-node flags as `bytes`, checks their lengths, runs the pass without the GIL
//! and returns plain lists.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use super::errors::type_name;
use dagron_core::graph::Graph;

/// `schedule`'s answer: earliest starts, latest starts, slacks, makespan.
type ScheduleLists = (Vec<f64>, Vec<f64>, Vec<f64>, f64);

/// A DAG of node indices in compact form, for the profiling passes (internal).
#[pyclass(frozen, module = "dagron._core")]
pub struct GraphIndex {
    graph: Graph,
}

#[pymethods]
impl GraphIndex {
    /// `successors[v]`: the successor indices of node `v`, as any iterable of `int`
    /// (a `DAG`'s own adjacency dicts are taken as they are).
    #[new]
    fn new(successors: &Bound<'_, PyList>) -> PyResult<Self> {
        let mut starts = Vec::with_capacity(successors.len() + 1);
        starts.push(0u32);
        let mut flat: Vec<u32> = Vec::new();
        for (node, targets) in successors.iter().enumerate() {
            if let Ok(targets) = targets.cast::<PyDict>() {
                // A DAG's own adjacency dicts: read in place, no iterator object.
                for (target, _) in targets.iter() {
                    flat.push(index(&target)?);
                }
            } else {
                let targets = targets.try_iter().map_err(|_| {
                    PyTypeError::new_err(format!(
                        "GraphIndex() successors[{node}] must be an iterable of int, not {}",
                        type_name(&targets)
                    ))
                })?;
                for target in targets {
                    flat.push(index(&target?)?);
                }
            }
            starts.push(u32::try_from(flat.len()).map_err(|_| too_large())?);
        }
        let graph = Graph::new(starts, flat)
            .map_err(|error| PyValueError::new_err(format!("GraphIndex(): {error}")))?;
        Ok(GraphIndex { graph })
    }

    /// Every node, level by level (each level in index order), as `DAG.levels()`.
    fn order(&self) -> Vec<u32> {
        self.graph.order().to_vec()
    }

    fn __len__(&self) -> usize {
        self.graph.node_count()
    }

    /// `(earliest_start, latest_start, slack, makespan)` over the `included` nodes
    /// (NaN for the others).
    fn schedule(
        &self,
        py: Python<'_>,
        durations: Vec<f64>,
        included: &[u8],
    ) -> PyResult<ScheduleLists> {
        self.check_len("durations", durations.len())?;
        let included = self.flags("included", included)?;
        let schedule = py.detach(|| self.graph.schedule(&durations, &included));
        Ok((
            schedule.earliest_start,
            schedule.latest_start,
            schedule.slack,
            schedule.makespan,
        ))
    }

    /// `(path, total)`: the longest path through the `included` nodes weighted by
    /// `costs`; between equal bottom levels the node whose name in `names` is smaller.
    fn critical_path(
        &self,
        costs: Vec<f64>,
        included: &[u8],
        names: &Bound<'_, PyList>,
    ) -> PyResult<(Vec<u32>, f64)> {
        self.check_len("costs", costs.len())?;
        self.check_len("names", names.len())?;
        let included = self.flags("included", included)?;
        critical_path_by_name(&self.graph, &costs, &included, names)
    }

    /// `(observed_critical_path, scheduling_delays, idle)` from per-node start and end
    /// times (NaN when not recorded) of a run spanning `run_start..run_end`.
    fn observe(
        &self,
        py: Python<'_>,
        starts: Vec<f64>,
        ends: Vec<f64>,
        run_start: f64,
        run_end: f64,
    ) -> PyResult<(Vec<u32>, Vec<f64>, f64)> {
        self.check_len("starts", starts.len())?;
        self.check_len("ends", ends.len())?;
        let observed = py.detach(|| self.graph.observe(&starts, &ends, run_start, run_end));
        Ok((
            observed.critical_path,
            observed.scheduling_delay,
            observed.idle,
        ))
    }
}

impl GraphIndex {
    /// The graph itself, for the passes that other files of the binding run.
    pub(crate) fn graph(&self) -> &Graph {
        &self.graph
    }

    fn check_len(&self, what: &str, len: usize) -> PyResult<()> {
        if len != self.graph.node_count() {
            return Err(length_error(what, len, self.graph.node_count()));
        }
        Ok(())
    }

    fn flags(&self, what: &str, flags: &[u8]) -> PyResult<Vec<bool>> {
        self.check_len(what, flags.len())?;
        Ok(flags.iter().map(|&flag| flag != 0).collect())
    }
}

/// `(path, total)`: the longest path through the `included` nodes weighted by
/// `costs`; between equal bottom levels the node whose name in `names` (a list as
/// long as the graph, str items) is smaller, as Python compares them.
pub(crate) fn critical_path_by_name(
    graph: &Graph,
    costs: &[f64],
    included: &[bool],
    names: &Bound<'_, PyList>,
) -> PyResult<(Vec<u32>, f64)> {
    // Ties are rare (equal measured durations), so names are compared only then,
    // as Python compares them; the GIL stays held for that.
    let mut failure: Option<PyErr> = None;
    let result = graph.critical_path(costs, included, |a, b| {
        let smaller = names
            .get_item(a as usize)
            .and_then(|a| Ok((a, names.get_item(b as usize)?)))
            .and_then(|(a, b)| {
                if !a.is_instance_of::<PyString>() || !b.is_instance_of::<PyString>() {
                    return Err(PyTypeError::new_err("GraphIndex names must be str"));
                }
                a.lt(b)
            });
        smaller.unwrap_or_else(|error| {
            failure.get_or_insert(error);
            false
        })
    });
    match failure {
        Some(error) => Err(error),
        None => Ok(result),
    }
}

#[cold]
fn length_error(what: &str, len: usize, node_count: usize) -> PyErr {
    PyValueError::new_err(format!(
        "GraphIndex: {what} has {len} items for {node_count} nodes"
    ))
}

#[cold]
fn too_large() -> PyErr {
    PyValueError::new_err("GraphIndex(): more than 2**32 - 1 edges")
}

fn index(item: &Bound<'_, PyAny>) -> PyResult<u32> {
    item.extract::<u32>().map_err(|_| {
        PyValueError::new_err(format!(
            "GraphIndex() successors must hold node indices (int in 0..2**32), not {}",
            item.repr()
                .map_or_else(|_| type_name(item), |text| text.to_string())
        ))
    })
}
