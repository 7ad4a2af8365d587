//! The text a journaled event carries for the journal writer, made at record time:
//! its metadata as `to_json` writes it, and an oversized step index as
//! two's-complement bytes (no decimal conversion, so no digit limit: a journaled
//! trace takes every int a plain one takes).

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
        Some(step) => {
            let step = step.bind(py);
            let bits: usize = step.call_method0("bit_length")?.extract()?;
            let kwargs = pyo3::types::PyDict::new(py);
            kwargs.set_item("signed", true)?;
            let bytes = step.call_method("to_bytes", (bits / 8 + 1, "little"), Some(&kwargs))?;
            Some(
                bytes
                    .cast::<pyo3::types::PyBytes>()?
                    .as_bytes()
                    .to_vec()
                    .into_boxed_slice(),
            )
        }
        None => None,
    };
    Ok(Box::new(JournalText { metadata, big_step }))
}
