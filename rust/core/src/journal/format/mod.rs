//! The journal file format: encoding blocks of events, and decoding a whole or cut
//! file. No I/O here.
//!
//! ```text
//! file   := header block*
//! header := "DAGRONJ\0" | version u16 (2) | reserved u16 | body_len u32 | body
//!           | crc32(body) u32
//! body   := pid u32 | monotonic_ns u64 | wall_ns i64 | dropped u64 | host_len u16 | host
//! block  := 0xB2 | payload_len u32 | events u32 | crc32(payload) u32
//!           | crc32(the 13 bytes before) u32 | payload
//! payload:= (string | event)*
//! string := 0x40 | id varint | len varint | bytes   (ids 0, 1, 2, ..., each defined
//!           once, before its first use)
//! event  := kind u8 (0..15) | flags u8 | ts f64 | node varint? | step zigzag-varint?
//!           | big step (len varint, decimal text)?
//!           | big step (len varint, two's-complement little-endian bytes)?
//!           | duration f64? | error varint? | metadata (len varint, JSON text)?
//! ```
//! Integers are little-endian. A block is written with one `write` call, so a killed
//! process leaves at most one partial block, at the end: the decoder stops there and
//! reports how many bytes it dropped. Anything else is damage, reported with its
//! offset: a frame or payload checksum that fails, and so also a flipped length
//! (the frame's own checksum tells it from a cut).
//!
//! Version 1 (still read) differs only in its blocks: `0xB1 | payload_len u32 |
//! events u32 | crc32(payload_len, events, payload) u32 | payload`, where a damaged
//! length looks like a cut.
//!
//! One file per side: `records` (what both sides share), `encoder` (header and
//! blocks), `decoder` (reading a whole or cut file). This file only lists them.

mod decoder;
mod encoder;
mod records;

pub use decoder::{decode, Decoded, JournalError};
pub use encoder::{encode_header, BlockEncoder};
pub use records::{JournalEvent, JournalEventRef, JournalStep, JournalStepRef, MAGIC, VERSION};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventKind;
    use crate::origin::Origin;

    fn origin() -> Origin {
        Origin {
            host: "host-a".into(),
            pid: 4242,
            monotonic_ns: 123_456_789,
            wall_ns: 1_700_000_000_123_456_789,
        }
    }

    /// A journal of `n` events in blocks of `per_block`, and each block's end.
    fn journal(n: usize, per_block: usize) -> (Vec<u8>, Vec<usize>) {
        let mut out = encode_header(&origin(), 7);
        let mut ends = vec![out.len()];
        let mut block = BlockEncoder::default();
        block.string(0, b"extract");
        block.string(1, b"");
        for i in 0..n {
            let big = format!("-{}", u128::MAX - i as u128);
            block.event(&JournalEventRef {
                kind: EventKind::ALL[i % 16],
                ts: i as f64 * 0.001,
                node: (i % 2 == 0).then_some(0),
                step: match i % 3 {
                    0 => JournalStepRef::None,
                    1 => JournalStepRef::Int(i as i64 - 500),
                    _ => JournalStepRef::Big(big.as_bytes()),
                },
                duration: (i % 5 == 0).then_some(0.25),
                error: (i % 7 == 0).then_some(1),
                metadata: (i % 4 == 0).then_some(&b"{\"k\": 1}"[..]),
            });
            if block.events() as usize == per_block {
                block.finish_into(&mut out);
                ends.push(out.len());
            }
        }
        if !block.is_empty() {
            block.finish_into(&mut out);
            ends.push(out.len());
        }
        (out, ends)
    }

    #[test]
    fn round_trips_every_field() {
        let (data, _) = journal(100, 16);
        let decoded = decode(&data).unwrap();
        assert_eq!(decoded.origin, Some(origin()));
        assert_eq!(decoded.dropped, 7);
        assert_eq!(decoded.lost_bytes, 0);
        assert_eq!(decoded.events.len(), 100);
        let e = &decoded.events[2];
        assert_eq!(e.kind, EventKind::ALL[2]);
        assert_eq!(e.ts, 0.002);
        assert_eq!(e.node, Some(0));
        assert_eq!(
            e.step,
            JournalStep::Big(format!("-{}", u128::MAX - 2).into_bytes())
        );
        assert_eq!(decoded.events[1].step, JournalStep::Int(-499));
        assert_eq!(
            decoded.events[0].metadata.as_deref(),
            Some(&b"{\"k\": 1}"[..])
        );
        assert_eq!(decoded.events[7].error, Some(1));
        assert_eq!(decoded.string(0), b"extract");
        assert_eq!(decoded.string(1), b"");
    }

    #[test]
    fn a_cut_journal_loads_up_to_its_last_whole_block() {
        let (data, ends) = journal(100, 16);
        for cut in ends[0]..data.len() {
            let decoded = decode(&data[..cut]).unwrap();
            let whole = ends.iter().rposition(|&end| end <= cut).unwrap();
            assert_eq!(decoded.events.len(), (whole * 16).min(100), "cut at {cut}");
            assert_eq!(decoded.lost_bytes, cut - ends[whole]);
        }
    }

    #[test]
    fn damage_is_reported_with_its_offset() {
        let (data, ends) = journal(40, 16);
        assert_eq!(decode(b"").unwrap_err().offset, 0);
        assert!(decode(b"{\"not\": 1}")
            .unwrap_err()
            .reason
            .contains("not a dagron journal"));
        assert!(decode(b"DAGR")
            .unwrap_err()
            .reason
            .contains("cut inside its header"));
        assert!(decode(&data[..ends[0] - 1])
            .unwrap_err()
            .reason
            .contains("cut inside its header"));
        let mut version = data.clone();
        version[8] = 9;
        assert!(decode(&version)
            .unwrap_err()
            .reason
            .contains("unsupported journal version 9"));
        // Every single-bit flip is reported, none taken for a cut.
        for at in 0..data.len() {
            for bit in 0..8 {
                let mut flipped = data.clone();
                flipped[at] ^= 1 << bit;
                match decode(&flipped) {
                    Err(error) => assert!(error.offset <= data.len()),
                    Ok(_) => panic!("flip at {at} bit {bit} went unnoticed"),
                }
            }
        }
        let mut block = data.clone();
        block[ends[1] + 20] ^= 1;
        let error = decode(&block).unwrap_err();
        assert_eq!(error.offset, ends[1]);
        assert_eq!(error.reason, "damaged block: checksum mismatch");
    }

    #[test]
    fn a_flipped_length_is_damage_not_a_cut() {
        let (data, ends) = journal(80, 16);
        assert_eq!(ends.len(), 6, "a header and five blocks");
        for (block, bit) in [(0, 30), (0, 3), (4, 17)] {
            let mut flipped = data.clone();
            flipped[ends[block] + 1 + bit / 8] ^= 1 << (bit % 8);
            let error = decode(&flipped).unwrap_err();
            assert_eq!(error.offset, ends[block]);
            assert_eq!(
                error.reason,
                "damaged block: its frame's checksum does not match"
            );
        }
    }

    /// `data` (version 2) rewritten as version 1: the same blocks, framed as
    /// version 1 framed them.
    fn as_version_1(data: &[u8], ends: &[usize]) -> Vec<u8> {
        let mut out = data[..ends[0]].to_vec();
        out[8] = 1;
        for pair in ends.windows(2) {
            let block = &data[pair[0]..pair[1]];
            let (frame, payload) = block.split_at(records::BLOCK_HEADER);
            let mut crc = crc32fast::Hasher::new();
            crc.update(&frame[1..9]);
            crc.update(payload);
            out.push(records::BLOCK_TAG_V1);
            out.extend_from_slice(&frame[1..9]);
            out.extend_from_slice(&crc.finalize().to_le_bytes());
            out.extend_from_slice(payload);
        }
        out
    }

    #[test]
    fn version_1_journals_still_load() {
        let (data, ends) = journal(100, 16);
        let old = as_version_1(&data, &ends);
        let (new, old_decoded) = (decode(&data).unwrap(), decode(&old).unwrap());
        assert_eq!(old_decoded.events, new.events);
        assert_eq!(old_decoded.strings, new.strings);
        assert_eq!(old_decoded.origin, new.origin);
        // A cut version-1 journal loads its whole blocks.
        let cut = decode(&old[..old.len() - 3]).unwrap();
        assert_eq!(cut.events.len(), 96);
        assert!(cut.lost_bytes > 0);
    }

    #[test]
    fn big_steps_round_trip_as_bytes() {
        let mut out = encode_header(&origin(), 0);
        let mut block = BlockEncoder::default();
        let bytes = [0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80];
        block.event(&JournalEventRef {
            kind: EventKind::StepStarted,
            ts: 0.5,
            node: None,
            step: JournalStepRef::BigBytes(&bytes),
            duration: None,
            error: None,
            metadata: None,
        });
        block.finish_into(&mut out);
        let decoded = decode(&out).unwrap();
        assert_eq!(
            decoded.events[0].step,
            JournalStep::BigBytes(bytes.to_vec())
        );
    }
}
