//! The crate's global allocator: the system allocator plus a small reserve, so that
//! running out of memory raises `MemoryError` rather than aborting.
//!
//! Most allocations that can be large are fallible already (`try_reserve`, bucket
//! allocation). A few small ones inside dependencies (a hash-map node in papaya, a
//! panic message) are not: when one of those fails, the reserve is given back to the
//! system and the allocation retried, and `reserve_spent()` turns true. The bindings
//! check it before recording an event (exports do not), raise `MemoryError` while
//! the reserve cannot be refilled, and carry on once it can.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

/// Size of the reserve: room for many small allocations.
const RESERVE_SIZE: usize = 1 << 20;
/// Only requests this small may use the reserve (big ones are fallible by design).
const SMALL: usize = 64 << 10;

static RESERVE: AtomicPtr<u8> = AtomicPtr::new(ptr::null_mut());

fn reserve_layout() -> Layout {
    Layout::from_size_align(RESERVE_SIZE, 16).expect("valid layout")
}

/// Give the reserve back to the system; true if there was one.
fn release() -> bool {
    let block = RESERVE.swap(ptr::null_mut(), Ordering::AcqRel);
    if block.is_null() {
        return false;
    }
    // SAFETY: `block` was allocated by `refill` with `reserve_layout()` and, having
    // been swapped out, is owned by this call alone.
    unsafe { System.dealloc(block, reserve_layout()) };
    true
}

/// Set the reserve aside (at start, and again after it was spent). False if memory is
/// still too short.
pub fn refill() -> bool {
    if !RESERVE.load(Ordering::Acquire).is_null() {
        return true;
    }
    // SAFETY: the layout has a non-zero size.
    let block = unsafe { System.alloc(reserve_layout()) };
    if block.is_null() {
        return false;
    }
    if RESERVE
        .compare_exchange(ptr::null_mut(), block, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        // SAFETY: another thread refilled first; this block was never shared.
        unsafe { System.dealloc(block, reserve_layout()) };
    }
    true
}

/// True when the reserve was used up and not refilled yet.
pub fn reserve_spent() -> bool {
    RESERVE.load(Ordering::Acquire).is_null()
}

pub struct ReserveAllocator;

impl ReserveAllocator {
    #[cold]
    fn retry<F: Fn() -> *mut u8>(layout: Layout, attempt: F) -> *mut u8 {
        if layout.size() <= SMALL && release() {
            attempt()
        } else {
            ptr::null_mut()
        }
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// reserve only adds a retry after handing memory back.
unsafe impl GlobalAlloc for ReserveAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let block = unsafe { System.alloc(layout) };
        if !block.is_null() {
            return block;
        }
        // SAFETY: forwarded contract.
        Self::retry(layout, || unsafe { System.alloc(layout) })
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let block = unsafe { System.alloc_zeroed(layout) };
        if !block.is_null() {
            return block;
        }
        // SAFETY: forwarded contract.
        Self::retry(layout, || unsafe { System.alloc_zeroed(layout) })
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(block, layout) }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded contract.
        let moved = unsafe { System.realloc(block, layout, new_size) };
        if !moved.is_null() {
            return moved;
        }
        let grown = Layout::from_size_align(new_size, layout.align()).unwrap_or(layout);
        // SAFETY: forwarded contract (on failure `block` is still valid, as required).
        Self::retry(grown, || unsafe { System.realloc(block, layout, new_size) })
    }
}
