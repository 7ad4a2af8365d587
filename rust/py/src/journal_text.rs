//! The text a journaled event carries for the journal writer, made at record time:
//! its metadata as `to_json` writes it, and an oversized step index as decimal.

use pyo3::prelude::*;

use super::metadata::JsonPayloadWriter;
use super::payload::{JournalText, PyExtra};
use crate::export::PayloadWriter;

/// The journal text for an event with this payload. Metadata is written as
/// `to_json` writes it, as it is now; metadata `json` cannot write is journaled as
/// `{}` (recording never fails for it, as without a journal).
pub(crate) fn journal_text(py: Python<'_>, extra: &PyExtra) -> PyResult<Box<JournalText>> {
    let metadata = match &extra.metadata {
        Some(_) => {
            let mut out = Vec::new();
            let mut writer = JsonPayloadWriter::new(py)?;
            match writer.write_metadata(extra, &mut out) {
                Ok(()) => Some(out.into_boxed_slice()),
                Err(error) if error.is_memory_error(py) => return Err(error.into()),
                Err(_) => Some(b"{}".to_vec().into_boxed_slice()),
            }
        }
        None => None,
    };
    let big_step = match &extra.big_step {
        Some(step) => Some(
            step.bind(py)
                .str()?
                .to_string()
                .into_bytes()
                .into_boxed_slice(),
        ),
        None => None,
    };
    Ok(Box::new(JournalText { metadata, big_step }))
}
