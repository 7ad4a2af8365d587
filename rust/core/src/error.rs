//! The core's errors, crate-wide: the allocation error of the buffers, writers and
//! string tables, the string table's own, and the trace's. Depends on nothing; the
//! bindings turn these into Python exceptions.

/// An allocation failed (a buffer bucket, a reserved output, a copied string).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocError;

/// Interning a string failed.
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

/// Errors the trace reports; the bindings turn them into Python exceptions.
#[derive(Debug, Clone, PartialEq)]
pub enum TraceError {
    /// An allocation failed; nothing was recorded.
    Alloc,
    /// More distinct strings than ids.
    TooManyStrings,
    /// A saved state that cannot be restored, with the reason.
    InvalidState(String),
}

impl From<AllocError> for TraceError {
    fn from(_: AllocError) -> Self {
        TraceError::Alloc
    }
}

impl From<InternError> for TraceError {
    fn from(error: InternError) -> Self {
        match error {
            InternError::Alloc => TraceError::Alloc,
            InternError::Full => TraceError::TooManyStrings,
        }
    }
}
