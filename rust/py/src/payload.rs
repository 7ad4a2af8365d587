//! The Python-owned part of an event (`PyExtra`): its metadata dict, a step index
//! too large for `i64`, and, in a journaled trace, their text for the journal
//! writer (`JournalText`, made at record time by `journal_text`).

use pyo3::prelude::*;
use pyo3::types::PyDict;

use dagron_core::journal::JournalPayload;

/// The Python-owned part of an event: its metadata dict (kept by reference) and a
/// step index too large for `i64`.
pub(crate) struct PyExtra {
    pub metadata: Option<Py<PyDict>>,
    pub big_step: Option<Py<PyAny>>,
    /// Their text for the journal writer (journaled traces only).
    pub journal: Option<Box<JournalText>>,
}

/// What a journaled event's payload carries for the writer, made at record time.
pub(crate) struct JournalText {
    pub metadata: Option<Box<[u8]>>,
    pub big_step: Option<Box<[u8]>>,
}

impl JournalPayload for PyExtra {
    fn journal_metadata(&self) -> Option<&[u8]> {
        self.journal
            .as_ref()
            .and_then(|text| text.metadata.as_deref())
    }

    fn journal_big_step(&self) -> Option<&[u8]> {
        self.journal
            .as_ref()
            .and_then(|text| text.big_step.as_deref())
    }
}
