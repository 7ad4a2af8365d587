//! Writing a journal: the header's bytes, and blocks of strings and events framed
//! with their length, event count and checksum.

use crate::origin::Origin;

use super::records::{
    flag, JournalEventRef, JournalStepRef, BLOCK_TAG, MAGIC, MAX_HOST, STRING_TAG, VERSION,
};

/// The header's bytes for `origin`.
pub fn encode_header(origin: &Origin, dropped: u64) -> Vec<u8> {
    let host = &origin.host.as_bytes()[..origin.host.len().min(MAX_HOST)];
    let mut body = Vec::with_capacity(30 + host.len());
    body.extend_from_slice(&origin.pid.to_le_bytes());
    body.extend_from_slice(&origin.monotonic_ns.to_le_bytes());
    body.extend_from_slice(&origin.wall_ns.to_le_bytes());
    body.extend_from_slice(&dropped.to_le_bytes());
    body.extend_from_slice(&(host.len() as u16).to_le_bytes());
    body.extend_from_slice(host);
    let mut out = Vec::with_capacity(20 + body.len() + 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    out
}

/// Builds one block: strings and events appended, then `finish` frames it.
#[derive(Default)]
pub struct BlockEncoder {
    payload: Vec<u8>,
    events: u32,
}

impl BlockEncoder {
    pub fn events(&self) -> u32 {
        self.events
    }

    pub fn is_empty(&self) -> bool {
        self.payload.is_empty()
    }

    /// Give back memory beyond `bytes` (after an oversized block).
    pub fn shrink_to(&mut self, bytes: usize) {
        self.payload.shrink_to(bytes);
    }

    /// The payload's size so far, in bytes.
    pub fn len(&self) -> usize {
        self.payload.len()
    }

    pub fn string(&mut self, id: u32, text: &[u8]) {
        self.payload.push(STRING_TAG);
        varint(&mut self.payload, id as u64);
        varint(&mut self.payload, text.len() as u64);
        self.payload.extend_from_slice(text);
    }

    /// One event; `node` and `error` must have been defined by `string` (in this
    /// block or an earlier one).
    pub fn event(&mut self, event: &JournalEventRef<'_>) {
        let out = &mut self.payload;
        let mut flags = 0;
        flags |= if event.node.is_some() { flag::NODE } else { 0 };
        flags |= match event.step {
            JournalStepRef::None => 0,
            JournalStepRef::Int(_) => flag::STEP,
            JournalStepRef::Big(_) => flag::BIG_STEP,
            JournalStepRef::BigBytes(_) => flag::BIG_STEP_BYTES,
        };
        flags |= if event.duration.is_some() {
            flag::DURATION
        } else {
            0
        };
        flags |= if event.error.is_some() {
            flag::ERROR
        } else {
            0
        };
        flags |= if event.metadata.is_some() {
            flag::METADATA
        } else {
            0
        };
        out.push(event.kind as u8);
        out.push(flags);
        out.extend_from_slice(&event.ts.to_le_bytes());
        if let Some(node) = event.node {
            varint(out, node as u64);
        }
        match event.step {
            JournalStepRef::None => {}
            JournalStepRef::Int(value) => varint(out, ((value << 1) ^ (value >> 63)) as u64),
            JournalStepRef::Big(text) | JournalStepRef::BigBytes(text) => {
                varint(out, text.len() as u64);
                out.extend_from_slice(text);
            }
        }
        if let Some(duration) = event.duration {
            out.extend_from_slice(&duration.to_le_bytes());
        }
        if let Some(error) = event.error {
            varint(out, error as u64);
        }
        if let Some(metadata) = event.metadata {
            varint(out, metadata.len() as u64);
            out.extend_from_slice(metadata);
        }
        self.events += 1;
    }

    /// The framed block, appended to `out`; the encoder is left empty. The frame
    /// (length, event count, payload checksum) has a checksum of its own.
    pub fn finish_into(&mut self, out: &mut Vec<u8>) {
        let start = out.len();
        out.push(BLOCK_TAG);
        out.extend_from_slice(&(self.payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.events.to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(&self.payload).to_le_bytes());
        let frame = crc32fast::hash(&out[start..]);
        out.extend_from_slice(&frame.to_le_bytes());
        out.extend_from_slice(&self.payload);
        self.payload.clear();
        self.events = 0;
    }
}

fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}
