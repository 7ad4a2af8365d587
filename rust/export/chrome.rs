//! `to_chrome_trace()`: `json.dumps({"traceEvents": out}, indent=2)` with node
//! starts as `B` events, completions, failures and timeouts as `E` events (with
//! `args.status` and, for a non-empty error, `args.error`), execution boundaries on
//! tid 0, and one tid per distinct node name in order of first appearance.

use super::number::{write_f64, write_u64};
use super::{Objects, Out, CHECKPOINT_EVERY};
use crate::event::EventKind;
use crate::trace::Snapshot;

pub const EVENT_SIZE_HINT: usize = 150;

pub fn write<X, S, O: Objects<X>>(
    snapshot: &Snapshot<'_, X, S>,
    out: &mut Out<'_, O::Error>,
    objects: &mut O,
) -> Result<(), O::Error> {
    // tid per intern id, 0 = not seen yet; assigned in event order, exported or not.
    let mut tids = vec![0u64; snapshot.string_count()];
    let mut next_tid = 1u64;
    let mut written = 0usize;
    out.buf.extend_from_slice(b"{\n  \"traceEvents\": [");
    for (position, event) in snapshot.iter().enumerate() {
        let tid = match event.node {
            Some((id, _)) => {
                let slot = &mut tids[id as usize];
                if *slot == 0 {
                    *slot = next_tid;
                    next_tid += 1;
                }
                *slot
            }
            None => 0,
        };
        if position % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1 {
            objects.checkpoint()?;
        }
        let execution = matches!(
            event.kind,
            EventKind::ExecutionStarted | EventKind::ExecutionCompleted
        );
        let (cat, ph): (&[u8], &[u8]) = match event.kind {
            EventKind::NodeStarted => (b"\"node\"", b"\"B\""),
            EventKind::NodeCompleted | EventKind::NodeFailed | EventKind::NodeTimedOut => {
                (b"\"node\"", b"\"E\"")
            }
            EventKind::ExecutionStarted => (b"\"execution\"", b"\"B\""),
            EventKind::ExecutionCompleted => (b"\"execution\"", b"\"E\""),
            _ => continue,
        };
        let tid = if execution { 0 } else { tid };
        let buf = &mut out.buf;
        if written > 0 {
            buf.push(b',');
        }
        written += 1;
        buf.extend_from_slice(b"\n    {\n      \"name\": ");
        match event.node {
            _ if execution => buf.extend_from_slice(b"\"execution\""),
            Some((_, entry)) => entry.write_json(buf)?,
            None => buf.extend_from_slice(b"null"),
        }
        buf.extend_from_slice(b",\n      \"cat\": ");
        buf.extend_from_slice(cat);
        buf.extend_from_slice(b",\n      \"ph\": ");
        buf.extend_from_slice(ph);
        buf.extend_from_slice(b",\n      \"ts\": ");
        write_f64(buf, event.ts * 1_000_000.0);
        buf.extend_from_slice(b",\n      \"pid\": 1,\n      \"tid\": ");
        write_u64(buf, tid);
        if matches!(
            event.kind,
            EventKind::NodeCompleted | EventKind::NodeFailed | EventKind::NodeTimedOut
        ) {
            buf.extend_from_slice(b",\n      \"args\": {\n        \"status\": \"");
            buf.extend_from_slice(event.kind.value().as_bytes());
            buf.push(b'"');
            if let Some(error) = event.error.filter(|e| !e.text.is_empty()) {
                buf.extend_from_slice(b",\n        \"error\": ");
                error.write_json(buf)?;
            }
            buf.extend_from_slice(b"\n      }");
        }
        buf.extend_from_slice(b"\n    }");
        out.boundary()?;
    }
    out.buf
        .extend_from_slice(if written > 0 { b"\n  ]\n}" } else { b"]\n}" });
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::event::{EventKind, NewEvent};
    use crate::export::{NoObjects, Out};
    use crate::trace::TraceCore;

    fn chrome(core: &TraceCore<(), ()>) -> String {
        let mut out = Out::<crate::buffer::AllocError>::in_memory(0);
        super::write(&core.snapshot(), &mut out, &mut NoObjects).unwrap();
        String::from_utf8(out.finish().unwrap()).unwrap()
    }

    #[test]
    fn empty_and_tid_assignment() {
        let core: TraceCore<(), ()> = TraceCore::new();
        assert_eq!(chrome(&core), "{\n  \"traceEvents\": []\n}");
        // "skipped" takes tid 1 although its event is not exported.
        for (kind, name) in [
            (EventKind::NodeSkipped, "skipped"),
            (EventKind::NodeStarted, "a"),
        ] {
            let mut event = NewEvent::new(kind);
            event.node = Some(core.intern(name.as_bytes(), || ()).unwrap());
            core.record(event).unwrap();
        }
        let mut ts = Vec::new();
        crate::export::number::write_f64(&mut ts, core.snapshot().get(1).ts * 1_000_000.0);
        let ts = String::from_utf8(ts).unwrap();
        assert_eq!(
            chrome(&core),
            format!(
                "{{\n  \"traceEvents\": [\n    {{\n      \"name\": \"a\",\n      \"cat\": \"node\",\n      \
                 \"ph\": \"B\",\n      \"ts\": {ts},\n      \"pid\": 1,\n      \"tid\": 2\n    }}\n  ]\n}}"
            )
        );
    }
}
