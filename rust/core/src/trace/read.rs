//! Reading events back: decoding a record (and its extra) into an [`EventView`],
//! a node's events by following its links, and the payload walk for the bindings'
//! GC support.

use std::sync::atomic::Ordering::Acquire;

use super::core::TraceCore;
use crate::event::{EventKind, Extra, PREV_OVERFLOW};
use crate::intern::InternEntry;

/// A step index as read back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StepView<'a, X> {
    None,
    Int(i64),
    Payload(&'a X),
}

/// One event as read back from a snapshot.
pub struct EventView<'a, X, S> {
    pub index: usize,
    pub kind: EventKind,
    pub ts: f64,
    pub node: Option<(u32, &'a InternEntry<S>)>,
    pub step: StepView<'a, X>,
    pub duration: Option<f64>,
    pub error: Option<&'a InternEntry<S>>,
    pub payload: Option<&'a X>,
    /// Stored source index: map it with the snapshot's `Sources` (see
    /// `Snapshot::sources`).
    pub source: u32,
}

impl<X, S> TraceCore<X, S> {
    /// The events naming node `id`, in chronological order; costs O(those events).
    pub fn events_for_node(&self, id: u32) -> Vec<EventView<'_, X, S>> {
        let len = self.len();
        let mut indices = Vec::new();
        let mut link = self.strings.head(id).load(Acquire);
        while link != 0 {
            let index = (link - 1) as usize;
            let record = self.events.wait(index);
            if index < len {
                indices.push(index);
            }
            link = match record.prev {
                PREV_OVERFLOW => {
                    // Links past 2^32 events do not fit: finish with a scan.
                    self.scan_node_events(id, index, &mut indices);
                    0
                }
                prev => prev as u64,
            };
        }
        indices.sort_by(|&a, &b| {
            let (ta, tb) = (self.events.wait(a).ts, self.events.wait(b).ts);
            ta.total_cmp(&tb).then(a.cmp(&b))
        });
        indices.into_iter().map(|index| self.view(index)).collect()
    }

    #[cold]
    fn scan_node_events(&self, id: u32, below: usize, indices: &mut Vec<usize>) {
        self.events.for_each_until(below, |index, record| {
            if record.node_id() == Some(id) {
                indices.push(index);
            }
        });
    }

    /// The string id of the error of the event at buffer index `index`.
    pub fn error_id(&self, index: usize) -> Option<u32> {
        let record = self.events.wait(index);
        record
            .extra_index()
            .and_then(|extra| self.extras.wait(extra).error)
    }

    /// Read back the event at buffer index `index` (which must be published).
    pub fn view(&self, index: usize) -> EventView<'_, X, S> {
        let record = *self.events.wait(index);
        let extra = record.extra_index().map(|i| self.extras.wait(i));
        let step = if !record.has_step() {
            StepView::None
        } else if let Some(value) = record.inline_step() {
            StepView::Int(value)
        } else {
            match extra {
                Some(Extra {
                    step: Some(value), ..
                }) => StepView::Int(*value),
                Some(Extra {
                    payload: Some(payload),
                    ..
                }) => StepView::Payload(payload),
                _ => StepView::None,
            }
        };
        EventView {
            index,
            kind: record.kind(),
            ts: record.ts,
            node: record.node_id().map(|id| (id, self.strings.get(id))),
            step,
            duration: record.duration(),
            error: extra.and_then(|e| e.error).map(|id| self.strings.get(id)),
            payload: extra.and_then(|e| e.payload.as_ref()),
            source: self.source_of(index),
        }
    }

    /// Visit the binding payloads of every published event (for the bindings' GC
    /// support). Never waits: an event still being written is skipped.
    pub fn for_each_payload(&self, mut f: impl FnMut(&X)) {
        for index in 0..self.extras.claimed() {
            if let Some(Extra {
                payload: Some(payload),
                ..
            }) = self.extras.get(index)
            {
                f(payload);
            }
        }
    }
}
