//! Loom models of the publication protocol (run with `--cfg loom`; see DESIGN.md).
//! Buckets hold 2, 4, 8, ... slots under loom, so a few pushes cross bucket
//! boundaries and exercise the install race.

use std::sync::atomic::{AtomicUsize, Ordering};

use loom::sync::Arc;
use loom::thread;

use super::AppendBuffer;

/// Run a model and report how many interleavings loom explored.
fn model(name: &str, body: impl Fn() + Sync + Send + 'static) {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    RUNS.store(0, Ordering::Relaxed);
    loom::model(move || {
        RUNS.fetch_add(1, Ordering::Relaxed);
        body();
    });
    println!(
        "loom {name}: {} interleavings explored",
        RUNS.load(Ordering::Relaxed)
    );
}

/// Two writers race, the second bucket is installed by whichever gets there first;
/// afterwards every value is present exactly once.
#[test]
fn two_writers_cross_a_bucket_boundary() {
    model("two writers", || {
        let buffer = Arc::new(AppendBuffer::new());
        let writers: Vec<_> = (0..2u32)
            .map(|writer| {
                let buffer = Arc::clone(&buffer);
                thread::spawn(move || {
                    buffer.push(writer * 10).unwrap();
                    buffer.push(writer * 10 + 1).unwrap();
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        let len = buffer.claimed();
        assert_eq!(len, 4);
        let mut seen = Vec::new();
        buffer.for_each_until(len, |_, value| seen.push(*value));
        seen.sort_unstable();
        assert_eq!(seen, vec![0, 1, 10, 11]);
        // Each writer's values keep its order.
        let position = |v: u32| {
            let mut found = None;
            buffer.for_each_until(len, |index, value| {
                if *value == v {
                    found = Some(index);
                }
            });
            found.unwrap()
        };
        assert!(position(0) < position(1));
        assert!(position(10) < position(11));
    });
}

/// A reader snapshots while a writer pushes across a boundary: whatever prefix it
/// sees is complete and holds the values written, in order.
#[test]
fn reader_sees_a_gap_free_prefix() {
    model("writer and reader", || {
        let buffer = Arc::new(AppendBuffer::new());
        let writer = {
            let buffer = Arc::clone(&buffer);
            thread::spawn(move || {
                for value in 0..3u32 {
                    buffer.push(value).unwrap();
                }
            })
        };
        let len = buffer.claimed();
        buffer.wait_published(len);
        let mut seen = Vec::new();
        buffer.for_each_until(len, |_, value| seen.push(*value));
        assert_eq!(seen, (0..len as u32).collect::<Vec<_>>());
        // `get` never shows an unpublished value.
        for index in 0..3 {
            if let Some(value) = buffer.get(index) {
                assert_eq!(*value, index as u32);
            }
        }
        writer.join().unwrap();
    });
}

/// Three writers and a reader, one push each: no value lost, duplicated or torn.
#[test]
fn three_writers_and_a_reader() {
    model("three writers and a reader", || {
        let buffer = Arc::new(AppendBuffer::new());
        let writers: Vec<_> = (0..3u64)
            .map(|writer| {
                let buffer = Arc::clone(&buffer);
                thread::spawn(move || {
                    buffer.push((writer, writer * 7)).unwrap();
                })
            })
            .collect();
        let len = buffer.claimed();
        buffer.wait_published(len);
        buffer.for_each_until(len, |_, &(writer, payload)| assert_eq!(payload, writer * 7));
        for writer in writers {
            writer.join().unwrap();
        }
        let mut seen = Vec::new();
        buffer.for_each_until(3, |_, &(writer, _)| seen.push(writer));
        seen.sort_unstable();
        assert_eq!(seen, vec![0, 1, 2]);
    });
}
