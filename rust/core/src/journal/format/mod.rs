//! The journal file format: encoding blocks of events, and decoding a whole or cut
//! file. No I/O here.
//!
//! ```text
//! file   := header block*
//! header := "DAGRONJ\0" | version u16 | reserved u16 | body_len u32 | body | crc32(body) u32
//! body   := pid u32 | monotonic_ns u64 | wall_ns i64 | dropped u64 | host_len u16 | host
//! block  := 0xB1 | payload_len u32 | events u32 | crc32(payload_len, events, payload) u32
//!           | payload
//! payload:= (string | event)*
//! string := 0x40 | id varint | len varint | bytes   (ids 0, 1, 2, ..., each defined
//!           once, before its first use)
//! event  := kind u8 (0..15) | flags u8 | ts f64 | node varint? | step zigzag-varint?
//!           | big step (len varint, decimal text)? | duration f64? | error varint?
//!           | metadata (len varint, JSON text)?
//! ```
//! Integers are little-endian. A block is written with one `write` call, so a killed
//! process leaves at most one partial block, at the end: the decoder stops there and
//! reports how many bytes it dropped. A complete block whose checksum fails is
//! damage, reported with its offset.
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
        // Every single-bit flip is either reported or (in padding-free data) caught.
        for at in 0..data.len() {
            for bit in 0..8 {
                let mut flipped = data.clone();
                flipped[at] ^= 1 << bit;
                match decode(&flipped) {
                    Err(error) => assert!(error.offset <= data.len()),
                    // A flip in a block's length can make it look cut: then fewer
                    // events, never different ones.
                    Ok(decoded) => {
                        let whole = decode(&data).unwrap();
                        assert!(
                            decoded.lost_bytes > 0,
                            "flip at {at} bit {bit} went unnoticed"
                        );
                        assert_eq!(decoded.events[..], whole.events[..decoded.events.len()]);
                    }
                }
            }
        }
        let mut block = data.clone();
        block[ends[1] + 20] ^= 1;
        let error = decode(&block).unwrap_err();
        assert_eq!(error.offset, ends[1]);
        assert_eq!(error.reason, "damaged block: checksum mismatch");
    }
}
