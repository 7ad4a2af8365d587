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
use crate::event::{EventKind, KIND_COUNT};
use crate::export::{PayloadWriter, CHECKPOINT_EVERY};
use crate::intern::InternEntry;
use crate::trace::{Snapshot, StepView};

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
    let rows = snapshot.len();
    let mut kinds = Column::<i8>::new(rows)?;
    let mut timestamps = Column::<f64>::new(rows)?;
    let mut times = Column::<i64>::new(rows)?;
    let mut times_valid = Validity::new(rows)?;
    let mut nodes = Column::<i32>::new(rows)?;
    let mut nodes_valid = Validity::new(rows)?;
    let mut steps = Column::<i64>::new(rows)?;
    let mut steps_valid = Validity::new(rows)?;
    let mut durations = Column::<f64>::new(rows)?;
    let mut durations_valid = Validity::new(rows)?;
    let mut errors = Column::<i32>::new(rows)?;
    let mut errors_valid = Validity::new(rows)?;
    let mut metadata_offsets = Column::<i64>::new(rows + 1)?;
    let mut metadata_text: Vec<u8> = Vec::new();
    let mut metadata_valid = Validity::new(rows)?;
    let mut sources = Column::<i32>::new(rows)?;

    // A trace loaded from a JSON export has no wall clock (its origin reads 0).
    let origin_ns = snapshot
        .origin()
        .map(|origin| origin.wall_ns)
        .filter(|&wall_ns| wall_ns != 0);
    let source_table = snapshot.sources();
    let mut node_keys = NodeKeys::new(snapshot.string_count());
    let mut error_keys: HashMap<*const InternEntry<S>, i32> = HashMap::new();
    let mut error_names = TextDictionary::new("error");
    let mut big_step = Vec::new();

    for (row, event) in snapshot.iter().enumerate() {
        kinds.set(row, event.kind as i8);
        timestamps.set(row, event.ts);
        if let Some(ns) = origin_ns.and_then(|origin_ns| absolute_ns(origin_ns, event.ts)) {
            times.set(row, ns);
            times_valid.set(row);
        }
        if let Some((id, entry)) = event.node {
            nodes.set(row, node_keys.key(id, &entry.text)?);
            nodes_valid.set(row);
        }
        match event.step {
            StepView::None => {}
            StepView::Int(step) => {
                steps.set(row, step);
                steps_valid.set(row);
            }
            StepView::Payload(payload) => {
                payloads.write_big_step(payload, &mut big_step)?;
                let step = String::from_utf8_lossy(&big_step).into_owned();
                return Err(TableError::StepTooLarge { row, step }.into());
            }
        }
        if let Some(duration) = event.duration {
            durations.set(row, duration);
            durations_valid.set(row);
        }
        if let Some(error) = event.error {
            let key = match error_keys.get(&std::ptr::from_ref(error)) {
                Some(&key) => key,
                None => {
                    let key = error_names.add(&error.text)? as i32;
                    error_keys.insert(std::ptr::from_ref(error), key);
                    key
                }
            };
            errors.set(row, key);
            errors_valid.set(row);
        }
        if let Some(payload) = event.payload {
            if payloads.has_metadata(payload)? {
                payloads.write_metadata(payload, &mut metadata_text)?;
                metadata_valid.set(row);
            }
        }
        metadata_offsets.set(row + 1, metadata_text.len() as i64);
        sources.set(row, source_table.of(event.source) as i32);
        if row % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1 {
            payloads.checkpoint()?;
        }
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

    let metadata = LargeStringArray::try_new(
        OffsetBuffer::new(metadata_offsets.finish()),
        Buffer::from_vec(metadata_text),
        metadata_valid.finish(),
    )
    .map_err(TableError::from)?;
    let time =
        TimestampNanosecondArray::new(times.finish(), times_valid.finish()).with_timezone("UTC");
    let columns: Vec<ArrayRef> = vec![
        dictionary::<Int8Type>(PrimitiveArray::new(kinds.finish(), None), event_types)?,
        Arc::new(Float64Array::new(timestamps.finish(), None)),
        Arc::new(time),
        dictionary::<Int32Type>(
            PrimitiveArray::new(nodes.finish(), nodes_valid.finish()),
            node_keys.names,
        )?,
        Arc::new(Int64Array::new(steps.finish(), steps_valid.finish())),
        Arc::new(Float64Array::new(
            durations.finish(),
            durations_valid.finish(),
        )),
        dictionary::<Int32Type>(
            PrimitiveArray::new(errors.finish(), errors_valid.finish()),
            error_names,
        )?,
        Arc::new(metadata),
        dictionary::<Int32Type>(PrimitiveArray::new(sources.finish(), None), source_names)?,
    ];
    let schema = Arc::new(Schema::new_with_metadata(
        fields(),
        schema_metadata("events", Some(snapshot.dropped()), max_events),
    ));
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns).map_err(TableError::from)?;
    Ok(Table { schema, batch })
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
    fn key(&mut self, id: u32, text: &[u8]) -> Result<i32, TableError> {
        let id = id as usize;
        if id >= self.by_id.len() {
            // A string interned after the snapshot counted them (another thread).
            self.by_id.resize(id + 1, 0);
        }
        match self.by_id[id] {
            0 => {
                let entry = self.names.add(text)?;
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
