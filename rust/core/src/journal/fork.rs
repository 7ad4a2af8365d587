//! What a journal knows about `fork()`: the process generation (bumped in every
//! child), and a lock-free table of the open journals that a child disowns the
//! moment it starts.
//!
//! A journal's writer thread does not exist in a forked child, and the locks it
//! held there stay held forever; so no journal code of the child may touch a
//! journal of its parent, or the parent's writer, beyond atomics and fields that
//! never change (the writer notices the new generation itself). `pthread_atfork`'s child handler (async
//! signal safe: atomic stores and `close` only) bumps [`generation`], marks every
//! registered journal forked and closes the child's copy of its file descriptor
//! (so that the parent's exclusive lock ends with the parent's journal, however
//! long the child lives). Each journal remembers the generation it was made in and
//! compares before touching anything else, which also covers journals that the
//! full table could not register.

use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicU8, Ordering};
use std::sync::Once;

/// Most journals the table tracks at once; more still work (each notices the fork
/// at its next call, by generation) but their descriptors stay open in a child.
const SLOTS: usize = 4096;

/// What the child handler needs of a journal: set to `FORKED`, and its descriptor.
pub(super) struct ForkView {
    pub status: AtomicU8,
    pub fd: i32,
}

static GENERATION: AtomicU64 = AtomicU64::new(0);
static TABLE: [AtomicPtr<ForkView>; SLOTS] =
    [const { AtomicPtr::new(std::ptr::null_mut()) }; SLOTS];
static INSTALL: Once = Once::new();

/// The status a child's copies of its parent's journals are set to.
pub(super) const FORKED: u8 = u8::MAX;

/// This process's generation: 0 in the first process, bumped by each fork.
#[inline]
pub(super) fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

/// Register the child handler (once per process; forked children inherit it).
pub(super) fn install() {
    INSTALL.call_once(|| {
        // SAFETY: `in_child` is an `extern "C" fn()` that only does async signal
        // safe work, as `pthread_atfork` requires of a child handler.
        unsafe {
            libc::pthread_atfork(None, None, Some(in_child));
        }
    });
}

/// Track `view` until [`unregister`]; returns its slot, or None when the table
/// is full. The caller keeps `view` alive, at its address, while registered.
pub(super) fn register(view: *const ForkView) -> Option<usize> {
    for (slot, entry) in TABLE.iter().enumerate() {
        if entry
            .compare_exchange(
                std::ptr::null_mut(),
                view.cast_mut(),
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_ok()
        {
            return Some(slot);
        }
    }
    None
}

/// Stop tracking the view in `slot` (before its descriptor is closed).
pub(super) fn unregister(slot: usize) {
    TABLE[slot].store(std::ptr::null_mut(), Ordering::Release);
}

extern "C" fn in_child() {
    GENERATION.fetch_add(1, Ordering::AcqRel);
    for entry in &TABLE {
        let view = entry.swap(std::ptr::null_mut(), Ordering::AcqRel);
        if view.is_null() {
            continue;
        }
        // SAFETY: a registered view is alive until unregistered, and the parent
        // unregisters before freeing it; the child runs on a copy of the parent's
        // memory taken at a moment when this slot was still set, and no thread of
        // the child can free it (the child's journals never free a forked one).
        let view = unsafe { &*view };
        view.status.store(FORKED, Ordering::Release);
        // SAFETY: closing the child's copy of a descriptor that the child's
        // journals never use again (they see FORKED, or a newer generation, and
        // leak their file instead of closing it).
        unsafe {
            libc::close(view.fd);
        }
    }
}
