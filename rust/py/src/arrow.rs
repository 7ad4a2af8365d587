//! Traces as Arrow tables in Python: `ArrowTable`, which hands a table built by
//! `arrow` to any Arrow consumer through the PyCapsule interface
//! (`__arrow_c_stream__`, `__arrow_c_schema__`), the events table of a recorder,
//! and the node-runs table of a `NodeRuns`.

use std::ffi::CStr;

use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use arrow_array::{RecordBatch, RecordBatchIterator};
use arrow_schema::ffi::FFI_ArrowSchema;
use arrow_schema::SchemaRef;
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyDict, PyList, PyString};

use super::errors::{type_name, PyFailure};
use super::metadata::JsonPayloadWriter;
use super::recorder::TraceRecorder;
use super::strings::str_bytes;
use crate::runs::NodeRuns;
use dagron_core::arrow::runs::{self, Run, RunsBuilder};
use dagron_core::arrow::{events, Table, TableError};

const STREAM: &CStr = c"arrow_array_stream";
const SCHEMA: &CStr = c"arrow_schema";

/// The Python exception for a table the core could not build.
#[cold]
fn table_error(error: TableError) -> PyErr {
    {
        match error {
            TableError::Alloc => Python::attach(super::new_objects::no_memory),
            TableError::StepTooLarge { .. } | TableError::TextTooLong { .. } => {
                PyOverflowError::new_err(error.to_string())
            }
            TableError::BadColumn { .. } | TableError::Arrow(_) => {
                PyValueError::new_err(error.to_string())
            }
        }
    }
}

impl From<TableError> for PyFailure {
    fn from(error: TableError) -> PyFailure {
        PyFailure::from(table_error(error))
    }
}

/// A table of a trace (`trace.to_arrow()`, `NodeRuns`), readable by any Arrow
/// consumer: `pyarrow.table(t)`, `polars.DataFrame(t)`, `duckdb.sql("... FROM t")`.
/// It holds the columns; each `__arrow_c_stream__` call streams them again.
#[pyclass(frozen, module = "dagron._core")]
pub struct ArrowTable {
    schema: SchemaRef,
    batch: RecordBatch,
}

impl From<Table> for ArrowTable {
    fn from(table: Table) -> Self {
        ArrowTable {
            schema: table.schema,
            batch: table.batch,
        }
    }
}

impl ArrowTable {
    fn stream<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        let batches = vec![Ok(self.batch.clone())];
        let reader = RecordBatchIterator::new(batches, SchemaRef::clone(&self.schema));
        let stream = FFI_ArrowArrayStream::new(Box::new(reader));
        PyCapsule::new_with_value(py, stream, STREAM)
    }

    fn schema_capsule<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        let schema = FFI_ArrowSchema::try_from(self.schema.as_ref())
            .map_err(|error| table_error(TableError::from(error)))?;
        PyCapsule::new_with_value(py, schema, SCHEMA)
    }
}

#[pymethods]
impl ArrowTable {
    /// The rows as an Arrow C stream in a `PyCapsule` (one record batch). The
    /// requested schema, if any, is not applied: consumers cast.
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        self.stream(py)
    }

    /// The schema as an Arrow C schema in a `PyCapsule`.
    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        self.schema_capsule(py)
    }

    fn __len__(&self) -> usize {
        self.batch.num_rows()
    }

    /// The column names, in order.
    #[getter]
    fn column_names(&self) -> Vec<String> {
        self.schema
            .fields()
            .iter()
            .map(|field| field.name().clone())
            .collect()
    }

    /// The schema's metadata (`dagron.table`, `dagron.schema_version`, ...).
    #[getter]
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        let mut pairs: Vec<_> = self.schema.metadata().iter().collect();
        pairs.sort();
        for (key, value) in pairs {
            dict.set_item(key, value)?;
        }
        Ok(dict)
    }

    fn __repr__(&self) -> String {
        let table = self
            .schema
            .metadata()
            .get("dagron.table")
            .map_or("table", String::as_str);
        format!(
            "<ArrowTable {table}: {} rows, {} columns>",
            self.batch.num_rows(),
            self.schema.fields().len()
        )
    }
}

/// `trace.to_arrow(kind=...)`: the events table (`kind="events"`, the default) or
/// the node-runs table (`kind="node_runs"`) of `recorder`.
pub(crate) fn trace_table(
    py: Python<'_>,
    recorder: &TraceRecorder,
    kind: Option<&Bound<'_, PyAny>>,
) -> PyResult<ArrowTable> {
    let kind = match kind {
        None => b"events".as_slice(),
        Some(kind) if kind.is_instance_of::<PyString>() => {
            let text = str_bytes(kind)?;
            match text.as_bytes() {
                b"events" => b"events".as_slice(),
                b"node_runs" => b"node_runs".as_slice(),
                _ => return Err(bad_kind(kind)),
            }
        }
        Some(kind) => return Err(bad_kind(kind)),
    };
    if kind == b"events" {
        events_table(py, recorder)
    } else {
        runs_table(py, recorder)
    }
}

#[cold]
fn bad_kind(kind: &Bound<'_, PyAny>) -> PyErr {
    let shown = kind
        .repr()
        .map_or_else(|_| type_name(kind), |repr| repr.to_string());
    PyValueError::new_err(format!(
        "to_arrow() kind must be 'events' or 'node_runs', not {shown}"
    ))
}

/// The node-runs table of `recorder`, straight from the core's pairing.
fn runs_table(py: Python<'_>, recorder: &TraceRecorder) -> PyResult<ArrowTable> {
    let max_events = recorder.max_events();
    recorder.with_snapshot(|snapshot| {
        let table = py
            .detach(|| {
                let runs = NodeRuns::collect(snapshot);
                runs::from_runs(&runs, snapshot.dropped(), max_events)
            })
            .map_err(table_error)?;
        Ok(ArrowTable::from(table))
    })
}

/// The events table of `recorder` (`trace.to_arrow()`).
fn events_table(py: Python<'_>, recorder: &TraceRecorder) -> PyResult<ArrowTable> {
    let max_events = recorder.max_events();
    recorder.with_snapshot(|snapshot| {
        let mut payloads = JsonPayloadWriter::new(py)?;
        let table = events::build(snapshot, &mut payloads, max_events)?;
        Ok(ArrowTable::from(table))
    })
}

/// What `NodeRuns` offers as a table: its Arrow table, the stream and schema
/// capsules, and the conveniences of `dagron.execution._tables`.
pub(crate) mod node_runs_table {
    use super::*;

    pub(crate) fn to_arrow(runs: &Bound<'_, PyAny>) -> PyResult<ArrowTable> {
        _node_runs_table(runs, None, None)
    }

    pub(crate) fn stream<'py>(runs: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyCapsule>> {
        to_arrow(runs)?.stream(runs.py())
    }

    pub(crate) fn schema<'py>(runs: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyCapsule>> {
        ArrowTable::from(
            RunsBuilder::new(0)
                .map_err(table_error)?
                .finish(None, None)
                .map_err(table_error)?,
        )
        .schema_capsule(runs.py())
    }

    /// `dagron.execution._tables.<function>(runs)`.
    pub(crate) fn convert<'py>(
        runs: &Bound<'py, PyAny>,
        function: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        runs.py()
            .import("dagron.execution._tables")?
            .call_method1(function, (runs,))
    }
}

/// One column of a `NodeRuns`: a list (read directly) or another sequence.
struct RunsColumn<'py> {
    name: &'static str,
    items: Bound<'py, PyAny>,
    list: Option<Bound<'py, PyList>>,
}

impl<'py> RunsColumn<'py> {
    fn get(runs: &Bound<'py, PyAny>, name: &'static str, rows: usize) -> PyResult<Self> {
        let items = runs.getattr(name)?;
        let len = items.len()?;
        if len != rows {
            return Err(PyValueError::new_err(format!(
                "NodeRuns column {name:?} has {len} items for {rows} runs"
            )));
        }
        let list = items.cast::<PyList>().ok().cloned();
        Ok(RunsColumn { name, items, list })
    }

    #[inline]
    fn item(&self, row: usize) -> PyResult<Bound<'py, PyAny>> {
        match &self.list {
            Some(list) => list.get_item(row),
            None => self.items.get_item(row),
        }
    }

    fn bad(&self, row: usize, item: &Bound<'_, PyAny>, expected: &str) -> PyErr {
        PyTypeError::new_err(format!(
            "NodeRuns column {:?} item {row} must be {expected}, not {}",
            self.name,
            type_name(item)
        ))
    }

    fn int(&self, row: usize) -> PyResult<i64> {
        let item = self.item(row)?;
        item.extract::<i64>()
            .map_err(|_| self.bad(row, &item, "an int"))
    }

    fn float(&self, row: usize) -> PyResult<f64> {
        let item = self.item(row)?;
        item.extract::<f64>()
            .map_err(|_| self.bad(row, &item, "a float"))
    }
}

/// The node-runs table of `runs` (a `NodeRuns`: the columns `NODE_RUNS.md`
/// describes, each a sequence). `dropped` and `max_events` (the trace's) go into
/// the schema's metadata.
#[pyfunction]
#[pyo3(signature = (runs, *, dropped = None, max_events = None))]
pub(crate) fn _node_runs_table(
    runs: &Bound<'_, PyAny>,
    dropped: Option<u64>,
    max_events: Option<usize>,
) -> PyResult<ArrowTable> {
    let rows = runs.len()?;
    let mut builder = RunsBuilder::new(rows).map_err(table_error)?;
    for name in runs.getattr("names")?.try_iter()? {
        let name = name?;
        builder
            .name(text(&name, "names")?.as_bytes())
            .map_err(table_error)?;
    }
    for source in runs.getattr("sources")?.try_iter()? {
        let source = source?;
        builder
            .source(text(&source, "sources")?.as_bytes())
            .map_err(table_error)?;
    }
    let column = |name| RunsColumn::get(runs, name, rows);
    let (node, source, lane) = (column("node")?, column("source")?, column("lane")?);
    let (start, end, duration) = (column("start")?, column("end")?, column("duration")?);
    let (status, error) = (column("status")?, column("error")?);
    let (start_event, end_event) = (column("start_event")?, column("end_event")?);
    let py = runs.py();
    for row in 0..rows {
        let status_item = status.item(row)?;
        if !status_item.is_instance_of::<PyString>() {
            return Err(status.bad(row, &status_item, "a str"));
        }
        let status_text = str_bytes(&status_item)?;
        let error_item = error.item(row)?;
        let error_text = if error_item.is_none() {
            None
        } else if error_item.is_instance_of::<PyString>() {
            Some(str_bytes(&error_item)?)
        } else {
            return Err(error.bad(row, &error_item, "a str or None"));
        };
        let run = Run {
            node: node.int(row)?,
            source: source.int(row)?,
            lane: lane.int(row)?,
            start: start.float(row)?,
            end: end.float(row)?,
            duration: duration.float(row)?,
            status: status_text.as_bytes(),
            error: error_text.as_ref().map(|text| text.as_bytes()),
            start_event: start_event.int(row)?,
            end_event: end_event.int(row)?,
        };
        builder.row(row, run).map_err(table_error)?;
        if row % (1 << 16) == (1 << 16) - 1 {
            py.check_signals()?;
        }
    }
    Ok(ArrowTable::from(
        builder.finish(dropped, max_events).map_err(table_error)?,
    ))
}

fn text<'a>(item: &'a Bound<'_, PyAny>, column: &str) -> PyResult<super::strings::StrBytes<'a>> {
    if !item.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!(
            "NodeRuns {column} must hold str, not {}",
            type_name(item)
        )));
    }
    str_bytes(item)
}
