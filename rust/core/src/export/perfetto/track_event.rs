//! One trace event as a `TrackEvent` packet: a slice begin or end or an instant,
//! its name (interned, or `step N` inline), the running-nodes counter value, and
//! its fields as debug annotations; and the `failed: <node>` / `timed out:
//! <node>` instant after a node slice that failed or timed out.

use super::layout::{Placement, Role, SliceKind, Track};
use super::packet::{PacketWriter, MARK_FAILED, MARK_TIMED_OUT};
use super::proto::{
    field, KEY_DURATION, KEY_ERROR, KEY_METADATA, KEY_START, KEY_STATUS, KEY_STEP_INDEX,
    NAME_EXECUTION, NAME_GATE, NAME_KIND_BASE, NAME_NODE, NAME_RESOURCE, TYPE_INSTANT,
    TYPE_SLICE_BEGIN, TYPE_SLICE_END,
};
use super::tracks::SourceTracks;
use super::value;
use crate::event::EventKind;
use crate::export::PayloadWriter;
use crate::json_text::number::write_i64;
use crate::trace::{EventView, StepView};

enum Name {
    None,
    Iid(u64),
    /// `step N`, written inline (step indices are unbounded in number).
    Step,
}

impl PacketWriter {
    /// One event's packet (left open in the writer until `finish_into`);
    /// `counter`: the uuid of the counter its value goes on, when not the
    /// sequence's default one.
    pub fn event<X, S, O: PayloadWriter<X>>(
        &mut self,
        event: &EventView<'_, X, S>,
        placement: &Placement,
        tracks: &SourceTracks,
        counter: Option<u64>,
        payloads: &mut O,
    ) -> Result<(), O::Error> {
        self.open_event_packet(event.ts);
        let (event_type, name) = match placement.role {
            Role::Begin(kind) => (TYPE_SLICE_BEGIN, self.slice_name(kind, event, placement)),
            Role::End(_) => (TYPE_SLICE_END, Name::None),
            Role::Point => {
                let name = match (Role::of(event.kind), event.node) {
                    // An end with nothing to close: named like the slice it would end.
                    (Role::End(kind), _) => self.slice_name(kind, event, placement),
                    // A point event: by its node, or its type when it has none.
                    (_, Some((id, entry))) => Name::Iid(self.lane_name_iid(id, &entry.text, 0)),
                    (_, None) => Name::Iid(NAME_KIND_BASE + event.kind as u64),
                };
                (TYPE_INSTANT, name)
            }
        };
        let track = match placement.track {
            Track::Execution => tracks.execution,
            Track::Lane(lane) => tracks.lanes[lane as usize],
        };
        self.open_track_event(event_type, track);
        match name {
            Name::None => {}
            Name::Iid(iid) => self.writer.uint(field::NAME_IID, iid),
            Name::Step => {
                let mut text = std::mem::take(&mut self.scratch);
                text.clear();
                text.extend_from_slice(b"step");
                match event.step {
                    StepView::None => {}
                    StepView::Int(value) => {
                        text.push(b' ');
                        write_i64(&mut text, value);
                    }
                    StepView::Payload(payload) => {
                        text.push(b' ');
                        payloads.write_big_step(payload, &mut text)?;
                    }
                }
                self.writer.text(field::NAME, &text);
                self.scratch = text;
            }
        }
        if let Some(running) = placement.running {
            if let Some(counter) = counter {
                self.writer.uint(field::EXTRA_COUNTER_UUIDS, counter);
            }
            self.writer.int(field::EXTRA_COUNTER_VALUES, running);
        }
        match placement.role {
            Role::Begin(kind) => {
                // A step's name already says its index (and its end carries it).
                let step = kind != SliceKind::Step;
                if has_fields(event, step, payloads)? {
                    self.writer.begin(field::DEBUG_ANNOTATIONS);
                    self.writer.uint(field::ANNOTATION_NAME_IID, KEY_START);
                    self.fields(event, field::DICT_ENTRIES, step, payloads)?;
                    self.writer.end();
                }
            }
            Role::End(_) | Role::Point => {
                self.writer.begin(field::DEBUG_ANNOTATIONS);
                self.writer.uint(field::ANNOTATION_NAME_IID, KEY_STATUS);
                self.writer
                    .uint(field::STRING_VALUE_IID, event.kind as u64 + 1);
                self.writer.end();
                self.fields(event, field::DEBUG_ANNOTATIONS, true, payloads)?;
            }
        }
        self.writer.end();
        self.writer.end();
        Ok(())
    }

    fn slice_name<X, S>(
        &mut self,
        kind: SliceKind,
        event: &EventView<'_, X, S>,
        placement: &Placement,
    ) -> Name {
        match (kind, event.node) {
            (SliceKind::Execution, _) => Name::Iid(NAME_EXECUTION),
            (SliceKind::Step, _) => Name::Step,
            (kind, Some((id, entry))) if placement.track != Track::Execution => {
                Name::Iid(self.lane_name_iid(id, &entry.text, lane_kind(kind)))
            }
            (SliceKind::Node, _) => Name::Iid(NAME_NODE),
            (SliceKind::Gate, _) => Name::Iid(NAME_GATE),
            (SliceKind::Resource, _) => Name::Iid(NAME_RESOURCE),
        }
    }

    /// After a node slice that failed or timed out, an instant at its end, named
    /// `failed: <node>` or `timed out: <node>`, so such slices stand out.
    pub fn mark_failure<X, S>(
        &mut self,
        event: &EventView<'_, X, S>,
        placement: &Placement,
        tracks: &SourceTracks,
    ) {
        let mark = match event.kind {
            EventKind::NodeFailed => MARK_FAILED,
            EventKind::NodeTimedOut => MARK_TIMED_OUT,
            _ => return,
        };
        let (Role::End(_), Track::Lane(lane), Some((id, entry))) =
            (placement.role, placement.track, event.node)
        else {
            return;
        };
        self.open_event_packet_after(0);
        let iid = self.lane_name_iid(id, &entry.text, mark);
        self.open_track_event(TYPE_INSTANT, tracks.lanes[lane as usize]);
        self.writer.uint(field::NAME_IID, iid);
        self.writer.end();
        self.writer.end();
    }

    /// `step_index` (if `step`), `duration`, `error`, `metadata` as annotations
    /// in `container` (the event's annotations, or a dict's entries).
    fn fields<X, S, O: PayloadWriter<X>>(
        &mut self,
        event: &EventView<'_, X, S>,
        container: u32,
        step: bool,
        payloads: &mut O,
    ) -> Result<(), O::Error> {
        let w = &mut self.writer;
        match event.step {
            _ if !step => {}
            StepView::None => {}
            StepView::Int(value) => {
                w.begin(container);
                w.uint(field::ANNOTATION_NAME_IID, KEY_STEP_INDEX);
                w.int(field::INT_VALUE, value);
                w.end();
            }
            StepView::Payload(payload) => {
                let mut text = std::mem::take(&mut self.scratch);
                text.clear();
                payloads.write_big_step(payload, &mut text)?;
                w.begin(container);
                w.uint(field::ANNOTATION_NAME_IID, KEY_STEP_INDEX);
                // Beyond i64: unsigned if it fits, as metadata ints are.
                match std::str::from_utf8(&text)
                    .ok()
                    .and_then(|t| t.parse::<u64>().ok())
                {
                    Some(number) => value::uint(w, number),
                    None => value::big_int(w, &text),
                }
                w.end();
                self.scratch = text;
            }
        }
        if let Some(duration) = event.duration {
            w.begin(container);
            w.uint(field::ANNOTATION_NAME_IID, KEY_DURATION);
            w.double(field::DOUBLE_VALUE, duration);
            w.end();
        }
        if let Some(error) = event.error {
            w.begin(container);
            w.uint(field::ANNOTATION_NAME_IID, KEY_ERROR);
            w.text(field::STRING_VALUE, &error.text);
            w.end();
        }
        if let Some(payload) = event.payload {
            if payloads.has_metadata(payload)? {
                w.begin(container);
                w.uint(field::ANNOTATION_NAME_IID, KEY_METADATA);
                payloads.write_metadata_annotation(payload, w)?;
                w.end();
            }
        }
        Ok(())
    }
}

fn lane_kind(kind: SliceKind) -> usize {
    match kind {
        SliceKind::Gate => 1,
        SliceKind::Resource => 2,
        _ => 0,
    }
}

/// Whether a start has anything to annotate (its step index only if `step`).
fn has_fields<X, S, O: PayloadWriter<X>>(
    event: &EventView<'_, X, S>,
    step: bool,
    payloads: &mut O,
) -> Result<bool, O::Error> {
    if (step && !matches!(event.step, StepView::None))
        || event.duration.is_some()
        || event.error.is_some()
    {
        return Ok(true);
    }
    match event.payload {
        Some(payload) => payloads.has_metadata(payload),
        None => Ok(false),
    }
}
