//! Traces as Arrow tables (`docs/tables.md`): what the tables share — the table
//! type, its errors, the schema's metadata, and columns built straight into
//! Arrow's buffers (zeroed memory, so slots left at zero, such as the offsets of an
//! all-null text column, cost no memory until touched).
//!
//! The events table is in `events.rs`, the node-runs table in `runs.rs`; the
//! bindings hand them to Python through the Arrow C stream interface.

pub mod events;
pub mod runs;

use std::alloc::Layout;
use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{ArrowError, DataType, Field, SchemaRef};

use crate::error::AllocError;
use crate::export::perfetto::wire::replace_surrogates;

/// The version of the tables' layout, in each schema's metadata: raised when a
/// column is added, removed, renamed or changes type.
pub const SCHEMA_VERSION: &str = "1";

/// Schema metadata keys.
pub mod keys {
    /// `events` or `node_runs`.
    pub const TABLE: &str = "dagron.table";
    /// [`super::SCHEMA_VERSION`].
    pub const SCHEMA_VERSION: &str = "dagron.schema_version";
    /// Events a bounded trace had let go, in decimal (absent from a node-runs
    /// table made without its trace).
    pub const DROPPED: &str = "dagron.dropped";
    /// A bounded trace's `max_events`, in decimal (absent when unbounded).
    pub const MAX_EVENTS: &str = "dagron.max_events";
}

/// A finished table: its schema and its rows in one record batch.
#[derive(Debug, Clone)]
pub struct Table {
    pub schema: SchemaRef,
    pub batch: RecordBatch,
}

impl Table {
    pub fn num_rows(&self) -> usize {
        self.batch.num_rows()
    }
}

/// Why a table could not be built.
#[derive(Debug, Clone, PartialEq)]
pub enum TableError {
    Alloc,
    /// A step index beyond `i64` (the column's type), at this row, as decimal text.
    StepTooLarge {
        row: usize,
        step: String,
    },
    /// A dictionary's distinct texts hold more than Arrow's 2 GiB per string array.
    TextTooLong {
        column: &'static str,
    },
    /// A column the bindings handed over is not as the table needs it.
    BadColumn {
        column: &'static str,
        reason: String,
    },
    /// Arrow refused the arrays (a bug: the builders check what Arrow checks).
    Arrow(String),
}

impl From<AllocError> for TableError {
    fn from(_: AllocError) -> Self {
        TableError::Alloc
    }
}

impl From<ArrowError> for TableError {
    fn from(error: ArrowError) -> Self {
        TableError::Arrow(error.to_string())
    }
}

impl std::fmt::Display for TableError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TableError::Alloc => write!(f, "out of memory while building the table"),
            TableError::StepTooLarge { row, step } => write!(
                f,
                "event {row}: step_index {step} does not fit the table's int64 step_index column"
            ),
            TableError::TextTooLong { column } => write!(
                f,
                "the distinct texts of column {column:?} exceed Arrow's 2 GiB per string array"
            ),
            TableError::BadColumn { column, reason } => write!(f, "column {column:?}: {reason}"),
            TableError::Arrow(message) => write!(f, "Arrow rejected the table: {message}"),
        }
    }
}

/// The plain numbers the columns hold, whose all-zero bit pattern is their zero.
pub trait Native: arrow_buffer::ArrowNativeType + Copy {
    fn is_zero_bits(self) -> bool;
}

impl Native for f64 {
    #[inline]
    fn is_zero_bits(self) -> bool {
        self.to_bits() == 0
    }
}

macro_rules! native_integer {
    ($($t:ty),*) => {$(
        impl Native for $t {
            #[inline]
            fn is_zero_bits(self) -> bool {
                self == 0
            }
        }
    )*};
}

native_integer!(i8, i32, i64, u8);

/// `len` zeros of `T`, on memory the allocator hands out zeroed (large blocks come
/// straight from the system, whose untouched pages cost nothing), or `AllocError`.
pub fn zeroed<T: Native>(len: usize) -> Result<Vec<T>, AllocError> {
    let layout = Layout::array::<T>(len).map_err(|_| AllocError)?;
    if layout.size() == 0 {
        return Ok(Vec::new());
    }
    // SAFETY: the layout has a non-zero size (checked above).
    let block = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<T>();
    if block.is_null() {
        return Err(AllocError);
    }
    advise_huge_pages(block.cast(), layout.size());
    // SAFETY: `block` was allocated by the global allocator with the layout of
    // `[T; len]` (what `Vec<T>` with capacity `len` deallocates with), and every `T`
    // here is a plain number whose all-zero bytes are a valid value, so all `len`
    // elements are initialized.
    Ok(unsafe { Vec::from_raw_parts(block, len, len) })
}

/// Ask for transparent huge pages over a large column: it is filled front to back,
/// and one fault per 2 MiB instead of per 4 KiB is most of the cost of new memory.
#[cfg(target_os = "linux")]
fn advise_huge_pages(block: *mut u8, size: usize) {
    const HUGE: usize = 2 << 20;
    let start = (block as usize).next_multiple_of(HUGE);
    let end = (block as usize + size) & !(HUGE - 1);
    if end > start {
        // SAFETY: `[start, end)` lies within the block just allocated (rounded
        // inward to huge-page boundaries); `madvise` only changes how the kernel
        // backs those pages, not their contents (still zero) or their mapping.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_block: *mut u8, _size: usize) {}

/// A fixed-length column of numbers: slots start at zero, and writing a zero is
/// skipped so that it leaves the page untouched.
pub struct Column<T> {
    values: Vec<T>,
}

impl<T: Native> Column<T> {
    pub fn new(len: usize) -> Result<Self, AllocError> {
        Ok(Column {
            values: zeroed(len)?,
        })
    }

    #[inline]
    pub fn set(&mut self, row: usize, value: T) {
        if !value.is_zero_bits() {
            self.values[row] = value;
        }
    }

    pub fn finish(self) -> ScalarBuffer<T> {
        ScalarBuffer::from(self.values)
    }
}

/// A validity bitmap: every row null until set.
pub struct Validity {
    bits: Vec<u8>,
    len: usize,
}

impl Validity {
    pub fn new(len: usize) -> Result<Self, AllocError> {
        Ok(Validity {
            bits: zeroed(len.div_ceil(8))?,
            len,
        })
    }

    #[inline]
    pub fn set(&mut self, row: usize) {
        self.bits[row >> 3] |= 1 << (row & 7);
    }

    /// The null buffer, or `None` when no row is null.
    pub fn finish(self) -> Option<NullBuffer> {
        let nulls = NullBuffer::new(BooleanBuffer::new(Buffer::from_vec(self.bits), 0, self.len));
        (nulls.null_count() > 0).then_some(nulls)
    }
}

/// The values of a dictionary-encoded text column: each distinct text once, in
/// order of first use. Texts come as generalized UTF-8 (see `intern`); a lone
/// surrogate, which UTF-8 cannot hold, becomes U+FFFD as in the Perfetto export,
/// and texts that become equal that way share one entry.
pub struct TextDictionary {
    column: &'static str,
    offsets: Vec<i32>,
    values: Vec<u8>,
    /// Made when the first text with a surrogate arrives (before, no two texts can
    /// be equal): each text's entry.
    seen: Option<HashMap<Box<[u8]>, u32>>,
}

impl TextDictionary {
    pub fn new(column: &'static str) -> Self {
        TextDictionary {
            column,
            offsets: vec![0],
            values: Vec::new(),
            seen: None,
        }
    }

    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn text(&self, entry: usize) -> &[u8] {
        &self.values[self.offsets[entry] as usize..self.offsets[entry + 1] as usize]
    }

    /// The entry of `text`, added unless an equal text (after U+FFFD) is there.
    /// Callers give each distinct text once, unless they look entries up by text.
    pub fn add(&mut self, text: &[u8]) -> Result<u32, TableError> {
        let start = self.values.len();
        self.values
            .try_reserve(text.len())
            .map_err(|_| AllocError)?;
        self.values.extend_from_slice(text);
        replace_surrogates(&mut self.values[start..]);
        if self.seen.is_none() && text.contains(&0xED) && self.values[start..] != *text {
            let mut seen = HashMap::new();
            for entry in 0..self.len() {
                seen.insert(Box::from(self.text(entry)), entry as u32);
            }
            self.seen = Some(seen);
        }
        let next = self.len() as u32;
        if let Some(seen) = &mut self.seen {
            if let Some(&entry) = seen.get(&self.values[start..]) {
                self.values.truncate(start);
                return Ok(entry);
            }
            seen.insert(Box::from(&self.values[start..]), next);
        }
        let end = i32::try_from(self.values.len()).map_err(|_| TableError::TextTooLong {
            column: self.column,
        })?;
        self.offsets.try_reserve(1).map_err(|_| AllocError)?;
        self.offsets.push(end);
        Ok(self.len() as u32 - 1)
    }

    pub fn finish(self) -> Result<ArrayRef, TableError> {
        let offsets = OffsetBuffer::new(ScalarBuffer::from(self.offsets));
        let array = StringArray::try_new(offsets, Buffer::from_vec(self.values), None)?;
        Ok(Arc::new(array))
    }
}

/// A dictionary-encoded text field.
pub fn dictionary_field(name: &str, key: DataType, nullable: bool) -> Field {
    Field::new(
        name,
        DataType::Dictionary(Box::new(key), Box::new(DataType::Utf8)),
        nullable,
    )
}

/// The metadata every table's schema carries.
pub fn schema_metadata(
    table: &str,
    dropped: Option<u64>,
    max_events: Option<usize>,
) -> HashMap<String, String> {
    let mut metadata = HashMap::from([
        (keys::TABLE.to_owned(), table.to_owned()),
        (keys::SCHEMA_VERSION.to_owned(), SCHEMA_VERSION.to_owned()),
    ]);
    if let Some(dropped) = dropped {
        metadata.insert(keys::DROPPED.to_owned(), dropped.to_string());
    }
    if let Some(max_events) = max_events {
        metadata.insert(keys::MAX_EVENTS.to_owned(), max_events.to_string());
    }
    metadata
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;

    #[test]
    fn columns_start_at_zero_and_skip_zero_writes() {
        let mut column = Column::<f64>::new(4).unwrap();
        column.set(1, -0.0);
        column.set(2, 2.5);
        let values = column.finish();
        assert_eq!(values[0].to_bits(), 0);
        assert_eq!(values[1].to_bits(), (-0.0f64).to_bits());
        assert_eq!(&values[2..], &[2.5, 0.0]);
        assert!(zeroed::<i64>(0).unwrap().is_empty());
    }

    #[test]
    fn validity_is_dropped_when_nothing_is_null() {
        let mut validity = Validity::new(9).unwrap();
        validity.set(0);
        validity.set(8);
        let nulls = validity.finish().unwrap();
        assert_eq!(nulls.null_count(), 7);
        assert!(nulls.is_valid(8) && nulls.is_null(7));
        let mut all = Validity::new(3).unwrap();
        (0..3).for_each(|row| all.set(row));
        assert!(all.finish().is_none());
    }

    #[test]
    fn dictionary_texts_are_utf8_and_distinct() {
        let mut dictionary = TextDictionary::new("node_name");
        assert_eq!(dictionary.add(b"a").unwrap(), 0);
        assert_eq!(dictionary.add("\u{FFFD}".as_bytes()).unwrap(), 1);
        // Lone surrogates (ED A0 80 is U+D800) become U+FFFD: the same text.
        assert_eq!(dictionary.add(b"\xED\xA0\x80").unwrap(), 1);
        assert_eq!(dictionary.add(b"\xED\xBF\xBF").unwrap(), 1);
        assert_eq!(dictionary.add(b"b\x00").unwrap(), 2);
        let array = dictionary.finish().unwrap();
        let strings = array.as_any().downcast_ref::<StringArray>().unwrap();
        let texts: Vec<&str> = strings.iter().map(Option::unwrap).collect();
        assert_eq!(texts, ["a", "\u{FFFD}", "b\0"]);
    }
}
