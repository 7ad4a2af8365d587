//! The numbers of Perfetto's trace protos (`protos/perfetto/trace/` in the
//! Perfetto repository) that this writer uses: field numbers, enum values, and
//! the interned ids it defines itself in the sequence's first packet.

use crate::event::KIND_COUNT;

/// Field numbers, by message.
pub mod field {
    pub const TRACE_PACKET: u32 = 1;
    // TracePacket
    pub const TIMESTAMP: u32 = 8;
    pub const SEQUENCE_ID: u32 = 10;
    pub const TRACK_EVENT: u32 = 11;
    pub const INTERNED_DATA: u32 = 12;
    pub const SEQUENCE_FLAGS: u32 = 13;
    pub const CLOCK_SNAPSHOT: u32 = 6;
    pub const DEFAULTS: u32 = 59;
    pub const TRACK_DESCRIPTOR: u32 = 60;
    pub const TRACE_STATS: u32 = 35;
    pub const PREVIOUS_PACKET_DROPPED: u32 = 42;
    // TraceStats, TraceStats.BufferStats, TraceStats.WriterStats
    pub const BUFFER_STATS: u32 = 1;
    pub const WRITER_STATS: u32 = 18;
    pub const TRACE_WRITER_PACKET_LOSS: u32 = 19;
    pub const WRITER_SEQUENCE_ID: u32 = 1;
    pub const WRITER_BUFFER: u32 = 4;
    // TracePacketDefaults
    pub const DEFAULT_CLOCK_ID: u32 = 58;
    pub const TRACK_EVENT_DEFAULTS: u32 = 11;
    // ClockSnapshot, ClockSnapshot.Clock
    pub const CLOCKS: u32 = 1;
    pub const PRIMARY_TRACE_CLOCK: u32 = 2;
    pub const CLOCK_ID: u32 = 1;
    pub const CLOCK_TIMESTAMP: u32 = 2;
    pub const CLOCK_INCREMENTAL: u32 = 3;
    // InternedData; EventName, DebugAnnotationName, InternedString share iid = 1, name = 2
    pub const EVENT_NAMES: u32 = 2;
    pub const ANNOTATION_NAMES: u32 = 3;
    pub const ANNOTATION_STRINGS: u32 = 29;
    pub const IID: u32 = 1;
    pub const INTERNED_NAME: u32 = 2;
    // TrackEvent (and TrackEventDefaults for the track and counter uuids)
    pub const TYPE: u32 = 9;
    pub const TRACK_UUID: u32 = 11;
    pub const NAME_IID: u32 = 10;
    pub const NAME: u32 = 23;
    pub const EXTRA_COUNTER_UUIDS: u32 = 31;
    pub const EXTRA_COUNTER_VALUES: u32 = 12;
    pub const DEBUG_ANNOTATIONS: u32 = 4;
    // DebugAnnotation
    pub const ANNOTATION_NAME_IID: u32 = 1;
    pub const ANNOTATION_NAME: u32 = 10;
    pub const BOOL_VALUE: u32 = 2;
    pub const UINT_VALUE: u32 = 3;
    pub const INT_VALUE: u32 = 4;
    pub const DOUBLE_VALUE: u32 = 5;
    pub const STRING_VALUE: u32 = 6;
    pub const STRING_VALUE_IID: u32 = 17;
    pub const LEGACY_JSON_VALUE: u32 = 9;
    pub const NESTED_VALUE: u32 = 8;
    pub const NESTED_TYPE: u32 = 1;
    pub const DICT_ENTRIES: u32 = 11;
    pub const ARRAY_VALUES: u32 = 12;
    // TrackDescriptor, ProcessDescriptor, CounterDescriptor
    pub const UUID: u32 = 1;
    pub const TRACK_NAME: u32 = 2;
    pub const PROCESS: u32 = 3;
    pub const PARENT_UUID: u32 = 5;
    pub const COUNTER: u32 = 8;
    pub const CHILD_ORDERING: u32 = 11;
    pub const SIBLING_ORDER_RANK: u32 = 12;
    pub const SIBLING_MERGE_BEHAVIOR: u32 = 15;
    pub const PID: u32 = 1;
    pub const PROCESS_NAME: u32 = 6;
    pub const COUNTER_UNIT: u32 = 3;
}

/// The one packet sequence every packet is on.
pub const SEQUENCE: u64 = 1;
pub const SEQ_INCREMENTAL_STATE_CLEARED: u64 = 1;
pub const SEQ_NEEDS_INCREMENTAL_STATE: u64 = 2;
pub const BUILTIN_CLOCK_MONOTONIC: u64 = 3;
/// A sequence-scoped clock whose packet timestamps are deltas.
pub const DELTA_CLOCK: u64 = 64;
pub const TYPE_SLICE_BEGIN: u64 = 1;
pub const TYPE_SLICE_END: u64 = 2;
pub const TYPE_INSTANT: u64 = 3;
pub const CHILD_ORDERING_EXPLICIT: u64 = 3;
pub const SIBLING_MERGE_NONE: u64 = 2;
pub const UNIT_COUNT: u64 = 2;
pub const NESTED_DICT: u64 = 1;
pub const NESTED_ARRAY: u64 = 2;

/// Interned event names defined up front (iids), then one per event type value.
pub const NAME_EXECUTION: u64 = 1;
pub const NAME_NODE: u64 = 2;
pub const NAME_GATE: u64 = 3;
pub const NAME_RESOURCE: u64 = 4;
pub const NAME_DROPPED: u64 = 5;
pub const NAME_KIND_BASE: u64 = 6;
pub const FIXED_NAMES: [&str; 5] = ["execution", "node", "gate", "resource", "events dropped"];
/// Iids for node names start here.
pub const FIRST_DYNAMIC_IID: u64 = NAME_KIND_BASE + KIND_COUNT as u64;

/// Interned debug annotation names.
pub const KEY_STATUS: u64 = 1;
pub const KEY_STEP_INDEX: u64 = 2;
pub const KEY_DURATION: u64 = 3;
pub const KEY_ERROR: u64 = 4;
pub const KEY_METADATA: u64 = 5;
pub const KEY_START: u64 = 6;
pub const KEY_DROPPED: u64 = 7;
pub const KEYS: [&str; 7] = [
    "status",
    "step_index",
    "duration",
    "error",
    "metadata",
    "start",
    "dropped",
];
