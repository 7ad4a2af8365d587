//! Instances of a plain Python class with `__slots__` (the profiling report's
//! `NodeProfile`), made by the million: allocated with the type's own allocator, as
//! `object.__new__` does, and their fields written straight into the slots, without
//! running `__init__` or looking up an attribute per field.
//!
//! Where each field's slot lies is found once per builder by a probe: an instance
//! whose fields are set (by `setattr`) to fresh marker objects, and then found again
//! in its memory. Where that does not find every field exactly once (a class whose
//! fields are not all slots), instances are built by `setattr` instead.

use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple, PyType};

pub(crate) struct SlottedBuilder<'py> {
    class: Bound<'py, PyType>,
    alloc: ffi::allocfunc,
    fields: Vec<Bound<'py, PyString>>,
    /// Each field's byte offset in an instance; None where fields are set by setattr.
    offsets: Option<Vec<usize>>,
}

impl<'py> SlottedBuilder<'py> {
    /// A builder of `class` instances with `fields` (attribute names). `class` must
    /// be a Python class that creates and sets attributes as `object` does: no
    /// `__new__` or `__setattr__` of its own, which building this way would skip.
    pub(crate) fn new(class: &Bound<'py, PyType>, fields: &Bound<'py, PyTuple>) -> PyResult<Self> {
        let py = class.py();
        let object = py.get_type::<PyAny>();
        // SAFETY: `class` is a live type object; reading its flags has no effect.
        let flags = unsafe { ffi::PyType_GetFlags(class.as_ptr().cast()) };
        let plain = flags & ffi::Py_TPFLAGS_HEAPTYPE != 0
            && class
                .getattr(intern!(py, "__new__"))?
                .is(object.getattr(intern!(py, "__new__"))?)
            && class
                .getattr(intern!(py, "__setattr__"))?
                .is(object.getattr(intern!(py, "__setattr__"))?);
        if !plain {
            return Err(PyTypeError::new_err(format!(
                "{} must be a Python class that uses object's __new__ and __setattr__",
                class.name()?
            )));
        }
        // SAFETY: a heap type (checked above): PyType_GetSlot is defined for it on
        // every supported CPython, and Py_tp_alloc names an allocfunc slot.
        let slot = unsafe { ffi::PyType_GetSlot(class.as_ptr().cast(), ffi::Py_tp_alloc) };
        if slot.is_null() {
            return Err(PyTypeError::new_err(format!(
                "{} has no allocator",
                class.name()?
            )));
        }
        // SAFETY: the Py_tp_alloc slot holds an allocfunc (non-null, checked).
        let alloc: ffi::allocfunc = unsafe { std::mem::transmute(slot) };
        let fields = fields
            .iter()
            .map(|field| Ok(field.cast_into::<PyString>()?))
            .collect::<PyResult<Vec<_>>>()?;
        let mut builder = SlottedBuilder {
            class: class.clone(),
            alloc,
            fields,
            offsets: None,
        };
        builder.offsets = builder.probe()?;
        Ok(builder)
    }

    /// A new instance with its first `values.len()` fields set to `values` (the
    /// others unset, as after `object.__new__`).
    pub(crate) fn build(&self, values: &[Bound<'py, PyAny>]) -> PyResult<Bound<'py, PyAny>> {
        let instance = self.allocate()?;
        for (field, value) in values.iter().enumerate() {
            self.set_unset(&instance, field, value)?;
        }
        Ok(instance)
    }

    /// Sets field `field` of `instance`, made by `build` with that field unset.
    pub(crate) fn set_unset(
        &self,
        instance: &Bound<'py, PyAny>,
        field: usize,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<()> {
        match &self.offsets {
            Some(offsets) => {
                // SAFETY: `offsets[field]` is where instances of this class keep the
                // field (found by the probe, inside `__basicsize__`, pointer-aligned);
                // the slot is unset (NULL, as the allocator zeroes it), so nothing is
                // overwritten, and it takes the new reference made here.
                unsafe {
                    let slot = instance
                        .as_ptr()
                        .cast::<u8>()
                        .add(offsets[field])
                        .cast::<*mut ffi::PyObject>();
                    *slot = value.clone().into_ptr();
                }
                Ok(())
            }
            None => instance.setattr(&self.fields[field], value),
        }
    }

    fn allocate(&self) -> PyResult<Bound<'py, PyAny>> {
        let py = self.class.py();
        // SAFETY: the type's own allocator, as object.__new__ calls it (0 extra
        // items); it returns a new reference or NULL with an exception set.
        unsafe { Bound::from_owned_ptr_or_err(py, (self.alloc)(self.class.as_ptr().cast(), 0)) }
    }

    /// Each field's byte offset, found by setting the fields of one instance to
    /// fresh markers and looking for them in its memory; None unless each marker is
    /// found exactly once.
    fn probe(&self) -> PyResult<Option<Vec<usize>>> {
        let py = self.class.py();
        let size: usize = self
            .class
            .getattr(intern!(py, "__basicsize__"))?
            .extract()?;
        let word = std::mem::size_of::<usize>();
        let instance = self.allocate()?;
        let object = py.get_type::<PyAny>();
        let markers = self
            .fields
            .iter()
            .map(|_| object.call0())
            .collect::<PyResult<Vec<_>>>()?;
        for (field, marker) in self.fields.iter().zip(&markers) {
            instance.setattr(field, marker)?;
        }
        let base = instance.as_ptr().cast::<u8>();
        let mut offsets = Vec::with_capacity(markers.len());
        for marker in &markers {
            let wanted = marker.as_ptr() as usize;
            let mut found = (std::mem::size_of::<ffi::PyObject>()..size)
                .step_by(word)
                .filter(|&offset| offset + word <= size)
                // SAFETY: `offset + word <= __basicsize__`: inside the instance,
                // which its allocator made at least that large; objects are
                // pointer-aligned and `offset` is a multiple of the word size.
                .filter(|&offset| unsafe { base.add(offset).cast::<usize>().read() } == wanted);
            match (found.next(), found.next()) {
                (Some(offset), None) => offsets.push(offset),
                _ => return Ok(None),
            }
        }
        Ok(Some(offsets))
    }
}
