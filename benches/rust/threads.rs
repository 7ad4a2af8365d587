//! Rust-level record throughput for 1, 2, 4, 8 (and more, if the machine has the
//! cores) threads recording into one trace: `cargo bench --bench threads`.
//! Prints a markdown table of medians over runs; each run checks that every event
//! arrived exactly once.

use std::sync::Arc;
use std::time::Instant;

use dagron_core::event::{EventKind, NewEvent, StepArg};
use dagron_core::trace::{StepView, TraceCore};

const EVENTS: usize = 4_000_000;
const RUNS: usize = 5;

fn run(threads: usize) -> f64 {
    let core: Arc<TraceCore<(), ()>> = Arc::new(TraceCore::new());
    let names: Vec<u32> = (0..1000)
        .map(|n| core.intern(format!("node-{n}").as_bytes(), || ()).unwrap())
        .collect();
    let per_thread = EVENTS / threads;
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|thread| {
            let core = Arc::clone(&core);
            let names = names.clone();
            std::thread::spawn(move || {
                for seq in 0..per_thread {
                    let mut event = NewEvent::new(if seq % 2 == 0 {
                        EventKind::NodeStarted
                    } else {
                        EventKind::NodeCompleted
                    });
                    event.node = Some(names[(thread * 7 + seq) % names.len()]);
                    event.step = StepArg::Int((thread * per_thread + seq) as i64);
                    core.record(event).unwrap();
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    let seconds = start.elapsed().as_secs_f64();
    // Every event exactly once.
    let snapshot = core.snapshot();
    assert_eq!(snapshot.len(), per_thread * threads);
    let mut seen = vec![false; per_thread * threads];
    for event in snapshot.iter() {
        let StepView::Int(step) = event.step else {
            panic!("missing step")
        };
        assert!(
            !std::mem::replace(&mut seen[step as usize], true),
            "duplicate event"
        );
    }
    (per_thread * threads) as f64 / seconds
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut counts = vec![1, 2, 4, 8];
    let mut more = 16;
    while more <= cores {
        counts.push(more);
        more *= 2;
    }
    println!(
        "Rust record throughput, {EVENTS} events per run, median of {RUNS} runs, {cores} cores\n"
    );
    println!("| threads | events/s (median) | vs 1 thread |");
    println!("|---|---|---|");
    let mut single = 0.0;
    for threads in counts {
        let rate = median((0..RUNS).map(|_| run(threads)).collect());
        if threads == 1 {
            single = rate;
        }
        println!(
            "| {threads} | {:.1} M | {:.2}x |",
            rate / 1e6,
            rate / single
        );
    }
}
