//! The Python methods of `TraceRecorder` (`#[pymethods]`; `record` is a raw
//! METH_FASTCALL method, see `record_call`): each converts its arguments, calls the
//! core through the recorder's `TraceStore`, and converts the result.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple, PyType};
use pyo3::{PyTraverseError, PyVisit};

use super::arrow::{trace_table, ArrowTable};
use super::constructor::new_recorder;
use super::errors::type_name;
use super::events::build_events;
use super::exports::{chrome_string, to_file, write_chrome, write_json, write_to};
use super::merge::merge;
use super::node_runs::{node_runs, PyNodeRuns};
use super::output::{FileOutput, StrOutput};
use super::payload::PyExtra;
use super::perfetto::{self, PerfettoOptions};
use super::pickle;
use super::provenance::{event_sources, origin_tuple, sources};
use super::recorder::TraceRecorder;
use super::report::report_data;
use super::strings::str_bytes;
use crate::export;

#[pymethods]
impl TraceRecorder {
    /// Like `object.__new__`: extra arguments are allowed only when a subclass
    /// defines its own `__init__` to take them. `max_events=N` (an int >= 1) makes a
    /// bounded trace that keeps the newest N events.
    #[new]
    #[classmethod]
    #[pyo3(signature = (*args, **kwargs))]
    fn __new__(
        cls: &Bound<'_, PyType>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        new_recorder(cls, args, kwargs)
    }

    /// The bound given as `max_events` (the newest that many events are kept), or
    /// `None` for an unbounded trace.
    #[getter(max_events)]
    fn get_max_events(&self) -> Option<usize> {
        self.max_events()
    }

    /// Wait until every event recorded so far is in the journal file (nothing to do
    /// without a journal). Raises `OSError` (with the errno and the journal's path)
    /// if the journal could not be written; interruptible by signals.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        let Some(journal) = &self.journal else {
            return Ok(());
        };
        super::journal_live::flush(py, journal)
    }

    /// The journal file's path, or None.
    #[getter]
    fn journal(&self) -> Option<String> {
        self.journal
            .as_ref()
            .map(|journal| journal.path().to_string_lossy().into_owned())
    }

    /// Events a `max_events` trace has let go (0 for an unbounded trace, unless it
    /// was restored, merged or loaded from traces that had let some go).
    #[getter]
    fn dropped(&self) -> u64 {
        self.store.dropped()
    }

    /// The origin as `(host, pid, monotonic_ns, wall_ns)`, or None before any event
    /// (`ExecutionTrace.origin` wraps it in a `TraceOrigin`).
    fn _origin<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        self.store
            .origin()
            .map(|origin| origin_tuple(py, &origin))
            .transpose()
    }

    /// The distinct sources of the events as origin tuples, in order of first
    /// appearance (`ExecutionTrace.sources` wraps them).
    fn _sources<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        self.with_snapshot(|snapshot| sources(py, snapshot))
    }

    /// One row per run of a node, paired as the Perfetto export's compact lanes
    /// pair them (`NodeRuns`, see `docs/node-runs.md`).
    fn node_runs(&self, py: Python<'_>) -> PyResult<PyNodeRuns> {
        self.with_snapshot(|snapshot| node_runs(py, snapshot))
    }

    /// Parallel to `events`: each event's index into `sources`.
    fn event_sources<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        self.with_snapshot(|snapshot| event_sources(py, snapshot))
    }

    /// A new trace holding every event of `traces`, chronological on one clock:
    /// the shared monotonic clock when all their sources are on one host, else the
    /// wall clock; `offsets` (seconds, one per trace) are added to each trace's
    /// clock. A trace without a clock (loaded from JSON) starts at the merged
    /// start plus its offset.
    #[classmethod]
    #[pyo3(signature = (traces, *, offsets = None))]
    fn merge<'py>(
        cls: &Bound<'py, PyType>,
        traces: &Bound<'py, PyAny>,
        offsets: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        merge(cls, traces, offsets)
    }

    /// A copy of all recorded events in chronological order.
    #[getter]
    fn events<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        self.with_snapshot(|snapshot| build_events(py, snapshot.len(), snapshot.iter()))
    }

    /// The events whose `node_name` equals `name`, in chronological order.
    fn events_for_node<'py>(
        &self,
        py: Python<'py>,
        name: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        if !name.is_exact_instance_of::<PyString>() {
            // The documented filter, `node_name == name`, by Python's own comparison:
            // None matches events without a node; subclasses and other objects may
            // define their own equality.
            return self.with_snapshot(|snapshot| {
                let none = py.None().into_bound(py);
                let mut matched = Vec::new();
                for event in snapshot.iter() {
                    let node_name = match event.node {
                        Some((_, entry)) => entry.payload.bind(py).as_any(),
                        None => &none,
                    };
                    if node_name
                        .rich_compare(name, pyo3::pyclass::CompareOp::Eq)?
                        .is_truthy()?
                    {
                        matched.push(event);
                    }
                }
                build_events(py, matched.len(), matched.into_iter())
            });
        }
        let bytes = str_bytes(name)?;
        let Some(id) = self.store.lookup(bytes.as_bytes()) else {
            return Ok(PyList::empty(py));
        };
        let held = self.store.hold();
        let events = held.events_for_node(id);
        build_events(py, events.len(), events.into_iter())
    }

    /// The trace as a pretty-printed JSON array (behaviour.md 4.1).
    fn to_json<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyString>> {
        self.with_snapshot(|snapshot| {
            let mut output =
                StrOutput::new(py, snapshot.len() * export::json::EVENT_SIZE_HINT + 16)?;
            write_json(py, snapshot, &mut |chunk| output.append(chunk))?;
            output.finish(py)
        })
    }

    /// The trace in Chrome Trace Event format (behaviour.md 4.2). `named=True` adds
    /// metadata events naming the process and lanes, and gives the execution
    /// slices a lane of their own.
    #[pyo3(signature = (*, named = false))]
    fn to_chrome_trace<'py>(&self, py: Python<'py>, named: bool) -> PyResult<Bound<'py, PyString>> {
        self.with_snapshot(|snapshot| chrome_string(py, snapshot, named))
    }

    /// The trace as a Perfetto protobuf trace (`bytes`): one process group named
    /// `process_name`, or for a merged trace one per source, named `host:pid`.
    #[pyo3(
        signature = (*, process_name = None, lanes = None),
        text_signature = "($self, *, process_name='dagron', lanes='compact')"
    )]
    fn to_perfetto<'py>(
        &self,
        py: Python<'py>,
        process_name: Option<&Bound<'py, PyAny>>,
        lanes: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let options = PerfettoOptions::check("to_perfetto", process_name, lanes)?;
        let epoch = self.epoch();
        self.with_snapshot(|snapshot| perfetto::to_bytes(py, snapshot, epoch, &options))
    }

    /// Write exactly `to_perfetto()` to `dest` (a path, `.gz` for gzip, or a binary
    /// file object), streaming, like `write_json`.
    #[pyo3(
        signature = (dest, *, process_name = None, lanes = None),
        text_signature = "($self, dest, *, process_name='dagron', lanes='compact')"
    )]
    fn write_perfetto(
        &self,
        py: Python<'_>,
        dest: &Bound<'_, PyAny>,
        process_name: Option<&Bound<'_, PyAny>>,
        lanes: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let options = PerfettoOptions::check("write_perfetto", process_name, lanes)?;
        let epoch = self.epoch();
        self.with_snapshot(|snapshot| {
            write_to(FileOutput::open_binary(dest)?, |sink| {
                perfetto::write(py, snapshot, epoch, &options, sink)
            })
        })
    }

    /// Write exactly `to_json()` to `dest` (a path, `.gz` for gzip, or a file
    /// object), streaming: memory use does not grow with the trace.
    fn write_json(&self, py: Python<'_>, dest: &Bound<'_, PyAny>) -> PyResult<()> {
        self.with_snapshot(|snapshot| to_file(dest, |sink| write_json(py, snapshot, sink)))
    }

    /// Write exactly `to_chrome_trace(named=named)` to `dest`, like `write_json`.
    #[pyo3(signature = (dest, *, named = false))]
    fn write_chrome_trace(&self, dest: &Bound<'_, PyAny>, named: bool) -> PyResult<()> {
        self.with_snapshot(|snapshot| to_file(dest, |sink| write_chrome(snapshot, named, sink)))
    }

    /// The events (`kind="events"`) or the node runs (`kind="node_runs"`) as an
    /// Arrow table (`docs/tables.md`): an object with `__arrow_c_stream__`, for
    /// `pyarrow.table`, polars, DuckDB and others.
    #[pyo3(signature = (*, kind = None), text_signature = "($self, *, kind='events')")]
    fn to_arrow(&self, py: Python<'_>, kind: Option<&Bound<'_, PyAny>>) -> PyResult<ArrowTable> {
        trace_table(py, self, kind)
    }

    /// A human-readable summary (behaviour.md 4.3).
    fn summary(&self) -> String {
        self.store.summary().to_string()
    }

    /// For the HTML report (`dagron.report`): the node runs as packed columns,
    /// their errors and metadata, and the events that name no node; see
    /// `report::report_data`.
    fn _report_data<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        self.with_snapshot(|snapshot| report_data(py, snapshot))
    }

    /// Metadata can refer back to the trace (`metadata={"trace": trace}`): let the
    /// cyclic GC see it, as it would see a pure-Python trace's list of events.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        let mut result = Ok(());
        let visit_extra = |extra: &PyExtra| {
            if result.is_ok() {
                if let Some(metadata) = &extra.metadata {
                    result = visit.call(metadata);
                }
            }
            if result.is_ok() {
                if let Some(step) = &extra.big_step {
                    result = visit.call(step);
                }
            }
        };
        self.store.for_each_payload(visit_extra);
        result
    }

    fn __bool__(&self) -> bool {
        true
    }

    fn __repr__(slf: &Bound<'_, Self>) -> String {
        let len = slf.get().with_snapshot(|snapshot| snapshot.len());
        format!("<{} with {len} events>", type_name(slf.as_any()))
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        pickle::reduce(slf)
    }

    fn __setstate__(slf: &Bound<'_, Self>, state: &Bound<'_, PyAny>) -> PyResult<()> {
        pickle::restore(slf, state)
    }
}
