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
//!
//! A table may start from a [`NameTable`]: a fixed list of distinct strings (a
//! DAG's node names), built once and shared by every trace that records them. Its
//! strings take ids `0..len` in list order, so an executor records a node by its
//! index with no lookup at all; strings interned later get the ids after them.
//! What is per trace (the per-node link heads) lives in the interner, not in the
//! shared entries.

use std::hash::BuildHasher;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};

use hashbrown::HashTable;

use crate::buffer::AppendBuffer;
use crate::error::{AllocError, InternError};
use crate::json_text::escape::{json_string, write_json_string};

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
    /// Binding-owned form of the string (the Python `str`).
    pub payload: S,
}

impl<S> InternEntry<S> {
    fn new(text: &[u8], payload: S) -> Result<Self, AllocError> {
        Ok(InternEntry {
            text: try_copy(text)?,
            json: OnceLock::new(),
            payload,
        })
    }
}

/// An entry interned by one trace, with that trace's link head for it.
struct LocalEntry<S> {
    entry: InternEntry<S>,
    /// Index + 1 of the latest event naming this node (0: none yet).
    head: AtomicU64,
}

/// Why a [`NameTable`] could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameTableError {
    Alloc,
    /// More than `u32::MAX` names.
    Full,
    /// The name at this position repeats an earlier one.
    Duplicate(usize),
}

impl From<AllocError> for NameTableError {
    fn from(_: AllocError) -> Self {
        NameTableError::Alloc
    }
}

/// Distinct strings with fixed ids `0..len`, shared (read-only) by the traces that
/// start from them. Built with [`NameTableBuilder`].
pub struct NameTable<S> {
    entries: Box<[InternEntry<S>]>,
    /// Ids, hashed by their entry's text (so each text is stored once).
    index: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
}

impl<S> NameTable<S> {
    /// The id of `text`, if it is one of the names.
    #[inline]
    pub fn lookup(&self, text: &[u8]) -> Option<u32> {
        let entries = &self.entries;
        self.index
            .find(self.hasher.hash_one(text), |&id| {
                &*entries[id as usize].text == text
            })
            .copied()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries in id order.
    pub fn entries(&self) -> &[InternEntry<S>] {
        &self.entries
    }
}

/// Builds a [`NameTable`] one name at a time.
pub struct NameTableBuilder<S> {
    table: NameTable<S>,
    entries: Vec<InternEntry<S>>,
}

impl<S> NameTableBuilder<S> {
    /// A builder with room for `count` names.
    pub fn with_capacity(count: usize) -> Result<Self, NameTableError> {
        if u32::try_from(count).is_err() {
            return Err(NameTableError::Full);
        }
        let hasher = foldhash::fast::RandomState::default();
        let mut index = HashTable::new();
        // The table is empty, so nothing is rehashed and the hasher is never called.
        index
            .try_reserve(count, |&_| 0)
            .map_err(|_| NameTableError::Alloc)?;
        let mut entries = Vec::new();
        entries.try_reserve_exact(count).map_err(|_| AllocError)?;
        Ok(NameTableBuilder {
            table: NameTable {
                entries: Box::default(),
                index,
                hasher,
            },
            entries,
        })
    }

    /// Add the next name (id = names added so far); it must differ from them all.
    pub fn push(&mut self, text: &[u8], payload: S) -> Result<(), NameTableError> {
        let position = self.entries.len();
        let id = u32::try_from(position).map_err(|_| NameTableError::Full)?;
        let entries = &self.entries;
        let hasher = &self.table.hasher;
        let hash = hasher.hash_one(text);
        if self
            .table
            .index
            .find(hash, |&other| &*entries[other as usize].text == text)
            .is_some()
        {
            return Err(NameTableError::Duplicate(position));
        }
        self.table
            .index
            .try_reserve(1, |&other| hasher.hash_one(&*entries[other as usize].text))
            .map_err(|_| NameTableError::Alloc)?;
        self.entries.try_reserve(1).map_err(|_| AllocError)?;
        self.entries.push(InternEntry::new(text, payload)?);
        self.table.index.insert_unique(hash, id, |_| {
            unreachable!("room for this id was reserved just above")
        });
        Ok(())
    }

    pub fn finish(self) -> NameTable<S> {
        NameTable {
            entries: self.entries.into_boxed_slice(),
            ..self.table
        }
    }
}

pub struct Interner<S> {
    /// The shared names this table starts from (ids `0..names_len()`).
    names: Option<Arc<NameTable<S>>>,
    /// This table's link head for each shared name (see `LocalEntry::head`); as many
    /// as there are shared names.
    name_heads: Box<[AtomicU64]>,
    /// Strings interned here, with ids from `names_len()` on.
    index: Index,
    entries: AppendBuffer<LocalEntry<S>>,
}

impl<S> Default for Interner<S> {
    fn default() -> Self {
        Interner {
            names: None,
            name_heads: Box::default(),
            index: Index::default(),
            entries: AppendBuffer::new(),
        }
    }
}

impl<S> Interner<S> {
    /// A table whose first ids are `names`' (shared, not copied).
    pub fn with_names(names: Arc<NameTable<S>>) -> Result<Self, AllocError> {
        let mut heads = Vec::new();
        heads
            .try_reserve_exact(names.len())
            .map_err(|_| AllocError)?;
        heads.extend((0..names.len()).map(|_| AtomicU64::new(0)));
        Ok(Interner {
            names: Some(names),
            name_heads: heads.into_boxed_slice(),
            ..Interner::default()
        })
    }

    /// The id of `text`, if it was interned.
    #[inline]
    pub fn lookup(&self, text: &[u8]) -> Option<u32> {
        if let Some(names) = &self.names {
            if let Some(id) = names.lookup(text) {
                return Some(id);
            }
        }
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
        let entry = LocalEntry {
            entry: InternEntry::new(text, payload)?,
            head: AtomicU64::new(0),
        };
        let index = self.entries.push(entry)?;
        let id = u32::try_from(self.names_len() + index).map_err(|_| InternError::Full)?;
        match self.index.pin().try_insert(try_copy(text)?, id) {
            Ok(_) => Ok(id),
            Err(occupied) => Ok(*occupied.current),
        }
    }

    /// The entry of an id this table returned.
    #[inline]
    pub fn get(&self, id: u32) -> &InternEntry<S> {
        let id = id as usize;
        match id.checked_sub(self.names_len()) {
            Some(local) => &self.entries.wait(local).entry,
            None => &self.shared_names()[id],
        }
    }

    /// This table's link head for `id`: index + 1 of the latest event naming it as
    /// its node (0: none yet).
    #[inline]
    pub(crate) fn head(&self, id: u32) -> &AtomicU64 {
        let id = id as usize;
        match id.checked_sub(self.names_len()) {
            Some(local) => &self.entries.wait(local).head,
            None => &self.name_heads[id],
        }
    }

    fn shared_names(&self) -> &[InternEntry<S>] {
        self.names.as_deref().map_or(&[], NameTable::entries)
    }

    /// How many ids come from the shared names (`0..names_len()`).
    #[inline]
    pub fn names_len(&self) -> usize {
        self.name_heads.len()
    }

    /// Number of entries (an upper bound on ids, orphans included).
    pub fn len(&self) -> usize {
        self.names_len() + self.entries.claimed()
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

    fn names(texts: &[&str]) -> Arc<NameTable<usize>> {
        let mut builder = NameTableBuilder::with_capacity(texts.len()).unwrap();
        for (position, text) in texts.iter().enumerate() {
            builder.push(text.as_bytes(), position).unwrap();
        }
        Arc::new(builder.finish())
    }

    #[test]
    fn name_table_ids_follow_list_order_and_reject_repeats() {
        let table = names(&["extract", "caf\u{e9}", ""]);
        assert_eq!(table.len(), 3);
        assert_eq!(table.lookup(b"extract"), Some(0));
        assert_eq!(table.lookup("caf\u{e9}".as_bytes()), Some(1));
        assert_eq!(table.lookup(b""), Some(2));
        assert_eq!(table.lookup(b"missing"), None);
        assert_eq!(table.entries()[1].payload, 1);
        // More names than the capacity given is fine; a repeat is not.
        let mut builder = NameTableBuilder::with_capacity(1).unwrap();
        builder.push(b"a", ()).unwrap();
        builder.push(b"b", ()).unwrap();
        assert_eq!(builder.push(b"a", ()), Err(NameTableError::Duplicate(2)));
        let table = builder.finish();
        assert_eq!((table.len(), table.lookup(b"b")), (2, Some(1)));
    }

    #[test]
    fn interner_starts_from_shared_names_and_continues_after_them() {
        let shared = names(&["a", "b", "c"]);
        let first = Interner::with_names(Arc::clone(&shared)).unwrap();
        let second = Interner::with_names(Arc::clone(&shared)).unwrap();
        assert_eq!(first.names_len(), 3);
        // A shared name is found, never interned again.
        assert_eq!(first.intern(b"b", || 99).unwrap(), 1);
        assert_eq!(first.len(), 3);
        // New strings take the ids after the shared ones.
        assert_eq!(first.intern(b"error: x", || 7).unwrap(), 3);
        assert_eq!(first.intern(b"error: x", || 8).unwrap(), 3);
        assert_eq!(first.lookup(b"error: x"), Some(3));
        assert_eq!(&*first.get(3).text, b"error: x");
        assert_eq!(first.get(3).payload, 7);
        assert_eq!(&*first.get(2).text, b"c");
        assert_eq!(first.len(), 4);
        // Local strings and link heads are per interner; entries are shared.
        assert_eq!(second.lookup(b"error: x"), None);
        first.head(1).store(5, std::sync::atomic::Ordering::Relaxed);
        first.head(3).store(6, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(second.head(1).load(std::sync::atomic::Ordering::Relaxed), 0);
        assert_eq!(first.head(1).load(std::sync::atomic::Ordering::Relaxed), 5);
        assert!(std::ptr::eq(first.get(0), second.get(0)));
        let mut json = Vec::new();
        second.get(0).write_json(&mut json).unwrap();
        assert_eq!(json, b"\"a\"");
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
