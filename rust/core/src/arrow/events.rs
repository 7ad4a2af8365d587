//! The events table: one row per event of a snapshot, in its (chronological)
//! order, the documented fields as columns (`docs/tables.md`), built in one pass
//! with no allocation per event.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::types::{Int32Type, Int8Type};
use arrow_array::{
    ArrayRef, DictionaryArray, Float64Array, Int64Array, LargeStringArray, PrimitiveArray,
    RecordBatch, TimestampNanosecondArray,
};
use arrow_buffer::{Buffer, OffsetBuffer};
use arrow_schema::{DataType, Field, Schema, TimeUnit};

use super::{
    dictionary_field, schema_metadata, Column, Table, TableError, TextDictionary, Validity,
};
use crate::error::AllocError;
use crate::event::{EventKind, EventRecord, KIND_COUNT};
use crate::export::{PayloadWriter, CHECKPOINT_EVERY};
use crate::intern::InternEntry;
use crate::trace::{EventView, Snapshot, StepView, TraceCore};

/// The events table's schema (its metadata aside).
pub fn fields() -> Vec<Field> {
    vec![
        dictionary_field("event_type", DataType::Int8, false),
        Field::new("timestamp", DataType::Float64, false),
        Field::new(
            "time",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            true,
        ),
        dictionary_field("node_name", DataType::Int32, true),
        Field::new("step_index", DataType::Int64, true),
        Field::new("duration", DataType::Float64, true),
        dictionary_field("error", DataType::Int32, true),
        Field::new("metadata", DataType::LargeUtf8, true),
        dictionary_field("source", DataType::Int32, false),
    ]
}

/// The Unix time in nanoseconds of an event `ts` seconds after an origin at
/// `origin_ns`: `origin_ns + round(ts * 1e9)` (halves away from zero), or `None`
/// when out of range.
#[inline]
pub fn absolute_ns(origin_ns: i64, ts: f64) -> Option<i64> {
    let since = ts * 1e9;
    // `i64::MAX as f64` rounds up to 2^63, itself out of range.
    if !(since > -(2f64.powi(63)) && since < 2f64.powi(63)) {
        return None;
    }
    // Rounded by hand: `f64::round` is a libm call on baseline x86-64. Below 2^53
    // the fraction is exact; above, `since` is already whole.
    let whole = since as i64;
    let fraction = since - whole as f64;
    let rounded = if fraction >= 0.5 {
        whole + 1
    } else if fraction <= -0.5 {
        whole - 1
    } else {
        whole
    };
    origin_ns.checked_add(rounded)
}

/// Build the events table of `snapshot`. `payloads` writes each event's metadata
/// as `to_json` writes it (and says whether there is any); `max_events` is the
/// trace's bound, for the schema's metadata.
pub fn build<X, S, O>(
    snapshot: &Snapshot<'_, X, S>,
    payloads: &mut O,
    max_events: Option<usize>,
) -> Result<Table, O::Error>
where
    O: PayloadWriter<X>,
    O::Error: From<TableError>,
{
    let source_table = snapshot.sources();
    let mut rows = Rows::new(snapshot, payloads)?;
    let mut failure = None;
    snapshot.for_each_record(|core, index, record, source| {
        if failure.is_none() {
            let source = source_table.of(source) as i32;
            if let Err(error) = rows.add(core, index, record, source) {
                failure = Some(error);
            }
        }
    });
    if let Some(error) = failure {
        return Err(error);
    }

    let mut event_types = TextDictionary::new("event_type");
    for kind in EventKind::ALL {
        event_types.add(kind.value().as_bytes())?;
    }
    debug_assert_eq!(event_types.len(), KIND_COUNT);
    let mut source_names = TextDictionary::new("source");
    for origin in &source_table.list {
        source_names.add(origin.display_name().as_bytes())?;
    }
    let columns = rows.finish(event_types, source_names)?;
    let schema = Arc::new(Schema::new_with_metadata(
        fields(),
        schema_metadata("events", Some(snapshot.dropped()), max_events),
    ));
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns).map_err(TableError::from)?;
    Ok(Table { schema, batch })
}

/// The columns being filled, row by row.
struct Rows<'a, 'p, S, O> {
    payloads: &'p mut O,
    row: usize,
    /// The origin's wall clock; `None` for a trace loaded from a JSON export
    /// (its origin reads 0).
    origin_ns: Option<i64>,
    kinds: Column<i8>,
    timestamps: Column<f64>,
    times: Column<i64>,
    times_valid: Validity,
    nodes: Column<i32>,
    nodes_valid: Validity,
    node_keys: NodeKeys,
    steps: Column<i64>,
    steps_valid: Validity,
    durations: Column<f64>,
    durations_valid: Validity,
    errors: Column<i32>,
    errors_valid: Validity,
    error_keys: HashMap<*const InternEntry<S>, i32>,
    error_names: TextDictionary,
    metadata_offsets: Column<i64>,
    metadata_text: Vec<u8>,
    metadata_valid: Validity,
    sources: Column<i32>,
    _entries: std::marker::PhantomData<&'a S>,
}

impl<'a, 'p, S, O> Rows<'a, 'p, S, O> {
    fn new<X>(snapshot: &Snapshot<'a, X, S>, payloads: &'p mut O) -> Result<Self, AllocError> {
        let rows = snapshot.len();
        Ok(Rows {
            payloads,
            row: 0,
            origin_ns: snapshot
                .origin()
                .map(|origin| origin.wall_ns)
                .filter(|&wall_ns| wall_ns != 0),
            kinds: Column::new(rows)?,
            timestamps: Column::new(rows)?,
            times: Column::new(rows)?,
            times_valid: Validity::new(rows)?,
            nodes: Column::new(rows)?,
            nodes_valid: Validity::new(rows)?,
            node_keys: NodeKeys::new(snapshot.string_count()),
            steps: Column::new(rows)?,
            steps_valid: Validity::new(rows)?,
            durations: Column::new(rows)?,
            durations_valid: Validity::new(rows)?,
            errors: Column::new(rows)?,
            errors_valid: Validity::new(rows)?,
            error_keys: HashMap::new(),
            error_names: TextDictionary::new("error"),
            metadata_offsets: Column::new(rows + 1)?,
            metadata_text: Vec::new(),
            metadata_valid: Validity::new(rows)?,
            sources: Column::new(rows)?,
            _entries: std::marker::PhantomData,
        })
    }

    /// The next row: the event at `index` of `core`, whose record is `record`. What
    /// the record holds is read from it; strings and extras only when needed.
    #[inline]
    fn add<X>(
        &mut self,
        core: &'a TraceCore<X, S>,
        index: usize,
        record: &EventRecord,
        source: i32,
    ) -> Result<(), O::Error>
    where
        O: PayloadWriter<X>,
        O::Error: From<TableError>,
    {
        let row = self.row;
        self.row += 1;
        let ts = record.ts;
        self.kinds.set(row, record.kind as i8);
        self.timestamps.set(row, ts);
        if let Some(ns) = self
            .origin_ns
            .and_then(|origin_ns| absolute_ns(origin_ns, ts))
        {
            self.times.set(row, ns);
            self.times_valid.set(row);
        }
        if let Some(id) = record.node_id() {
            let key = self.node_keys.key(id, || {
                core.view(index)
                    .node
                    .map_or(&[][..], |(_, entry)| &entry.text)
            })?;
            self.nodes.set(row, key);
            self.nodes_valid.set(row);
        }
        if let Some(duration) = record.duration() {
            self.durations.set(row, duration);
            self.durations_valid.set(row);
        }
        if let Some(step) = record.inline_step() {
            self.steps.set(row, step);
            self.steps_valid.set(row);
        } else if record.extra_index().is_some() {
            self.add_extra(row, core.view(index))?;
        }
        self.metadata_offsets
            .set(row + 1, self.metadata_text.len() as i64);
        self.sources.set(row, source);
        if row % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1 {
            self.payloads.checkpoint()?;
        }
        Ok(())
    }

    /// What an event's extra holds: a step index beyond `i32`, an error, metadata.
    #[cold]
    fn add_extra<X>(&mut self, row: usize, event: EventView<'a, X, S>) -> Result<(), O::Error>
    where
        O: PayloadWriter<X>,
        O::Error: From<TableError>,
    {
        match event.step {
            StepView::None => {}
            StepView::Int(step) => {
                self.steps.set(row, step);
                self.steps_valid.set(row);
            }
            StepView::Payload(payload) => {
                let mut text = Vec::new();
                self.payloads.write_big_step(payload, &mut text)?;
                let step = String::from_utf8_lossy(&text).into_owned();
                return Err(TableError::StepTooLarge { row, step }.into());
            }
        }
        if let Some(error) = event.error {
            let key = match self.error_keys.get(&std::ptr::from_ref(error)) {
                Some(&key) => key,
                None => {
                    let key = self.error_names.add(&error.text)? as i32;
                    self.error_keys.insert(std::ptr::from_ref(error), key);
                    key
                }
            };
            self.errors.set(row, key);
            self.errors_valid.set(row);
        }
        if let Some(payload) = event.payload {
            if self.payloads.has_metadata(payload)? {
                self.payloads
                    .write_metadata(payload, &mut self.metadata_text)?;
                self.metadata_valid.set(row);
            }
        }
        Ok(())
    }

    fn finish(
        self,
        event_types: TextDictionary,
        source_names: TextDictionary,
    ) -> Result<Vec<ArrayRef>, TableError> {
        let metadata = LargeStringArray::try_new(
            OffsetBuffer::new(self.metadata_offsets.finish()),
            Buffer::from_vec(self.metadata_text),
            self.metadata_valid.finish(),
        )?;
        let time = TimestampNanosecondArray::new(self.times.finish(), self.times_valid.finish())
            .with_timezone("UTC");
        Ok(vec![
            dictionary::<Int8Type>(PrimitiveArray::new(self.kinds.finish(), None), event_types)?,
            Arc::new(Float64Array::new(self.timestamps.finish(), None)),
            Arc::new(time),
            dictionary::<Int32Type>(
                PrimitiveArray::new(self.nodes.finish(), self.nodes_valid.finish()),
                self.node_keys.names,
            )?,
            Arc::new(Int64Array::new(
                self.steps.finish(),
                self.steps_valid.finish(),
            )),
            Arc::new(Float64Array::new(
                self.durations.finish(),
                self.durations_valid.finish(),
            )),
            dictionary::<Int32Type>(
                PrimitiveArray::new(self.errors.finish(), self.errors_valid.finish()),
                self.error_names,
            )?,
            Arc::new(metadata),
            dictionary::<Int32Type>(
                PrimitiveArray::new(self.sources.finish(), None),
                source_names,
            )?,
        ])
    }
}

fn dictionary<K: arrow_array::types::ArrowDictionaryKeyType>(
    keys: PrimitiveArray<K>,
    values: TextDictionary,
) -> Result<ArrayRef, TableError> {
    Ok(Arc::new(DictionaryArray::try_new(keys, values.finish()?)?))
}

/// The node-name dictionary: each string id's entry, given on first use.
struct NodeKeys {
    /// String id -> entry + 1 (0: not seen yet).
    by_id: Vec<u32>,
    names: TextDictionary,
}

impl NodeKeys {
    fn new(strings: usize) -> Self {
        NodeKeys {
            by_id: vec![0; strings],
            names: TextDictionary::new("node_name"),
        }
    }

    #[inline]
    fn key<'t>(&mut self, id: u32, text: impl FnOnce() -> &'t [u8]) -> Result<i32, TableError> {
        let id = id as usize;
        if id >= self.by_id.len() {
            // A string interned after the snapshot counted them (another thread).
            self.by_id.resize(id + 1, 0);
        }
        match self.by_id[id] {
            0 => {
                let entry = self.names.add(text())?;
                self.by_id[id] = entry + 1;
                Ok(entry as i32)
            }
            seen => Ok(seen as i32 - 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{NewEvent, StepArg};
    use crate::trace::TraceCore;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int64Type, TimestampNanosecondType};
    use arrow_array::Array;

    /// Metadata is a number; it is written as `{"n": <number>}`.
    struct Numbers;

    impl PayloadWriter<u32> for Numbers {
        type Error = TableError;
        fn write_big_step(&mut self, _: &u32, out: &mut Vec<u8>) -> Result<(), TableError> {
            out.extend_from_slice(b"99999999999999999999");
            Ok(())
        }
        fn has_metadata(&mut self, payload: &u32) -> Result<bool, TableError> {
            Ok(*payload != 0)
        }
        fn write_metadata(&mut self, payload: &u32, out: &mut Vec<u8>) -> Result<(), TableError> {
            out.extend_from_slice(format!("{{\"n\": {payload}}}").as_bytes());
            Ok(())
        }
    }

    fn texts(array: &ArrayRef) -> Vec<Option<String>> {
        let dictionary = array.as_dictionary::<Int32Type>();
        let values = dictionary.values().as_string::<i32>();
        dictionary
            .keys()
            .iter()
            .map(|key| key.map(|key| values.value(key as usize).to_owned()))
            .collect()
    }

    #[test]
    fn empty_trace_has_the_schema_and_no_rows() {
        let core: TraceCore<u32, ()> = TraceCore::new();
        let table = build(&core.snapshot(), &mut Numbers, None).unwrap();
        assert_eq!(table.num_rows(), 0);
        assert_eq!(table.schema.fields().len(), 9);
        assert_eq!(table.schema.metadata()["dagron.table"], "events");
        assert_eq!(table.schema.metadata()["dagron.dropped"], "0");
        assert!(!table.schema.metadata().contains_key("dagron.max_events"));
    }

    #[test]
    fn every_field_is_a_column() {
        let core: TraceCore<u32, ()> = TraceCore::new();
        core.record(NewEvent::new(EventKind::ExecutionStarted))
            .unwrap();
        let mut failed = NewEvent::new(EventKind::NodeFailed);
        failed.node = Some(core.intern(b"n\xED\xA0\x80", || ()).unwrap());
        failed.error = Some(core.intern(b"boom", || ()).unwrap());
        failed.step = StepArg::Int(-3);
        failed.duration = Some(0.25);
        failed.payload = Some(7);
        core.record(failed).unwrap();
        let mut again = NewEvent::new(EventKind::NodeStarted);
        again.node = Some(core.intern(b"n\xED\xA0\x80", || ()).unwrap());
        core.record(again).unwrap();

        let snapshot = core.snapshot();
        let table = build(&snapshot, &mut Numbers, Some(5)).unwrap();
        assert_eq!(table.schema.metadata()["dagron.max_events"], "5");
        let batch = &table.batch;
        let kinds = batch.column(0).as_dictionary::<Int8Type>();
        assert_eq!(kinds.keys().values(), &[0, 4, 2]);
        assert_eq!(kinds.values().len(), KIND_COUNT);
        let ts = batch.column(1).as_primitive::<Float64Type>();
        assert_eq!(ts.value(0), 0.0);
        let origin = snapshot.origin().unwrap();
        let time = batch.column(2).as_primitive::<TimestampNanosecondType>();
        assert_eq!(time.value(0), origin.wall_ns);
        assert_eq!(
            time.value(1),
            absolute_ns(origin.wall_ns, ts.value(1)).unwrap()
        );
        let fixed = Some("n\u{FFFD}".to_owned());
        assert_eq!(texts(batch.column(3)), [None, fixed.clone(), fixed]);
        let steps = batch.column(4).as_primitive::<Int64Type>();
        assert_eq!(steps.iter().collect::<Vec<_>>(), [None, Some(-3), None]);
        let durations = batch.column(5).as_primitive::<Float64Type>();
        assert_eq!(
            durations.iter().collect::<Vec<_>>(),
            [None, Some(0.25), None]
        );
        assert_eq!(texts(batch.column(6)), [None, Some("boom".into()), None]);
        let metadata = batch.column(7).as_string::<i64>();
        let metadata: Vec<_> = metadata.iter().collect();
        assert_eq!(metadata, [None, Some("{\"n\": 7}"), None]);
        let source = format!("{}:{}", origin.host, origin.pid);
        assert_eq!(texts(batch.column(8)), vec![Some(source); 3]);
    }

    #[test]
    fn rows_follow_the_snapshot_when_it_reorders_events() {
        use crate::trace::{SavedEvent, SnapshotSegment};
        let restored = |events: &[(f64, EventKind)]| {
            let core: TraceCore<u32, ()> = TraceCore::new();
            let saved = events
                .iter()
                .map(|&(ts, kind)| SavedEvent {
                    ts,
                    event: NewEvent::new(kind),
                })
                .collect();
            core.restore(None, saved).unwrap();
            core
        };
        let later = restored(&[
            (2.0, EventKind::ExecutionStarted),
            (3.0, EventKind::StepStarted),
        ]);
        let earlier = restored(&[(1.0, EventKind::ExecutionCompleted)]);
        // Segments out of chronological order: the snapshot reorders positions.
        let segment = |core| SnapshotSegment {
            core,
            start: 0,
            len: core.len(),
        };
        let snapshot = Snapshot::new(vec![segment(&later), segment(&earlier)]);
        let want: Vec<(f64, i8)> = snapshot
            .iter()
            .map(|event| (event.ts, event.kind as i8))
            .collect();
        assert_eq!(want, [(1.0, 9), (2.0, 0), (3.0, 1)]);
        let table = build(&snapshot, &mut Numbers, None).unwrap();
        let ts = table.batch.column(1).as_primitive::<Float64Type>();
        let kinds = table.batch.column(0).as_dictionary::<Int8Type>();
        let got: Vec<(f64, i8)> = ts
            .values()
            .iter()
            .copied()
            .zip(kinds.keys().values().iter().copied())
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_step_beyond_i64_is_an_error() {
        let core: TraceCore<u32, ()> = TraceCore::new();
        let mut event = NewEvent::new(EventKind::StepStarted);
        event.step = StepArg::Payload;
        event.payload = Some(0);
        core.record(event).unwrap();
        let error = build(&core.snapshot(), &mut Numbers, None).unwrap_err();
        assert_eq!(
            error.to_string(),
            "event 0: step_index 99999999999999999999 does not fit the table's int64 \
             step_index column"
        );
    }

    #[test]
    fn absolute_times_stay_in_range() {
        assert_eq!(absolute_ns(10, 1.5), Some(1_500_000_010));
        assert_eq!(absolute_ns(0, 2.5e-9), Some(3));
        assert_eq!(absolute_ns(0, -2.5e-9), Some(-3));
        assert_eq!(absolute_ns(0, 2.4e-9), Some(2));
        assert_eq!(absolute_ns(0, 1e9), Some(1_000_000_000_000_000_000));
        assert_eq!(absolute_ns(0, f64::NAN), None);
        assert_eq!(absolute_ns(0, f64::INFINITY), None);
        assert_eq!(absolute_ns(0, 1e10), None);
        assert_eq!(absolute_ns(i64::MAX, 1.0), None);
    }
}
