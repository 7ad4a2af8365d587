//! Tests of the trace core: timestamps, fields, per-node links, counters against
//! a scan, threads, restore.

use std::sync::Arc;

use super::*;
use crate::error::TraceError;
use crate::event::{EventKind, NewEvent, StepArg};

type Core = TraceCore<(), ()>;

fn node(core: &Core, name: &str) -> u32 {
    core.intern(name.as_bytes(), || ()).unwrap()
}

#[test]
fn first_event_is_zero_and_time_moves_forward() {
    let core = Core::new();
    core.record(NewEvent::new(EventKind::ExecutionStarted))
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    core.record(NewEvent::new(EventKind::ExecutionCompleted))
        .unwrap();
    let snapshot = core.snapshot();
    let ts: Vec<f64> = snapshot.iter().map(|e| e.ts).collect();
    assert_eq!(ts[0], 0.0);
    assert!(ts[1] >= 0.004, "{ts:?}");
}

#[test]
fn fields_round_trip() {
    let core = Core::new();
    let extract = node(&core, "extract");
    let boom = node(&core, "ValueError: boom");
    let mut event = NewEvent::new(EventKind::NodeFailed);
    event.node = Some(extract);
    event.error = Some(boom);
    event.duration = Some(0.25);
    event.step = StepArg::Int(1 << 40);
    core.record(event).unwrap();
    let mut small = NewEvent::new(EventKind::StepStarted);
    small.step = StepArg::Int(-3);
    core.record(small).unwrap();
    let snapshot = core.snapshot();
    let failed = snapshot.get(0);
    assert_eq!(failed.kind, EventKind::NodeFailed);
    assert_eq!(
        failed.node.map(|(id, e)| (id, &*e.text)),
        Some((extract, &b"extract"[..]))
    );
    assert_eq!(
        failed.error.map(|e| &*e.text),
        Some(&b"ValueError: boom"[..])
    );
    assert_eq!(failed.duration, Some(0.25));
    assert_eq!(failed.step, StepView::Int(1 << 40));
    let step = snapshot.get(1);
    assert_eq!(step.step, StepView::Int(-3));
    assert_eq!(step.node.map(|(id, _)| id), None);
    assert_eq!(step.duration, None);
}

#[test]
fn events_for_node_follows_links() {
    let core = Core::new();
    let names: Vec<u32> = (0..3).map(|i| node(&core, &format!("n{i}"))).collect();
    for round in 0..10 {
        for &id in &names {
            let mut event = NewEvent::new(EventKind::NodeStarted);
            event.node = Some(id);
            event.step = StepArg::Int(round);
            core.record(event).unwrap();
        }
    }
    let events = core.events_for_node(names[1]);
    let rounds: Vec<i64> = events
        .iter()
        .map(|e| match e.step {
            StepView::Int(v) => v,
            _ => -1,
        })
        .collect();
    assert_eq!(rounds, (0..10).collect::<Vec<_>>());
    assert!(events
        .iter()
        .all(|e| e.node.map(|(id, _)| id) == Some(names[1])));
}

#[test]
fn a_core_started_from_shared_names_links_and_counts_per_trace() {
    let mut builder = crate::intern::NameTableBuilder::with_capacity(3).unwrap();
    for text in ["a", "b", "c"] {
        builder.push(text.as_bytes(), ()).unwrap();
    }
    let shared = Arc::new(builder.finish());
    let first = Core::with_names(Arc::clone(&shared)).unwrap();
    let second = Core::with_names(shared).unwrap();
    assert_eq!(first.names_len(), 3);
    for (round, id) in [2u32, 0, 2, 2].into_iter().enumerate() {
        let mut event = NewEvent::new(EventKind::NodeCompleted);
        event.node = Some(id);
        event.step = StepArg::Int(round as i64);
        first.record(event).unwrap();
    }
    // A name outside the table gets the next id and links like the others.
    let other = node(&first, "d");
    assert_eq!(other, 3);
    let mut event = NewEvent::new(EventKind::NodeFailed);
    event.node = Some(other);
    first.record(event).unwrap();
    let steps = |events: Vec<EventView<'_, (), ()>>| -> Vec<i64> {
        events
            .iter()
            .map(|e| match e.step {
                StepView::Int(v) => v,
                _ => -1,
            })
            .collect()
    };
    assert_eq!(steps(first.events_for_node(2)), [0, 2, 3]);
    assert_eq!(steps(first.events_for_node(0)), [1]);
    assert_eq!(steps(first.events_for_node(1)), Vec::<i64>::new());
    assert_eq!(steps(first.events_for_node(other)), [-1]);
    // Three distinct nodes used (c, a, d): table entries alone do not count.
    assert_eq!(first.summary().unique_nodes, 3);
    assert_eq!(first.summary(), first.summary_by_scan());
    // The other trace sharing the table saw none of it.
    assert!(second.events_for_node(2).is_empty());
    assert_eq!(second.summary().unique_nodes, 0);
    assert_eq!(second.lookup(b"d"), None);
}

#[test]
fn summary_counts_match_a_scan() {
    let core = Core::new();
    let kinds = [
        EventKind::NodeCompleted,
        EventKind::NodeFailed,
        EventKind::NodeSkipped,
        EventKind::NodeTimedOut,
        EventKind::NodeCancelled,
        EventKind::StepStarted,
    ];
    for i in 0..600 {
        let mut event = NewEvent::new(kinds[i % kinds.len()]);
        if i % 4 != 0 {
            event.node = Some(node(&core, &format!("n{}", i % 7)));
        }
        core.record(event).unwrap();
    }
    assert_eq!(core.summary(), core.summary_by_scan());
    assert_eq!(core.summary().total, 600);
}

#[test]
fn threads_lose_nothing_and_keep_their_order() {
    const THREADS: usize = 8;
    const PER_THREAD: i64 = 5_000;
    let core = Arc::new(Core::new());
    let ids: Vec<u32> = (0..THREADS)
        .map(|t| node(&core, &format!("t{t}")))
        .collect();
    let handles: Vec<_> = ids
        .iter()
        .map(|&id| {
            let core = Arc::clone(&core);
            std::thread::spawn(move || {
                for seq in 0..PER_THREAD {
                    let mut event = NewEvent::new(EventKind::NodeCompleted);
                    event.node = Some(id);
                    event.step = StepArg::Int(seq);
                    core.record(event).unwrap();
                }
            })
        })
        .collect();
    // Read while writing: every snapshot is chronological and per-thread ordered.
    for _ in 0..20 {
        check_snapshot(&core, THREADS, None);
    }
    for handle in handles {
        handle.join().unwrap();
    }
    check_snapshot(&core, THREADS, Some(PER_THREAD));
    let summary = core.summary();
    assert_eq!(summary.total, THREADS as u64 * PER_THREAD as u64);
    assert_eq!(summary.completed, THREADS as u64 * PER_THREAD as u64);
    assert_eq!(summary.unique_nodes, THREADS as u64);
    for &id in &ids {
        assert_eq!(core.events_for_node(id).len(), PER_THREAD as usize);
    }
}

/// The Python stress test's shape from Rust threads: 16 writers, 2 readers taking
/// snapshots and summaries the whole time, 5 runs. `DAGRON_STRESS=1` for the full
/// 16 x 250,000 per run; otherwise 16 x 20,000.
#[test]
fn stress_sixteen_writers_two_readers() {
    const WRITERS: usize = 16;
    let per_thread: i64 = if std::env::var_os("DAGRON_STRESS").is_some() {
        250_000
    } else {
        20_000
    };
    for _run in 0..5 {
        let core = Arc::new(Core::new());
        let ids: Vec<u32> = (0..WRITERS)
            .map(|t| node(&core, &format!("t{t}")))
            .collect();
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let core = Arc::clone(&core);
                let done = Arc::clone(&done);
                std::thread::spawn(move || {
                    let mut snapshots = 0;
                    while !done.load(std::sync::atomic::Ordering::Acquire) {
                        check_snapshot(&core, WRITERS, None);
                        let summary = core.summary();
                        assert_eq!(summary.completed, summary.total);
                        assert!(summary.unique_nodes <= WRITERS as u64);
                        snapshots += 1;
                    }
                    snapshots
                })
            })
            .collect();
        let writers: Vec<_> = ids
            .iter()
            .map(|&id| {
                let core = Arc::clone(&core);
                std::thread::spawn(move || {
                    for seq in 0..per_thread {
                        let mut event = NewEvent::new(EventKind::NodeCompleted);
                        event.node = Some(id);
                        event.step = StepArg::Int(seq);
                        core.record(event).unwrap();
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::Release);
        let snapshots: usize = readers.into_iter().map(|r| r.join().unwrap()).sum();
        check_snapshot(&core, WRITERS, Some(per_thread));
        let summary = core.summary();
        assert_eq!(summary.total, WRITERS as u64 * per_thread as u64);
        assert_eq!(summary, core.summary_by_scan());
        assert!(snapshots > 0);
    }
}

fn check_snapshot(core: &Core, threads: usize, expect_each: Option<i64>) {
    let snapshot = core.snapshot();
    let mut next = vec![0i64; threads];
    let mut last = 0.0;
    for event in snapshot.iter() {
        assert!(event.ts >= last);
        last = event.ts;
        let (id, _) = event.node.unwrap();
        let StepView::Int(seq) = event.step else {
            panic!("missing step")
        };
        assert_eq!(
            seq, next[id as usize],
            "thread {id} out of order or duplicated"
        );
        next[id as usize] += 1;
    }
    if let Some(each) = expect_each {
        assert_eq!(next, vec![each; threads]);
    }
}

#[test]
fn restore_continues_after_the_last_timestamp() {
    let core = Core::new();
    let saved = vec![
        SavedEvent {
            ts: 0.0,
            event: NewEvent::new(EventKind::ExecutionStarted),
        },
        SavedEvent {
            ts: 5000.0,
            event: NewEvent::new(EventKind::ExecutionCompleted),
        },
    ];
    core.restore(Some(1), saved).unwrap();
    core.record(NewEvent::new(EventKind::StepStarted)).unwrap();
    let ts: Vec<f64> = core.snapshot().iter().map(|e| e.ts).collect();
    assert_eq!(&ts[..2], &[0.0, 5000.0]);
    assert!(ts[2] >= 5000.0);
    let bad = vec![SavedEvent {
        ts: -1.0,
        event: NewEvent::new(EventKind::ExecutionStarted),
    }];
    assert!(matches!(
        Core::new().restore(None, bad),
        Err(TraceError::InvalidState(_))
    ));
}

#[test]
fn restore_reads_negative_zero_as_zero() {
    let core = Core::new();
    let saved = [-0.0, 0.0, -0.0]
        .into_iter()
        .map(|ts| SavedEvent {
            ts,
            event: NewEvent::new(EventKind::StepStarted),
        })
        .collect();
    core.restore(None, saved).unwrap();
    let bits: Vec<u64> = core.snapshot().iter().map(|e| e.ts.to_bits()).collect();
    assert_eq!(bits, vec![0.0f64.to_bits(); 3]);
}
