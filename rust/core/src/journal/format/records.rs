//! What the encoder and the decoder agree on: the magic bytes and version, the
//! record tags and sizes, the event flags, and the event types of both directions
//! (owned when decoded, borrowed when encoded). The grammar is in `format`'s top
//! comment.

use crate::event::EventKind;

pub const MAGIC: &[u8; 8] = b"DAGRONJ\0";
/// The version this dagron writes; it also reads version 1 (see `format`).
pub const VERSION: u16 = 2;
/// Version 1's block: one checksum over the frame and the payload.
pub(super) const BLOCK_TAG_V1: u8 = 0xB1;
pub(super) const BLOCK_HEADER_V1: usize = 13;
/// Version 2's block: the frame has a checksum of its own, so a damaged length
/// is told from a cut tail.
pub(super) const BLOCK_TAG: u8 = 0xB2;
pub(super) const BLOCK_HEADER: usize = 17;
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
    /// A step index beyond `i64` as two's-complement little-endian bytes.
    pub const BIG_STEP_BYTES: u8 = 64;
    pub const ALL: u8 = 127;
    /// At most one of these.
    pub const STEPS: u8 = STEP | BIG_STEP | BIG_STEP_BYTES;
}

/// A step index as journaled.
#[derive(Debug, Clone, PartialEq)]
pub enum JournalStep {
    None,
    Int(i64),
    /// Beyond `i64`: the decimal text.
    Big(Vec<u8>),
    /// Beyond `i64`: two's-complement little-endian bytes.
    BigBytes(Vec<u8>),
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
    /// Decimal text.
    Big(&'a [u8]),
    /// Two's-complement little-endian bytes (what the writer journals: no
    /// conversion to decimal, so no digit limit).
    BigBytes(&'a [u8]),
}
