//! Numbers exactly as Python's `json` writes them: `int.__repr__` for integers,
//! `float.__repr__` for finite floats (shortest round-trip digits, exponent form
//! outside `1e-4 <= |x| < 1e16`), and `NaN`, `Infinity`, `-Infinity`.
//!
//! The shortest digits come from `ryu`; only the layout is Python's.

#[inline]
pub fn write_i64(out: &mut Vec<u8>, value: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

#[inline]
pub fn write_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// Append `repr(value)` (with `json`'s spelling of the non-finite values).
#[inline]
pub fn write_f64(out: &mut Vec<u8>, value: f64) {
    if !value.is_finite() {
        out.extend_from_slice(if value.is_nan() {
            b"NaN"
        } else if value > 0.0 {
            b"Infinity"
        } else {
            b"-Infinity"
        });
        return;
    }
    if value == 0.0 {
        out.extend_from_slice(if value.is_sign_negative() { b"-0.0" } else { b"0.0" });
        return;
    }
    let mut ryu_buffer = ryu::Buffer::new();
    let shortest = ryu_buffer.format_finite(value).as_bytes();
    let (digits, len, decimal_point) = parse_shortest(shortest);
    if value < 0.0 {
        out.push(b'-');
    }
    layout(out, &digits[..len], decimal_point);
}

/// Split ryu's output into significant digits (no leading/trailing zeros) and the
/// decimal point position `p`, meaning value = 0.DIGITS x 10^p.
#[inline]
fn parse_shortest(text: &[u8]) -> ([u8; 20], usize, i32) {
    let mut digits = [0u8; 20];
    let mut len = 0usize;
    let mut seen_point = false;
    let mut point = 0i32; // digits (significant or leading zeros) before the '.'
    let mut leading_zeros_after_point = 0i32;
    let mut exponent = 0i32;
    let mut i = if text[0] == b'-' { 1 } else { 0 };
    while i < text.len() {
        let c = text[i];
        match c {
            b'0'..=b'9' => {
                if len == 0 && c == b'0' {
                    // A leading zero shifts the point only when after it.
                    if seen_point {
                        leading_zeros_after_point += 1;
                    }
                } else {
                    digits[len] = c;
                    len += 1;
                    if !seen_point {
                        point += 1;
                    }
                }
            }
            b'.' => seen_point = true,
            b'e' | b'E' => {
                exponent = parse_exponent(&text[i + 1..]);
                break;
            }
            _ => {}
        }
        i += 1;
    }
    // Zeros before the point that are significant (e.g. "100.0") were counted as
    // digits; drop trailing zeros, which never move the point.
    while len > 1 && digits[len - 1] == b'0' {
        len -= 1;
    }
    let decimal_point = if point > 0 { point } else { -leading_zeros_after_point } + exponent;
    (digits, len, decimal_point)
}

fn parse_exponent(text: &[u8]) -> i32 {
    let (negative, body) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let magnitude = body.iter().fold(0i32, |acc, &d| acc * 10 + (d - b'0') as i32);
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

/// Python's `repr` layout for digits `d1 d2 ...` with value 0.d1d2... x 10^point.
#[inline]
fn layout(out: &mut Vec<u8>, digits: &[u8], point: i32) {
    if point <= -4 || point > 16 {
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        let exponent = point - 1;
        out.push(b'e');
        out.push(if exponent < 0 { b'-' } else { b'+' });
        let magnitude = exponent.unsigned_abs();
        if magnitude < 10 {
            out.push(b'0');
        }
        out.extend_from_slice(itoa::Buffer::new().format(magnitude).as_bytes());
    } else if point <= 0 {
        out.extend_from_slice(b"0.");
        out.resize(out.len() + (-point) as usize, b'0');
        out.extend_from_slice(digits);
    } else if point as usize >= digits.len() {
        out.extend_from_slice(digits);
        out.resize(out.len() + (point as usize - digits.len()), b'0');
        out.extend_from_slice(b".0");
    } else {
        let (whole, fraction) = digits.split_at(point as usize);
        out.extend_from_slice(whole);
        out.push(b'.');
        out.extend_from_slice(fraction);
    }
}

#[cfg(test)]
mod tests {
    use super::write_f64;

    fn repr(value: f64) -> String {
        let mut out = Vec::new();
        write_f64(&mut out, value);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn matches_python_repr() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (0.45, "0.45"),
            (100.0, "100.0"),
            (123.456, "123.456"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e-4, "0.0001"),
            (1.5e-4, "0.00015"),
            (1e-5, "1e-05"),
            (1.25e-5, "1.25e-05"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123456789012345680.0, "1.2345678901234568e+17"),
            (9999999999999998.0, "9999999999999998.0"),
            (5e-324, "5e-324"),
            (2.2250738585072014e-308, "2.2250738585072014e-308"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (-2.5, "-2.5"),
            (1e100, "1e+100"),
            (450000.0, "450000.0"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (value, expected) in cases {
            assert_eq!(repr(*value), *expected, "repr({value:e})");
        }
    }
}
