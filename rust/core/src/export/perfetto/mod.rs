//! `to_perfetto()` / `write_perfetto()`: the trace as a Perfetto protobuf trace
//! (`Trace` of `TracePacket`s carrying `TrackEvent`s), streamed from a snapshot.
//!
//! What the file holds, per source (a process; one for a plain trace, one per
//! `host:pid` for a merged one):
//! - a process track (the source's name and pid), and under it, each described
//!   when first used (so a worker's group holds no empty `execution` track), an
//!   `execution` track (the run and its steps), a `nodes` group of lanes (see
//!   [`layout`]; the group keeps its children's order, which viewers sort by name
//!   directly under a process), and a `running nodes` counter (fed by that
//!   source's node slices);
//! - one `TrackEvent` per trace event: a slice begin or end, or an instant; after a
//!   failed or timed-out node slice, an instant `failed: <node>` / `timed out:
//!   <node>` on its lane;
//! - debug annotations: on an end or instant, `status` (the event type's value),
//!   then `step_index`, `duration`, `error`, `metadata` when present; a start's own
//!   fields go in a `start` dict, so they never collide with its end's (a step's
//!   start leaves out its index: its name `step N` says it);
//! - when the trace let events go (`dropped`): a `TraceStats` packet counting them
//!   as `trace_writer_packet_loss` of buffer 0, the first packet after the clock
//!   flagged `previous_packet_dropped`, and the `TraceStats` naming the sequence in
//!   its `writer_stats` (so readers also count a gap on it). Trace processors turn
//!   these into data-loss stats, which the Perfetto UI flags on opening the trace;
//!   an `events dropped` instant on the first source's execution track says how
//!   many on the timeline.
//!
//! All packets share one sequence. Names, annotation keys and status strings are
//! interned (defined in the packet that first uses them; packets using them carry
//! `SEQ_NEEDS_INCREMENTAL_STATE`). Timestamps are nanoseconds on the monotonic
//! clock (`time.monotonic()`'s), written as deltas on a sequence clock (id 64) that
//! a `ClockSnapshot` ties to `BUILTIN_CLOCK_MONOTONIC`, the declared trace clock.
//! The sequence's defaults name that clock, the first source's counter and its
//! first lane: events there leave their track and counter uuid out.
//!
//! Files: this one drives the pass; [`proto`] holds the protos' numbers,
//! [`wire`] the encoding, [`layout`] where each event goes, [`packet`] the writer
//! state and the packets around the events, [`tracks`] the track descriptors,
//! [`track_event`] the events themselves, [`value`] annotation values.

pub mod layout;
pub mod packet;
pub mod proto;
pub mod track_event;
pub mod tracks;
pub mod value;
pub mod wire;

pub use layout::Lanes;
use layout::{StepKey, Track};
use packet::PacketWriter;
use tracks::{Child, SourceTracks};

pub use super::Source;
use super::{OutputBuffer, PayloadWriter, CHECKPOINT_EVERY};
use crate::trace::{EventView, Snapshot, StepView};

/// Rough bytes per event, to size an in-memory export.
pub const EVENT_SIZE_HINT: usize = 24;

/// What the writer needs besides the events.
pub struct Options<'a> {
    /// At least one; events name theirs by index.
    pub sources: &'a [Source<'a>],
    /// Events a bounded trace let go (shown as an instant when non-zero).
    pub dropped: u64,
    pub lanes: Lanes,
    /// The monotonic clock reading (ns) of timestamp 0.0.
    pub clock_origin_ns: u64,
}

pub fn write<X, S, O: PayloadWriter<X>>(
    snapshot: &Snapshot<'_, X, S>,
    mut source_of: impl FnMut(&EventView<'_, X, S>) -> usize,
    options: &Options<'_>,
    out: &mut OutputBuffer<'_, O::Error>,
    payloads: &mut O,
) -> Result<(), O::Error> {
    let default_source = [Source {
        name: b"dagron",
        pid: 0,
    }];
    let sources = if options.sources.is_empty() {
        &default_source[..]
    } else {
        options.sources
    };
    let mut packets = PacketWriter::new(options.clock_origin_ns);
    let mut tracks: Vec<SourceTracks> = sources
        .iter()
        .map(|_| SourceTracks::new(&mut packets, options.lanes))
        .collect();
    // The first source's first lane is where most events of a run go (all of
    // them in a run of one node at a time): its events leave their track out.
    packets.preamble(
        tracks[0].first_lane,
        tracks[0].counter,
        options.dropped > 0,
        &mut out.buf,
    );
    if options.dropped > 0 {
        packets.trace_stats(options.dropped, &mut out.buf);
    }
    for (source, track) in sources.iter().zip(&tracks) {
        packets.process_track(source, track, &mut out.buf);
    }
    out.boundary()?;
    if options.dropped > 0 {
        let ts = if snapshot.is_empty() {
            0.0
        } else {
            snapshot.get(0).ts
        };
        packets.describe(&mut tracks[0], Child::Execution, &mut out.buf);
        let execution = tracks[0].execution;
        packets.dropped(options.dropped, ts, execution, &mut out.buf);
    }
    for (position, event) in snapshot.iter().enumerate() {
        let source = source_of(&event).min(tracks.len() - 1);
        let tracks = &mut tracks[source];
        let step = match event.step {
            StepView::None => StepKey::None,
            StepView::Int(value) => StepKey::Int(value),
            StepView::Payload(_) => StepKey::Big,
        };
        let placement = tracks
            .layout
            .place(event.kind, event.node.map(|(id, _)| id), step);
        if placement.track == Track::Execution {
            packets.describe(tracks, Child::Execution, &mut out.buf);
        }
        if placement.new_lane {
            packets.describe(tracks, Child::Nodes, &mut out.buf);
            let node = event.node.map(|(_, entry)| &entry.text[..]);
            packets.new_lane(options.lanes, tracks, node, &mut out.buf);
        }
        if placement.running.is_some() {
            packets.describe(tracks, Child::Counter, &mut out.buf);
        }
        let counter = (source != 0).then_some(tracks.counter);
        packets.event(&event, &placement, tracks, counter, payloads)?;
        packets.mark_failure(&event, &placement, tracks);
        packets.writer.finish_into(&mut out.buf);
        if position % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1 {
            payloads.checkpoint()?;
        }
        out.boundary()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
