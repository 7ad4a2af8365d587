//! Merging traces recorded by several processes or hosts into one timeline.
//!
//! # Alignment
//! Each input's timestamps are seconds since its origin. When every input was
//! recorded on one host, origins are compared on the monotonic clock that host's
//! processes share (exact); otherwise on the wall clock (as good as the hosts' clock
//! sync). A caller may add a per-input offset (a known clock skew). The input whose
//! aligned origin is earliest is the reference: its timestamps stay as they are and
//! its origin becomes the merged trace's; every other input's timestamps move by the
//! distance of its origin from the reference's, so no timestamp is negative.
//!
//! # Order and sources
//! Inputs are each chronological; the merge keeps events ordered by
//! `(timestamp, input, position)`, so ties keep input order and each input its own
//! order. Every event keeps its source (host, process); sources are listed in order
//! of first appearance.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use crate::error::TraceError;
use crate::event::{NewEvent, StepArg};
use crate::origin::{Origin, Provenance, Sources};
use crate::trace::{Restored, SavedEvent, Snapshot, StepView, TraceCore};

/// Which clock the inputs' origins are compared on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// All inputs come from one host: its monotonic clock.
    Monotonic,
    /// Inputs from several hosts: the wall clock.
    Wall,
}

/// How the inputs line up.
#[derive(Debug, Clone, PartialEq)]
pub struct Alignment {
    pub clock: Clock,
    /// The input whose origin is earliest (`None`: no input has events).
    pub reference: Option<usize>,
    /// Seconds to add to each input's timestamps (0 for inputs with no origin).
    pub shifts: Vec<f64>,
}

/// Line up inputs with these origins (`None`: an empty input) and per-input
/// offsets in nanoseconds added to their clocks.
pub fn align(origins: &[Option<&Origin>], offsets_ns: &[i64]) -> Alignment {
    let hosts: Vec<&str> = origins.iter().flatten().map(|o| o.host.as_str()).collect();
    let clock = if hosts.windows(2).all(|pair| pair[0] == pair[1]) {
        Clock::Monotonic
    } else {
        Clock::Wall
    };
    let aligned: Vec<Option<i128>> = origins
        .iter()
        .enumerate()
        .map(|(input, origin)| {
            origin.map(|origin| {
                let reading = match clock {
                    Clock::Monotonic => origin.monotonic_ns as i128,
                    Clock::Wall => origin.wall_ns as i128,
                };
                reading + offsets_ns.get(input).copied().unwrap_or(0) as i128
            })
        })
        .collect();
    // The first of the earliest: ties keep input order.
    let reference = (0..aligned.len())
        .filter(|&i| aligned[i].is_some())
        .min_by_key(|&i| aligned[i]);
    let shifts = aligned
        .iter()
        .map(|at| match (at, reference.and_then(|r| aligned[r])) {
            (Some(at), Some(base)) => (at - base) as f64 / 1e9,
            _ => 0.0,
        })
        .collect();
    Alignment {
        clock,
        reference,
        shifts,
    }
}

/// One trace to merge: a snapshot of its events, and a clock offset.
pub struct MergeInput<'a, X, S> {
    pub snapshot: Snapshot<'a, X, S>,
    /// Nanoseconds added to this input's clock before aligning.
    pub offset_ns: i64,
}

/// Positions `(input, position)` of every event of the inputs, in merged order,
/// given each input's (chronological) timestamps already shifted.
pub fn merged_order(timestamps: &[Vec<f64>]) -> Vec<(u32, u32)> {
    #[derive(PartialEq)]
    struct Key(f64, u32, u32);
    impl Eq for Key {}
    impl PartialOrd for Key {
        fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
            Some(self.cmp(other))
        }
    }
    impl Ord for Key {
        fn cmp(&self, other: &Self) -> std::cmp::Ordering {
            self.0
                .total_cmp(&other.0)
                .then(self.1.cmp(&other.1))
                .then(self.2.cmp(&other.2))
        }
    }
    let total = timestamps.iter().map(Vec::len).sum();
    let mut order = Vec::with_capacity(total);
    let mut heap: BinaryHeap<Reverse<Key>> = timestamps
        .iter()
        .enumerate()
        .filter_map(|(input, ts)| ts.first().map(|&t| Reverse(Key(t, input as u32, 0))))
        .collect();
    while let Some(Reverse(Key(_, input, position))) = heap.pop() {
        order.push((input, position));
        let next = position + 1;
        if let Some(&t) = timestamps[input as usize].get(next as usize) {
            heap.push(Reverse(Key(t, input, next)));
        }
    }
    order
}

/// Fill the empty `target` with every event of `inputs`, merged (see the module
/// comment). `clone_payload` and `clone_string` copy the bindings' payloads
/// (metadata is shared, not copied).
pub fn merge_into<X, S>(
    target: &TraceCore<X, S>,
    inputs: &[MergeInput<'_, X, S>],
    mut clone_payload: impl FnMut(&X) -> X,
    mut clone_string: impl FnMut(&S) -> S,
) -> Result<(), TraceError> {
    let origins: Vec<Option<Origin>> = inputs
        .iter()
        .map(|input| {
            if input.snapshot.is_empty() {
                None
            } else {
                input.snapshot.origin()
            }
        })
        .collect();
    let offsets: Vec<i64> = inputs.iter().map(|input| input.offset_ns).collect();
    let alignment = align(
        &origins.iter().map(Option::as_ref).collect::<Vec<_>>(),
        &offsets,
    );
    let dropped = inputs.iter().map(|input| input.snapshot.dropped()).sum();
    let Some(reference) = alignment.reference else {
        return target.restore_with(
            Restored {
                dropped,
                ..Restored::default()
            },
            Vec::new(),
        );
    };
    let reference_origin = origins[reference]
        .clone()
        .expect("the reference has events");

    let timestamps: Vec<Vec<f64>> = inputs
        .iter()
        .zip(&alignment.shifts)
        .map(|(input, &shift)| {
            input
                .snapshot
                .iter()
                .map(|event| event.ts + shift)
                .collect()
        })
        .collect();
    let order = merged_order(&timestamps);
    let input_sources: Vec<Sources> = inputs.iter().map(|i| i.snapshot.sources()).collect();

    // Merged sources by identity; the reference's identity uses its own origin.
    let mut sources: Vec<Origin> = Vec::new();
    let mut by_identity: HashMap<(String, u32), u32> = HashMap::new();
    let mut source_index = |origin: &Origin, sources: &mut Vec<Origin>| -> u32 {
        let key = (origin.host.clone(), origin.pid);
        *by_identity.entry(key).or_insert_with(|| {
            let chosen = if origin.identity() == reference_origin.identity() {
                reference_origin.clone()
            } else {
                origin.clone()
            };
            sources.push(chosen);
            (sources.len() - 1) as u32
        })
    };
    // Per input, its string ids -> the target's, filled as strings are met.
    let mut string_maps: Vec<Vec<u32>> = inputs
        .iter()
        .map(|input| vec![u32::MAX; input.snapshot.string_count()])
        .collect();
    let mut event_sources = Vec::new();
    event_sources
        .try_reserve_exact(order.len())
        .map_err(|_| TraceError::Alloc)?;
    let mut saved = Vec::new();
    saved
        .try_reserve_exact(order.len())
        .map_err(|_| TraceError::Alloc)?;
    for (input, position) in order {
        let (input, position) = (input as usize, position as usize);
        let event = inputs[input].snapshot.get(position);
        let origin = &input_sources[input].list[input_sources[input].of(event.source) as usize];
        event_sources.push(source_index(origin, &mut sources));
        let map = &mut string_maps[input];
        let mut intern = |id: u32, entry: &crate::intern::InternEntry<S>| {
            let slot = id as usize;
            if map.get(slot).is_some_and(|&mapped| mapped != u32::MAX) {
                return Ok(map[slot]);
            }
            let mapped = target.intern(&entry.text, || clone_string(&entry.payload))?;
            if slot >= map.len() {
                map.resize(slot + 1, u32::MAX);
            }
            map[slot] = mapped;
            Ok::<u32, TraceError>(mapped)
        };
        let node = match event.node {
            Some((id, entry)) => Some(intern(id, entry)?),
            None => None,
        };
        let error = match event.error {
            // Errors have no id in the view: intern by text.
            Some(entry) => Some(target.intern(&entry.text, || clone_string(&entry.payload))?),
            None => None,
        };
        let step = match event.step {
            StepView::None => StepArg::None,
            StepView::Int(value) => StepArg::Int(value),
            StepView::Payload(_) => StepArg::Payload,
        };
        saved.push(SavedEvent {
            ts: timestamps[input][position],
            event: NewEvent {
                kind: event.kind,
                node,
                error,
                step,
                duration: event.duration,
                payload: event.payload.map(&mut clone_payload),
            },
        });
    }
    let own_source = source_index(&reference_origin, &mut sources);
    // One source, the reference's own: a plain trace, with no per-event sources.
    let provenance = (sources.len() > 1).then_some(Provenance {
        sources,
        event_sources,
        own_source,
    });
    target.restore_with(
        Restored {
            epoch: None,
            origin: Some(reference_origin),
            dropped,
            provenance,
        },
        saved,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventKind;

    type Core = TraceCore<(), ()>;

    fn origin(host: &str, pid: u32, monotonic_ns: u64, wall_ns: i64) -> Origin {
        Origin {
            host: host.into(),
            pid,
            monotonic_ns,
            wall_ns,
        }
    }

    /// A restored core with these origin and (timestamp, step) events.
    fn trace(origin: Origin, events: &[(f64, i64)]) -> Core {
        let core = Core::new();
        let saved = events
            .iter()
            .map(|&(ts, step)| {
                let mut event = NewEvent::new(EventKind::StepStarted);
                event.step = StepArg::Int(step);
                SavedEvent { ts, event }
            })
            .collect();
        core.restore_with(
            Restored {
                origin: Some(origin),
                ..Restored::default()
            },
            saved,
        )
        .unwrap();
        core
    }

    fn merge(cores: &[&Core], offsets: &[i64]) -> Core {
        let inputs: Vec<_> = cores
            .iter()
            .zip(offsets.iter().chain(std::iter::repeat(&0)))
            .map(|(core, &offset_ns)| MergeInput {
                snapshot: core.snapshot(),
                offset_ns,
            })
            .collect();
        let merged = Core::new();
        merge_into(&merged, &inputs, |_| (), |_| ()).unwrap();
        merged
    }

    fn rows(core: &Core) -> Vec<(f64, i64, String)> {
        let snapshot = core.snapshot();
        let sources = snapshot.sources();
        snapshot
            .iter()
            .map(|event| {
                let StepView::Int(step) = event.step else {
                    panic!("no step")
                };
                let source = &sources.list[sources.of(event.source) as usize];
                (event.ts, step, source.display_name())
            })
            .collect()
    }

    #[test]
    fn one_host_aligns_on_the_monotonic_clock() {
        // Same host: wall readings are ignored (deliberately inconsistent here).
        let early = trace(origin("h", 1, 1_000_000_000, 99), &[(0.0, 1), (2.0, 3)]);
        let late = trace(origin("h", 2, 2_500_000_000, 5), &[(0.0, 2), (1.0, 4)]);
        assert_eq!(
            align(&[early.origin().as_ref(), late.origin().as_ref()], &[0, 0]),
            Alignment {
                clock: Clock::Monotonic,
                reference: Some(0),
                shifts: vec![0.0, 1.5]
            }
        );
        let merged = merge(&[&late, &early], &[]);
        assert_eq!(
            rows(&merged),
            vec![
                (0.0, 1, "h:1".into()),
                (1.5, 2, "h:2".into()),
                (2.0, 3, "h:1".into()),
                (2.5, 4, "h:2".into()),
            ]
        );
        assert_eq!(merged.origin(), early.origin());
        let snapshot = merged.snapshot();
        let sources = snapshot.sources();
        assert_eq!(snapshot.event_sources(&sources), vec![0, 1, 0, 1]);
    }

    #[test]
    fn hosts_align_on_the_wall_clock_or_given_offsets() {
        let a = trace(origin("a", 7, 5, 10_000_000_000), &[(0.0, 1), (1.0, 3)]);
        let b = trace(origin("b", 7, 1, 10_250_000_000), &[(0.0, 2)]);
        let merged = merge(&[&a, &b], &[]);
        assert_eq!(
            rows(&merged),
            vec![
                (0.0, 1, "a:7".into()),
                (0.25, 2, "b:7".into()),
                (1.0, 3, "a:7".into())
            ]
        );
        // b's clock runs 2 s ahead: correcting it puts b first.
        let corrected = merge(&[&a, &b], &[0, -2_000_000_000]);
        assert_eq!(
            rows(&corrected),
            vec![
                (0.0, 2, "b:7".into()),
                (1.75, 1, "a:7".into()),
                (2.75, 3, "a:7".into())
            ]
        );
        assert_eq!(corrected.origin(), b.origin());
    }

    #[test]
    fn merging_one_trace_keeps_it_and_ties_keep_input_order() {
        let only = trace(origin("h", 1, 10, 10), &[(0.0, 1), (0.5, 2), (0.5, 3)]);
        let merged = merge(&[&only], &[]);
        assert_eq!(rows(&merged), rows(&only));
        assert_eq!(merged.origin(), only.origin());
        assert_eq!(
            merged.snapshot().sources().list,
            vec![only.origin().unwrap()]
        );
        // Same identity twice (two traces of one process): one source.
        let again = trace(origin("h", 1, 10, 10), &[(0.5, 4)]);
        let both = merge(&[&only, &again], &[]);
        assert_eq!(
            rows(&both).iter().map(|r| r.1).collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );
        assert_eq!(both.snapshot().sources().list.len(), 1);
    }

    #[test]
    fn merged_traces_merge_again_and_count_what_was_dropped() {
        let a = trace(origin("a", 1, 0, 0), &[(0.0, 1)]);
        let b = trace(origin("b", 2, 0, 1_000_000_000), &[(0.0, 2)]);
        let c = trace(origin("c", 3, 0, 500_000_000), &[(0.0, 3)]);
        let ab = merge(&[&a, &b], &[]);
        let abc = merge(&[&c, &ab], &[]);
        assert_eq!(
            rows(&abc),
            vec![
                (0.0, 1, "a:1".into()),
                (0.5, 3, "c:3".into()),
                (1.0, 2, "b:2".into())
            ]
        );
        let empty = Core::new();
        let nothing = merge(&[&empty], &[]);
        assert!(nothing.is_empty());
        assert_eq!(nothing.origin(), None);
        let dropped = Core::new();
        dropped
            .restore_with(
                Restored {
                    dropped: 5,
                    ..Restored::default()
                },
                Vec::new(),
            )
            .unwrap();
        assert_eq!(
            merge(&[&dropped, &abc, &dropped], &[]).snapshot().dropped(),
            10
        );
    }

    #[test]
    fn merged_order_is_stable_k_way() {
        let order = merged_order(&[vec![0.0, 1.0, 1.0], vec![], vec![1.0, 2.0]]);
        assert_eq!(order, vec![(0, 0), (0, 1), (0, 2), (2, 0), (2, 1)]);
    }
}
