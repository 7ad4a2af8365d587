//! `ExecutionTrace(...)`'s keywords: `max_events`, `journal` and the executor's
//! internal `_node_names`, checked and turned into a new [`TraceRecorder`], with
//! `object.__new__`'s rule for other arguments.

use std::sync::Arc;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple, PyType};

use super::arguments::check_max_events;
use super::errors::{bad_argument, trace_error};
use super::node_names::NodeNames;
use super::recorder::{PyStore, TraceRecorder};
use dagron_core::journal::Journal;

/// A new recorder from `__new__`'s arguments (see `TraceRecorder::__new__`).
pub(crate) fn new_recorder(
    cls: &Bound<'_, PyType>,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<TraceRecorder> {
    let mut max_events = None;
    let mut node_names = None;
    let mut journal_path: Option<std::path::PathBuf> = None;
    let mut extra = !args.is_empty();
    if let Some(kwargs) = kwargs {
        for (key, value) in kwargs.iter() {
            if key.eq("max_events")? {
                if !value.is_none() {
                    max_events = Some(check_max_events(&value)?);
                }
            } else if key.eq("journal")? {
                if !value.is_none() {
                    journal_path = Some(journal_path_of(&value)?);
                }
            } else if key.eq("_node_names")? {
                // Internal (the executor's): start from a DAG's shared names.
                if !value.is_none() {
                    let names = value.cast::<NodeNames>().map_err(|_| {
                        bad_argument("ExecutionTrace", "_node_names", "NodeNames or None", &value)
                    })?;
                    node_names = Some(Arc::clone(&names.get().table));
                }
            } else {
                extra = true;
            }
        }
    }
    if extra {
        let object_init = cls
            .py()
            .get_type::<pyo3::types::PyAny>()
            .getattr("__init__")?;
        if cls.getattr("__init__")?.is(&object_init) {
            return Err(PyTypeError::new_err(format!(
                "{}() takes no arguments except max_events",
                cls.name()?
            )));
        }
    }
    let node_names_given = node_names.is_some();
    let store = match (max_events, node_names) {
        (None, None) => PyStore::new(),
        (None, Some(names)) => PyStore::with_names(names).map_err(trace_error)?,
        (Some(capacity), None) => PyStore::bounded(capacity),
        (Some(_), Some(_)) => {
            return Err(PyTypeError::new_err(
                "ExecutionTrace() cannot combine max_events with _node_names",
            ))
        }
    };
    let journal = match journal_path {
        None => None,
        Some(_) if store.unbounded().is_none() || node_names_given => {
            return Err(PyValueError::new_err(
                "ExecutionTrace() cannot combine journal with max_events (a journal keeps \
                 every event) or _node_names",
            ))
        }
        // Without the GIL: opening a file can take long (a network file system).
        Some(path) => Some(Box::new(
            cls.py()
                .detach(|| Journal::create(&path))
                .map_err(|failure| super::journal_live::journal_error(&path, &failure))?,
        )),
    };
    Ok(TraceRecorder { journal, store })
}

/// A journal path from `str`, `bytes` or a path-like object.
fn journal_path_of(value: &Bound<'_, PyAny>) -> PyResult<std::path::PathBuf> {
    let os = value.py().import("os")?;
    os.call_method1("fspath", (value,))
        .and_then(|path| os.call_method1("fsdecode", (path,)))
        // Through the file system encoding, as open() does (see `output::path`).
        .and_then(|path| path.extract::<std::path::PathBuf>())
        .map_err(|_| bad_argument("ExecutionTrace", "journal", "a path or None", value))
}
