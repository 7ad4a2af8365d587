//! Serialization straight from the buffer: the JSON export (behaviour.md 4.1) and
//! the Chrome Trace Event export (4.2), byte-identical to Python's
//! `json.dumps(..., indent=2)`, and the Perfetto protobuf export.
//!
//! Both writers append to one output buffer ([`OutputBuffer`]). In memory it grows to the
//! whole document; when streaming it is handed to a sink every `chunk` bytes, so
//! memory stays bounded whatever the trace length.

#[cfg(any(test, feature = "fuzzing"))]
pub mod check;
pub mod chrome;
pub mod json;
pub mod perfetto;

use crate::error::AllocError;

/// What a writer needs from the bindings: metadata and oversized step indices
/// (each event's payload: Python objects the core cannot read), and a periodic checkpoint (for signals).
pub trait PayloadWriter<X> {
    /// Also what an allocation failure while writing becomes.
    type Error: From<AllocError>;
    fn write_big_step(&mut self, payload: &X, out: &mut Vec<u8>) -> Result<(), Self::Error>;
    /// Whether the event's metadata is present and non-empty right now.
    fn has_metadata(&mut self, payload: &X) -> Result<bool, Self::Error>;
    /// Write the metadata value (a dict nested at `json.dumps` indent level 2).
    fn write_metadata(&mut self, payload: &X, out: &mut Vec<u8>) -> Result<(), Self::Error>;
    /// Write the metadata value into the Perfetto `DebugAnnotation` being written
    /// (see `perfetto::value`). Only the Perfetto writer calls it.
    fn write_metadata_annotation(
        &mut self,
        _payload: &X,
        _writer: &mut perfetto::wire::Writer,
    ) -> Result<(), Self::Error> {
        Ok(())
    }
    /// Called every [`CHECKPOINT_EVERY`] events.
    fn checkpoint(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// How often writers call [`PayloadWriter::checkpoint`].
pub const CHECKPOINT_EVERY: usize = 1 << 16;

/// The payload writer for traces without Python payloads (tests, Rust users).
pub struct NoPayload;

impl<X> PayloadWriter<X> for NoPayload {
    type Error = AllocError;
    fn write_big_step(&mut self, _: &X, _: &mut Vec<u8>) -> Result<(), Self::Error> {
        Ok(())
    }
    fn has_metadata(&mut self, _: &X) -> Result<bool, Self::Error> {
        Ok(false)
    }
    fn write_metadata(&mut self, _: &X, _: &mut Vec<u8>) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// One source of events (a process), for the exports that show sources.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    /// Display name (generalized UTF-8).
    pub name: &'a [u8],
    pub pid: i64,
}

/// A source as the exports name it, owning its name (see [`sources_for`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedSource {
    pub name: Vec<u8>,
    pub pid: i64,
}

impl NamedSource {
    pub fn borrow(&self) -> Source<'_> {
        Source {
            name: &self.name,
            pid: self.pid,
        }
    }
}

/// The process groups the exports draw for a trace with these sources (in order
/// of first appearance): one per source, named `host:pid`. Each keeps its own pid
/// unless that is 0 (a trace loaded from JSON) or an earlier source took it (one pid
/// on two hosts); those get the lowest unused pids above every source's, since
/// viewers merge process groups that share a pid.
pub fn sources_for(origins: &[crate::origin::Origin]) -> Vec<NamedSource> {
    let pids: Vec<u32> = origins.iter().map(|origin| origin.pid).collect();
    origins
        .iter()
        .zip(distinct_pids(&pids))
        .map(|(origin, pid)| NamedSource {
            name: origin.display_name().into_bytes(),
            pid,
        })
        .collect()
}

/// `pids` made distinct and non-zero (see [`sources_for`]).
pub fn distinct_pids(pids: &[u32]) -> Vec<i64> {
    let mut taken = std::collections::HashSet::new();
    let mut next = pids
        .iter()
        .copied()
        .max()
        .map_or(1, |max| i64::from(max) + 1);
    pids.iter()
        .map(|&pid| {
            if pid != 0 && taken.insert(i64::from(pid)) {
                return i64::from(pid);
            }
            // Perfetto's pids are 32-bit: past that, the lowest free number.
            if next > i64::from(i32::MAX) {
                next = 1;
            }
            while pids.contains(&(next as u32)) || taken.contains(&next) {
                next += 1;
            }
            taken.insert(next);
            next += 1;
            next - 1
        })
        .collect()
}

/// A destination for streamed output.
pub type Sink<'s, E> = &'s mut dyn FnMut(&[u8]) -> Result<(), E>;

/// The output buffer writers append to.
pub struct OutputBuffer<'s, E> {
    pub buf: Vec<u8>,
    sink: Option<Sink<'s, E>>,
    chunk: usize,
}

impl<'s, E> OutputBuffer<'s, E> {
    /// Build the whole document in memory.
    pub fn in_memory(capacity: usize) -> Self {
        OutputBuffer {
            buf: Vec::with_capacity(capacity),
            sink: None,
            chunk: usize::MAX,
        }
    }

    /// Hand the output to `sink` in pieces of about `chunk` bytes.
    pub fn streaming(sink: Sink<'s, E>, chunk: usize) -> Self {
        OutputBuffer {
            buf: Vec::with_capacity(chunk + 4096),
            sink: Some(sink),
            chunk,
        }
    }

    /// Called between events: flush when a chunk is full.
    #[inline]
    pub fn boundary(&mut self) -> Result<(), E> {
        if self.buf.len() >= self.chunk {
            self.flush()
        } else {
            Ok(())
        }
    }

    #[cold]
    fn flush(&mut self) -> Result<(), E> {
        if let Some(sink) = self.sink.as_mut() {
            sink(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Flush what is left (streaming) and return the buffer (the document, in memory).
    pub fn finish(mut self) -> Result<Vec<u8>, E> {
        if self.sink.is_some() && !self.buf.is_empty() {
            self.flush()?;
        }
        Ok(self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::origin::Origin;

    #[test]
    fn pids_stay_unless_zero_or_taken() {
        assert_eq!(distinct_pids(&[]), Vec::<i64>::new());
        assert_eq!(distinct_pids(&[7, 3, 9]), [7, 3, 9]);
        // JSON-loaded traces (pid 0) and one pid on two hosts.
        assert_eq!(distinct_pids(&[0, 0]), [1, 2]);
        assert_eq!(distinct_pids(&[5, 5, 0, 6]), [5, 7, 8, 6]);
        // Beyond 32 bits' signed range: the lowest free numbers.
        let big = i32::MAX as u32;
        assert_eq!(distinct_pids(&[big, big, 1]), [i64::from(big), 2, 1]);
    }

    #[test]
    fn sources_are_named_host_colon_pid() {
        let origin = |host: &str, pid| Origin {
            host: host.into(),
            pid,
            monotonic_ns: 0,
            wall_ns: 0,
        };
        let named = sources_for(&[origin("a", 10), origin("b", 10), origin("t.json", 0)]);
        let view: Vec<(&[u8], i64)> = named.iter().map(|s| (&s.name[..], s.pid)).collect();
        assert_eq!(view, [(&b"a:10"[..], 10), (b"b:10", 11), (b"t.json:0", 12)]);
    }
}
