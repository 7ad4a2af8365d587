//! The node-runs table: one row per run of a node, from the runs that
//! `node_runs()` paired (the Perfetto export's pairing), column for column
//! (`docs/tables.md`): straight from the core's `NodeRuns`, or row by row from the
//! bindings (a Python `NodeRuns`).

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::types::{Int32Type, Int8Type};
use arrow_array::{
    ArrayRef, DictionaryArray, Float64Array, Int32Array, Int64Array, PrimitiveArray, RecordBatch,
};
use arrow_schema::{DataType, Field, Schema};

use super::{
    dictionary_field, schema_metadata, Column, Table, TableError, TextDictionary, Validity,
};
use crate::runs::NodeRuns;

/// A run's status, in the order of the status column's dictionary.
pub const STATUSES: [&str; 6] = [
    "completed",
    "failed",
    "timed_out",
    "open",
    "skipped",
    "cancelled",
];
const OPEN: i8 = 3;

/// The node-runs table's schema (its metadata aside).
pub fn fields() -> Vec<Field> {
    vec![
        dictionary_field("node", DataType::Int32, false),
        dictionary_field("source", DataType::Int32, false),
        Field::new("lane", DataType::Int32, false),
        Field::new("start", DataType::Float64, false),
        Field::new("end", DataType::Float64, true),
        Field::new("duration", DataType::Float64, true),
        dictionary_field("status", DataType::Int8, false),
        dictionary_field("error", DataType::Int32, true),
        Field::new("start_event", DataType::Int64, true),
        Field::new("end_event", DataType::Int64, true),
    ]
}

/// One run as `NodeRuns` gives it: `node` and `source` index its `names` and
/// `sources`; `end` and `duration` are NaN for an open run; an event index is -1
/// when absent.
#[derive(Debug, Clone, Copy)]
pub struct Run<'a> {
    pub node: i64,
    pub source: i64,
    pub lane: i64,
    pub start: f64,
    pub end: f64,
    pub duration: f64,
    pub status: &'a [u8],
    pub error: Option<&'a [u8]>,
    pub start_event: i64,
    pub end_event: i64,
}

/// Builds the node-runs table: first the names and sources, then each row.
pub struct RunsBuilder {
    rows: usize,
    names: Dictionary,
    sources: Dictionary,
    node: Column<i32>,
    source: Column<i32>,
    lane: Column<i32>,
    start: Column<f64>,
    end: Column<f64>,
    end_valid: Validity,
    duration: Column<f64>,
    duration_valid: Validity,
    status: Column<i8>,
    error: Column<i32>,
    error_valid: Validity,
    error_keys: HashMap<Box<[u8]>, i32>,
    errors: TextDictionary,
    start_event: Column<i64>,
    start_event_valid: Validity,
    end_event: Column<i64>,
    end_event_valid: Validity,
}

/// A list of texts (names, sources) and each one's dictionary entry.
struct Dictionary {
    texts: TextDictionary,
    entries: Vec<i32>,
}

impl Dictionary {
    fn new(column: &'static str) -> Self {
        Dictionary {
            texts: TextDictionary::new(column),
            entries: Vec::new(),
        }
    }

    fn add(&mut self, text: &[u8]) -> Result<(), TableError> {
        let entry = self.texts.add(text)? as i32;
        self.entries
            .try_reserve(1)
            .map_err(|_| crate::error::AllocError)?;
        self.entries.push(entry);
        Ok(())
    }

    fn entry(&self, column: &'static str, index: i64) -> Result<i32, TableError> {
        usize::try_from(index)
            .ok()
            .and_then(|index| self.entries.get(index).copied())
            .ok_or_else(|| TableError::BadColumn {
                column,
                reason: format!(
                    "{index} is not an index into the {} listed",
                    self.entries.len()
                ),
            })
    }
}

impl RunsBuilder {
    pub fn new(rows: usize) -> Result<Self, TableError> {
        Ok(RunsBuilder {
            rows,
            names: Dictionary::new("node"),
            sources: Dictionary::new("source"),
            node: Column::new(rows)?,
            source: Column::new(rows)?,
            lane: Column::new(rows)?,
            start: Column::new(rows)?,
            end: Column::new(rows)?,
            end_valid: Validity::new(rows)?,
            duration: Column::new(rows)?,
            duration_valid: Validity::new(rows)?,
            status: Column::new(rows)?,
            error: Column::new(rows)?,
            error_valid: Validity::new(rows)?,
            error_keys: HashMap::new(),
            errors: TextDictionary::new("error"),
            start_event: Column::new(rows)?,
            start_event_valid: Validity::new(rows)?,
            end_event: Column::new(rows)?,
            end_event_valid: Validity::new(rows)?,
        })
    }

    /// The next node name (generalized UTF-8), in `names` order.
    pub fn name(&mut self, text: &[u8]) -> Result<(), TableError> {
        self.names.add(text)
    }

    /// The next source (`host:pid`), in `sources` order.
    pub fn source(&mut self, text: &[u8]) -> Result<(), TableError> {
        self.sources.add(text)
    }

    pub fn row(&mut self, row: usize, run: Run<'_>) -> Result<(), TableError> {
        self.node.set(row, self.names.entry("node", run.node)?);
        self.source
            .set(row, self.sources.entry("source", run.source)?);
        let lane = i32::try_from(run.lane).ok().filter(|&lane| lane >= 0);
        self.lane.set(
            row,
            lane.ok_or_else(|| TableError::BadColumn {
                column: "lane",
                reason: format!("{} is not a lane number", run.lane),
            })?,
        );
        self.start.set(row, run.start);
        let status = STATUSES
            .iter()
            .position(|status| status.as_bytes() == run.status)
            .ok_or_else(|| TableError::BadColumn {
                column: "status",
                reason: format!("{:?} is not a status", String::from_utf8_lossy(run.status)),
            })? as i8;
        self.status.set(row, status);
        // An open run has no end: null, where `NodeRuns` holds NaN.
        if status != OPEN {
            self.end.set(row, run.end);
            self.end_valid.set(row);
            self.duration.set(row, run.duration);
            self.duration_valid.set(row);
        }
        if let Some(error) = run.error {
            let key = match self.error_keys.get(error) {
                Some(&key) => key,
                None => {
                    let key = self.errors.add(error)? as i32;
                    self.error_keys.insert(Box::from(error), key);
                    key
                }
            };
            self.error.set(row, key);
            self.error_valid.set(row);
        }
        if run.start_event >= 0 {
            self.start_event.set(row, run.start_event);
            self.start_event_valid.set(row);
        }
        if run.end_event >= 0 {
            self.end_event.set(row, run.end_event);
            self.end_event_valid.set(row);
        }
        Ok(())
    }

    /// The table, once every row is set; `dropped` and `max_events` are the
    /// trace's, for the schema's metadata.
    pub fn finish(
        self,
        dropped: Option<u64>,
        max_events: Option<usize>,
    ) -> Result<Table, TableError> {
        let mut statuses = TextDictionary::new("status");
        for status in STATUSES {
            statuses.add(status.as_bytes())?;
        }
        let columns: Vec<ArrayRef> = vec![
            dictionary::<Int32Type>(
                PrimitiveArray::new(self.node.finish(), None),
                self.names.texts,
            )?,
            dictionary::<Int32Type>(
                PrimitiveArray::new(self.source.finish(), None),
                self.sources.texts,
            )?,
            Arc::new(Int32Array::new(self.lane.finish(), None)),
            Arc::new(Float64Array::new(self.start.finish(), None)),
            Arc::new(Float64Array::new(
                self.end.finish(),
                self.end_valid.finish(),
            )),
            Arc::new(Float64Array::new(
                self.duration.finish(),
                self.duration_valid.finish(),
            )),
            dictionary::<Int8Type>(PrimitiveArray::new(self.status.finish(), None), statuses)?,
            dictionary::<Int32Type>(
                PrimitiveArray::new(self.error.finish(), self.error_valid.finish()),
                self.errors,
            )?,
            Arc::new(Int64Array::new(
                self.start_event.finish(),
                self.start_event_valid.finish(),
            )),
            Arc::new(Int64Array::new(
                self.end_event.finish(),
                self.end_event_valid.finish(),
            )),
        ];
        debug_assert!(columns.iter().all(|column| column.len() == self.rows));
        let schema = Arc::new(Schema::new_with_metadata(
            fields(),
            schema_metadata("node_runs", dropped, max_events),
        ));
        let batch = RecordBatch::try_new(Arc::clone(&schema), columns)?;
        Ok(Table { schema, batch })
    }
}

/// The node-runs table of runs the core paired (`NodeRuns::collect`), with the
/// trace's `dropped` and `max_events` in the schema's metadata.
pub fn from_runs<S>(
    runs: &NodeRuns<'_, S>,
    dropped: u64,
    max_events: Option<usize>,
) -> Result<Table, TableError> {
    let mut builder = RunsBuilder::new(runs.len())?;
    for (_, entry) in &runs.names {
        builder.name(&entry.text)?;
    }
    for origin in &runs.sources.list {
        builder.source(origin.display_name().as_bytes())?;
    }
    for row in 0..runs.len() {
        let run = Run {
            node: i64::from(runs.node[row]),
            source: i64::from(runs.source[row]),
            lane: i64::from(runs.lane[row]),
            start: runs.start[row],
            end: runs.end[row],
            duration: runs.duration[row],
            status: runs.status[row].value().as_bytes(),
            error: runs.error[row].map(|entry| &entry.text[..]),
            start_event: runs.start_event[row],
            end_event: runs.end_event[row],
        };
        builder.row(row, run)?;
    }
    builder.finish(Some(dropped), max_events)
}

fn dictionary<K: arrow_array::types::ArrowDictionaryKeyType>(
    keys: PrimitiveArray<K>,
    values: TextDictionary,
) -> Result<ArrayRef, TableError> {
    Ok(Arc::new(DictionaryArray::try_new(keys, values.finish()?)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int64Type};
    use arrow_array::Array;

    fn run(status: &'static str) -> Run<'static> {
        Run {
            node: 0,
            source: 0,
            lane: 0,
            start: 1.0,
            end: f64::NAN,
            duration: f64::NAN,
            status: status.as_bytes(),
            error: None,
            start_event: 0,
            end_event: -1,
        }
    }

    #[test]
    fn runs_become_rows() {
        let mut builder = RunsBuilder::new(2).unwrap();
        builder.name(b"a").unwrap();
        builder.name(b"b").unwrap();
        builder.source(b"h:1").unwrap();
        builder.row(0, run("open")).unwrap();
        let failed = Run {
            node: 1,
            lane: 2,
            end: 3.0,
            duration: 2.0,
            error: Some(b"boom"),
            end_event: 4,
            ..run("failed")
        };
        builder.row(1, failed).unwrap();
        let table = builder.finish(Some(3), Some(10)).unwrap();
        assert_eq!(table.schema.metadata()["dagron.table"], "node_runs");
        assert_eq!(table.schema.metadata()["dagron.dropped"], "3");
        let batch = &table.batch;
        let ends = batch.column(4).as_primitive::<Float64Type>();
        assert_eq!(ends.iter().collect::<Vec<_>>(), [None, Some(3.0)]);
        let status = batch.column(6).as_dictionary::<Int8Type>();
        assert_eq!(status.keys().values(), &[3, 1]);
        let end_events = batch.column(9).as_primitive::<Int64Type>();
        assert_eq!(end_events.iter().collect::<Vec<_>>(), [None, Some(4)]);
        assert_eq!(batch.column(7).null_count(), 1);
    }

    #[test]
    fn bad_rows_are_named() {
        let mut builder = RunsBuilder::new(1).unwrap();
        builder.source(b"h:1").unwrap();
        let error = builder.row(0, run("open")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "column \"node\": 0 is not an index into the 0 listed"
        );
        builder.name(b"a").unwrap();
        let error = builder.row(0, run("done")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "column \"status\": \"done\" is not a status"
        );
    }
}
