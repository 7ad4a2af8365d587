//! The run's frame on `RunState`: recording the frame's own events (the run's and
//! each step's start and end, nodes given up) and ending nodes with an error, for
//! `__exit__` and `time_out_overdue`.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use super::nodes::{Frame, RunState};
use crate::clock;
use crate::event::{EventKind, StepArg};
use crate::new_objects;

impl RunState {
    /// Record a frame event (no node) now, when traced.
    pub(super) fn record_frame(
        &self,
        py: Python<'_>,
        now_ns: u64,
        kind: EventKind,
        step: StepArg,
        duration: Option<f64>,
    ) -> PyResult<()> {
        match &self.trace {
            Some(trace) => trace
                .get()
                .record_for_run(py, now_ns, kind, None, step, duration, None, None),
            None => Ok(()),
        }
    }

    /// Record `NODE_SKIPPED` or `NODE_CANCELLED` for `node` now, with
    /// `metadata={"reason": reason}`, when traced.
    pub(super) fn record_given_up(
        &self,
        py: Python<'_>,
        kind: EventKind,
        node: usize,
        reason: &Bound<'_, PyString>,
    ) -> PyResult<()> {
        let Some(trace) = &self.trace else {
            return Ok(());
        };
        let metadata = new_objects::dict(py)?.cast_into::<PyDict>()?;
        metadata.set_item(pyo3::intern!(py, "reason"), reason)?;
        trace.get().record_for_run(
            py,
            clock::monotonic_ns(),
            kind,
            Some(node),
            StepArg::None,
            None,
            None,
            Some(metadata.unbind()),
        )
    }

    pub(super) fn frame(&self) -> PyResult<&Frame> {
        self.frame.as_ref().ok_or_else(|| {
            PyTypeError::new_err("RunState() was made without names and the other statuses")
        })
    }

    /// End each node in `ended` (indices, durations) with an exception of type
    /// `E` whose message `message(name repr)` gives, recording `kind` with it.
    /// An error raised on the way (a `str` subclass's `__repr__`) is returned
    /// after every node has its event.
    pub(super) fn end_with_errors<E: pyo3::PyTypeInfo>(
        &self,
        py: Python<'_>,
        ended: &[(usize, f64)],
        kind: EventKind,
        message: impl Fn(&str) -> String,
        raised: &mut Option<PyErr>,
    ) -> PyResult<()> {
        let names = self.frame()?.names.bind(py);
        let type_name = E::type_object(py).name()?.to_string();
        for &(node, duration) in ended {
            let shown = match names.get_item(node).and_then(|name| name.repr()) {
                Ok(shown) => shown.to_string(),
                Err(error) => {
                    raised.get_or_insert(error);
                    "?".to_owned()
                }
            };
            let message = message(&shown);
            let exc = PyErr::from_type(E::type_object(py), message.clone()).into_value(py);
            let old = self.errors.bind(py).get_item(node)?;
            self.errors.bind(py).set_item(node, exc)?;
            drop(old);
            let text = PyString::new(py, &format!("{type_name}: {message}"));
            self.record(
                py,
                clock::monotonic_ns(),
                kind,
                node,
                Some(duration),
                Some(&text),
            )?;
        }
        Ok(())
    }
}
