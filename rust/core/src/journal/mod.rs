//! The journal: a trace's events appended to a file as they are recorded, in the
//! format of [`format`], so that a process killed at any moment leaves its events
//! on disk up to a bound. One writer thread serves every journal of the process
//! (`writer`); each journal's file is opened by `open`, its events are cut into
//! blocks by `blocks`, its shared state is an `entry`, and `fork` keeps a forked
//! child away from its parent's journals.
//!
//! # Loss bound
//! The writer wakes every [`FLUSH_INTERVAL`] (50 ms), or at once on `flush`, and
//! writes every event recorded so far, in blocks of at most [`MAX_BLOCK_EVENTS`]
//! events and about [`MAX_BLOCK_BYTES`] bytes, each with one `write` call. `record`
//! keeps the backlog, the events recorded but not yet written, under
//! [`BACKLOG_LIMIT`] bytes, counting each event as its metadata's JSON text (and
//! a big step index's bytes) plus [`EVENT_BYTES`]: past half of it the writer is
//! woken early, past all of it `record` waits for the writer (checked at every
//! event with metadata, and at every [`BACKLOG_CHECK_EVERY`]th other event). So
//! after a SIGKILL the file holds every event recorded more than 100 ms (the
//! interval plus the time to write a batch) before the kill, plus however long
//! the system kept the writer thread from running, and in any case all but at
//! most [`BACKLOG_LIMIT`] bytes of events (plus the one event each recording
//! thread was recording); a cut last block is dropped whole. The data is in the
//! operating system's page cache when `write` returns: it survives the process,
//! not a power cut (there is no fsync).
//!
//! # Failures
//! A failed write (a full disk) stops the journal: the file keeps what was
//! written, the next `record` is told once (`Attention::Tell`), `flush` returns
//! the error every time, and [`flush_all`] (at interpreter exit) reports it again
//! with the final count.
//!
//! # Fork
//! A forked child's copies of its parent's journals are inert: `fork`'s
//! `pthread_atfork` child handler marks them (and closes the child's copies of
//! their descriptors), and every entry point also compares the journal's fork
//! generation with the process's before touching any lock (the parent's writer
//! thread, which may have held one, does not exist in the child). So in the child,
//! `flush`, `stop` and the exit flush return at once, nothing is written to the
//! parent's file (even by a trace that had no event before the fork), and the
//! bindings say once that a journal does not cross `fork`.
//!
//! # Recording cost
//! `record` does nothing for the journal beyond what it does anyway but one load
//! of an atomic status: the writer reads the trace's lock-free buffers like any
//! reader. Only events with metadata or an oversized step index carry their JSON
//! text / bytes, made at record time by the bindings (see [`JournalPayload`]),
//! because the writer does not touch Python objects.

mod blocks;
mod entry;
mod fork;
pub mod format;
mod open;
mod writer;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::trace::TraceCore;
pub use blocks::{JournalPayload, MAX_BLOCK_BYTES, MAX_BLOCK_EVENTS};
use entry::{Entry, FAILED, IDLE, RUNNING};
pub use entry::{Failure, FlushError, FLUSH_INTERVAL};

/// Most bytes of events recorded but not yet written before `record` waits.
pub const BACKLOG_LIMIT: u64 = 4 << 20;
/// What an event counts in the backlog besides its metadata's text.
pub const EVENT_BYTES: u64 = 32;
/// Events without metadata check the backlog this often.
pub const BACKLOG_CHECK_EVERY: usize = 4096;

/// What `record` must do for the journal after recording (see [`Journal::attend`]).
#[derive(Debug, PartialEq)]
pub enum Attention {
    Nothing,
    /// The trace's first event: start the journal (`Journal::start`).
    Start,
    /// The backlog is over its limit: `flush`, then go on.
    Wait,
    /// Tell the user this, once (a failure, or a forked copy).
    Tell(String),
}

/// How a `flush` that did not fail ended.
#[derive(Debug, PartialEq)]
pub enum Flushed {
    /// Everything recorded before it is in the file.
    Done,
    /// This is a forked child's copy: nothing is written.
    Forked,
}

/// A trace's journal: its file, served by the process's writer thread.
pub struct Journal {
    entry: Arc<Entry>,
}

impl Journal {
    /// Create (or empty) the journal file at `path`, which must be a regular file
    /// (or nothing yet) that no other journal is writing to.
    pub fn create(path: &Path) -> Result<Journal, Failure> {
        fork::install();
        let file = open::open_journal(path)?;
        let entry = Arc::new(Entry::new(path.to_owned(), file));
        if let Some(slot) = fork::register(&entry.view) {
            entry.slot.store(slot, Ordering::Release);
        }
        Ok(Journal { entry })
    }

    pub fn path(&self) -> &Path {
        &self.entry.path
    }

    /// Whether `record` must call [`Journal::attend`] after recording the event at
    /// `index` (`heavy`: it has journal text, counted by `add_recorded`).
    #[inline]
    pub fn needs_attention(&self, index: usize, heavy: bool) -> bool {
        heavy || index % BACKLOG_CHECK_EVERY == 0 || self.entry.status() != RUNNING
    }

    /// Count `bytes` of journal text as recorded (before the event is recorded),
    /// or, with `undo`, take them back (its recording failed).
    pub fn add_recorded(&self, bytes: usize, undo: bool) {
        let counter = &self.entry.counters.recorded_bytes;
        if undo {
            counter.fetch_sub(bytes as u64, Ordering::AcqRel);
        } else {
            counter.fetch_add(bytes as u64, Ordering::AcqRel);
        }
    }

    /// Events recorded but not written, in backlog bytes, just after recording
    /// the event at `index`.
    fn backlog(&self, index: usize) -> u64 {
        let counters = &self.entry.counters;
        let text = counters
            .recorded_bytes
            .load(Ordering::Acquire)
            .saturating_sub(counters.written_bytes.load(Ordering::Acquire));
        let events = (index + 1).saturating_sub(counters.written_events.load(Ordering::Acquire));
        text + events as u64 * EVENT_BYTES
    }

    /// What `record` must do for the journal, having recorded the event at `index`.
    #[cold]
    pub fn attend(&self, index: usize) -> Attention {
        let entry = &self.entry;
        if entry.forked() {
            return self.tell_once(|| self.fork_message());
        }
        match entry.status() {
            IDLE => Attention::Start,
            RUNNING => {
                let backlog = self.backlog(index);
                if backlog > BACKLOG_LIMIT {
                    return Attention::Wait;
                }
                if backlog > BACKLOG_LIMIT / 2 && !entry.nudged.swap(true, Ordering::AcqRel) {
                    writer::wake();
                }
                Attention::Nothing
            }
            FAILED => match entry.failure() {
                Some(failure) => self.tell_once(|| self.failure_message(&failure)),
                None => Attention::Nothing,
            },
            _ => Attention::Nothing,
        }
    }

    /// `Tell` the message, if the user was not told yet.
    pub fn tell_once(&self, message: impl FnOnce() -> String) -> Attention {
        if self.entry.told.swap(true, Ordering::AcqRel) {
            Attention::Nothing
        } else {
            Attention::Tell(message())
        }
    }

    /// Events in the file so far.
    pub fn written(&self) -> usize {
        self.entry.counters.written_events.load(Ordering::Acquire)
    }

    /// What a write failure means for this journal.
    pub fn failure_message(&self, failure: &Failure) -> String {
        format!(
            "{}: journal write failed ({}): it holds the first {} events; this trace keeps \
             later ones in memory only",
            self.path().display(),
            failure.message,
            self.written()
        )
    }

    /// What a forked child is told of its copy of this journal.
    pub fn fork_message(&self) -> String {
        format!(
            "{}: this journal belongs to process {}, and a journal does not cross fork(): \
             this process's copy of the trace keeps its events in memory only",
            self.path().display(),
            self.entry.owner
        )
    }

    /// Start writing the trace's events (once; later calls, or calls in a forked
    /// child, do nothing).
    ///
    /// # Safety
    /// `core` must stay alive, at the same address, until this journal is stopped
    /// (`stop`, or dropping it).
    #[cold]
    pub unsafe fn start<X, S>(&self, core: *const TraceCore<X, S>) -> Result<(), Failure>
    where
        X: JournalPayload + Send + Sync + 'static,
        S: Send + Sync + 'static,
    {
        let entry = &self.entry;
        if entry.forked() {
            return Ok(());
        }
        let source = blocks::CoreSource::new(blocks::CorePtr(core));
        if !entry.set_source(Box::new(source)) {
            return Ok(());
        }
        writer::add(Arc::clone(entry)).map_err(|error| {
            let failure = Failure::from(&error);
            let failure = Failure::new(
                failure.errno,
                format!("cannot start the journal writer: {}", failure.message),
            );
            entry.fail(failure.clone());
            failure
        })
    }

    /// Wait until every event recorded before this call is in the file; `check`
    /// runs every 50 ms meanwhile, and its error ends the wait.
    pub fn flush<E>(&self, check: impl FnMut() -> Result<(), E>) -> Result<Flushed, FlushError<E>> {
        if self.entry.forked() {
            return Ok(Flushed::Forked);
        }
        flush_entry(&self.entry, check).map(|()| Flushed::Done)
    }

    /// Write what is left and close the file. Returns the failure to tell the
    /// user of, if the journal failed and the user was told nothing yet.
    pub fn stop(&self) -> Option<String> {
        let failure = self.entry.stop()?;
        let entry = &self.entry;
        if entry.told_at_exit.load(Ordering::Acquire) || entry.told.swap(true, Ordering::AcqRel) {
            return None;
        }
        Some(tally_message(entry, &failure))
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        if self.entry.forked() {
            // The child's copy: its file and locks are the parent's; never free
            // them here.
            std::mem::forget(Arc::clone(&self.entry));
            return;
        }
        self.entry.stop();
        writer::remove(&self.entry);
    }
}

/// Flush every journal of this process (at interpreter exit); `check` runs while
/// waiting, as for `Journal::flush`. Returns what to tell the user of each
/// journal that failed.
pub fn flush_all<E>(mut check: impl FnMut() -> Result<(), E>) -> Result<Vec<String>, E> {
    let mut told = Vec::new();
    for entry in writer::journals() {
        // A stopped journal's trace is gone: it was told of then, if need be.
        if entry.forked() || entry.closed() {
            continue;
        }
        let failure = match flush_entry(&entry, &mut check) {
            Ok(()) => continue,
            Err(FlushError::Failed(failure)) => failure,
            Err(FlushError::Interrupted(error)) => return Err(error),
        };
        if !entry.told_at_exit.swap(true, Ordering::AcqRel) {
            told.push(tally_message(&entry, &failure));
        }
    }
    Ok(told)
}

/// Ask the writer for everything recorded so far, and wait for it.
fn flush_entry<E>(
    entry: &Entry,
    check: impl FnMut() -> Result<(), E>,
) -> Result<(), FlushError<E>> {
    match entry.request()? {
        Some(request) => {
            writer::wake();
            entry.wait(request, check)
        }
        None => Ok(()),
    }
}

/// A failure, with how many of the recorded events are in the file.
fn tally_message(entry: &Entry, failure: &Failure) -> String {
    let (recorded, written) = entry.tally();
    format!(
        "{}: journal write failed ({}): {written} of {recorded} recorded events are in the \
         journal",
        entry.path.display(),
        failure.message
    )
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
        let flush = |journal: &Journal| journal.flush(|| Ok::<(), ()>(())).unwrap();
        assert_eq!(flush(&journal), Flushed::Done);
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
        assert_eq!(flush(&journal), Flushed::Done);
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
