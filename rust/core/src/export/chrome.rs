//! `to_chrome_trace()`: `json.dumps({"traceEvents": out}, indent=2)` with node
//! starts as `B` events, completions, failures and timeouts as `E` events (with
//! `args.status` and, for a non-empty error, `args.error`), execution boundaries on
//! tid 0, and one tid per distinct node name in order of first appearance.

use std::collections::HashSet;

use super::{OutputBuffer, PayloadWriter, Source, CHECKPOINT_EVERY};
use crate::error::AllocError;
use crate::event::EventKind;
use crate::json_text::escape::write_json_string;
use crate::json_text::number::{write_f64, write_i64, write_u64};
use crate::trace::{EventView, Snapshot};

pub const EVENT_SIZE_HINT: usize = 150;

pub fn write<X, S, O: PayloadWriter<X>>(
    snapshot: &Snapshot<'_, X, S>,
    out: &mut OutputBuffer<'_, O::Error>,
    payloads: &mut O,
) -> Result<(), O::Error> {
    out.buf.extend_from_slice(b"{\n  \"traceEvents\": [");
    write_events(snapshot, out, payloads, |_| 1, 0, 0)
}

/// `to_chrome_trace(named=True)`: the same events, preceded by metadata events
/// (`"ph": "M"`) naming each source's process (`process_name`, and on the first,
/// `process_labels` when events were dropped) and each lane (`thread_name`,
/// `thread_sort_index`): the execution lane first, then the nodes in tid order,
/// each in the processes whose events use it (the execution lane in every
/// process when there is only one). Execution events move from tid 0 to that
/// lane, tid `nodes + 1`; a source's pid is its `pid` (index + 1 past the list).
/// Strings ending in a backslash end in `\u005c` (see `viewer_safe_end`).
pub fn write_named<X, S, O: PayloadWriter<X>>(
    snapshot: &Snapshot<'_, X, S>,
    mut source_of: impl FnMut(&EventView<'_, X, S>) -> usize,
    sources: &[Source<'_>],
    dropped: u64,
    out: &mut OutputBuffer<'_, O::Error>,
    payloads: &mut O,
) -> Result<(), O::Error> {
    // The node names in tid order, and which sources use each.
    let mut seen = vec![false; snapshot.string_count()];
    let mut names = Vec::new();
    let mut used: HashSet<(usize, u32)> = HashSet::new();
    let mut source_count = sources.len().max(1);
    let mut runs_in: HashSet<usize> = HashSet::new();
    for event in snapshot.iter() {
        let source = source_of(&event);
        source_count = source_count.max(source + 1);
        if is_execution(event.kind) {
            runs_in.insert(source);
        }
        if let Some((id, entry)) = event.node {
            if !seen[id as usize] {
                seen[id as usize] = true;
                names.push((id, entry));
            }
            used.insert((source, id));
        }
    }
    let execution_tid = names.len() as u64 + 1;
    out.buf.extend_from_slice(b"{\n  \"traceEvents\": [");
    let mut written = 0;
    let pid_of = |source: usize| sources.get(source).map_or(source as i64 + 1, |s| s.pid);
    for source in 0..source_count {
        let buf = &mut out.buf;
        let pid = pid_of(source);
        let name = sources.get(source).map_or(&b"dagron"[..], |s| s.name);
        metadata_event(buf, &mut written, b"process_name", pid, 0, b"name", |buf| {
            write_json_string(buf, name)?;
            viewer_safe_end(buf);
            Ok(())
        })?;
        if dropped > 0 && source == 0 {
            metadata_event(
                buf,
                &mut written,
                b"process_labels",
                pid,
                0,
                b"labels",
                |buf| {
                    buf.push(b'"');
                    write_u64(buf, dropped);
                    buf.extend_from_slice(b" events dropped\"");
                    Ok(())
                },
            )?;
        }
        if source_count == 1 || runs_in.contains(&source) {
            lane_metadata(buf, &mut written, pid, execution_tid, 0, |buf| {
                buf.extend_from_slice(b"\"execution\"");
                Ok(())
            })?;
        }
        for (tid, (id, entry)) in (1u64..).zip(&names) {
            if used.contains(&(source, *id)) {
                lane_metadata(buf, &mut written, pid, tid, tid, |buf| {
                    entry.write_json(buf)?;
                    viewer_safe_end(buf);
                    Ok(())
                })?;
            }
        }
        out.boundary()?;
    }
    write_events(
        snapshot,
        out,
        payloads,
        |event| pid_of(source_of(event)),
        execution_tid,
        written,
    )
}

fn is_execution(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::ExecutionStarted | EventKind::ExecutionCompleted
    )
}

/// A JSON string just written at the end of `buf` whose text ends in a backslash
/// (`...\\"`) gets that backslash as `\u005c` instead: the same JSON, which the
/// Perfetto UI's JSON reader (v52) loads, where `\\"` makes it reject the file.
fn viewer_safe_end(buf: &mut Vec<u8>) {
    let before_quote = &buf[..buf.len().saturating_sub(1)];
    let backslashes = before_quote
        .iter()
        .rev()
        .take_while(|&&b| b == b'\\')
        .count();
    if buf.last() == Some(&b'"') && backslashes >= 2 {
        buf.truncate(buf.len() - 3);
        buf.extend_from_slice(b"\\u005c\"");
    }
}

/// A lane's two metadata events: its name (`thread_name`, written by `name`) and
/// its place in the viewer's order (`thread_sort_index`).
fn lane_metadata(
    buf: &mut Vec<u8>,
    written: &mut usize,
    pid: i64,
    tid: u64,
    sort_index: u64,
    name: impl FnOnce(&mut Vec<u8>) -> Result<(), AllocError>,
) -> Result<(), AllocError> {
    metadata_event(buf, written, b"thread_name", pid, tid, b"name", name)?;
    metadata_event(
        buf,
        written,
        b"thread_sort_index",
        pid,
        tid,
        b"sort_index",
        |buf| {
            write_u64(buf, sort_index);
            Ok(())
        },
    )
}

/// One `"ph": "M"` event whose `args` hold `key` with the value `value` writes.
#[allow(clippy::too_many_arguments)]
fn metadata_event(
    buf: &mut Vec<u8>,
    written: &mut usize,
    name: &[u8],
    pid: i64,
    tid: u64,
    key: &[u8],
    value: impl FnOnce(&mut Vec<u8>) -> Result<(), AllocError>,
) -> Result<(), AllocError> {
    if *written > 0 {
        buf.push(b',');
    }
    *written += 1;
    buf.extend_from_slice(b"\n    {\n      \"name\": \"");
    buf.extend_from_slice(name);
    buf.extend_from_slice(b"\",\n      \"ph\": \"M\",\n      \"pid\": ");
    write_i64(buf, pid);
    buf.extend_from_slice(b",\n      \"tid\": ");
    write_u64(buf, tid);
    buf.extend_from_slice(b",\n      \"args\": {\n        \"");
    buf.extend_from_slice(key);
    buf.extend_from_slice(b"\": ");
    value(buf)?;
    buf.extend_from_slice(b"\n      }\n    }");
    Ok(())
}

/// The events after the opening bracket, and the closing: `pid` per event, the
/// execution events' tid, and how many array elements precede them.
fn write_events<X, S, O: PayloadWriter<X>>(
    snapshot: &Snapshot<'_, X, S>,
    out: &mut OutputBuffer<'_, O::Error>,
    payloads: &mut O,
    mut pid: impl FnMut(&EventView<'_, X, S>) -> i64,
    execution_tid: u64,
    mut written: usize,
) -> Result<(), O::Error> {
    let named = execution_tid != 0;
    // tid per intern id, 0 = not seen yet; assigned in event order, exported or not.
    let mut tids = vec![0u64; snapshot.string_count()];
    let mut next_tid = 1u64;
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
            payloads.checkpoint()?;
        }
        let execution = is_execution(event.kind);
        let (cat, ph): (&[u8], &[u8]) = match event.kind {
            EventKind::NodeStarted => (b"\"node\"", b"\"B\""),
            EventKind::NodeCompleted | EventKind::NodeFailed | EventKind::NodeTimedOut => {
                (b"\"node\"", b"\"E\"")
            }
            EventKind::ExecutionStarted => (b"\"execution\"", b"\"B\""),
            EventKind::ExecutionCompleted => (b"\"execution\"", b"\"E\""),
            _ => continue,
        };
        let tid = if execution { execution_tid } else { tid };
        let buf = &mut out.buf;
        if written > 0 {
            buf.push(b',');
        }
        written += 1;
        buf.extend_from_slice(b"\n    {\n      \"name\": ");
        match event.node {
            _ if execution => buf.extend_from_slice(b"\"execution\""),
            Some((_, entry)) => {
                entry.write_json(buf)?;
                if named {
                    viewer_safe_end(buf);
                }
            }
            None => buf.extend_from_slice(b"null"),
        }
        buf.extend_from_slice(b",\n      \"cat\": ");
        buf.extend_from_slice(cat);
        buf.extend_from_slice(b",\n      \"ph\": ");
        buf.extend_from_slice(ph);
        buf.extend_from_slice(b",\n      \"ts\": ");
        write_f64(buf, event.ts * 1_000_000.0);
        buf.extend_from_slice(b",\n      \"pid\": ");
        write_i64(buf, pid(&event));
        buf.extend_from_slice(b",\n      \"tid\": ");
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
                if named {
                    viewer_safe_end(buf);
                }
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
    use crate::export::{NoPayload, OutputBuffer};
    use crate::trace::TraceCore;

    fn chrome(core: &TraceCore<(), ()>) -> String {
        let mut out = OutputBuffer::<crate::error::AllocError>::in_memory(0);
        super::write(&core.snapshot(), &mut out, &mut NoPayload).unwrap();
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
        crate::json_text::number::write_f64(&mut ts, core.snapshot().get(1).ts * 1_000_000.0);
        let ts = String::from_utf8(ts).unwrap();
        assert_eq!(
            chrome(&core),
            format!(
                "{{\n  \"traceEvents\": [\n    {{\n      \"name\": \"a\",\n      \"cat\": \"node\",\n      \
                 \"ph\": \"B\",\n      \"ts\": {ts},\n      \"pid\": 1,\n      \"tid\": 2\n    }}\n  ]\n}}"
            )
        );
    }

    #[test]
    fn named_output_adds_metadata_and_an_execution_lane() {
        let core: TraceCore<(), ()> = TraceCore::new();
        core.record(NewEvent::new(EventKind::ExecutionStarted))
            .unwrap();
        let mut event = NewEvent::new(EventKind::NodeSkipped);
        event.node = Some(core.intern(b"a", || ()).unwrap());
        core.record(event).unwrap();
        let mut out = OutputBuffer::<crate::error::AllocError>::in_memory(0);
        let sources = [crate::export::Source {
            name: b"p\"",
            pid: 1,
        }];
        super::write_named(
            &core.snapshot(),
            |_| 0,
            &sources,
            3,
            &mut out,
            &mut NoPayload,
        )
        .unwrap();
        let text = String::from_utf8(out.finish().unwrap()).unwrap();
        let meta = |name: &str, tid: u64, key: &str, value: &str| {
            format!(
                "\n    {{\n      \"name\": \"{name}\",\n      \"ph\": \"M\",\n      \"pid\": 1,\n      \
                 \"tid\": {tid},\n      \"args\": {{\n        \"{key}\": {value}\n      }}\n    }}"
            )
        };
        let want = [
            meta("process_name", 0, "name", "\"p\\\"\""),
            meta("process_labels", 0, "labels", "\"3 events dropped\""),
            meta("thread_name", 2, "name", "\"execution\""),
            meta("thread_sort_index", 2, "sort_index", "0"),
            meta("thread_name", 1, "name", "\"a\""),
            meta("thread_sort_index", 1, "sort_index", "1"),
        ]
        .join(",");
        let execution = "\n    {\n      \"name\": \"execution\",\n      \"cat\": \"execution\",\n      \
                         \"ph\": \"B\",\n      \"ts\": 0.0,\n      \"pid\": 1,\n      \"tid\": 2\n    }";
        assert_eq!(
            text,
            format!("{{\n  \"traceEvents\": [{want},{execution}\n  ]\n}}")
        );
    }

    #[test]
    fn strings_ending_in_a_backslash_end_in_an_escape() {
        for (written, safe) in [
            (&br#""a\\""#[..], &br#""a\u005c""#[..]),
            (br#""\\""#, br#""\u005c""#),
            (br#""a\"""#, br#""a\"""#),
            (br#""a\\\"""#, br#""a\\\"""#),
            (br#""""#, br#""""#),
        ] {
            let mut buf = written.to_vec();
            super::viewer_safe_end(&mut buf);
            assert_eq!(buf, safe, "{}", String::from_utf8_lossy(written));
        }
    }
}
