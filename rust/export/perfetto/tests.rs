//! The writer's output read back by a minimal wire-format reader (the Python tests
//! decode it with Perfetto's own generated classes).

use super::*;
use crate::buffer::AllocError;
use crate::event::NewEvent;
use crate::export::NoObjects;
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
    let options = Options {
        sources: &sources,
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
    let mut out = Out::streaming(&mut sink, 1);
    write(&core.snapshot(), |_| 0, &options, &mut out, &mut NoObjects).unwrap();
    out.finish().unwrap();
    chunks
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
    let packets: Vec<Vec<(u32, Value)>> = fields(&bytes)
        .into_iter()
        .map(|(number, value)| {
            assert_eq!(number, 1);
            match value {
                Value::Bytes(bytes) => fields(&bytes),
                other => panic!("{other:?}"),
            }
        })
        .collect();
    // Clock snapshot; sequence start; process, execution, nodes, counter tracks; the
    // dropped instant; one lane; seven events.
    assert_eq!(packets.len(), 2 + 4 + 1 + 1 + 7);
    let clocks = sub(&packets[0], field::CLOCK_SNAPSHOT).unwrap();
    assert_eq!(uint(&clocks, field::PRIMARY_TRACE_CLOCK), Some(3));
    assert_eq!(
        uint(&packets[1], field::SEQUENCE_FLAGS),
        Some(SEQ_INCREMENTAL_STATE_CLEARED)
    );
    let process = sub(&packets[2], field::TRACK_DESCRIPTOR).unwrap();
    let descriptor = sub(&process, field::PROCESS).unwrap();
    assert_eq!(uint(&descriptor, field::PID), Some(42));
    assert_eq!(
        get(&descriptor, field::PROCESS_NAME),
        Some(&Value::Bytes("run \u{FFFD}".into()))
    );
    // Timestamps add up to the events' own, in nanoseconds after the origin.
    let snapshot = core.snapshot();
    let mut now = 1_000_000_000u64;
    let mut seen = Vec::new();
    let mut types = Vec::new();
    for packet in &packets[6..] {
        if let Some(delta) = uint(packet, field::TIMESTAMP) {
            now += delta;
            seen.push(now);
            let event = sub(packet, field::TRACK_EVENT).unwrap();
            types.push(uint(&event, field::TYPE).unwrap());
            assert_eq!(uint(packet, field::SEQUENCE_FLAGS), Some(2));
        }
    }
    let want: Vec<u64> = std::iter::once(0.0)
        .chain(snapshot.iter().map(|e| e.ts))
        .map(|ts| 1_000_000_000 + (ts * 1e9).round() as u64)
        .collect();
    assert_eq!(seen, want);
    assert_eq!(types, [3, 1, 1, 1, 2, 3, 2, 2]);
    // The node's start defines its name in the same packet.
    let start = packets
        .iter()
        .find(|p| sub(p, field::INTERNED_DATA).is_some() && p.len() > 4);
    let interned = sub(start.unwrap(), field::INTERNED_DATA).unwrap();
    let name = sub(&interned, field::EVENT_NAMES).unwrap();
    assert_eq!(uint(&name, field::IID), Some(FIRST_DYNAMIC_IID));
    assert_eq!(
        get(&name, field::INTERNED_NAME),
        Some(&Value::Bytes(b"extract".to_vec()))
    );
}

#[test]
fn an_empty_trace_has_its_tracks_and_nothing_else() {
    let core = TraceCore::new();
    for lanes in [Lanes::Compact, Lanes::PerNode] {
        let bytes = perfetto(&core, lanes, 0);
        assert_eq!(fields(&bytes).len(), 6);
    }
}
