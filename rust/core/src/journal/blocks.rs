//! Turning a trace's new events into journal blocks and appending them to the
//! file: each block holds at most [`MAX_BLOCK_EVENTS`] events and about
//! [`MAX_BLOCK_BYTES`] bytes, and goes out in its own `write`, so a batch never
//! sits whole in memory and a crash tears at most one block.

use std::fs::File;
use std::io::Write;
use std::sync::atomic::Ordering;

use super::entry::{Counters, Source};
use super::format::{self, BlockEncoder, JournalEventRef, JournalStepRef};
use crate::trace::{StepView, TraceCore};

/// Most events in one block.
pub const MAX_BLOCK_EVENTS: u32 = 16_384;
/// A block is cut once its payload reaches this many bytes (one event larger
/// than this makes a block of its own).
pub const MAX_BLOCK_BYTES: usize = 1 << 20;

/// What the writer needs from the bindings' payloads: text it can write without
/// them (made when the event was recorded).
pub trait JournalPayload {
    /// The metadata as JSON text, when the event has metadata.
    fn journal_metadata(&self) -> Option<&[u8]>;
    /// A step index beyond `i64`, as two's-complement little-endian bytes.
    fn journal_big_step(&self) -> Option<&[u8]>;
    /// The bytes both take (what the backlog counts for them).
    fn journal_bytes(&self) -> usize {
        self.journal_metadata().map_or(0, <[u8]>::len)
            + self.journal_big_step().map_or(0, <[u8]>::len)
    }
}

impl JournalPayload for () {
    fn journal_metadata(&self) -> Option<&[u8]> {
        None
    }
    fn journal_big_step(&self) -> Option<&[u8]> {
        None
    }
}

/// The core a writer reads.
pub(super) struct CorePtr<X, S>(pub *const TraceCore<X, S>);

// SAFETY: the pointer is only dereferenced while the core is alive (see
// `Journal::start`'s contract: the journal is stopped, which drops this, before the
// core goes), and `TraceCore` is `Sync` for these payloads, so reading it from the
// writer thread is sound.
unsafe impl<X: Send + Sync, S: Send + Sync> Send for CorePtr<X, S> {}

/// A core and what of it is written.
pub(super) struct CoreSource<X, S> {
    core: CorePtr<X, S>,
    blocks: BlockWriter,
}

impl<X, S> CoreSource<X, S> {
    pub fn new(core: CorePtr<X, S>) -> Self {
        CoreSource {
            core,
            blocks: BlockWriter::default(),
        }
    }
}

impl<X, S> Source for CoreSource<X, S>
where
    X: JournalPayload + Send + Sync,
    S: Send + Sync,
{
    fn write_new(&mut self, file: &File, counters: &Counters) -> std::io::Result<()> {
        // SAFETY: see `CorePtr`: alive while this source exists.
        let core = unsafe { &*self.core.0 };
        self.blocks.write_new(core, file, counters)
    }

    fn recorded(&self) -> usize {
        // SAFETY: as above.
        unsafe { &*self.core.0 }.len()
    }
}

/// Encodes a core's new events into blocks and appends them to the file.
#[derive(Default)]
struct BlockWriter {
    header_written: bool,
    /// Events written so far (buffer indices below this).
    written: usize,
    /// Core string id -> journal id + 1 (0: not written yet).
    ids: Vec<u32>,
    next_id: u32,
    block: BlockEncoder,
    /// Payload text bytes (metadata, big steps) of the events in `block`.
    block_text: u64,
    out: Vec<u8>,
}

impl BlockWriter {
    /// The journal id of core string `id`, defining it in the block if new.
    fn string(&mut self, id: u32, text: &[u8]) -> u32 {
        let slot = id as usize;
        if slot >= self.ids.len() {
            self.ids.resize(slot + 1, 0);
        }
        if self.ids[slot] == 0 {
            self.block.string(self.next_id, text);
            self.next_id += 1;
            self.ids[slot] = self.next_id;
        }
        self.ids[slot] - 1
    }

    fn write_new<X: JournalPayload, S>(
        &mut self,
        core: &TraceCore<X, S>,
        file: &File,
        counters: &Counters,
    ) -> std::io::Result<()> {
        let end = core.len();
        if end == self.written {
            return Ok(());
        }
        if !self.header_written {
            let origin = core.origin().expect("a trace with events has an origin");
            self.out
                .extend_from_slice(&format::encode_header(&origin, core.dropped_before()));
            self.header_written = true;
        }
        for index in self.written..end {
            let event = core.view(index);
            let node = event.node.map(|(id, entry)| self.string(id, &entry.text));
            let error = match (core.error_id(index), event.error) {
                (Some(id), Some(entry)) => Some(self.string(id, &entry.text)),
                _ => None,
            };
            let step = match event.step {
                StepView::None => JournalStepRef::None,
                StepView::Int(value) => JournalStepRef::Int(value),
                StepView::Payload(payload) => match payload.journal_big_step() {
                    Some(bytes) => JournalStepRef::BigBytes(bytes),
                    None => JournalStepRef::None,
                },
            };
            let metadata = event.payload.and_then(JournalPayload::journal_metadata);
            self.block_text += event.payload.map_or(0, |payload| payload.journal_bytes()) as u64;
            self.block.event(&JournalEventRef {
                kind: event.kind,
                ts: event.ts,
                node,
                step,
                duration: event.duration,
                error,
                metadata,
            });
            if self.block.events() == MAX_BLOCK_EVENTS || self.block.len() >= MAX_BLOCK_BYTES {
                self.write_block(file, index + 1, counters)?;
            }
        }
        if !self.block.is_empty() {
            self.write_block(file, end, counters)?;
        }
        Ok(())
    }

    /// Frame the block, write it (with the header before the first), and count
    /// the events below `written` as written.
    fn write_block(
        &mut self,
        mut file: &File,
        written: usize,
        counters: &Counters,
    ) -> std::io::Result<()> {
        self.block.finish_into(&mut self.out);
        let result = file.write_all(&self.out);
        self.out.clear();
        // Smaller buffers again after an oversized event.
        self.out.shrink_to(2 * MAX_BLOCK_BYTES);
        self.block.shrink_to(2 * MAX_BLOCK_BYTES);
        result?;
        self.written = written;
        counters.written_events.store(written, Ordering::Release);
        counters
            .written_bytes
            .fetch_add(std::mem::take(&mut self.block_text), Ordering::AcqRel);
        Ok(())
    }
}
