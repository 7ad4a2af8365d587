//! The Python types the core needs at run time, registered once by
//! `dagron.execution.tracing` on import: the `TraceEventType` members (to map
//! them to event kinds by identity) and the `TraceEvent` dataclass (to build events).

use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyString, PyTuple, PyType};

use crate::event::{EventKind, KIND_COUNT};

pub(crate) struct Registry {
    pub members: [Py<PyAny>; KIND_COUNT],
    member_ptrs: [usize; KIND_COUNT],
    /// `object.__new__` and the argument tuple `(TraceEvent,)`, to create instances
    /// without running the dataclass `__init__`.
    pub object_new: Py<PyAny>,
    pub new_args: Py<PyTuple>,

    /// The dataclass field names, in order.
    pub field_names: [Py<PyString>; 7],
    /// `int.__repr__`, which `json` uses for integers it cannot write natively.
    pub int_repr: Py<PyAny>,
}

static REGISTRY: PyOnceLock<Registry> = PyOnceLock::new();

pub(crate) const FIELD_NAMES: [&str; 7] = [
    "event_type",
    "timestamp",
    "node_name",
    "step_index",
    "duration",
    "error",
    "metadata",
];

impl Registry {
    #[inline]
    pub fn get(py: Python<'_>) -> PyResult<&Registry> {
        REGISTRY.get(py).ok_or_else(|| {
            PyRuntimeError::new_err(
                "dagron._core is used before dagron.execution.tracing was imported",
            )
        })
    }

    /// The kind of a `TraceEventType` member, by identity.
    #[inline]
    pub fn kind_of(&self, object: &Bound<'_, PyAny>) -> Option<EventKind> {
        let address = object.as_ptr() as usize;
        self.member_ptrs
            .iter()
            .position(|&p| p == address)
            .and_then(|i| EventKind::from_code(i as u8))
    }

    pub fn member(&self, kind: EventKind) -> &Py<PyAny> {
        &self.members[kind as usize]
    }
}

/// Register `TraceEventType` and `TraceEvent`; checks they are the documented ones.
#[pyfunction]
pub(crate) fn _register_types(
    py: Python<'_>,
    enum_type: &Bound<'_, PyType>,
    event_type: &Bound<'_, PyType>,
) -> PyResult<()> {
    let members: Vec<Bound<'_, PyAny>> = enum_type.try_iter()?.collect::<PyResult<_>>()?;
    if members.len() != KIND_COUNT {
        return Err(PyTypeError::new_err(format!(
            "TraceEventType must have {KIND_COUNT} members, found {}",
            members.len()
        )));
    }
    for (member, kind) in members.iter().zip(EventKind::ALL) {
        let value: String = member.getattr("value")?.extract()?;
        if value != kind.value() {
            return Err(PyTypeError::new_err(format!(
                "TraceEventType member {} has value {value:?}, expected {:?}",
                kind as u8,
                kind.value()
            )));
        }
    }
    let builtins = py.import("builtins")?;
    let object_new = builtins.getattr("object")?.getattr("__new__")?.unbind();
    let int_repr = builtins.getattr("int")?.getattr("__repr__")?.unbind();
    let field_names = FIELD_NAMES.map(|name| PyString::intern(py, name).unbind());
    let registry = Registry {
        new_args: PyTuple::new(py, [event_type])?.unbind(),

        member_ptrs: std::array::from_fn(|i| members[i].as_ptr() as usize),
        members: std::array::from_fn(|i| members[i].clone().unbind()),
        object_new,
        field_names,
        int_repr,
    };
    // A second import (e.g. a reload) keeps the first registration.
    let _ = REGISTRY.set(py, registry);
    Ok(())
}
