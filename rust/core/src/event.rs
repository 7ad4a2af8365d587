//! The plain-data event record stored in the buffer, and the event kinds.
//!
//! A record is 30 bytes (32 with the buffer's state byte): everything an event
//! without metadata needs. Strings are intern ids; anything rarer (an error string,
//! metadata, a step index beyond `i32`) moves to an [`Extra`] whose index the
//! record keeps in `step_or_extra`.

/// The sixteen event types, in the documented order; the discriminant is the code
/// stored in records and the index of the enum member on the Python side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EventKind {
    ExecutionStarted = 0,
    StepStarted,
    NodeStarted,
    NodeCompleted,
    NodeFailed,
    NodeSkipped,
    NodeTimedOut,
    NodeCancelled,
    StepCompleted,
    ExecutionCompleted,
    NodeGateWaiting,
    NodeGateResolved,
    ResourceAcquired,
    ResourceReleased,
    NodeCacheHit,
    NodeCacheMiss,
}

pub const KIND_COUNT: usize = 16;

impl EventKind {
    pub const ALL: [EventKind; KIND_COUNT] = [
        EventKind::ExecutionStarted,
        EventKind::StepStarted,
        EventKind::NodeStarted,
        EventKind::NodeCompleted,
        EventKind::NodeFailed,
        EventKind::NodeSkipped,
        EventKind::NodeTimedOut,
        EventKind::NodeCancelled,
        EventKind::StepCompleted,
        EventKind::ExecutionCompleted,
        EventKind::NodeGateWaiting,
        EventKind::NodeGateResolved,
        EventKind::ResourceAcquired,
        EventKind::ResourceReleased,
        EventKind::NodeCacheHit,
        EventKind::NodeCacheMiss,
    ];

    #[inline]
    pub fn from_code(code: u8) -> Option<EventKind> {
        Self::ALL.get(code as usize).copied()
    }

    /// The member's documented value, e.g. `"node_started"`.
    pub fn value(self) -> &'static str {
        match self {
            EventKind::ExecutionStarted => "execution_started",
            EventKind::StepStarted => "step_started",
            EventKind::NodeStarted => "node_started",
            EventKind::NodeCompleted => "node_completed",
            EventKind::NodeFailed => "node_failed",
            EventKind::NodeSkipped => "node_skipped",
            EventKind::NodeTimedOut => "node_timed_out",
            EventKind::NodeCancelled => "node_cancelled",
            EventKind::StepCompleted => "step_completed",
            EventKind::ExecutionCompleted => "execution_completed",
            EventKind::NodeGateWaiting => "node_gate_waiting",
            EventKind::NodeGateResolved => "node_gate_resolved",
            EventKind::ResourceAcquired => "resource_acquired",
            EventKind::ResourceReleased => "resource_released",
            EventKind::NodeCacheHit => "node_cache_hit",
            EventKind::NodeCacheMiss => "node_cache_miss",
        }
    }

    pub fn from_value(value: &str) -> Option<EventKind> {
        Self::ALL.iter().copied().find(|kind| kind.value() == value)
    }

    /// Index into the summary's outcome counters, for the kinds it counts.
    #[inline]
    pub fn outcome(self) -> Option<usize> {
        match self {
            EventKind::NodeCompleted => Some(0),
            EventKind::NodeFailed => Some(1),
            EventKind::NodeSkipped => Some(2),
            EventKind::NodeTimedOut => Some(3),
            EventKind::NodeCancelled => Some(4),
            _ => None,
        }
    }
}

/// `EventRecord::flags` bits.
pub mod flags {
    /// `duration` holds a value.
    pub const DURATION: u8 = 1;
    /// The event has a step index: inline in `step_or_extra` (as `i32`) unless
    /// `EXTRA` is set.
    pub const STEP: u8 = 2;
    /// `step_or_extra` is an index into the extras buffer.
    pub const EXTRA: u8 = 4;
}

/// `EventRecord::prev` for "no earlier event of this node".
pub const NO_PREV: u32 = 0;
/// `EventRecord::prev` when the previous index does not fit in 32 bits.
pub const PREV_OVERFLOW: u32 = u32::MAX;

/// One event as stored. Packed to 2-byte alignment so that, with the buffer's state
/// byte, a slot is exactly 32 bytes.
#[repr(C, packed(2))]
#[derive(Debug, Clone, Copy)]
pub struct EventRecord {
    /// Seconds since the trace's first event.
    pub ts: f64,
    /// Seconds, when `flags & DURATION`.
    pub duration: f64,
    /// Intern id + 1 of the node name; 0 for none.
    pub node: u32,
    /// Step index as `i32` bits, or an extras index (see `flags`).
    pub step_or_extra: u32,
    /// Index + 1 of the previous event naming the same node (see `NO_PREV`,
    /// `PREV_OVERFLOW`), so one node's events are found without a full scan.
    pub prev: u32,
    pub kind: u8,
    pub flags: u8,
}

impl EventRecord {
    #[inline]
    pub fn kind(&self) -> EventKind {
        EventKind::from_code(self.kind).expect("records only hold valid kinds")
    }

    #[inline]
    pub fn node_id(&self) -> Option<u32> {
        let node = self.node;
        node.checked_sub(1)
    }

    #[inline]
    pub fn duration(&self) -> Option<f64> {
        (self.flags & flags::DURATION != 0).then_some(self.duration)
    }

    #[inline]
    pub fn extra_index(&self) -> Option<usize> {
        (self.flags & flags::EXTRA != 0).then_some(self.step_or_extra as usize)
    }

    #[inline]
    pub fn inline_step(&self) -> Option<i64> {
        (self.flags & (flags::STEP | flags::EXTRA) == flags::STEP)
            .then_some(self.step_or_extra as i32 as i64)
    }

    #[inline]
    pub fn has_step(&self) -> bool {
        self.flags & flags::STEP != 0
    }
}

/// The rarer parts of an event, stored once per event that has any of them.
#[derive(Debug)]
pub struct Extra<X> {
    /// A step index that does not fit in `i32` but fits in `i64`.
    pub step: Option<i64>,
    /// Intern id of the error string.
    pub error: Option<u32>,
    /// Binding-owned data: metadata, or a step index too large for `i64`.
    pub payload: Option<X>,
}

/// A step index as given to `record`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepArg {
    None,
    Int(i64),
    /// Too large for `i64`; the binding keeps it in `NewEvent::payload`.
    Payload,
}

/// Everything `record` needs, already validated and interned.
#[derive(Debug)]
pub struct NewEvent<X> {
    pub kind: EventKind,
    pub node: Option<u32>,
    pub error: Option<u32>,
    pub step: StepArg,
    pub duration: Option<f64>,
    pub payload: Option<X>,
}

impl<X> NewEvent<X> {
    pub fn new(kind: EventKind) -> Self {
        NewEvent {
            kind,
            node: None,
            error: None,
            step: StepArg::None,
            duration: None,
            payload: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_fits_in_thirty_bytes() {
        assert_eq!(std::mem::size_of::<EventRecord>(), 30);
        assert_eq!(std::mem::align_of::<EventRecord>(), 2);
    }

    #[test]
    fn kinds_round_trip_through_codes_and_values() {
        for (code, kind) in EventKind::ALL.iter().enumerate() {
            assert_eq!(EventKind::from_code(code as u8), Some(*kind));
            assert_eq!(EventKind::from_value(kind.value()), Some(*kind));
        }
        assert_eq!(EventKind::from_code(16), None);
        assert_eq!(EventKind::from_value("nope"), None);
    }
}
