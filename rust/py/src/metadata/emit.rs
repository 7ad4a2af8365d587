//! How a metadata walk spells what it finds: the `Emit` trait, and its two
//! emitters, JSON text as `json.dumps(..., indent=2)` writes it (`JsonText`) and
//! Perfetto debug annotation values (`AnnotationValue`).

use pyo3::prelude::*;
use pyo3::pyclass::CompareOp;
use pyo3::types::PyFloat;

use crate::export::perfetto::value;
use crate::export::perfetto::wire::Writer;
use crate::json_text::escape::write_json_string;
use crate::json_text::newline_indent;
use crate::json_text::number::{write_f64, write_i64, write_u64};

/// What a walk over metadata produces: JSON text ([`JsonText`]) or Perfetto debug
/// annotation values ([`AnnotationValue`]). The walk decides what each Python
/// object is, as `json` would; an emitter only spells it.
pub(crate) trait Emit {
    /// A `str` (generalized UTF-8).
    fn string(&mut self, text: &[u8]) -> PyResult<()>;
    fn null(&mut self);
    fn boolean(&mut self, value: bool);
    fn int(&mut self, value: i64);
    fn uint(&mut self, value: u64);
    /// An int beyond 64 bits, as `int.__repr__` spells it.
    fn big_int(&mut self, decimal: &[u8]);
    fn float(&mut self, value: &Bound<'_, PyFloat>) -> PyResult<()>;
    /// An empty dict (or list).
    fn empty(&mut self, dict: bool);
    fn open(&mut self, dict: bool);
    /// Before each list item; [`Emit::end_item`] after it.
    fn item(&mut self, position: usize);
    /// Before each dict value, with its key; [`Emit::end_item`] after it.
    fn key(&mut self, position: usize, key: Key<'_>) -> PyResult<()>;
    fn end_item(&mut self);
    fn close(&mut self, dict: bool);
}

/// A dict key: a `str`, or the JSON spelling of a float, bool, None or int key.
pub(crate) enum Key<'a> {
    Str(&'a [u8]),
    Coerced(&'a [u8]),
}

/// Metadata as `json.dumps(..., indent=2)` writes it, at a given indent level.
pub(crate) struct JsonText<'a> {
    pub out: &'a mut Vec<u8>,
    pub level: usize,
}

impl Emit for JsonText<'_> {
    fn string(&mut self, text: &[u8]) -> PyResult<()> {
        write_json_string(self.out, text).map_err(crate::errors::alloc_error)
    }
    fn null(&mut self) {
        self.out.extend_from_slice(b"null");
    }
    fn boolean(&mut self, value: bool) {
        self.out
            .extend_from_slice(if value { b"true" } else { b"false" });
    }
    fn int(&mut self, value: i64) {
        write_i64(self.out, value);
    }
    fn uint(&mut self, value: u64) {
        write_u64(self.out, value);
    }
    fn big_int(&mut self, decimal: &[u8]) {
        self.out.extend_from_slice(decimal);
    }
    fn float(&mut self, value: &Bound<'_, PyFloat>) -> PyResult<()> {
        write_float(value, self.out)
    }
    fn empty(&mut self, dict: bool) {
        self.out.extend_from_slice(if dict { b"{}" } else { b"[]" });
    }
    fn open(&mut self, dict: bool) {
        self.out.push(if dict { b'{' } else { b'[' });
        self.level += 1;
    }
    fn item(&mut self, position: usize) {
        if position > 0 {
            self.out.push(b',');
        }
        newline_indent(self.out, self.level);
    }
    fn key(&mut self, position: usize, key: Key<'_>) -> PyResult<()> {
        self.item(position);
        match key {
            Key::Str(text) => {
                write_json_string(self.out, text).map_err(crate::errors::alloc_error)?
            }
            Key::Coerced(text) => {
                self.out.push(b'"');
                self.out.extend_from_slice(text);
                self.out.push(b'"');
            }
        }
        self.out.extend_from_slice(b": ");
        Ok(())
    }
    fn end_item(&mut self) {}
    fn close(&mut self, dict: bool) {
        self.level -= 1;
        newline_indent(self.out, self.level);
        self.out.push(if dict { b'}' } else { b']' });
    }
}

/// Metadata as a Perfetto debug annotation value: dicts as `dict_entries`, lists
/// as `array_values`, and what those cannot hold as `perfetto::value` says.
pub(crate) struct AnnotationValue<'a> {
    pub writer: &'a mut Writer,
}

impl Emit for AnnotationValue<'_> {
    fn string(&mut self, text: &[u8]) -> PyResult<()> {
        value::string(self.writer, text);
        Ok(())
    }
    fn null(&mut self) {
        value::null(self.writer);
    }
    fn boolean(&mut self, flag: bool) {
        value::boolean(self.writer, flag);
    }
    fn int(&mut self, number: i64) {
        value::int(self.writer, number);
    }
    fn uint(&mut self, number: u64) {
        value::uint(self.writer, number);
    }
    fn big_int(&mut self, decimal: &[u8]) {
        value::big_int(self.writer, decimal);
    }
    fn float(&mut self, number: &Bound<'_, PyFloat>) -> PyResult<()> {
        value::double(self.writer, number.value());
        Ok(())
    }
    fn empty(&mut self, dict: bool) {
        value::empty(self.writer, dict);
    }
    fn open(&mut self, _dict: bool) {}
    fn item(&mut self, _position: usize) {
        value::begin_item(self.writer);
    }
    fn key(&mut self, _position: usize, key: Key<'_>) -> PyResult<()> {
        let (Key::Str(text) | Key::Coerced(text)) = key;
        value::begin_entry(self.writer, text);
        Ok(())
    }
    fn end_item(&mut self) {
        value::end(self.writer);
    }
    fn close(&mut self, _dict: bool) {}
}

/// A float as json writes it. A subclass goes through json's own tests
/// (`o != o`, `o == inf`, `o == -inf`), which may run its comparison methods.
pub(super) fn write_float(float: &Bound<'_, PyFloat>, out: &mut Vec<u8>) -> PyResult<()> {
    if float.is_exact_instance_of::<PyFloat>() {
        write_f64(out, float.value());
        return Ok(());
    }
    let compare = |other: &Bound<'_, PyAny>, op: CompareOp| -> PyResult<bool> {
        float.as_any().rich_compare(other, op)?.is_truthy()
    };
    let py = float.py();
    let text: &[u8] = if compare(float.as_any(), CompareOp::Ne)? {
        b"NaN"
    } else if compare(PyFloat::new(py, f64::INFINITY).as_any(), CompareOp::Eq)? {
        b"Infinity"
    } else if compare(PyFloat::new(py, f64::NEG_INFINITY).as_any(), CompareOp::Eq)? {
        b"-Infinity"
    } else {
        write_f64(out, float.value());
        return Ok(());
    };
    out.extend_from_slice(text);
    Ok(())
}
