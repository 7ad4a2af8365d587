//! Protocol-buffer wire encoding for the Perfetto writer: varints, tagged fields,
//! and nested messages whose lengths are only known once they are written.
//!
//! A nested message needs its length before its body. [`Writer`] writes bodies
//! straight into one reused buffer and notes, per nested message, where its length
//! goes; [`Writer::finish_into`] then copies the body to the output once, inserting
//! the lengths on the way. So each byte is copied once whatever the nesting depth
//! (no shifting of bodies, no size pre-pass, no fixed-width padding), and nothing
//! is allocated per packet once the buffers have grown.

/// Wire types.
const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LEN: u32 = 2;

/// Where a nested message's length goes in the body, and the length once known.
struct Mark {
    at: usize,
    len: u64,
}

/// Writes one top-level message at a time (a packet); see the module comment.
#[derive(Default)]
pub struct Writer {
    body: Vec<u8>,
    /// In body order (messages are opened in the order their bodies start).
    marks: Vec<Mark>,
    /// Open messages: index into `marks`, and `prefix_bytes` when opened.
    open: Vec<(usize, usize)>,
    /// Bytes of the length prefixes of the messages closed so far.
    prefix_bytes: usize,
}

#[inline]
pub fn varint_len(value: u64) -> usize {
    // 1 byte per started group of 7 bits; 0 takes one byte.
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

#[inline]
pub fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

impl Writer {
    pub fn new() -> Self {
        Self::default()
    }

    #[inline]
    fn tag(&mut self, field: u32, wire_type: u32) {
        put_varint(&mut self.body, u64::from(field << 3 | wire_type));
    }

    /// An unsigned varint field (`uint32`, `uint64`, enums, `bool`).
    #[inline]
    pub fn uint(&mut self, field: u32, value: u64) {
        self.tag(field, VARINT);
        put_varint(&mut self.body, value);
    }

    /// An `int64`/`int32` field (negative values take ten bytes, as protobuf says).
    #[inline]
    pub fn int(&mut self, field: u32, value: i64) {
        self.uint(field, value as u64);
    }

    #[inline]
    pub fn boolean(&mut self, field: u32, value: bool) {
        self.uint(field, u64::from(value));
    }

    #[inline]
    pub fn double(&mut self, field: u32, value: f64) {
        self.tag(field, FIXED64);
        self.body.extend_from_slice(&value.to_bits().to_le_bytes());
    }

    /// A `bytes` field, as is.
    #[inline]
    pub fn bytes(&mut self, field: u32, value: &[u8]) {
        self.text_parts(field, &[], value, false);
    }

    /// A `string` field from generalized UTF-8 (see `intern`): a lone surrogate,
    /// which UTF-8 cannot hold, becomes U+FFFD (same length: three bytes).
    #[inline]
    pub fn text(&mut self, field: u32, value: &[u8]) {
        self.text_parts(field, &[], value, true);
    }

    /// A string field holding `prefix` (ASCII) then `value` (generalized UTF-8).
    pub fn text_with_prefix(&mut self, field: u32, prefix: &[u8], value: &[u8]) {
        self.text_parts(field, prefix, value, true);
    }

    fn text_parts(&mut self, field: u32, prefix: &[u8], value: &[u8], sanitize: bool) {
        self.tag(field, LEN);
        put_varint(&mut self.body, (prefix.len() + value.len()) as u64);
        self.body.extend_from_slice(prefix);
        let start = self.body.len();
        self.body.extend_from_slice(value);
        if sanitize {
            replace_surrogates(&mut self.body[start..]);
        }
    }

    /// Open a nested message in field `field`; close it with [`Writer::end`].
    #[inline]
    pub fn begin(&mut self, field: u32) {
        self.tag(field, LEN);
        self.open.push((self.marks.len(), self.prefix_bytes));
        self.marks.push(Mark {
            at: self.body.len(),
            len: 0,
        });
    }

    #[inline]
    pub fn end(&mut self) {
        let (index, prefix_bytes_then) = self.open.pop().expect("end() without begin()");
        let mark = &mut self.marks[index];
        let len = (self.body.len() - mark.at + self.prefix_bytes - prefix_bytes_then) as u64;
        mark.len = len;
        self.prefix_bytes += varint_len(len);
    }

    /// Bytes written since the last `finish_into`, prefixes included.
    pub fn len(&self) -> usize {
        self.body.len() + self.prefix_bytes
    }

    pub fn is_empty(&self) -> bool {
        self.body.is_empty()
    }

    /// Append everything written (all messages closed) to `out`, and start afresh.
    pub fn finish_into(&mut self, out: &mut Vec<u8>) {
        debug_assert!(self.open.is_empty(), "unclosed message");
        out.reserve(self.len());
        let mut from = 0;
        for mark in &self.marks {
            out.extend_from_slice(&self.body[from..mark.at]);
            put_varint(out, mark.len);
            from = mark.at;
        }
        out.extend_from_slice(&self.body[from..]);
        self.body.clear();
        self.marks.clear();
        self.prefix_bytes = 0;
    }

    /// Drop whatever was written since the last `finish_into` (after an error).
    pub fn discard(&mut self) {
        self.body.clear();
        self.marks.clear();
        self.open.clear();
        self.prefix_bytes = 0;
    }
}

/// Rewrite each encoded surrogate (ED A0..BF xx) as U+FFFD (EF BF BD) in place.
#[inline]
pub fn replace_surrogates(text: &mut [u8]) {
    let mut at = 0;
    while let Some(offset) = text[at..].iter().position(|&b| b == 0xED) {
        let i = at + offset;
        if i + 2 < text.len() && text[i + 1] >= 0xA0 {
            text[i..i + 3].copy_from_slice("\u{FFFD}".as_bytes());
            at = i + 3;
        } else {
            at = i + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(writer: &mut Writer) -> Vec<u8> {
        let mut out = Vec::new();
        writer.finish_into(&mut out);
        out
    }

    #[test]
    fn varints_match_the_protobuf_encoding() {
        for (value, bytes) in [
            (0u64, vec![0x00]),
            (1, vec![0x01]),
            (127, vec![0x7f]),
            (128, vec![0x80, 0x01]),
            (300, vec![0xac, 0x02]),
            (u64::MAX, vec![0xff; 9].into_iter().chain([0x01]).collect()),
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, value);
            assert_eq!(out, bytes, "{value}");
            assert_eq!(varint_len(value), bytes.len(), "{value}");
        }
    }

    #[test]
    fn scalar_fields() {
        let mut writer = Writer::new();
        writer.uint(1, 150);
        writer.int(2, -1);
        writer.boolean(3, true);
        writer.double(4, 1.5);
        writer.text(5, b"hi");
        let mut want = vec![0x08, 0x96, 0x01, 0x10];
        want.extend([0xff; 9]);
        want.push(0x01);
        want.extend([0x18, 0x01, 0x21]);
        want.extend(1.5f64.to_le_bytes());
        want.extend([0x2a, 0x02, b'h', b'i']);
        assert_eq!(finished(&mut writer), want);
    }

    #[test]
    fn nested_lengths_count_inner_prefixes() {
        let mut writer = Writer::new();
        writer.begin(1);
        writer.uint(1, 1);
        writer.begin(2);
        // 200 bytes: the inner length takes two bytes, which the outer one counts.
        writer.bytes(3, &[7u8; 197]);
        writer.end();
        writer.begin(4);
        writer.end();
        writer.end();
        writer.uint(5, 3);
        let out = finished(&mut writer);
        let mut want = vec![0x0a];
        // outer body: 2 (field 1) + 1 tag + 2 len + 200 (inner) + 2 (empty field 4)
        put_varint(&mut want, 207);
        want.extend([0x08, 0x01, 0x12]);
        put_varint(&mut want, 200);
        want.extend([0x1a]);
        put_varint(&mut want, 197);
        want.extend([7u8; 197]);
        want.extend([0x22, 0x00, 0x28, 0x03]);
        assert_eq!(out, want);
        // The writer starts afresh.
        writer.uint(1, 2);
        assert_eq!(finished(&mut writer), [0x08, 0x02]);
    }

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        let mut writer = Writer::new();
        // "a", U+D800, "b", U+1F600 (a real 4-byte character stays), then U+DFFF cut short.
        let text = b"a\xed\xa0\x80b\xf0\x9f\x98\x80\xed\xbf\xbf\xed\x9f\xbf";
        writer.text_with_prefix(1, b"p:", text);
        let out = finished(&mut writer);
        assert_eq!(
            std::str::from_utf8(&out[2..]).unwrap(),
            "p:a\u{FFFD}b\u{1F600}\u{FFFD}\u{D7FF}"
        );
    }
}
