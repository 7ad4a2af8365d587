//! Fuzz the JSON string and float writers against the plain reference
//! implementations in `dagron_core::export::check`.
//!
//! Input: the first byte picks the writer; the rest is the string's bytes, or
//! 8-byte little-endian float bit patterns.
#![no_main]

use dagron_core::export::check::{check_float, check_string};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    if selector % 2 == 0 {
        check_string(rest);
    } else {
        for chunk in rest.chunks_exact(8) {
            check_float(f64::from_le_bytes(chunk.try_into().unwrap()));
        }
    }
});
