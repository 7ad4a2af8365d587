//! The walk over an event's metadata, deciding what each Python object is as
//! `json` would (`JsonPayloadWriter`), and the errors it raises: `TypeError` for
//! unserializable values or keys, `ValueError` for cycles, `RecursionError` for
//! nesting past the recursion limit.

use pyo3::exceptions::{PyRecursionError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use super::emit::{write_float, Emit, Key};
use crate::errors::type_name;
use crate::json_text::number::{write_i64, write_u64};
use crate::registry::Registry;
use crate::strings::str_bytes;

/// Nesting deeper than this raises `RecursionError` whatever Python's limit, so a
/// raised limit cannot overflow the native stack.
const MAX_DEPTH: usize = 2_000;

/// An int as the walk found it.
enum IntValue<'py> {
    Small(i64),
    Unsigned(u64),
    /// `int.__repr__` of it.
    Big(Bound<'py, PyAny>),
}

/// Walks metadata for the JSON and Perfetto exports (with the GIL held).
pub(crate) struct JsonPayloadWriter<'py> {
    pub(super) py: Python<'py>,
    int_repr: Bound<'py, PyAny>,
    /// Containers being written (for "Circular reference detected").
    open: Vec<*mut ffi::PyObject>,
    /// A non-str key's JSON spelling.
    key_text: Vec<u8>,
}

impl<'py> JsonPayloadWriter<'py> {
    pub fn new(py: Python<'py>) -> PyResult<Self> {
        let int_repr = Registry::get(py)?.int_repr.bind(py).clone();
        Ok(JsonPayloadWriter {
            py,
            int_repr,
            open: Vec::new(),
            key_text: Vec::new(),
        })
    }

    fn write_value<E: Emit>(&mut self, value: &Bound<'py, PyAny>, emit: &mut E) -> PyResult<()> {
        if value.is_instance_of::<PyString>() {
            emit.string(str_bytes(value)?.as_bytes())?;
        } else if value.is_none() {
            emit.null();
        } else if let Ok(flag) = value.cast::<PyBool>() {
            emit.boolean(flag.is_true());
        } else if value.is_instance_of::<PyInt>() {
            match self.int_value(value)? {
                IntValue::Small(number) => emit.int(number),
                IntValue::Unsigned(number) => emit.uint(number),
                IntValue::Big(text) => emit.big_int(str_bytes(&text)?.as_bytes()),
            }
        } else if let Ok(float) = value.cast::<PyFloat>() {
            emit.float(float)?;
        } else if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
            self.write_sequence(value, emit)?;
        } else if let Ok(dict) = value.cast::<PyDict>() {
            self.write_dict(dict, emit)?;
        } else {
            return Err(not_serializable(value)?);
        }
        Ok(())
    }

    fn int_value(&self, value: &Bound<'py, PyAny>) -> PyResult<IntValue<'py>> {
        let mut overflow = 0;
        // SAFETY: `value` is an int; the GIL is held.
        let small = unsafe { ffi::PyLong_AsLongLongAndOverflow(value.as_ptr(), &mut overflow) };
        if overflow == 0 && !(small == -1 && PyErr::occurred(self.py)) {
            return Ok(IntValue::Small(small));
        }
        let _ = PyErr::take(self.py);
        if overflow > 0 {
            // SAFETY: as above.
            let unsigned = unsafe { ffi::PyLong_AsUnsignedLongLong(value.as_ptr()) };
            if !(unsigned == u64::MAX && PyErr::occurred(self.py)) {
                return Ok(IntValue::Unsigned(unsigned));
            }
            let _ = PyErr::take(self.py);
        }
        // What json does for every int: int.__repr__ (which also enforces Python's
        // limit on digits, raising the same ValueError).
        Ok(IntValue::Big(self.int_repr.call1((value,))?))
    }

    /// An int as `json` writes it.
    pub(super) fn write_int(&self, value: &Bound<'py, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
        match self.int_value(value)? {
            IntValue::Small(number) => write_i64(out, number),
            IntValue::Unsigned(number) => write_u64(out, number),
            IntValue::Big(text) => out.extend_from_slice(str_bytes(&text)?.as_bytes()),
        }
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

    fn write_sequence<E: Emit>(
        &mut self,
        sequence: &Bound<'py, PyAny>,
        emit: &mut E,
    ) -> PyResult<()> {
        if is_empty(sequence)? {
            emit.empty(false);
            return Ok(());
        }
        self.enter(sequence)?;
        emit.open(false);
        let result = self.write_items(sequence, emit);
        self.leave();
        result?;
        emit.close(false);
        Ok(())
    }

    fn write_items<E: Emit>(&mut self, sequence: &Bound<'py, PyAny>, emit: &mut E) -> PyResult<()> {
        if !sequence.is_exact_instance_of::<PyList>() && !sequence.is_exact_instance_of::<PyTuple>()
        {
            // A subclass may override __iter__, which json honours.
            for (position, item) in sequence.try_iter()?.enumerate() {
                emit.item(position);
                self.write_value(&item?, emit)?;
                emit.end_item();
            }
            return Ok(());
        }
        // Index each time rather than iterate: a list cannot change under us while
        // the GIL is held, and this never holds a borrowed pointer across a call.
        let mut position = 0;
        while position < sequence.len()? {
            emit.item(position);
            let item = sequence.get_item(position)?;
            self.write_value(&item, emit)?;
            emit.end_item();
            position += 1;
        }
        Ok(())
    }

    pub(super) fn write_dict<E: Emit>(
        &mut self,
        dict: &Bound<'py, PyDict>,
        emit: &mut E,
    ) -> PyResult<()> {
        if is_empty(dict.as_any())? {
            emit.empty(true);
            return Ok(());
        }
        self.write_dict_entries(dict, emit)
    }

    /// A dict with its entries, whatever its truth says: an event's metadata,
    /// which is written when it has items (nested dicts follow json's test).
    pub(super) fn write_dict_entries<E: Emit>(
        &mut self,
        dict: &Bound<'py, PyDict>,
        emit: &mut E,
    ) -> PyResult<()> {
        self.enter(dict.as_any())?;
        emit.open(true);
        let result = self.write_entries(dict, emit);
        self.leave();
        result?;
        emit.close(true);
        Ok(())
    }

    fn write_entries<E: Emit>(&mut self, dict: &Bound<'py, PyDict>, emit: &mut E) -> PyResult<()> {
        if !dict.is_exact_instance_of::<PyDict>() {
            // A subclass may override items(), which json calls.
            let items = dict.call_method0("items")?;
            for (position, item) in items.try_iter()?.enumerate() {
                let (key, value) = unpack_pair(&item?)?;
                self.write_key(position, &key, emit)?;
                self.write_value(&value, emit)?;
                emit.end_item();
            }
            return Ok(());
        }
        // json walks `dct.items()`; its iterator's checks are repeated here: the
        // size before each step, and no more entries than the size it started with.
        let size = dict.len();
        let mut unseen = size;
        let mut position: ffi::Py_ssize_t = 0;
        let mut written = 0;
        loop {
            if dict.len() != size {
                return Err(PyRuntimeError::new_err(
                    "dictionary changed size during iteration",
                ));
            }
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
            if unseen == 0 {
                return Err(PyRuntimeError::new_err(
                    "dictionary keys changed during iteration",
                ));
            }
            unseen -= 1;
            // SAFETY: PyDict_Next returned borrowed references to live objects.
            let (key, value) = unsafe {
                (
                    Bound::from_borrowed_ptr(self.py, key_ptr),
                    Bound::from_borrowed_ptr(self.py, value_ptr),
                )
            };
            self.write_key(written, &key, emit)?;
            written += 1;
            self.write_value(&value, emit)?;
            emit.end_item();
        }
        Ok(())
    }

    /// Keys as `json` coerces them: str as is; float, bool, None and int as their
    /// JSON spelling.
    fn write_key<E: Emit>(
        &mut self,
        position: usize,
        key: &Bound<'py, PyAny>,
        emit: &mut E,
    ) -> PyResult<()> {
        if key.is_instance_of::<PyString>() {
            return emit.key(position, Key::Str(str_bytes(key)?.as_bytes()));
        }
        let mut text = std::mem::take(&mut self.key_text);
        text.clear();
        let spelled = if let Ok(float) = key.cast::<PyFloat>() {
            write_float(float, &mut text)
        } else if let Ok(flag) = key.cast::<PyBool>() {
            text.extend_from_slice(if flag.is_true() { b"true" } else { b"false" });
            Ok(())
        } else if key.is_none() {
            text.extend_from_slice(b"null");
            Ok(())
        } else if key.is_instance_of::<PyInt>() {
            self.write_int(key, &mut text)
        } else {
            Err(PyTypeError::new_err(format!(
                "keys must be str, int, float, bool or None, not {}",
                class_name(key)?
            )))
        };
        let result = spelled.and_then(|()| emit.key(position, Key::Coerced(&text)));
        self.key_text = text;
        result
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

/// `key, value = item`, with Python's errors for an item that is not a pair.
fn unpack_pair<'py>(item: &Bound<'py, PyAny>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let count_error = |got: usize| match got {
        0 | 1 => PyValueError::new_err(format!(
            "not enough values to unpack (expected 2, got {got})"
        )),
        _ => PyValueError::new_err("too many values to unpack (expected 2)"),
    };
    if item.is_exact_instance_of::<PyTuple>() || item.is_exact_instance_of::<PyList>() {
        let len = item.len()?;
        if len != 2 {
            return Err(count_error(len));
        }
        return Ok((item.get_item(0)?, item.get_item(1)?));
    }
    let not_iterable = |error: PyErr| -> PyResult<PyErr> {
        let kind = item.get_type();
        Ok(
            if error.is_instance_of::<PyTypeError>(item.py())
                && !kind.hasattr("__iter__")?
                && !kind.hasattr("__getitem__")?
            {
                PyTypeError::new_err(format!(
                    "cannot unpack non-iterable {} object",
                    type_name(item)
                ))
            } else {
                error
            },
        )
    };
    let mut values = match item.try_iter() {
        Ok(values) => values,
        Err(error) => return Err(not_iterable(error)?),
    };
    let key = values.next().ok_or_else(|| count_error(0))??;
    let value = values.next().ok_or_else(|| count_error(1))??;
    if values.next().transpose()?.is_some() {
        return Err(count_error(3));
    }
    Ok((key, value))
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
