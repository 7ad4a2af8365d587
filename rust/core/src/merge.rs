//! Merging traces recorded by several processes or hosts into one timeline.
//!
//! # Alignment
//! Each input's timestamps are seconds since its origin. When every source of
//! every input was recorded on one host, origins are compared on the monotonic
//! clock that host's processes share (exact); otherwise on the wall clock (as good
//! as the hosts' clock sync). The hosts are those of every input's sources, not
//! only of its origin, so a merged trace merged again chooses the clock the flat
//! merge of its parts would: `merge([merge([a, b]), c])` equals
//! `merge([a, b, c])` (up to the rounding of timestamps). A caller may add a
//! per-input offset (a known clock skew).
//!
//! An input whose origin holds no clock (both readings 0: a trace loaded from a
//! JSON export) is placed at the start of the inputs that have one (the earliest
//! of their aligned origins), plus its offset; when no input has a clock, every
//! input starts at 0 plus its offset.
//!
//! The earliest aligned input is the start: every input's timestamps move by the
//! distance of its start from it, so no timestamp is negative. The merged origin is
//! that of the earliest input with a clock (moved earlier when an input without
//! one was placed before it), or of the earliest input when none has a clock.
//!
//! # Order and sources
//! Inputs are each chronological; the merge keeps events ordered by
//! `(timestamp, input, position)`, so ties keep input order and each input its own
//! order. Every event keeps its source (host, process); sources are listed in order
//! of first appearance. Sources with a clock are told apart by (host, pid); sources
//! without one (JSON loads, named after their file, pid 0) are distinct per input,
//! and one whose (host, pid) is already taken gets the next free pid, so two files
//! named `run.json` stay two sources (two process groups in Perfetto).

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
    /// The input whose origin the merged trace's is made from (`None`: no input
    /// has events): the earliest with a clock, else the earliest.
    pub reference: Option<usize>,
    /// The merged trace's origin: the reference's, moved earlier by the distance
    /// of the earliest input before it.
    pub origin: Option<Origin>,
    /// Seconds to add to each input's timestamps (0 for inputs with no origin).
    pub shifts: Vec<f64>,
}

/// Line up inputs with these origins (`None`: an empty input), the hosts of
/// their sources (which choose the clock), and per-input offsets in nanoseconds
/// added to their clocks.
pub fn align(origins: &[Option<&Origin>], hosts: &[Vec<&str>], offsets_ns: &[i64]) -> Alignment {
    let mut all_hosts = hosts.iter().flatten();
    let first_host = all_hosts.next();
    let clock = if all_hosts.all(|host| Some(host) == first_host) {
        Clock::Monotonic
    } else {
        Clock::Wall
    };
    let offset = |input: usize| offsets_ns.get(input).copied().unwrap_or(0) as i128;
    let mut at: Vec<Option<i128>> = origins
        .iter()
        .enumerate()
        .map(|(input, origin)| {
            let origin = origin.filter(|origin| origin.is_anchored())?;
            let reading = match clock {
                Clock::Monotonic => origin.monotonic_ns as i128,
                Clock::Wall => origin.wall_ns as i128,
            };
            Some(reading + offset(input))
        })
        .collect();
    // The first of the earliest: ties keep input order.
    let earliest = |at: &[Option<i128>]| {
        (0..at.len())
            .filter(|&i| at[i].is_some())
            .min_by_key(|&i| at[i])
    };
    let anchored = earliest(&at);
    let base = anchored.and_then(|i| at[i]).unwrap_or(0);
    for (input, origin) in origins.iter().enumerate() {
        if origin.is_some_and(|origin| !origin.is_anchored()) {
            at[input] = Some(base + offset(input));
        }
    }
    let first = earliest(&at);
    let reference = anchored.or(first);
    let start = first.and_then(|i| at[i]);
    let origin = reference.map(|r| {
        let origin = origins[r].expect("the reference has events");
        let ahead = at[r].zip(start).map_or(0, |(at, start)| at - start);
        if ahead > 0 {
            origin.earlier_by(u64::try_from(ahead).unwrap_or(u64::MAX))
        } else {
            origin.clone()
        }
    });
    let shifts = at
        .iter()
        .map(|at| match (at, start) {
            (Some(at), Some(base)) => (at - base) as f64 / 1e9,
            _ => 0.0,
        })
        .collect();
    Alignment {
        clock,
        reference,
        origin,
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
    let input_sources: Vec<Sources> = inputs.iter().map(|i| i.snapshot.sources()).collect();
    let hosts: Vec<Vec<&str>> = origins
        .iter()
        .zip(&input_sources)
        .map(|(origin, sources)| match origin {
            Some(_) => sources
                .list
                .iter()
                .filter(|source| source.is_anchored())
                .map(|source| source.host.as_str())
                .collect(),
            None => Vec::new(),
        })
        .collect();
    let offsets: Vec<i64> = inputs.iter().map(|input| input.offset_ns).collect();
    let alignment = align(
        &origins.iter().map(Option::as_ref).collect::<Vec<_>>(),
        &hosts,
        &offsets,
    );
    let dropped = inputs.iter().map(|input| input.snapshot.dropped()).sum();
    let (Some(reference), Some(reference_origin)) = (alignment.reference, alignment.origin) else {
        return target.restore_with(
            Restored {
                dropped,
                ..Restored::default()
            },
            Vec::new(),
        );
    };

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

    // Merged sources by identity: (host, pid), and for a source without a clock
    // the input it came from. The reference's identity uses the merged origin.
    let key_of = |origin: &Origin, input: usize| {
        let unanchored = (!origin.is_anchored()).then_some(input);
        (origin.host.clone(), origin.pid, unanchored)
    };
    let reference_key = key_of(&origins[reference].clone().expect("has events"), reference);
    let mut sources: Vec<Origin> = Vec::new();
    let mut by_identity: HashMap<(String, u32, Option<usize>), u32> = HashMap::new();
    let mut source_index = |origin: &Origin, input: usize, sources: &mut Vec<Origin>| -> u32 {
        let key = key_of(origin, input);
        let is_reference = key == reference_key;
        *by_identity.entry(key).or_insert_with(|| {
            let mut chosen = if is_reference {
                reference_origin.clone()
            } else {
                origin.clone()
            };
            if !chosen.is_anchored() {
                // Told apart from every source listed so far: the next free pid.
                while sources.iter().any(|s| s.identity() == chosen.identity()) {
                    chosen.pid = chosen.pid.wrapping_add(1);
                }
            }
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
        event_sources.push(source_index(origin, input, &mut sources));
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
    let own_source = source_index(
        &origins[reference].clone().expect("has events"),
        reference,
        &mut sources,
    );
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
            align(
                &[early.origin().as_ref(), late.origin().as_ref()],
                &[vec!["h"], vec!["h"]],
                &[0, 0]
            ),
            Alignment {
                clock: Clock::Monotonic,
                reference: Some(0),
                origin: early.origin(),
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
        // (Clocks both 0 would mean "no clock": see the next test.)
        let a = trace(origin("a", 1, 1, 0), &[(0.0, 1)]);
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
    fn a_trace_without_a_clock_starts_where_the_others_start() {
        let live = trace(
            origin("a", 7, 5, 1_800_000_000_000_000_000),
            &[(0.0, 1), (1.0, 3)],
        );
        let loaded = trace(origin("run.json", 0, 0, 0), &[(0.0, 2), (0.5, 4)]);
        let merged = merge(&[&loaded, &live], &[]);
        assert_eq!(
            rows(&merged),
            vec![
                (0.0, 2, "run.json:0".into()),
                (0.0, 1, "a:7".into()),
                (0.5, 4, "run.json:0".into()),
                (1.0, 3, "a:7".into()),
            ]
        );
        assert_eq!(merged.origin(), live.origin());
        // An offset places it; one before the live start moves the merged origin.
        let early = merge(&[&loaded, &live], &[-250_000_000, 0]);
        assert_eq!(
            rows(&early).iter().map(|r| r.0).collect::<Vec<_>>(),
            vec![0.0, 0.25, 0.5, 1.25]
        );
        assert_eq!(
            early.origin(),
            Some(origin("a", 7, 0, 1_800_000_000_000_000_000 - 250_000_000))
        );
        // Only traces without a clock: each starts at 0 (plus its offset).
        let other = trace(origin("run.json", 0, 0, 0), &[(0.0, 5)]);
        let both = merge(&[&loaded, &other], &[0, 100_000_000]);
        assert_eq!(
            rows(&both),
            vec![
                (0.0, 2, "run.json:0".into()),
                (0.1, 5, "run.json:1".into()),
                (0.5, 4, "run.json:0".into()),
            ]
        );
        // Merged again, each run.json source stays apart from the others.
        let three = merge(&[&both, &other], &[]);
        assert_eq!(
            rows(&three),
            vec![
                (0.0, 2, "run.json:0".into()),
                (0.0, 5, "run.json:1".into()),
                (0.1, 5, "run.json:2".into()),
                (0.5, 4, "run.json:0".into()),
            ]
        );
    }

    #[test]
    fn a_merge_of_hosts_merged_again_uses_the_wall_clock() {
        // a and c share a host; b does not. Clocks disagree on purpose.
        let a = trace(origin("h", 1, 1_000_000_000, 5_000_000_000), &[(0.0, 1)]);
        let b = trace(origin("g", 2, 0, 5_500_000_000), &[(0.0, 2)]);
        let c = trace(origin("h", 3, 3_000_000_000, 6_000_000_000), &[(0.0, 3)]);
        let flat = merge(&[&a, &b, &c], &[]);
        let nested = merge(&[&merge(&[&a, &b], &[]), &c], &[]);
        assert_eq!(rows(&flat), rows(&nested));
        assert_eq!(rows(&flat)[2].0, 1.0);
        assert_eq!(flat.origin(), nested.origin());
        assert_eq!(flat.snapshot().sources(), nested.snapshot().sources());
    }

    #[test]
    fn merged_order_is_stable_k_way() {
        let order = merged_order(&[vec![0.0, 1.0, 1.0], vec![], vec![1.0, 2.0]]);
        assert_eq!(order, vec![(0, 0), (0, 1), (0, 2), (2, 0), (2, 1)]);
    }
}
