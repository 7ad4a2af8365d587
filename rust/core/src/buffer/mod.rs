//! Lock-free, append-only buffer: many threads push at once, readers take
//! snapshots while writers go on. No mutex anywhere.
//!
//! # Layout
//! Slots live in buckets whose lengths double (`32, 64, 128, ...`). A bucket is
//! allocated once, never moved and freed only on drop, so a `&T` handed out stays
//! valid for the buffer's lifetime. Index `i` maps to a bucket and an offset with
//! one `leading_zeros`. Each slot is the value plus one state byte (`EMPTY` or
//! `WRITTEN`).
//!
//! # Publication protocol
//! ```text
//!  writer                                   reader
//!  ------                                   ------
//!  ensure bucket(claimed) exists            n = claimed.load(Acquire)
//!  i = claimed.fetch_add(1, Relaxed)        for i in 0..n:
//!  ensure bucket(i) exists (CAS, AcqRel)       bucket = buckets[b].load(Acquire)
//!  value = make(i); write it (exclusive)     wait until slot.state.load(Acquire)
//!                                                     == WRITTEN
//!  slot.state.store(WRITTEN, Release) ------>  read value (never written again)
//!  watermark.cas(i, i + 1, Release)
//! ```
//! * The `fetch_add` gives each writer exclusive ownership of one slot; nobody else
//!   writes it, ever.
//! * The `Release` store of `WRITTEN` pairs with the reader's `Acquire` load of the
//!   state, so a reader that sees `WRITTEN` sees the whole value.
//! * A bucket is installed with a compare-and-swap from null; the loser frees its
//!   allocation. Installing is `AcqRel` and loading it `Acquire`, so a bucket's
//!   zeroed (all `EMPTY`) contents are visible before any slot in it is used.
//! * A snapshot is "every slot below `n`": slots claimed before the reader looked.
//!   The reader waits for the few whose writers are between claim and publish
//!   (a bounded number of steps), so a snapshot is a gap-free prefix.
//! * `watermark` is a lower bound on the published prefix, advanced by writers that
//!   publish in order and by readers after waiting, so repeated snapshots only check
//!   the slots that are new. A writer's CAS extends the previous writer's release
//!   sequence, so acquiring the watermark acquires every slot below it.
//! * The bucket for the next index is made to exist *before* claiming, so an
//!   allocation failure is reported with nothing claimed.
//!
//! The protocol is model-checked with loom (`loom_tests.rs`, run with
//! `RUSTFLAGS="--cfg loom" cargo test --release -p dagron-core --lib buffer`).

mod raw;
mod sync;

#[cfg(all(test, loom))]
mod loom_tests;

pub use raw::AppendBuffer;

use crate::error::AllocError;

impl<T> AppendBuffer<T> {
    /// Visit the first `len` values (a `claimed()` value) in index order, waiting
    /// for any still being written.
    pub fn for_each_until(&self, len: usize, f: impl FnMut(usize, &T)) {
        self.for_each_from(0, len, f);
    }

    /// Visit the values at `start..end` (below a `claimed()` value), waiting for any
    /// still being written.
    pub fn for_each_from(&self, start: usize, end: usize, mut f: impl FnMut(usize, &T)) {
        for index in start..end {
            f(index, self.wait(index));
        }
    }

    /// Push a value; see [`AppendBuffer::push_with`].
    pub fn push(&self, value: T) -> Result<usize, AllocError> {
        self.push_with(|_| value)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn push_and_read_back_across_buckets() {
        let buffer = AppendBuffer::new();
        for value in 0..5_000u64 {
            assert_eq!(buffer.push(value), Ok(value as usize));
        }
        assert_eq!(buffer.claimed(), 5_000);
        buffer.wait_published(5_000);
        let mut seen = Vec::new();
        buffer.for_each_until(5_000, |index, value| seen.push((index, *value)));
        assert_eq!(
            seen,
            (0..5_000).map(|v| (v as usize, v)).collect::<Vec<_>>()
        );
        assert_eq!(buffer.get(5_000), None);
    }

    #[test]
    fn drops_every_value_once() {
        let marker = Arc::new(());
        {
            let buffer = AppendBuffer::new();
            for _ in 0..1_000 {
                buffer.push(Arc::clone(&marker)).unwrap();
            }
            assert_eq!(Arc::strong_count(&marker), 1_001);
        }
        assert_eq!(Arc::strong_count(&marker), 1);
    }

    #[test]
    fn threads_push_concurrently_while_a_reader_snapshots() {
        const THREADS: u64 = 8;
        const PER_THREAD: u64 = 20_000;
        let buffer = Arc::new(AppendBuffer::new());
        let writers: Vec<_> = (0..THREADS)
            .map(|thread| {
                let buffer = Arc::clone(&buffer);
                std::thread::spawn(move || {
                    for seq in 0..PER_THREAD {
                        buffer.push((thread, seq)).unwrap();
                    }
                })
            })
            .collect();
        // Every snapshot is a gap-free prefix in which each thread's values are in order.
        let mut last_len = 0;
        while last_len < (THREADS * PER_THREAD) as usize {
            let len = buffer.claimed();
            buffer.wait_published(len);
            let mut next = vec![0u64; THREADS as usize];
            buffer.for_each_until(len, |_, &(thread, seq)| {
                assert_eq!(seq, next[thread as usize], "thread {thread} out of order");
                next[thread as usize] += 1;
            });
            assert!(len >= last_len);
            last_len = len;
        }
        for writer in writers {
            writer.join().unwrap();
        }
        let mut counts = vec![0u64; THREADS as usize];
        buffer.for_each_until(buffer.claimed(), |_, &(thread, _)| {
            counts[thread as usize] += 1
        });
        assert_eq!(counts, vec![PER_THREAD; THREADS as usize]);
    }

    #[test]
    fn reserve_preallocates_buckets() {
        let buffer: AppendBuffer<u32> = AppendBuffer::new();
        buffer.reserve(10_000).unwrap();
        for value in 0..10_000 {
            buffer.push(value).unwrap();
        }
        assert_eq!(*buffer.wait(9_999), 9_999);
    }
}
