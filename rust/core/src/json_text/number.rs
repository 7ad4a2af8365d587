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
        out.extend_from_slice(if value.is_sign_negative() {
            b"-0.0"
        } else {
            b"0.0"
        });
        return;
    }
    if let Some((digits, len, point)) = short_decimal(value.abs()) {
        if value < 0.0 {
            out.push(b'-');
        }
        layout(out, &digits[20 - len..], point);
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

/// Powers of ten tried by the fast path, and the matching `10^p` as `f64` (exact).
const FAST_SCALES: [(i32, f64); 2] = [(9, 1e9), (3, 1e3)];
/// Below 10^15 every decimal has a unique nearest double (DBL_DIG = 15).
const FAST_LIMIT: f64 = 1e15;

/// The shortest digits of `value` (> 0) when it is `k / 10^p` for an integer `k` with at
/// most 15 digits and p in `FAST_SCALES` — true of every recorded timestamp (whole
/// nanoseconds) and of most durations people write. Then `k`'s digits round-trip,
/// and no shorter decimal can (two decimals of at most 15 significant digits never
/// share a nearest double), so they are exactly what `repr` prints.
/// Returns digits right-aligned in the array, their count, and the point position.
#[inline]
fn short_decimal(value: f64) -> Option<([u8; 20], usize, i32)> {
    for (power, scale) in FAST_SCALES {
        let scaled = value * scale;
        // `value` is finite and positive here, so this comparison is total.
        if scaled >= FAST_LIMIT {
            continue;
        }
        // Nearest integer (`as` truncates the positive sum; no libm call).
        let nearest = (scaled + 0.5) as u64;
        // Division is correctly rounded, so equality means the decimal k·10^-p
        // parses back to `value`.
        if nearest >= 1 && nearest as f64 / scale == value {
            let mut k = nearest;
            let mut power = power;
            while k % 10 == 0 {
                k /= 10;
                power -= 1;
            }
            let mut digits = [0u8; 20];
            let mut len = 0;
            while k > 0 {
                len += 1;
                digits[20 - len] = b'0' + (k % 10) as u8;
                k /= 10;
            }
            return Some((digits, len, len as i32 - power));
        }
    }
    None
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
    let decimal_point = if point > 0 {
        point
    } else {
        -leading_zeros_after_point
    } + exponent;
    (digits, len, decimal_point)
}

fn parse_exponent(text: &[u8]) -> i32 {
    let (negative, body) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let magnitude = body
        .iter()
        .fold(0i32, |acc, &d| acc * 10 + (d - b'0') as i32);
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
            (4.0459e-05, "4.0459e-05"),
            (53.836999999999996, "53.836999999999996"),
            (0.001, "0.001"),
            (1234.5, "1234.5"),
            (999999.999999999, "999999.999999999"),
            (123456789.123, "123456789.123"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (value, expected) in cases {
            assert_eq!(repr(*value), *expected, "repr({value:e})");
        }
    }
}
