//! `_profile_run`: `dagron.profile_execution` in one call. It reads the run's
//! `NodeResult`s (status and duration, by attribute, as the Python definitions do),
//! runs the graph passes over the completed nodes, builds the report's `NodeProfile`
//! objects and lists, and, given the run's trace, reads the observed figures off the
//! core's node runs.
//!
//! A million nodes are a million `NodeProfile`s, made by a `SlottedBuilder` (no
//! dataclass `__init__`, a Python frame per node). On a large graph the passes that
//! need no Python object (descendant counts, the trace's node runs) run on a second
//! thread meanwhile; each profile's last field, its descendant count, is set after.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyList, PyTuple, PyType};

use super::errors::type_name;
use super::graph::{critical_path_by_name, GraphIndex};
use super::new_objects;
use super::node_runs::ObservedRuns;
use super::recorder::{PySnapshot, TraceRecorder};
use super::slotted::SlottedBuilder;
use dagron_core::graph::{top_k, Graph};

/// NodeProfile's fields: name, duration, earliest and latest start, slack, whether
/// on the critical path, blocked descendants.
const FIELD_COUNT: usize = 7;

/// From this many nodes on, the passes without Python objects get a thread.
const ALONGSIDE_FROM: usize = 50_000;

/// What `_profile_run` found over the completed nodes: `{name: NodeProfile}` in
/// level order, the critical path's names and total, the bottlenecks' names, the
/// completed durations in result order (the caller sums them as Python sums), the
/// makespan and the widest level.
type Profiled<'py> = (
    Bound<'py, PyDict>,
    Bound<'py, PyList>,
    f64,
    Bound<'py, PyList>,
    Bound<'py, PyList>,
    f64,
    usize,
);

/// The observed figures: critical path (names), `{name: scheduling delay}` in level
/// order for the nodes that started, idle seconds.
type ObservedFigures<'py> = (Bound<'py, PyList>, Bound<'py, PyDict>, f64);

/// `_profile_run(graph, node_results, index, completed, check_duration, names,
/// profile_type, fields, bottlenecks, trace=None) -> (profiled, observed)`: see the
/// module's documentation. `index` maps node names to indices (`names` the other
/// way); a result whose `status` is (or equals) `completed` counts, with its
/// `duration_seconds` when that is a finite, non-negative float, else as
/// `check_duration(name, value)` converts it (or raises). `profile_type` is the
/// `NodeProfile` class, `fields` its seven field names in `__init__` order.
/// `profiled` is None when no node completed, `observed` without a trace or for an
/// empty one.
#[pyfunction]
#[pyo3(signature = (
    graph, node_results, index, completed, check_duration, names, profile_type, fields,
    bottlenecks, trace = None
))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn _profile_run<'py>(
    graph: PyRef<'py, GraphIndex>,
    node_results: &Bound<'py, PyDict>,
    index: &Bound<'py, PyDict>,
    completed: &Bound<'py, PyAny>,
    check_duration: &Bound<'py, PyAny>,
    names: &Bound<'py, PyList>,
    profile_type: &Bound<'py, PyType>,
    fields: &Bound<'py, PyTuple>,
    bottlenecks: usize,
    trace: Option<PyRef<'py, TraceRecorder>>,
) -> PyResult<(Option<Profiled<'py>>, Option<ObservedFigures<'py>>)> {
    let py = names.py();
    let graph = graph.graph();
    let count = graph.node_count();
    if names.len() != count {
        return Err(PyValueError::new_err(format!(
            "_profile_run: names has {} items for {count} nodes",
            names.len()
        )));
    }
    if fields.len() != FIELD_COUNT {
        return Err(PyValueError::new_err(format!(
            "_profile_run: NodeProfile has {FIELD_COUNT} fields, not {}",
            fields.len()
        )));
    }
    let read = read_results(
        py,
        node_results,
        index,
        completed,
        check_duration,
        names,
        count,
    )?;
    let run = Run {
        py,
        graph,
        names,
        index,
        builder: SlottedBuilder::new(profile_type, fields)?,
        bottlenecks,
    };
    match trace {
        Some(trace) => trace.with_snapshot(|snapshot| {
            run.profile(read, (!snapshot.is_empty()).then_some(snapshot))
        }),
        None => run.profile(read, None),
    }
}

/// One `_profile_run` call's inputs.
struct Run<'a, 'py> {
    py: Python<'py>,
    graph: &'a Graph,
    names: &'a Bound<'py, PyList>,
    index: &'a Bound<'py, PyDict>,
    builder: SlottedBuilder<'py>,
    bottlenecks: usize,
}

impl<'py> Run<'_, 'py> {
    fn profile(
        &self,
        read: Option<ReadResults<'py>>,
        snapshot: Option<&PySnapshot<'_>>,
    ) -> PyResult<(Option<Profiled<'py>>, Option<ObservedFigures<'py>>)> {
        let (py, graph) = (self.py, self.graph);
        // The graph's name objects by address: a trace recorded with the DAG's
        // shared name table holds these very objects, matched without the GIL.
        let name_at: Vec<usize> = match snapshot {
            Some(_) => self
                .names
                .iter()
                .map(|name| name.as_ptr() as usize)
                .collect(),
            None => Vec::new(),
        };
        let included = read.as_ref().map(|read| &read.included);
        let schedule = read.as_ref().map(|read| {
            let (durations, included) = (&read.durations, &read.included);
            py.detach(|| graph.schedule(durations, included))
        });
        let ((blocked, runs), built) = alongside(
            graph.node_count() >= ALONGSIDE_FROM,
            &|| {
                let blocked = included.map(|included| graph.descendant_counts(included));
                let runs = snapshot.map(|snapshot| ObservedRuns::gather(snapshot, &name_at, graph));
                (blocked, runs)
            },
            || match (&read, &schedule) {
                (Some(read), Some(schedule)) => self.build_profiles(read, schedule).map(Some),
                _ => Ok(None),
            },
        );
        let profiled = match (read, schedule, blocked, built?) {
            (Some(read), Some(schedule), Some(blocked), Some(built)) => {
                Some(self.finish_profiles(read, schedule.makespan, &blocked, built)?)
            }
            _ => None,
        };
        let observed = match runs {
            Some(runs) => {
                let (times, observed) = runs.finish(py, self.index, graph)?;
                let delays = PyDict::new(py);
                for &v in graph.order() {
                    let v = v as usize;
                    if !times.starts[v].is_nan() {
                        delays.set_item(self.names.get_item(v)?, observed.scheduling_delay[v])?;
                    }
                }
                Some((
                    self.names_of(&observed.critical_path)?,
                    delays,
                    observed.idle,
                ))
            }
            None => None,
        };
        Ok((profiled, observed))
    }

    /// The profiles of the completed nodes, without their descendant counts: their
    /// dict (level order) and each with its node.
    fn build_profiles(
        &self,
        read: &ReadResults<'py>,
        schedule: &dagron_core::graph::Schedule,
    ) -> PyResult<BuiltProfiles<'py>> {
        let py = self.py;
        let (path, path_total) =
            critical_path_by_name(self.graph, &read.durations, &read.included, self.names)?;
        let mut on_path = vec![false; self.graph.node_count()];
        for &v in &path {
            on_path[v as usize] = true;
        }
        let profiles = PyDict::new(py);
        let mut each = Vec::with_capacity(read.work.len());
        for &v in self.graph.order() {
            let v = v as usize;
            if !read.included[v] {
                continue;
            }
            let name = self.names.get_item(v)?;
            let profile = self.builder.build(&[
                name.clone(),
                new_objects::float(py, read.durations[v])?,
                new_objects::float(py, schedule.earliest_start[v])?,
                new_objects::float(py, schedule.latest_start[v])?,
                new_objects::float(py, schedule.slack[v])?,
                PyBool::new(py, on_path[v]).to_owned().into_any(),
            ])?;
            profiles.set_item(name, &profile)?;
            each.push((v, profile));
        }
        Ok(BuiltProfiles {
            profiles,
            each,
            path,
            path_total,
        })
    }

    /// The profiled part of the answer, once the descendant counts are known.
    fn finish_profiles(
        &self,
        read: ReadResults<'py>,
        makespan: f64,
        blocked: &[u64],
        built: BuiltProfiles<'py>,
    ) -> PyResult<Profiled<'py>> {
        let py = self.py;
        for (v, profile) in &built.each {
            let count = blocked[*v].into_pyobject(py)?.into_any();
            self.builder.set_unset(profile, FIELD_COUNT - 1, &count)?;
        }
        // As Python computes `duration * (1 + blocked)`: the int converted to float.
        let scores: Vec<f64> = read
            .durations
            .iter()
            .zip(blocked)
            .map(|(&duration, &blocked)| duration * (1 + blocked) as f64)
            .collect();
        let top = top_k(
            self.graph.order(),
            &scores,
            &read.included,
            self.bottlenecks,
        );
        Ok((
            built.profiles,
            self.names_of(&built.path)?,
            built.path_total,
            self.names_of(&top)?,
            PyList::new(py, read.work)?,
            makespan,
            self.graph.widest_level(&read.included),
        ))
    }

    fn names_of(&self, nodes: &[u32]) -> PyResult<Bound<'py, PyList>> {
        let items = nodes
            .iter()
            .map(|&v| self.names.get_item(v as usize))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(self.py, items)
    }
}

/// The profiles built before the descendant counts are in.
struct BuiltProfiles<'py> {
    profiles: Bound<'py, PyDict>,
    each: Vec<(usize, Bound<'py, PyAny>)>,
    path: Vec<u32>,
    path_total: f64,
}

/// Per node: its duration (0.0 unless completed) and whether it completed; and the
/// completed durations as Python floats in result order.
struct ReadResults<'py> {
    durations: Vec<f64>,
    included: Vec<bool>,
    work: Vec<Bound<'py, PyAny>>,
}

impl<'py> ReadResults<'py> {
    /// Notes node `v`'s result `node` (named `name`), if it completed.
    fn take(
        &mut self,
        py: Python<'py>,
        v: usize,
        name: &Bound<'py, PyAny>,
        node: &Bound<'py, PyAny>,
        completed: &Bound<'py, PyAny>,
        check_duration: &Bound<'py, PyAny>,
    ) -> PyResult<()> {
        let status = node.getattr(intern!(py, "status"))?;
        if !(status.is(completed) || status.eq(completed)?) {
            return Ok(());
        }
        let mut duration = node.getattr(intern!(py, "duration_seconds"))?;
        let seconds = match duration.cast_exact::<PyFloat>() {
            Ok(value) if (0.0..f64::INFINITY).contains(&value.value()) => value.value(),
            _ => {
                // Converts, or raises the error that names the node.
                duration = check_duration.call1((name, &duration))?;
                duration.extract::<f64>().map_err(|_| {
                    PyTypeError::new_err(format!(
                        "check_duration returned {}, not float",
                        type_name(&duration)
                    ))
                })?
            }
        };
        self.durations[v] = seconds;
        self.included[v] = true;
        self.work.push(duration);
        Ok(())
    }
}

fn read_results<'py>(
    py: Python<'py>,
    node_results: &Bound<'py, PyDict>,
    index: &Bound<'py, PyDict>,
    completed: &Bound<'py, PyAny>,
    check_duration: &Bound<'py, PyAny>,
    names: &Bound<'py, PyList>,
    count: usize,
) -> PyResult<Option<ReadResults<'py>>> {
    let mut read = ReadResults {
        durations: vec![0.0; count],
        included: vec![false; count],
        work: Vec::new(),
    };
    for (position, (name, node)) in node_results.iter().enumerate() {
        // An executor's results are in the DAG's order, keyed by the DAG's own name
        // strings: then the position is the index, and the (large, cache-cold)
        // index dict is not consulted.
        if position < count && names.get_item(position)?.is(&name) {
            read.take(py, position, &name, &node, completed, check_duration)?;
            continue;
        }
        let Some(v) = index.get_item(&name)? else {
            return Err(PyValueError::new_err(format!(
                "result.node_results names {}, which is not a node of dag",
                name.repr()?
            )));
        };
        let v: usize = v.extract()?;
        if v >= count {
            return Err(PyValueError::new_err(format!(
                "_profile_run: index maps {} to {v}, out of range for {count} nodes",
                name.repr()?
            )));
        }
        read.take(py, v, &name, &node, completed, check_duration)?;
    }
    Ok((!read.work.is_empty()).then_some(read))
}

/// `(background(), here())`, the first on a scoped thread of its own when `parallel`
/// (and a thread can be started), else after `here` on this thread.
fn alongside<A: Send, B>(
    parallel: bool,
    background: &(dyn Fn() -> A + Sync),
    here: impl FnOnce() -> B,
) -> (A, B) {
    std::thread::scope(|scope| {
        let handle = if parallel {
            std::thread::Builder::new()
                .name("dagron-profile".into())
                .spawn_scoped(scope, background)
                .ok()
        } else {
            None
        };
        let here = here();
        let background = match handle {
            Some(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            None => background(),
        };
        (background, here)
    })
}
