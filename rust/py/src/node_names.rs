//! `NodeNames`: a DAG's node names as a string table shared by the traces of its
//! runs (see `intern::NameTable`). A trace made with `_node_names=` gives node `i`
//! the string id `i`, so an executor records a node by its index, with no lookup
//! and no interning while tasks run.

use std::sync::Arc;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};

use super::errors::type_name;
use super::new_objects::no_memory;
use super::strings::{exact_str, str_bytes};
use crate::intern::{NameTable, NameTableBuilder, NameTableError};

/// Distinct node names, in node-index order, interned once for every trace of a
/// DAG's runs. Internal to the executor.
#[pyclass(frozen, module = "dagron._core")]
pub struct NodeNames {
    pub(crate) table: Arc<NameTable<Py<PyString>>>,
}

#[pymethods]
impl NodeNames {
    /// `names`: a list of distinct `str`.
    #[new]
    fn new(names: &Bound<'_, PyList>) -> PyResult<Self> {
        let count = names.len();
        let mut builder = NameTableBuilder::with_capacity(count)
            .map_err(|error| table_error(names.py(), error, names.as_any()))?;
        for position in 0..count {
            let item = names.get_item(position)?;
            if !item.is_instance_of::<PyString>() {
                return Err(PyTypeError::new_err(format!(
                    "NodeNames() item {position} must be str, not {}",
                    type_name(&item)
                )));
            }
            let bytes = str_bytes(&item)?;
            let bytes = bytes.as_bytes();
            builder
                .push(bytes, exact_str(&item, bytes)?)
                .map_err(|error| table_error(names.py(), error, &item))?;
        }
        Ok(NodeNames {
            table: Arc::new(builder.finish()),
        })
    }

    fn __len__(&self) -> usize {
        self.table.len()
    }
}

/// The Python error for `error`; `item` is the name being added (for a repeat).
fn table_error(py: Python<'_>, error: NameTableError, item: &Bound<'_, PyAny>) -> PyErr {
    match error {
        NameTableError::Alloc => no_memory(py),
        NameTableError::Full => PyValueError::new_err("more than 2**32 node names"),
        NameTableError::Duplicate(position) => PyValueError::new_err(format!(
            "NodeNames() item {position} repeats an earlier name: {}",
            item.repr()
                .map_or_else(|_| "?".to_owned(), |r| r.to_string())
        )),
    }
}
