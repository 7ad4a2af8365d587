//! The writer's output read back by a minimal wire-format reader (the Python tests
//! decode it with Perfetto's own generated classes).

use super::proto::{field, FIRST_DYNAMIC_IID, SEQUENCE, SEQ_INCREMENTAL_STATE_CLEARED};
use super::*;
use crate::error::AllocError;
use crate::event::{EventKind, NewEvent};
use crate::export::NoPayload;
use crate::trace::TraceCore;

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Varint(u64),
    Fixed64(u64),
    Bytes(Vec<u8>),
}

/// `(field, value)` pairs of one message.
fn fields(mut data: &[u8]) -> Vec<(u32, Value)> {
    fn varint(data: &mut &[u8]) -> u64 {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = data[0];
            *data = &data[1..];
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                break;
            }
        }
        value
    }
    let mut out = Vec::new();
    while !data.is_empty() {
        let key = varint(&mut data);
        let value = match key & 7 {
            0 => Value::Varint(varint(&mut data)),
            1 => {
                let value = u64::from_le_bytes(data[..8].try_into().unwrap());
                data = &data[8..];
                Value::Fixed64(value)
            }
            2 => {
                let len = varint(&mut data) as usize;
                let value = data[..len].to_vec();
                data = &data[len..];
                Value::Bytes(value)
            }
            other => panic!("wire type {other}"),
        };
        out.push(((key >> 3) as u32, value));
    }
    out
}

fn get(message: &[(u32, Value)], number: u32) -> Option<&Value> {
    message.iter().find(|(n, _)| *n == number).map(|(_, v)| v)
}

fn sub(message: &[(u32, Value)], number: u32) -> Option<Vec<(u32, Value)>> {
    match get(message, number)? {
        Value::Bytes(bytes) => Some(fields(bytes)),
        other => panic!("field {number} is {other:?}"),
    }
}

fn uint(message: &[(u32, Value)], number: u32) -> Option<u64> {
    match get(message, number)? {
        Value::Varint(value) => Some(*value),
        other => panic!("field {number} is {other:?}"),
    }
}

fn perfetto(core: &TraceCore<(), ()>, lanes: Lanes, dropped: u64) -> Vec<u8> {
    let sources = [Source {
        name: b"run \xed\xa0\x80",
        pid: 42,
    }];
    perfetto_from(core, &sources, |_| 0, lanes, dropped)
}

/// The export of `core` with these sources; `source_of` maps an event's position.
fn perfetto_from(
    core: &TraceCore<(), ()>,
    sources: &[Source<'_>],
    source_of: impl Fn(usize) -> usize,
    lanes: Lanes,
    dropped: u64,
) -> Vec<u8> {
    let options = Options {
        sources,
        dropped,
        lanes,
        clock_origin_ns: 1_000_000_000,
    };
    let mut chunks = Vec::new();
    let mut sink = |chunk: &[u8]| -> Result<(), AllocError> {
        chunks.extend_from_slice(chunk);
        Ok(())
    };
    // A tiny chunk size: output is streamed packet by packet.
    let mut out = OutputBuffer::streaming(&mut sink, 1);
    let mut position = 0;
    let by_position = |_: &EventView<'_, (), ()>| {
        position += 1;
        source_of(position - 1)
    };
    write(
        &core.snapshot(),
        by_position,
        &options,
        &mut out,
        &mut NoPayload,
    )
    .unwrap();
    out.finish().unwrap();
    chunks
}

/// The packets of a trace, each as its fields.
fn packets_of(bytes: &[u8]) -> Vec<Vec<(u32, Value)>> {
    fields(bytes)
        .into_iter()
        .map(|(number, value)| {
            assert_eq!(number, 1);
            match value {
                Value::Bytes(bytes) => fields(&bytes),
                other => panic!("{other:?}"),
            }
        })
        .collect()
}

fn record(core: &TraceCore<(), ()>, kind: EventKind, node: Option<&str>, step: Option<i64>) {
    let mut event = NewEvent::new(kind);
    event.node = node.map(|name| core.intern(name.as_bytes(), || ()).unwrap());
    if let Some(step) = step {
        event.step = crate::event::StepArg::Int(step);
    }
    if kind == EventKind::NodeCompleted {
        event.duration = Some(0.25);
    }
    core.record(event).unwrap();
}

#[test]
fn a_small_run_reads_back() {
    let core = TraceCore::new();
    record(&core, EventKind::ExecutionStarted, None, None);
    record(&core, EventKind::StepStarted, None, Some(0));
    record(&core, EventKind::NodeStarted, Some("extract"), None);
    record(&core, EventKind::NodeCompleted, Some("extract"), None);
    record(&core, EventKind::NodeSkipped, Some("load"), None);
    record(&core, EventKind::StepCompleted, None, Some(0));
    record(&core, EventKind::ExecutionCompleted, None, None);
    let bytes = perfetto(&core, Lanes::Compact, 3);
    let packets = packets_of(&bytes);
    // Clock snapshot; sequence start; the loss stats; the process track; its
    // execution track and the dropped instant on it; seven events, with the nodes
    // group, a lane and the counter described before the node's start.
    assert_eq!(packets.len(), 2 + 1 + 1 + 2 + 3 + 7);
    let clocks = sub(&packets[0], field::CLOCK_SNAPSHOT).unwrap();
    assert_eq!(uint(&clocks, field::PRIMARY_TRACE_CLOCK), Some(3));
    assert_eq!(
        uint(&packets[1], field::SEQUENCE_FLAGS),
        Some(SEQ_INCREMENTAL_STATE_CLEARED)
    );
    assert_eq!(uint(&packets[1], field::PREVIOUS_PACKET_DROPPED), Some(1));
    let stats = sub(&packets[2], field::TRACE_STATS).unwrap();
    let buffer = sub(&stats, field::BUFFER_STATS).unwrap();
    assert_eq!(uint(&buffer, field::TRACE_WRITER_PACKET_LOSS), Some(3));
    let writer = sub(&stats, field::WRITER_STATS).unwrap();
    assert_eq!(uint(&writer, field::WRITER_SEQUENCE_ID), Some(SEQUENCE));
    let process = sub(&packets[3], field::TRACK_DESCRIPTOR).unwrap();
    let descriptor = sub(&process, field::PROCESS).unwrap();
    assert_eq!(uint(&descriptor, field::PID), Some(42));
    assert_eq!(
        get(&descriptor, field::PROCESS_NAME),
        Some(&Value::Bytes("run \u{FFFD}".into()))
    );
    let names: Vec<Value> = packets
        .iter()
        .filter_map(|p| sub(p, field::TRACK_DESCRIPTOR))
        .filter_map(|d| get(&d, field::TRACK_NAME).cloned())
        .collect();
    let want: Vec<Value> = ["execution", "nodes", "lane 1", "running nodes"]
        .iter()
        .map(|name| Value::Bytes(name.as_bytes().to_vec()))
        .collect();
    assert_eq!(names, want);
    // Timestamps add up to the events' own, in nanoseconds after the origin.
    let snapshot = core.snapshot();
    let mut now = 1_000_000_000u64;
    let mut seen = Vec::new();
    let mut types = Vec::new();
    let mut tracks = Vec::new();
    for packet in &packets {
        if let Some(delta) = uint(packet, field::TIMESTAMP) {
            now += delta;
            seen.push(now);
            let event = sub(packet, field::TRACK_EVENT).unwrap();
            types.push(uint(&event, field::TYPE).unwrap());
            tracks.push(uint(&event, field::TRACK_UUID));
            assert_eq!(uint(packet, field::SEQUENCE_FLAGS), Some(2));
        }
    }
    let want: Vec<u64> = std::iter::once(0.0)
        .chain(snapshot.iter().map(|e| e.ts))
        .map(|ts| 1_000_000_000 + (ts * 1e9).round() as u64)
        .collect();
    assert_eq!(seen, want);
    assert_eq!(types, [3, 1, 1, 1, 2, 3, 2, 2]);
    // Events on the first lane, the sequence's default track, leave it out.
    let defaults = sub(&packets[1], field::DEFAULTS).unwrap();
    let defaults = sub(&defaults, field::TRACK_EVENT_DEFAULTS).unwrap();
    let lane = uint(&defaults, field::TRACK_UUID);
    assert!(lane.is_some());
    let execution = tracks[0];
    assert!(execution.is_some() && execution != lane);
    assert_eq!(
        tracks,
        [execution, execution, execution, None, None, None, execution, execution]
    );
    // The node's start defines its name in the same packet.
    let start = packets
        .iter()
        .find(|p| sub(p, field::INTERNED_DATA).is_some() && sub(p, field::TRACK_EVENT).is_some());
    let interned = sub(start.unwrap(), field::INTERNED_DATA).unwrap();
    let name = sub(&interned, field::EVENT_NAMES).unwrap();
    assert_eq!(uint(&name, field::IID), Some(FIRST_DYNAMIC_IID));
    assert_eq!(
        get(&name, field::INTERNED_NAME),
        Some(&Value::Bytes(b"extract".to_vec()))
    );
}

#[test]
fn an_empty_trace_has_its_process_and_nothing_else() {
    let core = TraceCore::new();
    for lanes in [Lanes::Compact, Lanes::PerNode] {
        let bytes = perfetto(&core, lanes, 0);
        // Clock snapshot, sequence start, process track.
        assert_eq!(fields(&bytes).len(), 3);
    }
}

#[test]
fn each_source_has_its_own_process_tracks_and_counter() {
    let core = TraceCore::new();
    record(&core, EventKind::ExecutionStarted, None, None);
    record(&core, EventKind::NodeStarted, Some("a"), None);
    record(&core, EventKind::NodeStarted, Some("b"), None);
    record(&core, EventKind::NodeCompleted, Some("a"), None);
    record(&core, EventKind::NodeCompleted, Some("b"), None);
    record(&core, EventKind::ExecutionCompleted, None, None);
    let sources = [
        Source {
            name: b"h:1",
            pid: 1,
        },
        Source {
            name: b"h:2",
            pid: 2,
        },
    ];
    // The run on source 0, node a on 1, node b on 0.
    let source_of = |position: usize| usize::from(matches!(position, 1 | 3));
    let packets = packets_of(&perfetto_from(
        &core,
        &sources,
        source_of,
        Lanes::Compact,
        0,
    ));
    let mut parents = std::collections::HashMap::new();
    let mut process_of_uuid = std::collections::HashMap::new();
    let mut described = Vec::new();
    let mut names_by_uuid = std::collections::HashMap::new();
    for packet in &packets {
        let Some(track) = sub(packet, field::TRACK_DESCRIPTOR) else {
            continue;
        };
        let uuid = uint(&track, field::UUID).unwrap();
        if let Some(process) = sub(&track, field::PROCESS) {
            process_of_uuid.insert(uuid, uint(&process, field::PID).unwrap());
            continue;
        }
        let parent = uint(&track, field::PARENT_UUID).unwrap();
        let pid = process_of_uuid
            .get(&parent)
            .or_else(|| parents.get(&parent))
            .copied()
            .unwrap();
        parents.insert(uuid, pid);
        let Some(Value::Bytes(name)) = get(&track, field::TRACK_NAME) else {
            panic!("a track without a name");
        };
        let name = String::from_utf8(name.clone()).unwrap();
        names_by_uuid.insert(uuid, name.clone());
        described.push((pid, name));
    }
    // No execution track for source 1, which has no run events.
    assert_eq!(
        described,
        [
            (1, "execution".to_string()),
            (2, "nodes".into()),
            (2, "lane 1".into()),
            (2, "running nodes".into()),
            (1, "nodes".into()),
            (1, "lane 1".into()),
            (1, "running nodes".into()),
        ]
    );
    // Counter values: source 0's on the defaults' counter, source 1's named.
    let counters: Vec<(Option<u64>, u64)> = packets
        .iter()
        .filter_map(|p| sub(p, field::TRACK_EVENT))
        .filter_map(|event| {
            let value = uint(&event, field::EXTRA_COUNTER_VALUES)?;
            Some((uint(&event, field::EXTRA_COUNTER_UUIDS), value))
        })
        .collect();
    let counter_1 = parents
        .iter()
        .find(|&(uuid, &pid)| pid == 2 && names_by_uuid[uuid] == "running nodes")
        .map(|(uuid, _)| *uuid);
    assert_eq!(counters.len(), 4);
    assert_eq!(counters[0], (counter_1, 1));
    assert_eq!(counters[1], (None, 1));
    assert_eq!(counters[2], (counter_1, 0));
    assert_eq!(counters[3], (None, 0));
}
