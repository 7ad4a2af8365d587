//! `TraceRecorder`: the Rust class behind `ExecutionTrace`, and what it does on the
//! Rust side: build the core's events from checked arguments (interning strings),
//! record them, start the journal, and hand out snapshots. Its Python methods are in
//! `recorder_methods`, its constructor in `constructor`; no event logic lives here
//! (that is the core's `TraceStore`).

use pyo3::exceptions::{PyIndexError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use super::arguments::{check_arguments, Checked};
use super::errors::trace_error;
use super::payload::PyExtra;
use super::registry::Registry;
use super::strings::{exact_str, str_bytes};
use crate::clock;
use crate::errors::PyFailure;
use crate::event::{EventKind, NewEvent, StepArg};
use crate::store::TraceStore;
use crate::trace::{Restored, SavedEvent, Snapshot, TraceCore};
use dagron_core::journal::{Journal, JournalPayload};

pub(crate) type Core = TraceCore<PyExtra, Py<PyString>>;
pub(crate) type PyStore = TraceStore<PyExtra, Py<PyString>>;
pub(crate) type PySnapshot<'a> = Snapshot<'a, PyExtra, Py<PyString>>;

/// The execution-trace recorder. `dagron.execution.tracing.ExecutionTrace`
/// subclasses it; see that class for the documented API.
#[pyclass(subclass, frozen, module = "dagron._core")]
pub struct TraceRecorder {
    /// Declared before `store` so that it drops first: its writer thread reads the
    /// store's core until the journal stops.
    pub(crate) journal: Option<Box<Journal>>,
    pub(crate) store: PyStore,
}

impl Drop for TraceRecorder {
    fn drop(&mut self) {
        // Stopped here, not only by the field's own drop, to warn of a failure
        // nobody was told of.
        if let Some(journal) = &self.journal {
            super::journal_live::stop(journal);
        }
    }
}

impl TraceRecorder {
    /// Intern strings and build the core's event from checked arguments.
    #[inline]
    pub(crate) fn new_event(
        &self,
        py: Python<'_>,
        checked: Checked<'_, '_>,
    ) -> PyResult<NewEvent<PyExtra>> {
        let node = match checked.node_name {
            Some(name) => Some(self.intern(name)?),
            None => None,
        };
        let error = match checked.error {
            Some(text) => Some(self.intern(text)?),
            None => None,
        };
        let mut payload =
            (checked.metadata.is_some() || checked.big_step.is_some()).then(|| PyExtra {
                metadata: checked.metadata,
                big_step: checked.big_step.map(Bound::unbind),
                journal: None,
            });
        if let (Some(extra), Some(_)) = (&mut payload, &self.journal) {
            extra.journal = Some(super::journal_text::journal_text(py, extra)?);
        }
        Ok(NewEvent {
            kind: checked.kind,
            node,
            error,
            step: checked.step,
            duration: checked.duration,
            payload,
        })
    }

    /// `record` after argument parsing (see `fastcall`): `None` arguments are absent.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub(crate) fn record_checked(
        &self,
        py: Python<'_>,
        event_type: &Bound<'_, PyAny>,
        node_name: Option<&Bound<'_, PyAny>>,
        step_index: Option<&Bound<'_, PyAny>>,
        duration: Option<&Bound<'_, PyAny>>,
        error: Option<&Bound<'_, PyAny>>,
        metadata: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        super::new_objects::check_reserve(py)?;
        let registry = Registry::get(py)?;
        let checked = check_arguments(
            "record", registry, event_type, node_name, step_index, duration, error, metadata,
        )?;
        let event = self.new_event(py, checked)?;
        match (&self.journal, self.store.unbounded()) {
            (Some(journal), Some(core)) => {
                self.record_journaled(py, journal, core, clock::monotonic_ns(), event)
            }
            _ => self.store.record(event).map_err(trace_error),
        }
    }

    /// Record `event` into a journaled trace's core, counting its journal text
    /// for the backlog first, and see to the journal if it needs it.
    #[inline]
    fn record_journaled(
        &self,
        py: Python<'_>,
        journal: &Journal,
        core: &Core,
        now_ns: u64,
        event: NewEvent<PyExtra>,
    ) -> PyResult<()> {
        let bytes = event.payload.as_ref().map(JournalPayload::journal_bytes);
        if let Some(bytes) = bytes {
            journal.add_recorded(bytes, false);
        }
        let index = core.record_at(now_ns, event).map_err(|error| {
            if let Some(bytes) = bytes {
                journal.add_recorded(bytes, true);
            }
            trace_error(error)
        })?;
        if journal.needs_attention(index, bytes.is_some()) {
            super::journal_live::attend(py, journal, index, || self.start_journal(journal))?;
        }
        Ok(())
    }

    /// Start the journal's writer once the trace has an event (and so an origin).
    #[cold]
    fn start_journal(&self, journal: &Journal) -> PyResult<()> {
        let Some(core) = self.store.unbounded() else {
            return Ok(());
        };
        // SAFETY: the core lives inside this frozen pyclass, which never moves once
        // created, and `journal` is stopped (by `Drop` below, and by its own drop:
        // a field declared before `store`) before the core is dropped.
        unsafe { journal.start(core as *const Core) }
            .map_err(|failure| super::journal_live::journal_error(journal.path(), &failure))
    }

    /// Record an event for node `node` of the `_node_names` this trace was made
    /// with, at clock reading `now_ns`: the executor's path, with no string lookup.
    #[inline]
    pub(crate) fn record_named_node(
        &self,
        py: Python<'_>,
        now_ns: u64,
        kind: EventKind,
        node: usize,
        duration: Option<f64>,
        error: Option<&Bound<'_, PyString>>,
    ) -> PyResult<()> {
        self.record_for_run(
            py,
            now_ns,
            kind,
            Some(node),
            StepArg::None,
            duration,
            error,
            None,
        )
    }

    /// Record any event of an executor's run at clock reading `now_ns`: `node` is
    /// an index into the `_node_names` this trace was made with.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub(crate) fn record_for_run(
        &self,
        py: Python<'_>,
        now_ns: u64,
        kind: EventKind,
        node: Option<usize>,
        step: StepArg,
        duration: Option<f64>,
        error: Option<&Bound<'_, PyString>>,
        metadata: Option<Py<PyDict>>,
    ) -> PyResult<()> {
        super::new_objects::check_reserve(py)?;
        let Some(core) = self.store.unbounded() else {
            return Err(PyTypeError::new_err("a bounded trace has no _node_names"));
        };
        if let Some(node) = node {
            if node >= core.names_len() {
                return Err(PyIndexError::new_err(format!(
                    "node index {node} is out of range for {} node names",
                    core.names_len()
                )));
            }
        }
        let error = match error {
            Some(text) => Some(self.intern(text.as_any())?),
            None => None,
        };
        let mut event = NewEvent {
            kind,
            node: node.map(|node| node as u32),
            error,
            step,
            duration,
            payload: metadata.map(|metadata| PyExtra {
                metadata: Some(metadata),
                big_step: None,
                journal: None,
            }),
        };
        match &self.journal {
            Some(journal) => {
                if let Some(extra) = &mut event.payload {
                    extra.journal = Some(super::journal_text::journal_text(py, extra)?);
                }
                self.record_journaled(py, journal, core, now_ns, event)
            }
            None => core.record_at(now_ns, event).map(drop).map_err(trace_error),
        }
    }

    #[inline]
    fn intern(&self, text: &Bound<'_, PyAny>) -> PyResult<u32> {
        let bytes = str_bytes(text)?;
        let bytes = bytes.as_bytes();
        let id = self
            .store
            .intern_with(bytes, || exact_str(text, bytes).map_err(PyFailure::from))?;
        Ok(id)
    }

    /// Run `f` on a snapshot of the events as of now.
    pub(crate) fn with_snapshot<R>(&self, f: impl FnOnce(&PySnapshot<'_>) -> R) -> R {
        self.store.with_snapshot(f)
    }

    /// How many `_node_names` this trace was made with (0: none); None when
    /// bounded.
    pub(crate) fn node_names_len(&self) -> Option<usize> {
        self.store.names_len()
    }

    pub(crate) fn max_events(&self) -> Option<usize> {
        self.store.capacity()
    }

    pub(crate) fn epoch(&self) -> Option<u64> {
        self.store.epoch()
    }

    /// Fill this empty trace from saved events, with the saved origin, dropped
    /// count and sources.
    pub(crate) fn restore(
        &self,
        restored: Restored,
        events: Vec<SavedEvent<PyExtra>>,
    ) -> PyResult<()> {
        self.store.restore(restored, events).map_err(trace_error)
    }
}
