//! One journal as its trace and the shared writer thread both see it: the file
//! and the core's reader, the status the trace checks on every `record`, the
//! written/recorded counters behind the loss bound, flush requests and their
//! completion, and the write error that stopped it.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::fork::{self, ForkView, FORKED};

/// No event yet: the writer does not know this journal.
pub(super) const IDLE: u8 = 0;
/// The writer appends the trace's events.
pub(super) const RUNNING: u8 = 1;
/// A write failed: nothing more is written.
pub(super) const FAILED: u8 = 2;
/// Stopped (the trace is gone): everything was written, the file is closed.
pub(super) const STOPPED: u8 = 3;

/// How often the writer wakes to write new events: half the documented 100 ms
/// loss bound, leaving the other half for writing a batch.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(50);

/// How long a waiting `flush` sleeps between checks for signals.
const CHECK_EVERY: Duration = Duration::from_millis(50);

/// What the loss bound is measured in (see `Journal`'s docs): payload text bytes
/// recorded and written, and events written.
#[derive(Default)]
pub(super) struct Counters {
    pub written_events: AtomicUsize,
    /// Events recorded when the journal stopped (its source is gone then).
    pub recorded_at_stop: AtomicUsize,
    pub written_bytes: AtomicU64,
    pub recorded_bytes: AtomicU64,
}

/// Where a journal's events come from: a trace's core, behind a type-erased
/// reader so that one writer thread serves traces of any payload type.
pub(super) trait Source: Send {
    /// Append the events recorded since the last call.
    fn write_new(&mut self, file: &File, counters: &Counters) -> std::io::Result<()>;
    /// Events recorded so far.
    fn recorded(&self) -> usize;
}

/// The file, and its source once started; both gone once stopped.
#[derive(Default)]
struct Work {
    file: Option<File>,
    source: Option<Box<dyn Source>>,
    /// When the source was set.
    started: Option<Instant>,
}

/// A write error, as the bindings report it.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The OS error number, when there is one.
    pub errno: Option<i32>,
    /// What went wrong (without the path).
    pub message: String,
}

impl Failure {
    pub fn new(errno: Option<i32>, message: impl Into<String>) -> Self {
        Failure {
            errno,
            message: message.into(),
        }
    }
}

impl From<&std::io::Error> for Failure {
    fn from(error: &std::io::Error) -> Self {
        // The OS's text without Rust's " (os error N)" suffix.
        let text = error.to_string();
        let message = match text.rfind(" (os error ") {
            Some(at) if error.raw_os_error().is_some() => text[..at].to_owned(),
            _ => text,
        };
        Failure::new(error.raw_os_error(), message)
    }
}

#[derive(Default)]
struct Progress {
    /// Flush requests made / completed (a request completes when the writer has
    /// written everything recorded before it was made).
    requested: u64,
    completed: u64,
    /// The write error that stopped the journal.
    failure: Option<Failure>,
}

/// How a `flush` ended.
#[derive(Debug)]
pub enum FlushError<E> {
    /// The journal's write failed (now or before).
    Failed(Failure),
    /// The check said stop waiting (a signal).
    Interrupted(E),
}

pub(super) struct Entry {
    /// Status and descriptor, for `fork`'s child handler (registered there).
    pub view: ForkView,
    /// The fork generation this journal was made in: in any other, it is inert.
    pub generation: u64,
    /// Its slot in `fork`'s table (`usize::MAX`: none).
    pub slot: AtomicUsize,
    pub path: PathBuf,
    /// The process that made it.
    pub owner: u32,
    pub counters: Counters,
    /// The writer was asked to come early for the backlog (cleared when it does).
    pub nudged: AtomicBool,
    /// The user was told of a failure, or of the fork.
    pub told: AtomicBool,
    /// The failure was reported at interpreter exit.
    pub told_at_exit: AtomicBool,
    progress: Mutex<Progress>,
    flushed: Condvar,
    work: Mutex<Work>,
}

impl Entry {
    pub fn new(path: PathBuf, file: File) -> Entry {
        Entry {
            view: ForkView {
                status: AtomicU8::new(IDLE),
                fd: file.as_raw_fd(),
            },
            generation: fork::generation(),
            slot: AtomicUsize::new(usize::MAX),
            path,
            owner: std::process::id(),
            counters: Counters::default(),
            nudged: AtomicBool::new(false),
            told: AtomicBool::new(false),
            told_at_exit: AtomicBool::new(false),
            progress: Mutex::new(Progress::default()),
            flushed: Condvar::new(),
            work: Mutex::new(Work {
                file: Some(file),
                source: None,
                started: None,
            }),
        }
    }

    #[inline]
    pub fn status(&self) -> u8 {
        self.view.status.load(Ordering::Acquire)
    }

    /// Whether this is a forked child's copy (then nothing but atomics may be
    /// touched: its locks may be held by a thread that does not exist here).
    pub fn forked(&self) -> bool {
        if self.generation != fork::generation() {
            self.view.status.store(FORKED, Ordering::Release);
            return true;
        }
        self.status() == FORKED
    }

    // A panic while holding these locks leaves plain data: still usable.
    fn progress(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn work(&self) -> MutexGuard<'_, Work> {
        self.work.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hand the writer its source; false if the journal was stopped meanwhile.
    /// (Only the first call, while the journal is idle, sets it.)
    pub fn set_source(&self, source: Box<dyn Source>) -> bool {
        let mut work = self.work();
        if work.file.is_none() || self.status() != IDLE {
            return false;
        }
        work.source = Some(source);
        work.started = Some(Instant::now());
        self.view.status.store(RUNNING, Ordering::Release);
        true
    }

    /// Stop the journal with `failure` (its writer could not start).
    pub fn fail(&self, failure: Failure) {
        let mut progress = self.progress();
        progress.failure = Some(failure);
        self.view.status.store(FAILED, Ordering::Release);
        drop(progress);
        self.flushed.notify_all();
    }

    /// The writer's turn: append what is new, complete the flush requests made
    /// before, or record the failure.
    /// A journal's first periodic write waits a whole [`FLUSH_INTERVAL`] from its
    /// start (as if it had a writer of its own), unless asked for sooner.
    pub fn write_pending(&self) {
        if self.status() != RUNNING {
            return;
        }
        let nudged = self.nudged.swap(false, Ordering::AcqRel);
        let (requested, completed) = {
            let progress = self.progress();
            (progress.requested, progress.completed)
        };
        let result = {
            let mut work = self.work();
            let young = work
                .started
                .is_some_and(|started| started.elapsed() < FLUSH_INTERVAL);
            if young && !nudged && requested == completed {
                return;
            }
            let Work { file, source, .. } = &mut *work;
            match (file, source) {
                (Some(file), Some(source)) => source.write_new(file, &self.counters),
                _ => Ok(()),
            }
        };
        let mut progress = self.progress();
        progress.completed = progress.completed.max(requested);
        if let Err(error) = &result {
            progress.failure = Some(Failure::from(error));
            self.view.status.store(FAILED, Ordering::Release);
        }
        drop(progress);
        self.flushed.notify_all();
    }

    /// The failure that stopped this journal, if any.
    pub fn failure(&self) -> Option<Failure> {
        if self.forked() {
            return None;
        }
        self.progress().failure.clone()
    }

    /// Events recorded and events written.
    pub fn tally(&self) -> (usize, usize) {
        let written = self.counters.written_events.load(Ordering::Acquire);
        if self.forked() {
            return (written, written);
        }
        let recorded = match &self.work().source {
            Some(source) => source.recorded(),
            None => self.counters.recorded_at_stop.load(Ordering::Acquire),
        };
        (recorded, written)
    }

    /// A flush request for everything recorded so far: its number, or None when
    /// there is nothing to wait for. The caller then wakes the writer and `wait`s.
    /// The caller has checked that this is not a forked copy.
    pub fn request<E>(&self) -> Result<Option<u64>, FlushError<E>> {
        let mut progress = self.progress();
        if let Some(failure) = &progress.failure {
            return Err(FlushError::Failed(failure.clone()));
        }
        if self.status() != RUNNING {
            return Ok(None);
        }
        progress.requested += 1;
        Ok(Some(progress.requested))
    }

    /// Wait until flush request `mine` is done. `check` runs every
    /// [`CHECK_EVERY`] while waiting; its error ends the wait.
    pub fn wait<E>(
        &self,
        mine: u64,
        mut check: impl FnMut() -> Result<(), E>,
    ) -> Result<(), FlushError<E>> {
        let mut progress = self.progress();
        loop {
            if let Some(failure) = &progress.failure {
                return Err(FlushError::Failed(failure.clone()));
            }
            if progress.completed >= mine || self.status() != RUNNING {
                return Ok(());
            }
            let (guard, waited) = self
                .flushed
                .wait_timeout(progress, CHECK_EVERY)
                .unwrap_or_else(|e| e.into_inner());
            progress = guard;
            if waited.timed_out() {
                drop(progress);
                check().map_err(FlushError::Interrupted)?;
                progress = self.progress();
            }
        }
    }

    /// Write what is left and close the file (once; at once in a forked copy).
    /// Returns the failure, if this journal has one.
    pub fn stop(&self) -> Option<Failure> {
        if self.forked() {
            return None;
        }
        let slot = self.slot.swap(usize::MAX, Ordering::AcqRel);
        if slot != usize::MAX {
            // Before the descriptor is closed: a child must not close another.
            fork::unregister(slot);
        }
        let mut work = self.work();
        let Work { file, source, .. } = &mut *work;
        let result = match (file, source) {
            (Some(file), Some(source)) if self.status() == RUNNING => {
                source.write_new(file, &self.counters)
            }
            _ => Ok(()),
        };
        if let Some(source) = &work.source {
            self.counters
                .recorded_at_stop
                .store(source.recorded(), Ordering::Release);
        }
        work.source = None;
        work.file = None;
        drop(work);
        let mut progress = self.progress();
        match &result {
            Err(error) => {
                progress.failure = Some(Failure::from(error));
                self.view.status.store(FAILED, Ordering::Release);
            }
            Ok(()) if progress.failure.is_none() => {
                self.view.status.store(STOPPED, Ordering::Release);
            }
            Ok(()) => {}
        }
        let failure = progress.failure.clone();
        drop(progress);
        self.flushed.notify_all();
        failure
    }

    /// Whether `stop` closed the file (the writer lets go of it then).
    pub fn closed(&self) -> bool {
        match self.status() {
            STOPPED => true,
            FAILED => self.work().file.is_none(),
            _ => false,
        }
    }
}
