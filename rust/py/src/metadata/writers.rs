//! The export's payload writers over `PyExtra`: `JsonPayloadWriter` (metadata
//! and big step indices, walked with the GIL held) and `ChromePayloadWriter`
//! (which writes neither, and runs without the GIL).

use pyo3::prelude::*;

use super::emit::{AnnotationValue, JsonText};
use super::walk::JsonPayloadWriter;
use crate::errors::PyFailure;
use crate::export::perfetto::wire::Writer;
use crate::export::PayloadWriter;
use crate::payload::PyExtra;

/// What the writers return (see `PyFailure`).
type Written<T> = Result<T, PyFailure>;

impl<'py> PayloadWriter<PyExtra> for JsonPayloadWriter<'py> {
    type Error = PyFailure;

    fn write_big_step(&mut self, object: &PyExtra, out: &mut Vec<u8>) -> Written<()> {
        match &object.big_step {
            Some(step) => Ok(self.write_int(step.bind(self.py), out)?),
            None => Ok(()),
        }
    }

    /// The contract's rule, "non-empty": by its length, whatever a subclass's
    /// `__bool__` says (nested containers follow json's own truth test).
    fn has_metadata(&mut self, object: &PyExtra) -> Written<bool> {
        match &object.metadata {
            Some(dict) => Ok(dict.bind(self.py).as_any().len()? > 0),
            None => Ok(false),
        }
    }

    fn write_metadata(&mut self, object: &PyExtra, out: &mut Vec<u8>) -> Written<()> {
        match &object.metadata {
            Some(dict) => {
                Ok(self.write_dict_entries(dict.bind(self.py), &mut JsonText { out, level: 2 })?)
            }
            None => Ok(()),
        }
    }

    fn write_metadata_annotation(&mut self, object: &PyExtra, writer: &mut Writer) -> Written<()> {
        match &object.metadata {
            Some(dict) => {
                Ok(self.write_dict_entries(dict.bind(self.py), &mut AnnotationValue { writer })?)
            }
            None => Ok(()),
        }
    }

    fn checkpoint(&mut self) -> Written<()> {
        Ok(self.py.check_signals()?)
    }
}

/// For the Chrome export, which writes no metadata and runs without the GIL.
pub(crate) struct ChromePayloadWriter;

impl PayloadWriter<PyExtra> for ChromePayloadWriter {
    type Error = PyFailure;

    fn write_big_step(&mut self, _: &PyExtra, _: &mut Vec<u8>) -> Written<()> {
        Ok(())
    }

    fn has_metadata(&mut self, _: &PyExtra) -> Written<bool> {
        Ok(false)
    }

    fn write_metadata(&mut self, _: &PyExtra, _: &mut Vec<u8>) -> Written<()> {
        Ok(())
    }

    fn checkpoint(&mut self) -> Written<()> {
        Ok(Python::attach(|py| py.check_signals())?)
    }
}
