//! All of the buffer's `unsafe`: bucket allocation, slot writes and reads, and drop.
//!
//! See `mod.rs` for the publication protocol these functions implement.

use std::alloc::Layout;
use std::mem::MaybeUninit;
use std::ptr;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};

use super::sync::{backoff, AtomicPtr, AtomicU8, AtomicUsize, UnsafeCell};
use crate::error::AllocError;

/// Slot states. A slot's memory starts zeroed, so `EMPTY` must be 0.
const EMPTY: u8 = 0;
const WRITTEN: u8 = 1;
// Zeroed memory must read as EMPTY (see `allocate`).
const _: () = assert!(EMPTY == 0);

/// Length of bucket 0; bucket `b` holds `FIRST_BUCKET_LEN << b` slots. Tiny under
/// loom so that models cross bucket boundaries within a few pushes.
#[cfg(not(loom))]
pub(crate) const FIRST_BUCKET_LEN: usize = 32;
#[cfg(loom)]
pub(crate) const FIRST_BUCKET_LEN: usize = 2;
const FIRST_SHIFT: u32 = FIRST_BUCKET_LEN.trailing_zeros();
/// Enough buckets to address every index below `usize::MAX - FIRST_BUCKET_LEN`.
const BUCKETS: usize = (usize::BITS - FIRST_SHIFT) as usize;

/// Where index `index` lives: (bucket, offset in bucket).
#[inline(always)]
pub(crate) fn locate(index: usize) -> (usize, usize) {
    let shifted = index + FIRST_BUCKET_LEN;
    let bucket = (usize::BITS - 1 - shifted.leading_zeros() - FIRST_SHIFT) as usize;
    (bucket, shifted - (FIRST_BUCKET_LEN << bucket))
}

#[inline(always)]
pub(crate) const fn bucket_len(bucket: usize) -> usize {
    FIRST_BUCKET_LEN << bucket
}

#[repr(C)]
struct Slot<T> {
    value: UnsafeCell<MaybeUninit<T>>,
    state: AtomicU8,
}

/// Keeps `T` at least 128 bytes from whatever comes before it (two cache lines: no
/// false sharing, also with adjacent-line prefetch). Padding rather than
/// `align(128)`: Python allocates objects 16-byte aligned, so a pyclass must not
/// need more.
#[repr(C)]
struct CachePadded<T> {
    _before: [u64; 16],
    value: T,
}

fn padded<T>(value: T) -> CachePadded<T> {
    CachePadded {
        _before: [0; 16],
        value,
    }
}

pub struct AppendBuffer<T> {
    /// Number of slots claimed so far (claimed, not necessarily published).
    claimed: CachePadded<AtomicUsize>,
    /// Every slot below this index is known to be published (a lower bound).
    watermark: CachePadded<AtomicUsize>,
    /// Read on every push, rarely written: apart from the counters.
    buckets: CachePadded<[AtomicPtr<Slot<T>>; BUCKETS]>,
}

// SAFETY: values are moved in by one writer and afterwards only shared by reference,
// so the buffer is `Send`/`Sync` exactly when `T` may be sent and shared.
unsafe impl<T: Send> Send for AppendBuffer<T> {}
// SAFETY: as above; all shared mutation goes through atomics and the protocol in mod.rs.
unsafe impl<T: Send + Sync> Sync for AppendBuffer<T> {}

impl<T> AppendBuffer<T> {
    pub fn new() -> Self {
        AppendBuffer {
            claimed: padded(AtomicUsize::new(0)),
            watermark: padded(AtomicUsize::new(0)),
            buckets: padded(std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut()))),
        }
    }

    /// Slots claimed so far. Pairs with nothing: slot data is published per slot.
    #[inline]
    pub fn claimed(&self) -> usize {
        self.claimed.value.load(Acquire)
    }

    /// Claim the next slot, build its value with `make(index)`, write and publish it.
    /// `make` runs after the claim and before publication, so it can link the value to
    /// its index; it must not panic. Fails (claiming nothing) only if the bucket cannot
    /// be allocated.
    #[inline]
    pub fn push_with(&self, make: impl FnOnce(usize) -> T) -> Result<usize, AllocError> {
        // Make sure the bucket the next index falls in exists before claiming, so
        // that an allocation failure leaves no claimed-but-unwritten slot behind.
        let guess = self.claimed.value.load(Relaxed);
        let (guess_bucket, _) = locate(guess);
        let guess_base = self.bucket(guess_bucket)?;

        let index = self.claimed.value.fetch_add(1, Relaxed);
        let (bucket, offset) = locate(index);
        // Usually the claim lands in the bucket just checked (installed buckets never
        // change), so its base is known already.
        let base = if bucket == guess_bucket {
            guess_base
        } else {
            match self.bucket(bucket) {
                Ok(base) => base,
                // Only reachable when other threads claimed a whole bucket's worth of
                // slots between our check and our claim: the slot is already ours and
                // readers will wait for it, so there is no way to give it back.
                Err(AllocError) => std::alloc::handle_alloc_error(Self::layout(bucket)),
            }
        };
        // Allocate the following bucket early, off the critical path of the writer
        // that would otherwise hit it first.
        if offset == bucket_len(bucket) - (bucket_len(bucket) / 8).max(1) && bucket + 1 < BUCKETS {
            let _ = self.bucket(bucket + 1);
        }
        // SAFETY: `offset < bucket_len(bucket)` by `locate`, and `base` points to a live
        // allocation of that many slots (buckets are freed only in `drop`).
        let slot = unsafe { &*base.add(offset) };
        let value = make(index);
        // SAFETY: the fetch_add above gave this thread exclusive ownership of `index`;
        // no reader touches the value before it sees WRITTEN.
        slot.value.with_mut(|cell| unsafe { (*cell).write(value) });
        // Release pairs with the Acquire loads in `get` and `wait`.
        slot.state.store(WRITTEN, Release);
        self.advance_watermark(index);
        Ok(index)
    }

    /// Keep `watermark` up to date cheaply when slots are published in order.
    #[inline]
    fn advance_watermark(&self, index: usize) {
        let _ = self
            .watermark
            .value
            .compare_exchange(index, index + 1, Release, Relaxed);
    }

    /// The published value at `index`, if `index` is claimed and written.
    #[inline]
    pub fn get(&self, index: usize) -> Option<&T> {
        if index >= self.claimed() {
            return None;
        }
        let (bucket, offset) = locate(index);
        let base = self.buckets.value[bucket].load(Acquire);
        if base.is_null() {
            return None;
        }
        // SAFETY: `base` is a live bucket of `bucket_len(bucket)` slots and `offset` is
        // in range by `locate`.
        let slot = unsafe { &*base.add(offset) };
        // Acquire pairs with the Release store in `push_with`.
        if slot.state.load(Acquire) != WRITTEN {
            return None;
        }
        // SAFETY: WRITTEN means the value was fully initialised and is never written
        // again; it lives until the buffer is dropped, which `&self` prevents.
        Some(slot.value.with(|cell| unsafe { (*cell).assume_init_ref() }))
    }

    /// The value at a claimed `index`, waiting for its writer to publish it.
    ///
    /// Writers publish a bounded number of steps after claiming, so the wait is short.
    #[inline]
    pub fn wait(&self, index: usize) -> &T {
        debug_assert!(index < self.claimed());
        let mut round = 0;
        loop {
            if let Some(value) = self.get(index) {
                return value;
            }
            backoff(&mut round);
        }
    }

    /// Wait until every slot below `len` (a value `claimed()` returned) is published.
    /// Cheap when writers published in order: only slots above the watermark are checked.
    pub fn wait_published(&self, len: usize) {
        // Acquire pairs with the Release CAS in `advance_watermark`.
        let start = self.watermark.value.load(Acquire);
        if start >= len {
            return;
        }
        for index in start..len {
            self.wait(index);
        }
        self.watermark.value.fetch_max(len, Release);
    }

    /// Reserve room for at least `additional` more values beyond those claimed, so the
    /// pushes that follow allocate nothing (used when restoring a saved trace).
    pub fn reserve(&self, additional: usize) -> Result<(), AllocError> {
        let from = self.claimed.value.load(Relaxed);
        if additional == 0 {
            return Ok(());
        }
        let last = from.checked_add(additional - 1).ok_or(AllocError)?;
        let (first_bucket, _) = locate(from);
        let (last_bucket, _) = locate(last);
        for bucket in first_bucket..=last_bucket {
            self.bucket(bucket)?;
        }
        Ok(())
    }

    fn layout(bucket: usize) -> Layout {
        Layout::array::<Slot<T>>(bucket_len(bucket)).expect("bucket layout fits in isize")
    }

    #[inline(always)]
    fn bucket(&self, bucket: usize) -> Result<*mut Slot<T>, AllocError> {
        // Acquire pairs with the AcqRel CAS in `install`.
        let base = self.buckets.value[bucket].load(Acquire);
        if !base.is_null() {
            return Ok(base);
        }
        self.install(bucket)
    }

    #[cold]
    #[inline(never)]
    fn install(&self, bucket: usize) -> Result<*mut Slot<T>, AllocError> {
        let fresh = Self::allocate(bucket)?;
        match self.buckets.value[bucket].compare_exchange(ptr::null_mut(), fresh, AcqRel, Acquire) {
            Ok(_) => Ok(fresh),
            Err(winner) => {
                // SAFETY: `fresh` came from `allocate(bucket)` just above and was never shared.
                unsafe { Self::deallocate(fresh, bucket) };
                Ok(winner)
            }
        }
    }

    #[cfg(not(loom))]
    fn allocate(bucket: usize) -> Result<*mut Slot<T>, AllocError> {
        let layout = Self::layout(bucket);
        // Zeroed memory is a valid array of EMPTY slots (AtomicU8 0, value uninit), and
        // the kernel hands large zeroed allocations out lazily, so untouched slots cost
        // no resident memory.
        // SAFETY: the layout has a non-zero size (bucket_len >= 32, Slot is not a ZST
        // because of its state byte).
        let base = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<Slot<T>>();
        if base.is_null() {
            Err(AllocError)
        } else {
            Ok(base)
        }
    }

    #[cfg(loom)]
    fn allocate(bucket: usize) -> Result<*mut Slot<T>, AllocError> {
        let slots: Box<[Slot<T>]> = (0..bucket_len(bucket))
            .map(|_| Slot {
                value: UnsafeCell::new(MaybeUninit::uninit()),
                state: AtomicU8::new(EMPTY),
            })
            .collect();
        Ok(Box::into_raw(slots).cast::<Slot<T>>())
    }

    /// # Safety
    /// `base` must come from `allocate(bucket)` and hold no initialised values that
    /// still need dropping.
    #[cfg(not(loom))]
    unsafe fn deallocate(base: *mut Slot<T>, bucket: usize) {
        // SAFETY: per the contract, `base` was allocated with exactly this layout.
        unsafe { std::alloc::dealloc(base.cast(), Self::layout(bucket)) }
    }

    /// # Safety
    /// As the non-loom version.
    #[cfg(loom)]
    unsafe fn deallocate(base: *mut Slot<T>, bucket: usize) {
        let slice = ptr::slice_from_raw_parts_mut(base, bucket_len(bucket));
        // SAFETY: `allocate` made this pointer with `Box::into_raw` of this slice length.
        drop(unsafe { Box::from_raw(slice) });
    }
}

impl<T> Default for AppendBuffer<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Drop for AppendBuffer<T> {
    fn drop(&mut self) {
        for bucket in 0..BUCKETS {
            let base = self.buckets.value[bucket].load(Acquire);
            if base.is_null() {
                continue;
            }
            for offset in 0..bucket_len(bucket) {
                // SAFETY: `&mut self` means no writer or reader is active; `offset` is in
                // the bucket's range.
                let slot = unsafe { &*base.add(offset) };
                if slot.state.load(Acquire) == WRITTEN {
                    // SAFETY: WRITTEN slots hold an initialised value, dropped once here.
                    slot.value
                        .with_mut(|cell| unsafe { (*cell).assume_init_drop() });
                }
            }
            // SAFETY: every initialised value in the bucket was dropped just above.
            unsafe { Self::deallocate(base, bucket) };
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn locate_walks_buckets_in_order() {
        let mut expected = (0usize, 0usize);
        for index in 0..10_000 {
            assert_eq!(locate(index), expected, "index {index}");
            expected.1 += 1;
            if expected.1 == bucket_len(expected.0) {
                expected = (expected.0 + 1, 0);
            }
        }
        let (bucket, offset) = locate(usize::MAX - FIRST_BUCKET_LEN);
        assert_eq!(bucket, BUCKETS - 1);
        assert!(offset < bucket_len(bucket));
    }
}
