//! What loading a trace file shares between its two formats (journals in `journal`,
//! JSON exports in `load_json`): the fresh trace of the requested class the events
//! are restored into, and the checkpoint every `CHECKPOINT_EVERY` events (Ctrl-C,
//! progress). The events go from the decoded file straight to the core's `restore`,
//! with no pickle state in between.

use pyo3::prelude::*;
use pyo3::types::PyType;

use super::recorder::TraceRecorder;
use crate::export::CHECKPOINT_EVERY;

/// A fresh trace of `cls` (a `TraceRecorder` subclass): `cls.__new__(cls)`, as a
/// pickled trace is made, with no `__init__` call.
pub(crate) fn fresh_trace<'py>(cls: &Bound<'py, PyType>) -> PyResult<Bound<'py, TraceRecorder>> {
    let trace = cls.call_method1(pyo3::intern!(cls.py(), "__new__"), (cls,))?;
    Ok(trace.cast_into::<TraceRecorder>()?)
}

/// The caller's `progress(done, total)`, if any, told every `CHECKPOINT_EVERY`
/// events and at the end; each checkpoint also lets Ctrl-C through.
pub(crate) struct Progress<'a, 'py> {
    pub callback: Option<&'a Bound<'py, PyAny>>,
    pub total: usize,
}

impl Progress<'_, '_> {
    /// Called before event `position` is converted.
    #[inline]
    pub(crate) fn checkpoint(&self, py: Python<'_>, position: usize) -> PyResult<()> {
        if position % CHECKPOINT_EVERY == 0 {
            py.check_signals()?;
            if let Some(callback) = self.callback {
                callback.call1((position, self.total))?;
            }
        }
        Ok(())
    }

    /// Called once every event is converted.
    pub(crate) fn done(&self) -> PyResult<()> {
        if let Some(callback) = self.callback {
            callback.call1((self.total, self.total))?;
        }
        Ok(())
    }
}
