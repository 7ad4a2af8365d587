//! Metadata to JSON, exactly as `json.dumps(..., indent=2)` writes it, straight
//! from the Python objects into the output buffer; and the errors it raises
//! (`TypeError` for unserializable values or keys, `ValueError` for cycles,
//! `RecursionError` for nesting past the recursion limit).

use pyo3::exceptions::{PyRecursionError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::pyclass::CompareOp;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use super::registry::Registry;
use super::strings::str_bytes;
use crate::export::escape::write_json_string;
use crate::export::number::{write_f64, write_i64};
use crate::export::{newline_indent, Objects};

/// The Python-owned part of an event: its metadata dict (kept by reference) and a
/// step index too large for `i64`.
pub(crate) struct PyExtra {
    pub metadata: Option<Py<PyDict>>,
    pub big_step: Option<Py<PyAny>>,
    /// Their text for the journal writer (journaled traces only).
    pub journal: Option<Box<super::journal::JournalText>>,
}

/// Nesting deeper than this raises `RecursionError` whatever Python's limit, so a
/// raised limit cannot overflow the native stack.
const MAX_DEPTH: usize = 2_000;

/// Writes metadata for the JSON export.
pub(crate) struct JsonObjects<'py> {
    py: Python<'py>,
    int_repr: Bound<'py, PyAny>,
    /// Containers being written (for "Circular reference detected").
    open: Vec<*mut ffi::PyObject>,
}

impl<'py> JsonObjects<'py> {
    pub fn new(py: Python<'py>) -> PyResult<Self> {
        let int_repr = Registry::get(py)?.int_repr.bind(py).clone();
        Ok(JsonObjects {
            py,
            int_repr,
            open: Vec::new(),
        })
    }

    fn write_value(
        &mut self,
        value: &Bound<'py, PyAny>,
        out: &mut Vec<u8>,
        level: usize,
    ) -> PyResult<()> {
        if value.is_instance_of::<PyString>() {
            write_json_string(out, str_bytes(value)?.as_bytes())?;
        } else if value.is_none() {
            out.extend_from_slice(b"null");
        } else if let Ok(flag) = value.cast::<PyBool>() {
            out.extend_from_slice(if flag.is_true() { b"true" } else { b"false" });
        } else if value.is_instance_of::<PyInt>() {
            self.write_int(value, out)?;
        } else if let Ok(float) = value.cast::<PyFloat>() {
            write_float(float, out)?;
        } else if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
            self.write_sequence(value, out, level)?;
        } else if let Ok(dict) = value.cast::<PyDict>() {
            self.write_dict(dict, out, level)?;
        } else {
            return Err(not_serializable(value)?);
        }
        Ok(())
    }

    fn write_int(&self, value: &Bound<'py, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
        let mut overflow = 0;
        // SAFETY: `value` is an int; the GIL is held.
        let small = unsafe { ffi::PyLong_AsLongLongAndOverflow(value.as_ptr(), &mut overflow) };
        if overflow == 0 && !(small == -1 && PyErr::occurred(self.py)) {
            write_i64(out, small);
            return Ok(());
        }
        let _ = PyErr::take(self.py);
        // What json does for every int: int.__repr__ (which also enforces Python's
        // limit on digits, raising the same ValueError).
        let text = self.int_repr.call1((value,))?;
        out.extend_from_slice(str_bytes(&text)?.as_bytes());
        Ok(())
    }

    fn enter(&mut self, container: &Bound<'py, PyAny>) -> PyResult<()> {
        let address = container.as_ptr();
        if self.open.contains(&address) {
            return Err(PyValueError::new_err("Circular reference detected"));
        }
        if self.open.len() >= MAX_DEPTH {
            return Err(PyRecursionError::new_err(
                "maximum recursion depth exceeded while calling a Python object",
            ));
        }
        // SAFETY: the message is a NUL-terminated literal; paired with `leave`.
        if unsafe { ffi::Py_EnterRecursiveCall(c" while calling a Python object".as_ptr()) } != 0 {
            return Err(PyErr::fetch(self.py));
        }
        self.open.push(address);
        Ok(())
    }

    fn leave(&mut self) {
        self.open.pop();
        // SAFETY: pairs with the successful Py_EnterRecursiveCall in `enter`.
        unsafe { ffi::Py_LeaveRecursiveCall() };
    }

    fn write_sequence(
        &mut self,
        sequence: &Bound<'py, PyAny>,
        out: &mut Vec<u8>,
        level: usize,
    ) -> PyResult<()> {
        if is_empty(sequence)? {
            out.extend_from_slice(b"[]");
            return Ok(());
        }
        self.enter(sequence)?;
        let result = self.write_items(sequence, out, level + 1);
        self.leave();
        result?;
        newline_indent(out, level);
        out.push(b']');
        Ok(())
    }

    fn write_items(
        &mut self,
        sequence: &Bound<'py, PyAny>,
        out: &mut Vec<u8>,
        level: usize,
    ) -> PyResult<()> {
        out.push(b'[');
        if !sequence.is_exact_instance_of::<PyList>() && !sequence.is_exact_instance_of::<PyTuple>()
        {
            // A subclass may override __iter__, which json honours.
            for (position, item) in sequence.try_iter()?.enumerate() {
                if position > 0 {
                    out.push(b',');
                }
                newline_indent(out, level);
                self.write_value(&item?, out, level)?;
            }
            return Ok(());
        }
        // Index each time rather than iterate: a list cannot change under us while
        // the GIL is held, and this never holds a borrowed pointer across a call.
        let mut position = 0;
        while position < sequence.len()? {
            if position > 0 {
                out.push(b',');
            }
            newline_indent(out, level);
            let item = sequence.get_item(position)?;
            self.write_value(&item, out, level)?;
            position += 1;
        }
        Ok(())
    }

    fn write_dict(
        &mut self,
        dict: &Bound<'py, PyDict>,
        out: &mut Vec<u8>,
        level: usize,
    ) -> PyResult<()> {
        if is_empty(dict.as_any())? {
            out.extend_from_slice(b"{}");
            return Ok(());
        }
        self.enter(dict.as_any())?;
        let result = self.write_entries(dict, out, level + 1);
        self.leave();
        result?;
        newline_indent(out, level);
        out.push(b'}');
        Ok(())
    }

    fn write_entries(
        &mut self,
        dict: &Bound<'py, PyDict>,
        out: &mut Vec<u8>,
        level: usize,
    ) -> PyResult<()> {
        out.push(b'{');
        if !dict.is_exact_instance_of::<PyDict>() {
            // A subclass may override items(), which json calls.
            let items = dict.call_method0("items")?;
            for (position, item) in items.try_iter()?.enumerate() {
                let (key, value): (Bound<'py, PyAny>, Bound<'py, PyAny>) = item?.extract()?;
                if position > 0 {
                    out.push(b',');
                }
                newline_indent(out, level);
                self.write_key(&key, out)?;
                out.extend_from_slice(b": ");
                self.write_value(&value, out, level)?;
            }
            return Ok(());
        }
        let size = dict.len();
        let mut position: ffi::Py_ssize_t = 0;
        let mut first = true;
        loop {
            let mut key_ptr = std::ptr::null_mut();
            let mut value_ptr = std::ptr::null_mut();
            // SAFETY: `dict` is a dict, the GIL is held; the borrowed pointers are
            // turned into owned references before anything else can run.
            let more = unsafe {
                ffi::PyDict_Next(dict.as_ptr(), &mut position, &mut key_ptr, &mut value_ptr)
            };
            if more == 0 {
                break;
            }
            // SAFETY: PyDict_Next returned borrowed references to live objects.
            let (key, value) = unsafe {
                (
                    Bound::from_borrowed_ptr(self.py, key_ptr),
                    Bound::from_borrowed_ptr(self.py, value_ptr),
                )
            };
            if !first {
                out.push(b',');
            }
            first = false;
            newline_indent(out, level);
            self.write_key(&key, out)?;
            out.extend_from_slice(b": ");
            self.write_value(&value, out, level)?;
            if dict.len() != size {
                return Err(PyRuntimeError::new_err(
                    "dictionary changed size during iteration",
                ));
            }
        }
        Ok(())
    }

    /// Keys as `json` coerces them: str as is; float, bool, None and int as their
    /// JSON spelling, quoted.
    fn write_key(&self, key: &Bound<'py, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
        if key.is_instance_of::<PyString>() {
            write_json_string(out, str_bytes(key)?.as_bytes())?;
            return Ok(());
        }
        out.push(b'"');
        if let Ok(float) = key.cast::<PyFloat>() {
            write_float(float, out)?;
        } else if let Ok(flag) = key.cast::<PyBool>() {
            out.extend_from_slice(if flag.is_true() { b"true" } else { b"false" });
        } else if key.is_none() {
            out.extend_from_slice(b"null");
        } else if key.is_instance_of::<PyInt>() {
            self.write_int(key, out)?;
        } else {
            out.pop();
            return Err(PyTypeError::new_err(format!(
                "keys must be str, int, float, bool or None, not {}",
                class_name(key)?
            )));
        }
        out.push(b'"');
        Ok(())
    }
}

impl<'py> Objects<PyExtra> for JsonObjects<'py> {
    type Error = PyErr;

    fn write_big_step(&mut self, object: &PyExtra, out: &mut Vec<u8>) -> PyResult<()> {
        match &object.big_step {
            Some(step) => self.write_int(step.bind(self.py), out),
            None => Ok(()),
        }
    }

    fn has_metadata(&mut self, object: &PyExtra) -> PyResult<bool> {
        match &object.metadata {
            Some(dict) => Ok(!is_empty(dict.bind(self.py).as_any())?),
            None => Ok(false),
        }
    }

    fn write_metadata(&mut self, object: &PyExtra, out: &mut Vec<u8>) -> PyResult<()> {
        match &object.metadata {
            Some(dict) => self.write_dict(dict.bind(self.py), out, 2),
            None => Ok(()),
        }
    }

    fn checkpoint(&mut self) -> PyResult<()> {
        self.py.check_signals()
    }
}

/// For the Chrome export, which writes no metadata and runs without the GIL.
pub(crate) struct ChromeObjects;

impl Objects<PyExtra> for ChromeObjects {
    type Error = PyErr;

    fn write_big_step(&mut self, _: &PyExtra, _: &mut Vec<u8>) -> PyResult<()> {
        Ok(())
    }

    fn has_metadata(&mut self, _: &PyExtra) -> PyResult<bool> {
        Ok(false)
    }

    fn write_metadata(&mut self, _: &PyExtra, _: &mut Vec<u8>) -> PyResult<()> {
        Ok(())
    }

    fn checkpoint(&mut self) -> PyResult<()> {
        Python::attach(|py| py.check_signals())
    }
}

/// `o.__class__.__name__`, as `json` names types in its errors (and its errors, if
/// looking it up fails).
fn class_name(object: &Bound<'_, PyAny>) -> PyResult<String> {
    object
        .getattr("__class__")?
        .getattr("__name__")?
        .str()?
        .extract()
}

#[cold]
fn not_serializable(value: &Bound<'_, PyAny>) -> PyResult<PyErr> {
    Ok(PyTypeError::new_err(format!(
        "Object of type {} is not JSON serializable",
        class_name(value)?
    )))
}

/// `not container`, as json tests it: the size for the built-in types, the
/// object's own truth for subclasses (which may define `__bool__` or `__len__`).
fn is_empty(container: &Bound<'_, PyAny>) -> PyResult<bool> {
    if container.is_exact_instance_of::<PyDict>()
        || container.is_exact_instance_of::<PyList>()
        || container.is_exact_instance_of::<PyTuple>()
    {
        return Ok(container.len()? == 0);
    }
    Ok(!container.is_truthy()?)
}

/// A float as json writes it. A subclass goes through json's own tests
/// (`o != o`, `o == inf`, `o == -inf`), which may run its comparison methods.
fn write_float(float: &Bound<'_, PyFloat>, out: &mut Vec<u8>) -> PyResult<()> {
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
