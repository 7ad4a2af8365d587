//! Reading a journal back: the header, each block's frame and checksum, and the
//! strings and events inside, with every damage reported at its offset and a cut
//! tail counted, not failed.

use crate::event::EventKind;
use crate::origin::Origin;

use super::records::{
    flag, JournalEvent, JournalStep, BLOCK_HEADER, BLOCK_HEADER_V1, BLOCK_TAG, BLOCK_TAG_V1, MAGIC,
    MAX_HOST, STRING_TAG, VERSION,
};

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
    if version != VERSION && version != 1 {
        return error(
            MAGIC.len(),
            format!(
                "unsupported journal version {version} (this dagron reads versions 1 and {VERSION})"
            ),
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
        let frame = if version == 1 {
            frame_v1(rest, at)?
        } else {
            frame_v2(rest, at)?
        };
        let Some((header, len, events)) = frame else {
            // The file ends inside this block: a cut tail.
            decoded.lost_bytes = rest.len();
            break;
        };
        let payload = &rest[header..header + len];
        let before = decoded.events.len();
        decode_payload(payload, at + header, &mut decoded)?;
        if decoded.events.len() - before != events as usize {
            return error(at, "damaged block: event count mismatch");
        }
        at += header + len;
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

/// A block is `(frame size, payload length, event count)` after its checks, or
/// None when the file ends inside it.
type Frame = Option<(usize, usize, u32)>;

/// Version 1's frame: `0xB1 | len u32 | events u32 | crc32(len, events, payload)`.
/// A damaged length cannot be told from a cut here: both look like a block that
/// runs past the end.
fn frame_v1(rest: &[u8], at: usize) -> Result<Frame, JournalError> {
    if rest[0] != BLOCK_TAG_V1 {
        return error(at, "damaged journal: no block starts here");
    }
    if rest.len() < BLOCK_HEADER_V1 {
        return Ok(None);
    }
    let len = u32::from_le_bytes(rest[1..5].try_into().expect("4 bytes")) as usize;
    let events = u32::from_le_bytes(rest[5..9].try_into().expect("4 bytes"));
    let crc = u32::from_le_bytes(rest[9..13].try_into().expect("4 bytes"));
    if rest.len() - BLOCK_HEADER_V1 < len {
        return Ok(None);
    }
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&rest[1..9]);
    hasher.update(&rest[BLOCK_HEADER_V1..BLOCK_HEADER_V1 + len]);
    if hasher.finalize() != crc {
        return error(at, "damaged block: checksum mismatch");
    }
    Ok(Some((BLOCK_HEADER_V1, len, events)))
}

/// Version 2's frame: `0xB2 | len u32 | events u32 | crc32(payload) u32 |
/// crc32(the 13 bytes before) u32`. A whole frame is checked first, so a block
/// claiming more bytes than the file holds is cut only if its frame is sound.
fn frame_v2(rest: &[u8], at: usize) -> Result<Frame, JournalError> {
    if rest[0] != BLOCK_TAG {
        return error(at, "damaged journal: no block starts here");
    }
    if rest.len() < BLOCK_HEADER {
        return Ok(None);
    }
    let field = |range: std::ops::Range<usize>| {
        u32::from_le_bytes(rest[range].try_into().expect("4 bytes"))
    };
    if crc32fast::hash(&rest[..13]) != field(13..17) {
        return error(at, "damaged block: its frame's checksum does not match");
    }
    let len = field(1..5) as usize;
    if rest.len() - BLOCK_HEADER < len {
        return Ok(None);
    }
    if crc32fast::hash(&rest[BLOCK_HEADER..BLOCK_HEADER + len]) != field(9..13) {
        return error(at, "damaged block: checksum mismatch");
    }
    Ok(Some((BLOCK_HEADER, len, field(5..9))))
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
        if flags & !flag::ALL != 0 || (flags & flag::STEPS).count_ones() > 1 {
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
        if flags & flag::BIG_STEP_BYTES != 0 {
            let at = reader.offset();
            let len = reader.length("step")?;
            if len == 0 {
                return error(at, "damaged block: step index is not an integer");
            }
            event.step = JournalStep::BigBytes(reader.bytes(len, "step")?.to_vec());
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
