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

use crate::event::EventKind;
use crate::origin::Origin;

pub const MAGIC: &[u8; 8] = b"DAGRONJ\0";
pub const VERSION: u16 = 1;
const BLOCK_TAG: u8 = 0xB1;
const BLOCK_HEADER: usize = 13;
const STRING_TAG: u8 = 0x40;
/// Longest host name kept in a header.
const MAX_HOST: usize = 1024;

mod flag {
    pub const NODE: u8 = 1;
    pub const STEP: u8 = 2;
    pub const BIG_STEP: u8 = 4;
    pub const DURATION: u8 = 8;
    pub const ERROR: u8 = 16;
    pub const METADATA: u8 = 32;
    pub const ALL: u8 = 63;
}

/// A step index as journaled.
#[derive(Debug, Clone, PartialEq)]
pub enum JournalStep {
    None,
    Int(i64),
    /// Beyond `i64`: the decimal text.
    Big(Vec<u8>),
}

/// One event as journaled; strings are ids into [`Decoded::strings`].
#[derive(Debug, Clone, PartialEq)]
pub struct JournalEvent {
    pub kind: EventKind,
    pub ts: f64,
    pub node: Option<u32>,
    pub step: JournalStep,
    pub duration: Option<f64>,
    pub error: Option<u32>,
    /// The metadata's JSON text.
    pub metadata: Option<Vec<u8>>,
}

/// The header's bytes for `origin`.
pub fn encode_header(origin: &Origin, dropped: u64) -> Vec<u8> {
    let host = &origin.host.as_bytes()[..origin.host.len().min(MAX_HOST)];
    let mut body = Vec::with_capacity(30 + host.len());
    body.extend_from_slice(&origin.pid.to_le_bytes());
    body.extend_from_slice(&origin.monotonic_ns.to_le_bytes());
    body.extend_from_slice(&origin.wall_ns.to_le_bytes());
    body.extend_from_slice(&dropped.to_le_bytes());
    body.extend_from_slice(&(host.len() as u16).to_le_bytes());
    body.extend_from_slice(host);
    let mut out = Vec::with_capacity(20 + body.len() + 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    out
}

/// Builds one block: strings and events appended, then `finish` frames it.
#[derive(Default)]
pub struct BlockEncoder {
    payload: Vec<u8>,
    events: u32,
}

impl BlockEncoder {
    pub fn events(&self) -> u32 {
        self.events
    }

    pub fn is_empty(&self) -> bool {
        self.payload.is_empty()
    }

    pub fn string(&mut self, id: u32, text: &[u8]) {
        self.payload.push(STRING_TAG);
        varint(&mut self.payload, id as u64);
        varint(&mut self.payload, text.len() as u64);
        self.payload.extend_from_slice(text);
    }

    /// One event; `node` and `error` must have been defined by `string` (in this
    /// block or an earlier one).
    pub fn event(&mut self, event: &JournalEventRef<'_>) {
        let out = &mut self.payload;
        let mut flags = 0;
        flags |= if event.node.is_some() { flag::NODE } else { 0 };
        flags |= match event.step {
            JournalStepRef::None => 0,
            JournalStepRef::Int(_) => flag::STEP,
            JournalStepRef::Big(_) => flag::BIG_STEP,
        };
        flags |= if event.duration.is_some() {
            flag::DURATION
        } else {
            0
        };
        flags |= if event.error.is_some() {
            flag::ERROR
        } else {
            0
        };
        flags |= if event.metadata.is_some() {
            flag::METADATA
        } else {
            0
        };
        out.push(event.kind as u8);
        out.push(flags);
        out.extend_from_slice(&event.ts.to_le_bytes());
        if let Some(node) = event.node {
            varint(out, node as u64);
        }
        match event.step {
            JournalStepRef::None => {}
            JournalStepRef::Int(value) => varint(out, ((value << 1) ^ (value >> 63)) as u64),
            JournalStepRef::Big(text) => {
                varint(out, text.len() as u64);
                out.extend_from_slice(text);
            }
        }
        if let Some(duration) = event.duration {
            out.extend_from_slice(&duration.to_le_bytes());
        }
        if let Some(error) = event.error {
            varint(out, error as u64);
        }
        if let Some(metadata) = event.metadata {
            varint(out, metadata.len() as u64);
            out.extend_from_slice(metadata);
        }
        self.events += 1;
    }

    /// The framed block, appended to `out`; the encoder is left empty.
    pub fn finish_into(&mut self, out: &mut Vec<u8>) {
        let mut crc = crc32fast::Hasher::new();
        let len = (self.payload.len() as u32).to_le_bytes();
        let events = self.events.to_le_bytes();
        crc.update(&len);
        crc.update(&events);
        crc.update(&self.payload);
        out.push(BLOCK_TAG);
        out.extend_from_slice(&len);
        out.extend_from_slice(&events);
        out.extend_from_slice(&crc.finalize().to_le_bytes());
        out.extend_from_slice(&self.payload);
        self.payload.clear();
        self.events = 0;
    }
}

/// An event to encode, borrowing its parts.
pub struct JournalEventRef<'a> {
    pub kind: EventKind,
    pub ts: f64,
    pub node: Option<u32>,
    pub step: JournalStepRef<'a>,
    pub duration: Option<f64>,
    pub error: Option<u32>,
    pub metadata: Option<&'a [u8]>,
}

pub enum JournalStepRef<'a> {
    None,
    Int(i64),
    Big(&'a [u8]),
}

fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A journal read back.
#[derive(Debug, Default)]
pub struct Decoded {
    pub origin: Option<Origin>,
    pub dropped: u64,
    /// String id -> text.
    pub strings: Vec<Vec<u8>>,
    /// Events in chronological order (stable by record order).
    pub events: Vec<JournalEvent>,
    /// Bytes after the last whole block (a cut journal), 0 for a whole one.
    pub lost_bytes: usize,
}

/// Why a journal cannot be read, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalError {
    pub offset: usize,
    pub reason: String,
}

impl std::fmt::Display for JournalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at offset {}", self.reason, self.offset)
    }
}

fn error<T>(offset: usize, reason: impl Into<String>) -> Result<T, JournalError> {
    Err(JournalError {
        offset,
        reason: reason.into(),
    })
}

/// Reads little-endian fields from a slice, tracking the absolute offset.
struct Reader<'a> {
    data: &'a [u8],
    at: usize,
    /// Absolute offset of `data[0]` in the file.
    base: usize,
}

impl<'a> Reader<'a> {
    fn offset(&self) -> usize {
        self.base + self.at
    }

    fn bytes(&mut self, n: usize, what: &str) -> Result<&'a [u8], JournalError> {
        if self.data.len() - self.at < n {
            return error(
                self.offset(),
                format!("damaged block: {what} runs past its end"),
            );
        }
        let slice = &self.data[self.at..self.at + n];
        self.at += n;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], JournalError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N, what)?);
        Ok(out)
    }

    fn varint(&mut self, what: &str) -> Result<u64, JournalError> {
        let start = self.offset();
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let [byte] = self.array::<1>(what)?;
            value |= ((byte & 0x7f) as u64) << shift;
            if byte & 0x80 == 0 {
                if shift == 63 && byte > 1 {
                    break;
                }
                return Ok(value);
            }
        }
        error(
            start,
            format!("damaged block: {what} is not a valid varint"),
        )
    }

    fn length(&mut self, what: &str) -> Result<usize, JournalError> {
        let start = self.offset();
        let len = self.varint(what)?;
        if len > (self.data.len() - self.at) as u64 {
            return error(start, format!("damaged block: {what} runs past its end"));
        }
        Ok(len as usize)
    }
}

/// Decode a journal file's bytes.
pub fn decode(data: &[u8]) -> Result<Decoded, JournalError> {
    if data.is_empty() {
        return error(0, "empty file, not a journal");
    }
    if data.len() < MAGIC.len() || &data[..MAGIC.len()] != MAGIC {
        if MAGIC.starts_with(data) {
            return error(
                data.len(),
                "journal cut inside its header: no events to recover",
            );
        }
        return error(0, "not a dagron journal (wrong magic bytes)");
    }
    let mut reader = Reader {
        data,
        at: MAGIC.len(),
        base: 0,
    };
    let cut_header = |_| JournalError {
        offset: data.len(),
        reason: "journal cut inside its header: no events to recover".into(),
    };
    let version = u16::from_le_bytes(reader.array("header").map_err(cut_header)?);
    if version != VERSION {
        return error(
            MAGIC.len(),
            format!("unsupported journal version {version} (this dagron reads version {VERSION})"),
        );
    }
    if reader.array::<2>("header").map_err(cut_header)? != [0, 0] {
        return error(10, "damaged header: reserved bytes are not zero");
    }
    let body_len = u32::from_le_bytes(reader.array("header").map_err(cut_header)?) as usize;
    if body_len > 30 + MAX_HOST {
        return error(12, "damaged header: impossible length");
    }
    let body_start = reader.at;
    let body = reader.bytes(body_len, "header").map_err(cut_header)?;
    let crc = u32::from_le_bytes(reader.array("header").map_err(cut_header)?);
    if crc32fast::hash(body) != crc {
        return error(body_start, "damaged header: checksum mismatch");
    }
    let mut fields = Reader {
        data: body,
        at: 0,
        base: body_start,
    };
    let pid = u32::from_le_bytes(fields.array("header")?);
    let monotonic_ns = u64::from_le_bytes(fields.array("header")?);
    let wall_ns = i64::from_le_bytes(fields.array("header")?);
    let dropped = u64::from_le_bytes(fields.array("header")?);
    let host_len = u16::from_le_bytes(fields.array("header")?) as usize;
    let host = fields.bytes(host_len, "host name")?;
    if fields.at != body.len() {
        return error(fields.offset(), "damaged header: trailing bytes");
    }
    let mut decoded = Decoded {
        origin: Some(Origin {
            host: String::from_utf8_lossy(host).into_owned(),
            pid,
            monotonic_ns,
            wall_ns,
        }),
        dropped,
        ..Decoded::default()
    };
    let mut at = reader.at;
    while at < data.len() {
        let rest = &data[at..];
        if rest[0] != BLOCK_TAG {
            return error(at, "damaged journal: no block starts here");
        }
        if rest.len() < BLOCK_HEADER {
            decoded.lost_bytes = rest.len();
            break;
        }
        let len = u32::from_le_bytes(rest[1..5].try_into().expect("4 bytes")) as usize;
        let events = u32::from_le_bytes(rest[5..9].try_into().expect("4 bytes"));
        let crc = u32::from_le_bytes(rest[9..13].try_into().expect("4 bytes"));
        if rest.len() - BLOCK_HEADER < len {
            decoded.lost_bytes = rest.len();
            break;
        }
        let payload = &rest[BLOCK_HEADER..BLOCK_HEADER + len];
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&rest[1..9]);
        hasher.update(payload);
        if hasher.finalize() != crc {
            return error(at, "damaged block: checksum mismatch");
        }
        let before = decoded.events.len();
        decode_payload(payload, at + BLOCK_HEADER, &mut decoded)?;
        if decoded.events.len() - before != events as usize {
            return error(at, "damaged block: event count mismatch");
        }
        at += BLOCK_HEADER + len;
    }
    // Record order may differ slightly from timestamp order across threads.
    if decoded
        .events
        .windows(2)
        .any(|pair| pair[1].ts < pair[0].ts)
    {
        decoded.events.sort_by(|a, b| a.ts.total_cmp(&b.ts));
    }
    Ok(decoded)
}

fn decode_payload(payload: &[u8], base: usize, decoded: &mut Decoded) -> Result<(), JournalError> {
    let mut reader = Reader {
        data: payload,
        at: 0,
        base,
    };
    let defined = |strings: &Vec<Vec<u8>>, id: u64, at: usize| {
        if id < strings.len() as u64 {
            Ok(id as u32)
        } else {
            error(
                at,
                format!("damaged block: string {id} used before it is defined"),
            )
        }
    };
    while reader.at < payload.len() {
        let start = reader.offset();
        let [tag] = reader.array::<1>("record")?;
        if tag == STRING_TAG {
            let id = reader.varint("string id")?;
            let len = reader.length("string")?;
            let text = reader.bytes(len, "string")?;
            // Ids are dense: each string is defined once, with the next id.
            if id != decoded.strings.len() as u64 {
                return error(start, format!("damaged block: string id {id} out of order"));
            }
            decoded.strings.push(text.to_vec());
            continue;
        }
        let Some(kind) = EventKind::from_code(tag) else {
            return error(
                start,
                format!("damaged block: unknown record type {tag:#04x}"),
            );
        };
        let [flags] = reader.array::<1>("event")?;
        if flags & !flag::ALL != 0
            || flags & (flag::STEP | flag::BIG_STEP) == flag::STEP | flag::BIG_STEP
        {
            return error(start, "damaged block: bad event flags");
        }
        let ts = f64::from_le_bytes(reader.array("timestamp")?);
        if !(ts.is_finite() && ts >= 0.0) {
            return error(start, format!("damaged block: bad timestamp {ts}"));
        }
        let mut event = JournalEvent {
            kind,
            ts,
            node: None,
            step: JournalStep::None,
            duration: None,
            error: None,
            metadata: None,
        };
        if flags & flag::NODE != 0 {
            let at = reader.offset();
            event.node = Some(defined(&decoded.strings, reader.varint("node id")?, at)?);
        }
        if flags & flag::STEP != 0 {
            let raw = reader.varint("step")?;
            event.step = JournalStep::Int(((raw >> 1) as i64) ^ -((raw & 1) as i64));
        }
        if flags & flag::BIG_STEP != 0 {
            let at = reader.offset();
            let len = reader.length("step")?;
            let text = reader.bytes(len, "step")?;
            let digits = text.strip_prefix(b"-").unwrap_or(text);
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return error(at, "damaged block: step index is not an integer");
            }
            event.step = JournalStep::Big(text.to_vec());
        }
        if flags & flag::DURATION != 0 {
            event.duration = Some(f64::from_le_bytes(reader.array("duration")?));
        }
        if flags & flag::ERROR != 0 {
            let at = reader.offset();
            event.error = Some(defined(&decoded.strings, reader.varint("error id")?, at)?);
        }
        if flags & flag::METADATA != 0 {
            let len = reader.length("metadata")?;
            event.metadata = Some(reader.bytes(len, "metadata")?.to_vec());
        }
        decoded.events.push(event);
    }
    Ok(())
}

impl Decoded {
    /// The text of string `id` (defined: the decoder checked).
    pub fn string(&self, id: u32) -> &[u8] {
        &self.strings[id as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
