//! JSON string literals exactly as Python's `json` writes them with
//! `ensure_ascii=True`: printable ASCII as is, `\"` `\\` `\n` `\r` `\t` `\b` `\f`,
//! everything else as `\uXXXX` (lowercase hex), code points above U+FFFF as a
//! surrogate pair, lone surrogates as themselves.
//!
//! Input is generalized UTF-8 (see `intern`), so lone surrogates arrive as ordinary
//! three-byte sequences.

use crate::error::AllocError;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// For each ASCII byte: 0 to copy it, b'u' for `\u00XX`, else the letter after `\`.
static ASCII_ESCAPE: [u8; 128] = {
    let mut table = [0u8; 128];
    let mut byte = 0;
    while byte < 128 {
        table[byte] = if byte < 0x20 || byte == 0x7f { b'u' } else { 0 };
        byte += 1;
    }
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table[b'\n' as usize] = b'n';
    table[b'\r' as usize] = b'r';
    table[b'\t' as usize] = b't';
    table[0x08] = b'b';
    table[0x0c] = b'f';
    table
};

/// Strings longer than this reserve their exact escaped size fallibly first, so a
/// huge string that cannot fit raises `MemoryError` instead of aborting.
const LARGE: usize = 1 << 16;

/// Append `text` as a JSON string literal, quotes included.
#[inline]
pub fn write_json_string(out: &mut Vec<u8>, text: &[u8]) -> Result<(), AllocError> {
    if text.len() > LARGE {
        out.try_reserve(escaped_len(text)).map_err(|_| AllocError)?;
    } else {
        out.reserve(text.len() + 2);
    }
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < text.len() {
        let byte = text[i];
        if byte < 0x80 && ASCII_ESCAPE[byte as usize] == 0 {
            i += 1;
            continue;
        }
        out.extend_from_slice(&text[start..i]);
        if byte < 0x80 {
            match ASCII_ESCAPE[byte as usize] {
                b'u' => write_u_escape(out, byte as u32),
                letter => out.extend_from_slice(&[b'\\', letter]),
            }
            i += 1;
        } else {
            let (code_point, width) = decode(&text[i..]);
            if code_point < 0x80 {
                // An overlong encoding (never produced by the bindings): treat it
                // as the ASCII character it spells.
                match ASCII_ESCAPE[code_point as usize] {
                    0 => out.push(code_point as u8),
                    b'u' => write_u_escape(out, code_point),
                    letter => out.extend_from_slice(&[b'\\', letter]),
                }
            } else if code_point >= 0x10000 {
                let v = code_point - 0x10000;
                write_u_escape(out, 0xd800 | (v >> 10));
                write_u_escape(out, 0xdc00 | (v & 0x3ff));
            } else {
                write_u_escape(out, code_point);
            }
            i += width;
        }
        start = i;
    }
    out.extend_from_slice(&text[start..]);
    out.push(b'"');
    Ok(())
}

/// The length of `text` as a JSON string literal.
fn escaped_len(text: &[u8]) -> usize {
    let mut len = 2;
    let mut i = 0;
    while i < text.len() {
        let byte = text[i];
        if byte < 0x80 {
            len += match ASCII_ESCAPE[byte as usize] {
                0 => 1,
                b'u' => 6,
                _ => 2,
            };
            i += 1;
        } else {
            let (code_point, width) = decode(&text[i..]);
            len += if code_point >= 0x10000 { 12 } else { 6 };
            i += width;
        }
    }
    len
}

/// `text` as a JSON string literal.
pub fn json_string(text: &[u8]) -> Result<Vec<u8>, AllocError> {
    let mut out = Vec::new();
    write_json_string(&mut out, text)?;
    Ok(out)
}

#[inline]
fn write_u_escape(out: &mut Vec<u8>, unit: u32) {
    out.extend_from_slice(&[
        b'\\',
        b'u',
        HEX[(unit >> 12 & 0xf) as usize],
        HEX[(unit >> 8 & 0xf) as usize],
        HEX[(unit >> 4 & 0xf) as usize],
        HEX[(unit & 0xf) as usize],
    ]);
}

/// Decode one non-ASCII code point. Malformed input (never produced by the
/// bindings) decodes byte by byte as U+FFFD rather than panicking.
#[inline]
fn decode(bytes: &[u8]) -> (u32, usize) {
    let lead = bytes[0] as u32;
    let cont = |k: usize| bytes.get(k).map(|&b| b as u32 & 0x3f);
    match lead {
        0xc0..=0xdf => match cont(1) {
            Some(b1) => (((lead & 0x1f) << 6) | b1, 2),
            None => (0xfffd, 1),
        },
        0xe0..=0xef => match (cont(1), cont(2)) {
            (Some(b1), Some(b2)) => (((lead & 0x0f) << 12) | (b1 << 6) | b2, 3),
            _ => (0xfffd, 1),
        },
        0xf0..=0xf7 => match (cont(1), cont(2), cont(3)) {
            (Some(b1), Some(b2), Some(b3)) => {
                (((lead & 0x07) << 18) | (b1 << 12) | (b2 << 6) | b3, 4)
            }
            _ => (0xfffd, 1),
        },
        _ => (0xfffd, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::json_string;

    fn js(text: &[u8]) -> String {
        String::from_utf8(json_string(text).unwrap()).unwrap()
    }

    #[test]
    fn ascii_and_short_escapes() {
        assert_eq!(js(b"plain text"), "\"plain text\"");
        assert_eq!(
            js(b"q\"b\\n\nr\rt\tb\x08f\x0c"),
            r#""q\"b\\n\nr\rt\tb\bf\f""#
        );
        assert_eq!(js(b"\x00\x1f\x7f"), r#""\u0000\u001f\u007f""#);
    }

    #[test]
    fn non_ascii_surrogates_and_astral() {
        assert_eq!(js("caf\u{e9} \u{20ac}".as_bytes()), r#""caf\u00e9 \u20ac""#);
        assert_eq!(js("\u{1f600}".as_bytes()), r#""\ud83d\ude00""#);
        // A lone surrogate, as Python's surrogatepass encodes it.
        assert_eq!(js(&[0xed, 0xa0, 0x80]), r#""\ud800""#);
        assert_eq!(js(&[0xed, 0xbf, 0xbf, b'x']), r#""\udfffx""#);
    }
}
