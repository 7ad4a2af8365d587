//! The string table: node names and error strings stored once, with their JSON
//! form precomputed, found by content without a lock.
//!
//! Strings are kept as "generalized UTF-8": UTF-8 in which a lone surrogate code
//! point is encoded like any other (what Python's `surrogatepass` produces), so
//! every Python `str` has exactly one byte form.
//!
//! Lookups go through a lock-free hash map (papaya); ids are indices into an
//! [`AppendBuffer`] of entries, so an id stays valid and its entry never moves.
//! Two threads interning the same new string at once may both append an entry;
//! the map keeps one id and the other entry is never referenced.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;

use crate::buffer::{AllocError, AppendBuffer};
use crate::export::escape::{json_string, write_json_string};

/// Longest string whose JSON form is kept after the first export.
const KEEP_JSON_UP_TO: usize = 1 << 12;

/// A copy of `text` that reports allocation failure instead of aborting.
fn try_copy(text: &[u8]) -> Result<Box<[u8]>, AllocError> {
    let mut copy = Vec::new();
    copy.try_reserve_exact(text.len()).map_err(|_| AllocError)?;
    copy.extend_from_slice(text);
    Ok(copy.into_boxed_slice())
}

type Index = papaya::HashMap<Box<[u8]>, u32, foldhash::fast::RandomState>;

pub struct InternEntry<S> {
    /// The string's generalized UTF-8 bytes.
    pub text: Box<[u8]>,
    /// The string as a JSON literal (quotes included, `ensure_ascii` escapes), made
    /// on first export rather than on the recording path.
    json: OnceLock<Box<[u8]>>,
    /// Index + 1 of the latest event naming this node (0: none yet).
    pub(crate) head: AtomicU64,
    /// Set the first time an event names this string as its node.
    pub(crate) is_node: AtomicBool,
    /// Binding-owned form of the string (the Python `str`).
    pub payload: S,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InternError {
    Alloc,
    /// More than `u32::MAX` distinct strings.
    Full,
}

impl From<AllocError> for InternError {
    fn from(_: AllocError) -> Self {
        InternError::Alloc
    }
}

pub struct Interner<S> {
    index: Index,
    entries: AppendBuffer<InternEntry<S>>,
}

impl<S> Default for Interner<S> {
    fn default() -> Self {
        Interner {
            index: Index::default(),
            entries: AppendBuffer::new(),
        }
    }
}

impl<S> Interner<S> {
    /// The id of `text`, if it was interned.
    #[inline]
    pub fn lookup(&self, text: &[u8]) -> Option<u32> {
        self.index.pin().get(text).copied()
    }

    /// The id of `text`, interning it (with `payload()`) if it is new.
    #[inline]
    pub fn intern(&self, text: &[u8], payload: impl FnOnce() -> S) -> Result<u32, InternError> {
        self.intern_with(text, || Ok::<S, InternError>(payload()))
    }

    /// Like `intern`, with a payload that may fail to build (it is built only for a
    /// new string, after the one lookup).
    #[inline]
    pub fn intern_with<E: From<InternError>>(
        &self,
        text: &[u8],
        payload: impl FnOnce() -> Result<S, E>,
    ) -> Result<u32, E> {
        match self.lookup(text) {
            Some(id) => Ok(id),
            None => Ok(self.insert(text, payload()?)?),
        }
    }

    #[cold]
    fn insert(&self, text: &[u8], payload: S) -> Result<u32, InternError> {
        let entry = InternEntry {
            text: try_copy(text)?,
            json: OnceLock::new(),
            head: AtomicU64::new(0),
            is_node: AtomicBool::new(false),
            payload,
        };
        let index = self.entries.push(entry)?;
        let id = u32::try_from(index).map_err(|_| InternError::Full)?;
        match self.index.pin().try_insert(try_copy(text)?, id) {
            Ok(_) => Ok(id),
            Err(occupied) => Ok(*occupied.current),
        }
    }

    /// The entry of an id this table returned.
    #[inline]
    pub fn get(&self, id: u32) -> &InternEntry<S> {
        self.entries.wait(id as usize)
    }

    /// Number of entries (an upper bound on ids, orphans included).
    pub fn len(&self) -> usize {
        self.entries.claimed()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<S> InternEntry<S> {
    /// Append the string as a JSON literal: computed once and kept, except for huge
    /// strings, which are escaped straight into `out` each time (and may fail).
    #[inline]
    pub fn write_json(&self, out: &mut Vec<u8>) -> Result<(), AllocError> {
        if let Some(json) = self.json.get() {
            out.extend_from_slice(json);
            return Ok(());
        }
        if self.text.len() > KEEP_JSON_UP_TO {
            return write_json_string(out, &self.text);
        }
        let json = json_string(&self.text)?;
        out.extend_from_slice(self.json.get_or_init(|| json.into_boxed_slice()));
        Ok(())
    }

    /// Mark this string as used as a node name; true the first time only.
    #[inline]
    pub(crate) fn mark_node(&self) -> bool {
        !self.is_node.load(Ordering::Relaxed) && !self.is_node.swap(true, Ordering::AcqRel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn interns_once_and_keeps_json_form() {
        let table: Interner<()> = Interner::default();
        let a = table.intern(b"extract", || ()).unwrap();
        let b = table.intern("caf\u{e9}".as_bytes(), || ()).unwrap();
        assert_eq!(table.intern(b"extract", || ()).unwrap(), a);
        assert_ne!(a, b);
        let json = |id| {
            let mut out = Vec::new();
            table.get(id).write_json(&mut out).unwrap();
            out
        };
        assert_eq!(json(a), b"\"extract\"");
        assert_eq!(json(b), b"\"caf\\u00e9\"");
        assert_eq!(table.lookup(b"missing"), None);
    }

    #[test]
    fn racing_threads_agree_on_ids() {
        let table: Arc<Interner<()>> = Arc::new(Interner::default());
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let table = Arc::clone(&table);
                std::thread::spawn(move || {
                    (0..500)
                        .map(|n| table.intern(format!("node-{n}").as_bytes(), || ()).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let results: Vec<Vec<u32>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        for ids in &results[1..] {
            assert_eq!(ids, &results[0]);
        }
        for (n, id) in results[0].iter().enumerate() {
            assert_eq!(&*table.get(*id).text, format!("node-{n}").as_bytes());
        }
    }
}
