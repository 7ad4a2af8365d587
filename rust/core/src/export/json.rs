//! `to_json()`: `json.dumps(records, indent=2)` where each record holds
//! `event_type`, `timestamp`, then `node_name`, `step_index`, `duration`, `error`
//! when present and `metadata` when non-empty.

use super::{OutputBuffer, PayloadWriter, CHECKPOINT_EVERY};
use crate::event::{EventKind, KIND_COUNT};
use crate::json_text::number::{write_f64, write_i64};
use crate::trace::{Snapshot, StepView};

/// Per kind: the bytes that open an event object, up to the timestamp value.
fn openers() -> [Vec<u8>; KIND_COUNT] {
    EventKind::ALL.map(|kind| {
        format!(
            "\n  {{\n    \"event_type\": \"{}\",\n    \"timestamp\": ",
            kind.value()
        )
        .into_bytes()
    })
}

/// Rough size of one event, to size the output buffer up front.
pub const EVENT_SIZE_HINT: usize = 120;

pub fn write<X, S, O: PayloadWriter<X>>(
    snapshot: &Snapshot<'_, X, S>,
    out: &mut OutputBuffer<'_, O::Error>,
    payloads: &mut O,
) -> Result<(), O::Error> {
    if snapshot.is_empty() {
        out.buf.extend_from_slice(b"[]");
        return Ok(());
    }
    let openers = openers();
    out.buf.push(b'[');
    for (position, event) in snapshot.iter().enumerate() {
        if position > 0 {
            out.buf.push(b',');
        }
        let buf = &mut out.buf;
        buf.extend_from_slice(&openers[event.kind as usize]);
        write_f64(buf, event.ts);
        if let Some((_, name)) = event.node {
            buf.extend_from_slice(b",\n    \"node_name\": ");
            name.write_json(buf)?;
        }
        match event.step {
            StepView::None => {}
            StepView::Int(value) => {
                buf.extend_from_slice(b",\n    \"step_index\": ");
                write_i64(buf, value);
            }
            StepView::Payload(payload) => {
                buf.extend_from_slice(b",\n    \"step_index\": ");
                payloads.write_big_step(payload, buf)?;
            }
        }
        if let Some(duration) = event.duration {
            buf.extend_from_slice(b",\n    \"duration\": ");
            write_f64(buf, duration);
        }
        if let Some(error) = event.error {
            buf.extend_from_slice(b",\n    \"error\": ");
            error.write_json(buf)?;
        }
        if let Some(payload) = event.payload {
            if payloads.has_metadata(payload)? {
                buf.extend_from_slice(b",\n    \"metadata\": ");
                payloads.write_metadata(payload, buf)?;
            }
        }
        buf.extend_from_slice(b"\n  }");
        if position % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1 {
            payloads.checkpoint()?;
        }
        out.boundary()?;
    }
    out.buf.extend_from_slice(b"\n]");
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::event::{EventKind, NewEvent, StepArg};
    use crate::export::{NoPayload, OutputBuffer};
    use crate::trace::TraceCore;

    #[test]
    fn writes_the_documented_shape() {
        let core: TraceCore<(), ()> = TraceCore::new();
        let mut out = OutputBuffer::<crate::error::AllocError>::in_memory(0);
        super::write(&core.snapshot(), &mut out, &mut NoPayload).unwrap();
        assert_eq!(out.finish().unwrap(), b"[]");

        core.record(NewEvent::new(EventKind::ExecutionStarted))
            .unwrap();
        let mut event = NewEvent::new(EventKind::NodeFailed);
        event.node = Some(core.intern(b"t\xc3\xa9", || ()).unwrap());
        event.error = Some(core.intern(b"ValueError: \"x\"", || ()).unwrap());
        event.step = StepArg::Int(2);
        event.duration = Some(0.5);
        core.record(event).unwrap();
        let mut out = OutputBuffer::<crate::error::AllocError>::in_memory(0);
        super::write(&core.snapshot(), &mut out, &mut NoPayload).unwrap();
        let text = String::from_utf8(out.finish().unwrap()).unwrap();
        let ts = text
            .split("\"timestamp\": ")
            .nth(2)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .to_owned();
        assert_eq!(
            text,
            format!(
                "[\n  {{\n    \"event_type\": \"execution_started\",\n    \"timestamp\": 0.0\n  }},\n  {{\n    \
                 \"event_type\": \"node_failed\",\n    \"timestamp\": {ts},\n    \"node_name\": \"t\\u00e9\",\n    \
                 \"step_index\": 2,\n    \"duration\": 0.5,\n    \"error\": \"ValueError: \\\"x\\\"\"\n  }}\n]"
            )
        );
    }
}
