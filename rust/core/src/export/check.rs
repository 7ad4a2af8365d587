//! Plain reference implementations of the string and float writers, and checks that
//! compare the real writers against them. Used by unit tests (random inputs) and by
//! the `cargo fuzz` target in `fuzz/` (feature `fuzzing`).

use crate::json_text::escape::json_string;
use crate::json_text::number::write_f64;

/// `json.dumps(s)` with `ensure_ascii`, the obvious way: decode each code point,
/// then escape it.
pub fn reference_json_string(text: &[u8]) -> Vec<u8> {
    let mut out = String::from("\"");
    let mut i = 0;
    while i < text.len() {
        let (code_point, width) = reference_decode(&text[i..]);
        i += width;
        match code_point {
            0x22 => out.push_str("\\\""),
            0x5c => out.push_str("\\\\"),
            0x0a => out.push_str("\\n"),
            0x0d => out.push_str("\\r"),
            0x09 => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            0x20..=0x7e => out.push(char::from(code_point as u8)),
            0x10000.. => {
                let v = code_point - 0x10000;
                out.push_str(&format!(
                    "\\u{:04x}\\u{:04x}",
                    0xd800 + (v >> 10),
                    0xdc00 + (v & 0x3ff)
                ));
            }
            _ => out.push_str(&format!("\\u{code_point:04x}")),
        }
    }
    out.push('"');
    out.into_bytes()
}

/// One code point of generalized UTF-8; a byte that starts no valid sequence (or a
/// truncated one) stands for U+FFFD and is consumed alone.
fn reference_decode(bytes: &[u8]) -> (u32, usize) {
    let lead = bytes[0];
    let width = match lead {
        0x00..=0x7f => return (lead as u32, 1),
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => return (0xfffd, 1),
    };
    if bytes.len() < width {
        return (0xfffd, 1);
    }
    let mut value = (lead as u32) & (0x7f >> width);
    for &byte in &bytes[1..width] {
        value = (value << 6) | (byte as u32 & 0x3f);
    }
    (value, width)
}

/// Python's `float.__repr__` (with json's NaN/Infinity) by its definition: the
/// correctly rounded decimal with the fewest significant digits that reads back as
/// the same float, laid out as Python does. Uses Rust's exact formatting and
/// parsing, not ryu.
pub fn reference_float(value: f64) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if value == 0.0 {
        return if value.is_sign_negative() {
            "-0.0"
        } else {
            "0.0"
        }
        .into();
    }
    let scientific = (1..=17)
        .find_map(|digits| shortest_candidate(value.abs(), digits))
        .expect("17 significant digits always round-trip");
    let (mantissa, exponent) = scientific.split_once('e').expect("{:e} has an exponent");
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let exponent: i32 = exponent.parse().expect("numeric exponent");
    let point = exponent + 1; // value = 0.DIGITS x 10^point
    let sign = if value < 0.0 { "-" } else { "" };
    let body = if point <= -4 || point > 16 {
        let (first, rest) = digits.split_at(1);
        let fraction = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        format!(
            "{first}{fraction}e{}{:02}",
            if exponent < 0 { '-' } else { '+' },
            exponent.abs()
        )
    } else if point <= 0 {
        format!("0.{}{digits}", "0".repeat((-point) as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
    } else {
        format!(
            "{}.{}",
            &digits[..point as usize],
            &digits[point as usize..]
        )
    };
    format!("{sign}{body}")
}

/// A `digits`-digit decimal (as `D.DDDe±X`) that reads back as `value`, if any:
/// the correctly rounded one, else a neighbour one unit away in the last digit
/// (at powers of two the round-trip interval is lopsided, so the nearest decimal
/// can miss while its neighbour on the wide side fits).
fn shortest_candidate(value: f64, digits: usize) -> Option<String> {
    let rounded = format!("{:.*e}", digits - 1, value);
    let (mantissa, exponent) = rounded.split_once('e')?;
    let exponent: i32 = exponent.parse().ok()?;
    let units: i64 = mantissa.replace('.', "").parse().ok()?;
    for delta in [0, -1, 1] {
        let candidate = units + delta;
        if candidate <= 0 {
            continue;
        }
        let text = candidate.to_string();
        // A carry (e.g. 999 + 1) adds a digit and moves the exponent.
        let exponent = exponent + (text.len() as i32 - digits as i32);
        let (first, rest) = text.split_at(1);
        let written = format!(
            "{first}.{}e{exponent}",
            if rest.is_empty() { "0" } else { rest }
        );
        if written.parse::<f64>() == Ok(value) {
            return Some(written);
        }
    }
    None
}

/// Panics if the string writer disagrees with the reference on `text`.
pub fn check_string(text: &[u8]) {
    let written = json_string(text).expect("small test strings fit in memory");
    assert!(written.is_ascii(), "non-ASCII output for {text:?}");
    assert_eq!(
        String::from_utf8_lossy(&written),
        String::from_utf8_lossy(&reference_json_string(text)),
        "string writer differs for {text:?}"
    );
}

/// Panics if the float writer disagrees with the reference on `value`.
pub fn check_float(value: f64) {
    let mut written = Vec::new();
    write_f64(&mut written, value);
    assert_eq!(
        String::from_utf8(written).unwrap(),
        reference_float(value),
        "float writer differs for {value:e}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64*: deterministic inputs without a dependency.
    struct Random(u64);

    impl Random {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
    }

    #[test]
    fn float_writer_matches_reference_on_random_bits_and_decimals() {
        let mut random = Random(0x9e37_79b9_7f4a_7c15);
        for _ in 0..60_000 {
            check_float(f64::from_bits(random.next()));
            // Short decimals and nanosecond timestamps (the writer's fast path).
            let ns = random.next() % 10_000_000_000_000;
            check_float(ns as f64 / 1e9);
            check_float((ns as f64 / 1e9) * 1e6);
            check_float((random.next() % 100_000) as f64 / 1000.0);
        }
        // 2127524128142182.25 is a tie between ...2.2 and ...2.3: Python picks the even one.
        for value in [
            5e-324,
            f64::MIN_POSITIVE,
            f64::MAX,
            1e16,
            1e-5,
            0.1 + 0.2,
            -0.0,
            f64::NAN,
            f64::from_bits(0x431e_3be3_3fa2_cd99), // 2127524128142182.25
            7.291122019556398e-304,
        ] {
            check_float(value);
        }
    }

    #[test]
    fn string_writer_matches_reference_on_random_text() {
        let mut random = Random(0x1234_5678_9abc_def1);
        let alphabet: Vec<Vec<u8>> = [
            "a",
            "Z",
            " ",
            "~",
            "\"",
            "\\",
            "\n",
            "\r",
            "\t",
            "\u{8}",
            "\u{c}",
            "\u{0}",
            "\u{1f}",
            "\u{7f}",
            "\u{80}",
            "\u{e9}",
            "\u{7ff}",
            "\u{800}",
            "\u{20ac}",
            "\u{fffd}",
            "\u{ffff}",
            "\u{10000}",
            "\u{1f600}",
            "\u{10ffff}",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .chain([vec![0xed, 0xa0, 0x80], vec![0xed, 0xbf, 0xbf]]) // lone surrogates
        .collect();
        for _ in 0..50_000 {
            let len = (random.next() % 12) as usize;
            let text: Vec<u8> = (0..len)
                .flat_map(|_| alphabet[(random.next() % alphabet.len() as u64) as usize].clone())
                .collect();
            check_string(&text);
        }
        // Arbitrary bytes (never produced by the bindings) must not panic or differ.
        for _ in 0..50_000 {
            let text: Vec<u8> = (0..(random.next() % 8))
                .map(|_| random.next() as u8)
                .collect();
            check_string(&text);
        }
    }
}
