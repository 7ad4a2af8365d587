//! What the encoder and the decoder agree on: the magic bytes and version, the
//! record tags and sizes, the event flags, and the event types of both directions
//! (owned when decoded, borrowed when encoded). The grammar is in `format`'s top
//! comment.

use crate::event::EventKind;

pub const MAGIC: &[u8; 8] = b"DAGRONJ\0";
pub const VERSION: u16 = 1;
pub(super) const BLOCK_TAG: u8 = 0xB1;
pub(super) const BLOCK_HEADER: usize = 13;
pub(super) const STRING_TAG: u8 = 0x40;
/// Longest host name kept in a header.
pub(super) const MAX_HOST: usize = 1024;

pub(super) mod flag {
    pub const NODE: u8 = 1;
    pub const STEP: u8 = 2;
    pub const BIG_STEP: u8 = 4;
    pub const DURATION: u8 = 8;
    pub const ERROR: u8 = 16;
    pub const METADATA: u8 = 32;
    pub const ALL: u8 = 63;
}

/// A step index as journaled.
#[derive(Debug, Clone, PartialEq)]
pub enum JournalStep {
    None,
    Int(i64),
    /// Beyond `i64`: the decimal text.
    Big(Vec<u8>),
}

/// One event as journaled; strings are ids into [`super::Decoded::strings`].
#[derive(Debug, Clone, PartialEq)]
pub struct JournalEvent {
    pub kind: EventKind,
    pub ts: f64,
    pub node: Option<u32>,
    pub step: JournalStep,
    pub duration: Option<f64>,
    pub error: Option<u32>,
    /// The metadata's JSON text.
    pub metadata: Option<Vec<u8>>,
}

/// An event to encode, borrowing its parts.
pub struct JournalEventRef<'a> {
    pub kind: EventKind,
    pub ts: f64,
    pub node: Option<u32>,
    pub step: JournalStepRef<'a>,
    pub duration: Option<f64>,
    pub error: Option<u32>,
    pub metadata: Option<&'a [u8]>,
}

pub enum JournalStepRef<'a> {
    None,
    Int(i64),
    Big(&'a [u8]),
}
