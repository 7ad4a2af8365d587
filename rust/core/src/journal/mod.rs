//! The journal: a background thread appends every event of a trace to a file, in
//! the format of [`format`], so that a process killed at any moment leaves its
//! events on disk up to the last flush.
//!
//! # Loss bound
//! The writer wakes every [`FLUSH_INTERVAL`] (50 ms), or at once on `flush`, and
//! writes every event published so far, in blocks of at most [`MAX_BLOCK_EVENTS`],
//! each with one `write` call. So after a SIGKILL the file holds every event
//! recorded more than 100 ms (the interval plus the time to write a batch) before
//! the kill, plus however long the system kept the writer thread from running; a
//! cut last block is dropped whole. The data is in
//! the operating system's page cache when `write` returns: it survives the process,
//! not a power cut (there is no fsync).
//!
//! # Recording cost
//! `record` does nothing for the journal beyond what it does anyway: the writer
//! reads the trace's lock-free buffers like any reader. Only events with metadata
//! or an oversized step index carry their JSON / decimal text, made at record time
//! by the bindings (see [`JournalPayload`]), because the writer does not touch
//! Python objects.

pub mod format;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::trace::{StepView, TraceCore};
use format::{BlockEncoder, JournalEventRef, JournalStepRef};

/// How often the writer wakes to write new events: half the documented 100 ms loss
/// bound, leaving the other half for writing a batch.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(50);
/// Most events in one block (bounds what a cut block can lose to a crash mid-write).
pub const MAX_BLOCK_EVENTS: u32 = 16_384;

/// What the writer needs from the bindings' payloads: text it can write without
/// them (made when the event was recorded).
pub trait JournalPayload {
    /// The metadata as JSON text, when the event has metadata.
    fn journal_metadata(&self) -> Option<&[u8]>;
    /// A step index beyond `i64` as decimal text.
    fn journal_big_step(&self) -> Option<&[u8]>;
}

impl JournalPayload for () {
    fn journal_metadata(&self) -> Option<&[u8]> {
        None
    }
    fn journal_big_step(&self) -> Option<&[u8]> {
        None
    }
}

#[derive(Default)]
struct Progress {
    /// Flush requests made / completed (a request completes when the writer has
    /// written everything recorded before it was made).
    requested: u64,
    completed: u64,
    stop: bool,
    /// The write error that stopped the writer.
    failure: Option<String>,
    /// The writer has exited.
    exited: bool,
}

struct Shared {
    progress: Mutex<Progress>,
    /// Wakes the writer (flush or stop).
    wake: Condvar,
    /// Wakes those waiting for a flush.
    flushed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Progress> {
        // A panic while holding the lock leaves plain counters: still usable.
        self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Journals with a running writer, so they can all be flushed at exit.
static LIVE: Mutex<Vec<Weak<Shared>>> = Mutex::new(Vec::new());

/// A trace's journal file and its writer thread.
pub struct Journal {
    path: PathBuf,
    shared: Arc<Shared>,
    file: Mutex<Option<File>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    started: AtomicBool,
}

/// The core a writer thread reads.
struct CorePtr<X, S>(*const TraceCore<X, S>);

// SAFETY: the pointer is only dereferenced by the writer thread while the core is
// alive (see `Journal::start`'s contract), and `TraceCore` is `Sync` for these
// payloads, so reading it from another thread is sound.
unsafe impl<X: Send + Sync, S: Send + Sync> Send for CorePtr<X, S> {}

impl Journal {
    /// Create (or truncate) the journal file at `path`.
    pub fn create(path: &Path) -> std::io::Result<Journal> {
        let file = File::create(path)?;
        Ok(Journal {
            path: path.to_owned(),
            shared: Arc::new(Shared {
                progress: Mutex::new(Progress::default()),
                wake: Condvar::new(),
                flushed: Condvar::new(),
            }),
            file: Mutex::new(Some(file)),
            thread: Mutex::new(None),
            started: AtomicBool::new(false),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    #[inline]
    pub fn is_started(&self) -> bool {
        self.started.load(Ordering::Acquire)
    }

    /// Start the writer thread on `core` (once; later calls do nothing).
    ///
    /// # Safety
    /// `core` must stay alive, at the same address, until this journal is stopped
    /// (`stop`, or dropping it).
    #[cold]
    pub unsafe fn start<X, S>(&self, core: *const TraceCore<X, S>) -> std::io::Result<()>
    where
        X: JournalPayload + Send + Sync + 'static,
        S: Send + Sync + 'static,
    {
        let mut thread = self.thread.lock().unwrap_or_else(|e| e.into_inner());
        if self.is_started() {
            return Ok(());
        }
        let Some(file) = self.file.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return Ok(());
        };
        let shared = Arc::clone(&self.shared);
        let core = CorePtr(core);
        let handle = std::thread::Builder::new()
            .name("dagron-journal".into())
            .spawn(move || {
                let core = core;
                // SAFETY: the caller keeps the core alive until `stop` has joined
                // this thread.
                let core = unsafe { &*core.0 };
                write_loop(core, file, &shared);
            })?;
        *thread = Some(handle);
        // Release pairs with the Acquire in `is_started`.
        self.started.store(true, Ordering::Release);
        let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
        live.retain(|weak| weak.strong_count() > 0);
        live.push(Arc::downgrade(&self.shared));
        Ok(())
    }

    /// Wait until every event recorded before this call is written. Errors with
    /// the write error that stopped the writer, if any.
    pub fn flush(&self) -> Result<(), String> {
        if !self.is_started() {
            return Ok(());
        }
        flush_shared(&self.shared)
    }

    /// Write what is left and stop the writer.
    pub fn stop(&self) {
        {
            let mut progress = self.shared.lock();
            progress.stop = true;
        }
        self.shared.wake.notify_all();
        let handle = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.stop();
    }
}

fn flush_shared(shared: &Shared) -> Result<(), String> {
    let mut progress = shared.lock();
    progress.requested += 1;
    let mine = progress.requested;
    shared.wake.notify_all();
    while progress.completed < mine && progress.failure.is_none() && !progress.exited {
        progress = shared
            .flushed
            .wait(progress)
            .unwrap_or_else(|e| e.into_inner());
    }
    match &progress.failure {
        Some(failure) => Err(failure.clone()),
        None => Ok(()),
    }
}

/// Flush every live journal (at interpreter exit).
pub fn flush_all() {
    let live: Vec<Arc<Shared>> = LIVE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter_map(Weak::upgrade)
        .collect();
    for shared in live {
        let _ = flush_shared(&shared);
    }
}

fn write_loop<X: JournalPayload, S>(core: &TraceCore<X, S>, file: File, shared: &Shared) {
    let mut writer = BlockWriter::new(file);
    loop {
        let (requested, stop) = {
            let mut progress = shared.lock();
            if progress.requested == progress.completed && !progress.stop {
                progress = shared
                    .wake
                    .wait_timeout(progress, FLUSH_INTERVAL)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            (progress.requested, progress.stop)
        };
        let result = writer.write_new(core);
        let mut progress = shared.lock();
        progress.completed = requested;
        let failed = match result {
            Ok(()) => false,
            Err(error) => {
                progress.failure = Some(error.to_string());
                true
            }
        };
        if stop || failed {
            progress.exited = true;
        }
        shared.flushed.notify_all();
        if stop || failed {
            return;
        }
    }
}

/// Encodes a core's new events into blocks and appends them to the file.
struct BlockWriter {
    file: File,
    header_written: bool,
    /// Events written so far (buffer indices below this).
    written: usize,
    /// Core string id -> journal id + 1 (0: not written yet).
    ids: Vec<u32>,
    next_id: u32,
    block: BlockEncoder,
    out: Vec<u8>,
}

impl BlockWriter {
    fn new(file: File) -> Self {
        BlockWriter {
            file,
            header_written: false,
            written: 0,
            ids: Vec::new(),
            next_id: 0,
            block: BlockEncoder::default(),
            out: Vec::new(),
        }
    }

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

    fn write_new<X: JournalPayload, S>(&mut self, core: &TraceCore<X, S>) -> std::io::Result<()> {
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
                    Some(text) => JournalStepRef::Big(text),
                    None => JournalStepRef::None,
                },
            };
            self.block.event(&JournalEventRef {
                kind: event.kind,
                ts: event.ts,
                node,
                step,
                duration: event.duration,
                error,
                metadata: event.payload.and_then(JournalPayload::journal_metadata),
            });
            if self.block.events() == MAX_BLOCK_EVENTS {
                self.block.finish_into(&mut self.out);
            }
        }
        if !self.block.is_empty() {
            self.block.finish_into(&mut self.out);
        }
        let result = self.file.write_all(&self.out);
        self.out.clear();
        self.written = end;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventKind, NewEvent, StepArg};

    type Core = TraceCore<(), ()>;

    #[test]
    fn the_writer_journals_every_event_and_flush_waits_for_it() {
        let dir = std::env::temp_dir().join(format!("dagron-journal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.journal");
        let core = Box::new(Core::new());
        let journal = Journal::create(&path).unwrap();
        assert!(journal.flush().is_ok());
        let names: Vec<u32> = ["a", "b", ""]
            .iter()
            .map(|n| core.intern(n.as_bytes(), || ()).unwrap())
            .collect();
        let boom = core.intern(b"E: boom", || ()).unwrap();
        for i in 0..50_000i64 {
            let mut event = NewEvent::new(EventKind::ALL[(i % 16) as usize]);
            event.node = Some(names[(i % 3) as usize]);
            event.step = StepArg::Int(i - 10);
            if i % 1000 == 0 {
                event.error = Some(boom);
                event.duration = Some(i as f64);
            }
            core.record(event).unwrap();
            if i == 0 {
                // SAFETY: `core` outlives `journal` (dropped first, below).
                unsafe { journal.start(&*core as *const Core).unwrap() };
            }
        }
        journal.flush().unwrap();
        let decoded = format::decode(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(decoded.origin, core.origin());
        assert_eq!(decoded.lost_bytes, 0);
        assert_eq!(decoded.events.len(), 50_000);
        let snapshot = core.snapshot();
        for (event, view) in decoded.events.iter().zip(snapshot.iter()) {
            assert_eq!(event.kind, view.kind);
            assert_eq!(event.ts, view.ts);
            assert_eq!(
                decoded.string(event.node.unwrap()),
                &*view.node.unwrap().1.text
            );
            assert_eq!(
                event.error.map(|id| decoded.string(id)),
                view.error.map(|e| &*e.text)
            );
            assert_eq!(event.duration, view.duration);
        }
        // Recorded after the flush: written by `stop`.
        core.record(NewEvent::new(EventKind::ExecutionCompleted))
            .unwrap();
        drop(journal);
        let decoded = format::decode(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(decoded.events.len(), 50_001);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
