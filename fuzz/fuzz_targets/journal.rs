//! Fuzz the journal decoder: any bytes either decode or give an error with an
//! offset inside the input; never a panic, a hang or an allocation beyond the
//! input's size.
//!
//! Input: the first byte picks the mode: raw bytes, or the rest placed after a
//! valid header (so the fuzzer reaches the block decoder at once).
#![no_main]

use dagron_core::journal::format::{decode, encode_header};
use dagron_core::origin::Origin;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let input = if mode % 2 == 0 {
        rest.to_vec()
    } else {
        let origin = Origin {
            host: "fuzz".into(),
            pid: 1,
            monotonic_ns: 2,
            wall_ns: 3,
        };
        let mut input = encode_header(&origin, 0);
        input.extend_from_slice(rest);
        input
    };
    match decode(&input) {
        Ok(decoded) => {
            assert!(decoded.lost_bytes <= input.len());
            for event in &decoded.events {
                for id in event.node.iter().chain(event.error.iter()) {
                    assert!((*id as usize) < decoded.strings.len());
                }
                assert!(event.ts.is_finite() && event.ts >= 0.0);
            }
            assert!(decoded.events.windows(2).all(|p| p[0].ts <= p[1].ts));
        }
        Err(error) => assert!(error.offset <= input.len()),
    }
});
