//! The one writer thread of a process, shared by all its journals: it wakes every
//! [`FLUSH_INTERVAL`], or at once when a journal asks (a flush, a growing
//! backlog), and appends each running journal's new events in turn.
//!
//! The thread starts with the first journal that has an event and then lives as
//! long as the process, asleep while no journal runs. Its state is reached through
//! an atomic pointer, and knows the fork generation it was made in (see `fork`):
//! in a forked child, the first journal gets a writer of its own, and the
//! parent's, whose thread is not in the child and whose locks may be held
//! forever there, is left alone (leaked).

use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::entry::{Entry, FLUSH_INTERVAL};
use super::fork;

struct Writer {
    /// The fork generation it serves (never changes).
    generation: u64,
    queue: Mutex<Queue>,
    wake: Condvar,
}

#[derive(Default)]
struct Queue {
    journals: Vec<Arc<Entry>>,
    /// A journal asked for a write since the writer last looked.
    pending: bool,
    started: bool,
}

/// This process's writer (null until its first journal starts). Never freed.
static WRITER: AtomicPtr<Writer> = AtomicPtr::new(std::ptr::null_mut());

impl Writer {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        // Plain data under the lock: usable after a panic.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// This process's writer, if it has one yet.
fn existing() -> Option<&'static Writer> {
    let existing = WRITER.load(Ordering::Acquire);
    // SAFETY: writers are leaked, never freed; `generation` never changes, so
    // reading it is sound even in a forked child whose other threads are gone.
    let writer = unsafe { existing.as_ref() }?;
    (writer.generation == fork::generation()).then_some(writer)
}

/// This process's writer, made on first use (in a forked child, the parent's is
/// replaced).
fn current() -> &'static Writer {
    loop {
        if let Some(writer) = existing() {
            return writer;
        }
        let old = WRITER.load(Ordering::Acquire);
        let new = Box::into_raw(Box::new(Writer {
            generation: fork::generation(),
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
        }));
        if WRITER
            .compare_exchange(old, new, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // SAFETY: `new` lost the race and was never shared: ours to free.
            drop(unsafe { Box::from_raw(new) });
        }
    }
}

/// Have the writer serve `entry` (starting its thread if this is the first).
pub(super) fn add(entry: Arc<Entry>) -> std::io::Result<()> {
    let writer = current();
    let mut queue = writer.queue();
    if !queue.started {
        std::thread::Builder::new()
            .name("dagron-journal".into())
            .spawn(move || run(writer))?;
        queue.started = true;
    }
    let was_idle = queue.journals.is_empty();
    queue.journals.push(entry);
    drop(queue);
    // Only an idle writer needs waking (to start its interval); a busy one comes
    // at its next interval, as for any new event.
    if was_idle {
        writer.wake.notify_one();
    }
    Ok(())
}

/// Let go of a stopped journal now (rather than at the writer's next visit), so
/// that its memory goes with its trace's.
pub(super) fn remove(entry: &Arc<Entry>) {
    if let Some(writer) = existing() {
        writer
            .queue()
            .journals
            .retain(|other| !Arc::ptr_eq(other, entry));
    }
}

/// Ask the writer to come now rather than at its next interval.
pub(super) fn wake() {
    let writer = current();
    writer.queue().pending = true;
    writer.wake.notify_one();
}

/// The journals the writer serves (running, failed, not yet stopped).
pub(super) fn journals() -> Vec<Arc<Entry>> {
    match existing() {
        Some(writer) => writer.queue().journals.clone(),
        None => Vec::new(),
    }
}

fn run(writer: &'static Writer) {
    let mut queue = writer.queue();
    loop {
        queue.journals.retain(|entry| !entry.closed());
        if queue.journals.is_empty() {
            queue = writer.wake.wait(queue).unwrap_or_else(|e| e.into_inner());
            continue;
        }
        if !queue.pending {
            queue = writer
                .wake
                .wait_timeout(queue, FLUSH_INTERVAL)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        queue.pending = false;
        let batch = queue.journals.clone();
        drop(queue);
        for entry in &batch {
            entry.write_pending();
        }
        drop(batch);
        queue = writer.queue();
    }
}
