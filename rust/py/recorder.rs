//! `TraceRecorder`: the Rust class behind `ExecutionTrace`. Its methods check
//! arguments, call the core, and convert results; no event logic lives here.

use std::sync::Arc;

use pyo3::exceptions::{PyIndexError, PyMemoryError, PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use pyo3::{PyTraverseError, PyVisit};

use super::events::build_events;
use super::metadata::{ChromePayloadWriter, JsonPayloadWriter};
use super::node_names::NodeNames;
use super::output::{FileOutput, StrOutput, CHUNK};
use super::payload::PyExtra;
use super::perfetto::{self, PerfettoOptions};
use super::registry::Registry;
use super::state;
use super::strings::{exact_str, str_bytes};
use crate::bounded::BoundedTrace;
use crate::event::{EventKind, NewEvent, StepArg};
use crate::export::{self, OutputBuffer};
use crate::journal::Journal;
use crate::trace::{Snapshot, TraceCore, TraceError};

pub(crate) type Core = TraceCore<PyExtra, Py<PyString>>;
type Bounded = BoundedTrace<PyExtra, Py<PyString>>;
type PySnapshot<'a> = Snapshot<'a, PyExtra, Py<PyString>>;

/// Where events live: one growing trace, or (with `max_events`) a bounded one that
/// keeps the newest events. Not boxed: the unbounded core is on every record's path.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Store {
    Unbounded(Core),
    Bounded(Bounded),
}

/// The execution-trace recorder. `dagron.execution.tracing.ExecutionTrace`
/// subclasses it; see that class for the documented API.
#[pyclass(subclass, frozen, module = "dagron._core")]
pub struct TraceRecorder {
    /// Declared before `store` so that it drops first: its writer thread reads the
    /// store's core until the journal stops.
    pub(crate) journal: Option<Box<Journal>>,
    pub(crate) store: Store,
}

pub(crate) fn trace_error(error: TraceError) -> PyErr {
    match error {
        TraceError::Alloc => Python::attach(super::new_objects::no_memory),
        TraceError::TooManyStrings => {
            PyMemoryError::new_err("too many distinct node names and error strings (limit 2**32)")
        }
        TraceError::InvalidState(reason) => {
            PyValueError::new_err(format!("invalid ExecutionTrace state: {reason}"))
        }
    }
}

pub(crate) fn type_name(object: &Bound<'_, PyAny>) -> String {
    object
        .get_type()
        .name()
        .map(|name| name.to_string())
        .unwrap_or_else(|_| "object".to_owned())
}

#[cold]
fn bad_argument(function: &str, parameter: &str, expected: &str, got: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!(
        "{function}() argument '{parameter}' must be {expected}, not {}",
        type_name(got)
    ))
}

/// Optional `record` arguments, type-checked but not yet interned.
pub(crate) struct Checked<'a, 'py> {
    pub kind: EventKind,
    pub node_name: Option<&'a Bound<'py, PyAny>>,
    pub error: Option<&'a Bound<'py, PyAny>>,
    pub step: StepArg,
    pub big_step: Option<Bound<'py, PyAny>>,
    pub duration: Option<f64>,
    pub metadata: Option<Py<PyDict>>,
}

/// Check `record`'s arguments (behaviour.md 4): nothing is changed on error.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn check_arguments<'a, 'py>(
    function: &str,
    registry: &Registry,
    event_type: &'a Bound<'py, PyAny>,
    node_name: Option<&'a Bound<'py, PyAny>>,
    step_index: Option<&'a Bound<'py, PyAny>>,
    duration: Option<&'a Bound<'py, PyAny>>,
    error: Option<&'a Bound<'py, PyAny>>,
    metadata: Option<&'a Bound<'py, PyAny>>,
) -> PyResult<Checked<'a, 'py>> {
    let kind = registry.kind_of(event_type).ok_or_else(|| {
        bad_argument(
            function,
            "event_type",
            "a TraceEventType member",
            event_type,
        )
    })?;
    if let Some(name) = node_name {
        if !name.is_instance_of::<PyString>() {
            return Err(bad_argument(function, "node_name", "str or None", name));
        }
    }
    if let Some(text) = error {
        if !text.is_instance_of::<PyString>() {
            return Err(bad_argument(function, "error", "str or None", text));
        }
    }
    let (step, big_step) = match step_index {
        None => (StepArg::None, None),
        Some(step) => check_step(function, step)?,
    };
    let duration = match duration {
        None => None,
        Some(value) => Some(check_duration(function, value)?),
    };
    let metadata = match metadata {
        None => None,
        Some(dict) => {
            let dict = dict
                .cast::<PyDict>()
                .map_err(|_| bad_argument(function, "metadata", "dict or None", dict))?;
            // An empty dict is not kept: the event gets a fresh {} (behaviour.md 4).
            (!dict.is_empty()).then(|| dict.clone().unbind())
        }
    };
    Ok(Checked {
        kind,
        node_name,
        error,
        step,
        big_step,
        duration,
        metadata,
    })
}

#[inline]
fn check_step<'py>(
    function: &str,
    step: &Bound<'py, PyAny>,
) -> PyResult<(StepArg, Option<Bound<'py, PyAny>>)> {
    if !step.is_instance_of::<PyInt>() || step.is_instance_of::<PyBool>() {
        return Err(bad_argument(function, "step_index", "int or None", step));
    }
    let mut overflow = 0;
    // SAFETY: `step` is an int (checked above); the GIL is held.
    let value = unsafe { pyo3::ffi::PyLong_AsLongLongAndOverflow(step.as_ptr(), &mut overflow) };
    if overflow == 0 && !(value == -1 && PyErr::occurred(step.py())) {
        return Ok((StepArg::Int(value), None));
    }
    let _ = PyErr::take(step.py());
    // Too large for i64: keep the exact int object.
    // SAFETY: `step` is an int; PyNumber_Index returns a new reference or NULL.
    let exact = unsafe {
        Bound::from_owned_ptr_or_err(step.py(), pyo3::ffi::PyNumber_Index(step.as_ptr()))
    }?;
    Ok((StepArg::Payload, Some(exact)))
}

#[inline]
fn check_max_events(value: &Bound<'_, PyAny>) -> PyResult<usize> {
    if !value.is_instance_of::<PyInt>() || value.is_instance_of::<PyBool>() {
        return Err(bad_argument(
            "ExecutionTrace",
            "max_events",
            "int or None",
            value,
        ));
    }
    // The int's own value (not a subclass's __index__ or comparisons).
    let mut overflow = 0;
    // SAFETY: `value` is an int (checked above); the GIL is held.
    let n = unsafe { pyo3::ffi::PyLong_AsLongLongAndOverflow(value.as_ptr(), &mut overflow) };
    if overflow == 0 && n == -1 && PyErr::occurred(value.py()) {
        return Err(PyErr::fetch(value.py()));
    }
    if overflow > 0 {
        return Err(PyValueError::new_err(format!(
            "ExecutionTrace() argument 'max_events' is too large: {} (at most {})",
            value.repr()?,
            i64::MAX
        )));
    }
    match usize::try_from(n) {
        Ok(n) if overflow == 0 && n >= 1 => Ok(n),
        _ => Err(PyValueError::new_err(format!(
            "ExecutionTrace() argument 'max_events' must be at least 1, not {}",
            value.repr()?
        ))),
    }
}

fn check_duration(function: &str, value: &Bound<'_, PyAny>) -> PyResult<f64> {
    if let Ok(float) = value.cast::<PyFloat>() {
        return Ok(float.value());
    }
    if value.is_instance_of::<PyInt>() {
        // The int's own value (not a subclass's __float__), as `float(int(x))`.
        // SAFETY: `value` is an int; the GIL is held.
        let converted = unsafe { pyo3::ffi::PyLong_AsDouble(value.as_ptr()) };
        if converted == -1.0 {
            if let Some(error) = PyErr::take(value.py()) {
                return Err(if error.is_instance_of::<PyOverflowError>(value.py()) {
                    PyOverflowError::new_err(format!(
                        "{function}() argument 'duration' is an int too large to convert to float"
                    ))
                } else {
                    error
                });
            }
        }
        return Ok(converted);
    }
    Err(bad_argument(
        function,
        "duration",
        "int, float or None",
        value,
    ))
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
        match &self.store {
            Store::Unbounded(core) => core.record(event).map(drop),
            Store::Bounded(bounded) => bounded.record(event),
        }
        .map_err(trace_error)?;
        if let Some(journal) = &self.journal {
            if !journal.is_started() {
                self.start_journal(journal)?;
            }
        }
        Ok(())
    }

    /// Start the journal's writer once the trace has an event (and so an origin).
    #[cold]
    fn start_journal(&self, journal: &Journal) -> PyResult<()> {
        let Store::Unbounded(core) = &self.store else {
            return Ok(());
        };
        // SAFETY: the core lives inside this frozen pyclass, which never moves once
        // created, and `journal` (a field declared before `store`) is dropped, which
        // stops and joins the writer, before the core is.
        unsafe { journal.start(core as *const Core) }.map_err(|error| {
            pyo3::exceptions::PyOSError::new_err(format!(
                "{}: cannot start the journal writer: {error}",
                journal.path().display()
            ))
        })
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
        let Store::Unbounded(core) = &self.store else {
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
        if let (Some(extra), Some(_)) = (&mut event.payload, &self.journal) {
            extra.journal = Some(super::journal_text::journal_text(py, extra)?);
        }
        core.record_at(now_ns, event).map_err(trace_error)?;
        if let Some(journal) = &self.journal {
            if !journal.is_started() {
                self.start_journal(journal)?;
            }
        }
        Ok(())
    }

    #[inline]
    fn intern(&self, text: &Bound<'_, PyAny>) -> PyResult<u32> {
        let bytes = str_bytes(text)?;
        let bytes = bytes.as_bytes();
        self.with_strings(|core| core.intern_with(bytes, || exact_str(text, bytes)))
    }

    /// Run `f` with a core whose string table is this trace's (all generations of a
    /// bounded trace share one).
    #[inline]
    fn with_strings<R>(&self, f: impl FnOnce(&Core) -> R) -> R {
        match &self.store {
            Store::Unbounded(core) => f(core),
            Store::Bounded(bounded) => f(&bounded.current()),
        }
    }

    /// Run `f` on a snapshot of the events as of now.
    pub(crate) fn with_snapshot<R>(&self, f: impl FnOnce(&PySnapshot<'_>) -> R) -> R {
        match &self.store {
            Store::Unbounded(core) => f(&core.snapshot()),
            Store::Bounded(bounded) => {
                let generations = bounded.generations();
                f(&generations.snapshot(bounded.capacity()))
            }
        }
    }

    /// How many `_node_names` this trace was made with (0: none); None when
    /// bounded.
    pub(crate) fn node_names_len(&self) -> Option<usize> {
        match &self.store {
            Store::Unbounded(core) => Some(core.names_len()),
            Store::Bounded(_) => None,
        }
    }

    pub(crate) fn max_events(&self) -> Option<usize> {
        match &self.store {
            Store::Unbounded(_) => None,
            Store::Bounded(bounded) => Some(bounded.capacity()),
        }
    }

    pub(crate) fn epoch(&self) -> Option<u64> {
        self.with_strings(|core| core.epoch())
    }

    /// `restore` with the saved origin, dropped count and sources.
    pub(crate) fn restore_with(
        &self,
        restored: crate::trace::Restored,
        events: Vec<crate::trace::SavedEvent<PyExtra>>,
    ) -> PyResult<()> {
        match &self.store {
            Store::Unbounded(core) => core.restore_with(restored, events),
            Store::Bounded(bounded) => bounded.restore_with(restored, events),
        }
        .map_err(trace_error)
    }
}

#[pymethods]
impl TraceRecorder {
    /// Like `object.__new__`: extra arguments are allowed only when a subclass
    /// defines its own `__init__` to take them. `max_events=N` (an int >= 1) makes a
    /// bounded trace that keeps the newest N events.
    #[new]
    #[classmethod]
    #[pyo3(signature = (*args, **kwargs))]
    fn __new__(
        cls: &Bound<'_, pyo3::types::PyType>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
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
                            bad_argument(
                                "ExecutionTrace",
                                "_node_names",
                                "NodeNames or None",
                                &value,
                            )
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
            (None, None) => Store::Unbounded(Core::new()),
            (None, Some(names)) => Store::Unbounded(Core::with_names(names).map_err(trace_error)?),
            (Some(capacity), None) => Store::Bounded(Bounded::new(capacity)),
            (Some(_), Some(_)) => {
                return Err(PyTypeError::new_err(
                    "ExecutionTrace() cannot combine max_events with _node_names",
                ))
            }
        };
        let journal = match journal_path {
            None => None,
            Some(_) if !matches!(store, Store::Unbounded(_)) || node_names_given => {
                return Err(PyValueError::new_err(
                    "ExecutionTrace() cannot combine journal with max_events (a journal keeps \
                     every event) or _node_names",
                ))
            }
            Some(path) => Some(Box::new(Journal::create(&path).map_err(|error| {
                pyo3::exceptions::PyOSError::new_err(format!(
                    "{}: cannot create the journal: {error}",
                    path.display()
                ))
            })?)),
        };
        Ok(TraceRecorder { journal, store })
    }

    /// The bound given as `max_events` (the newest that many events are kept), or
    /// `None` for an unbounded trace.
    #[getter(max_events)]
    fn get_max_events(&self) -> Option<usize> {
        self.max_events()
    }

    /// Wait until every event recorded so far is in the journal file (nothing to do
    /// without a journal). Raises `OSError` if the journal could not be written.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        let Some(journal) = &self.journal else {
            return Ok(());
        };
        py.detach(|| journal.flush()).map_err(|error| {
            pyo3::exceptions::PyOSError::new_err(format!(
                "{}: journal write failed: {error}",
                journal.path().display()
            ))
        })
    }

    /// The journal file's path, or None.
    #[getter]
    fn journal(&self) -> Option<String> {
        self.journal
            .as_ref()
            .map(|journal| journal.path().to_string_lossy().into_owned())
    }

    /// Events a `max_events` trace has let go (0 for an unbounded trace, unless it
    /// was restored, merged or loaded from traces that had let some go).
    #[getter]
    fn dropped(&self) -> u64 {
        match &self.store {
            Store::Unbounded(core) => core.dropped_before(),
            Store::Bounded(_) => self.with_snapshot(|snapshot| snapshot.dropped()),
        }
    }

    /// The origin as `(host, pid, monotonic_ns, wall_ns)`, or None before any event
    /// (`ExecutionTrace.origin` wraps it in a `TraceOrigin`).
    fn _origin<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        self.with_strings(|core| core.origin())
            .map(|origin| super::provenance::origin_tuple(py, &origin))
            .transpose()
    }

    /// The distinct sources of the events as origin tuples, in order of first
    /// appearance (`ExecutionTrace.sources` wraps them).
    fn _sources<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        self.with_snapshot(|snapshot| super::provenance::sources(py, snapshot))
    }

    /// Parallel to `events`: each event's index into `sources`.
    fn event_sources<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        self.with_snapshot(|snapshot| super::provenance::event_sources(py, snapshot))
    }

    /// A new trace holding every event of `traces`, chronological on one clock:
    /// the shared monotonic clock when all come from one host, else the wall
    /// clock; `offsets` (seconds, one per trace) are added to each trace's clock.
    #[classmethod]
    #[pyo3(signature = (traces, *, offsets = None))]
    fn merge<'py>(
        cls: &Bound<'py, pyo3::types::PyType>,
        traces: &Bound<'py, PyAny>,
        offsets: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        super::provenance::merge(cls, traces, offsets)
    }

    /// A copy of all recorded events in chronological order.
    #[getter]
    fn events<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        self.with_snapshot(|snapshot| build_events(py, snapshot.len(), snapshot.iter()))
    }

    /// The events whose `node_name` equals `name`, in chronological order.
    fn events_for_node<'py>(
        &self,
        py: Python<'py>,
        name: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        if !name.is_exact_instance_of::<PyString>() {
            // The documented filter, `node_name == name`, by Python's own comparison:
            // None matches events without a node; subclasses and other objects may
            // define their own equality.
            return self.with_snapshot(|snapshot| {
                let none = py.None().into_bound(py);
                let mut matched = Vec::new();
                for event in snapshot.iter() {
                    let node_name = match event.node {
                        Some((_, entry)) => entry.payload.bind(py).as_any(),
                        None => &none,
                    };
                    if node_name
                        .rich_compare(name, pyo3::pyclass::CompareOp::Eq)?
                        .is_truthy()?
                    {
                        matched.push(event);
                    }
                }
                build_events(py, matched.len(), matched.into_iter())
            });
        }
        let bytes = str_bytes(name)?;
        let Some(id) = self.with_strings(|core| core.lookup(bytes.as_bytes())) else {
            return Ok(PyList::empty(py));
        };
        match &self.store {
            // O(events of that node): the core links each node's events.
            Store::Unbounded(core) => {
                let events = core.events_for_node(id);
                build_events(py, events.len(), events.into_iter())
            }
            // At most max_events to look at.
            Store::Bounded(_) => self.with_snapshot(|snapshot| {
                let events = snapshot.events_for_node(id);
                build_events(py, events.len(), events.into_iter())
            }),
        }
    }

    /// The trace as a pretty-printed JSON array (behaviour.md 4.1).
    fn to_json<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyString>> {
        self.with_snapshot(|snapshot| {
            let mut output =
                StrOutput::new(py, snapshot.len() * export::json::EVENT_SIZE_HINT + 16)?;
            write_json(py, snapshot, &mut |chunk| output.append(chunk))?;
            output.finish(py)
        })
    }

    /// The trace in Chrome Trace Event format (behaviour.md 4.2). `named=True` adds
    /// metadata events naming the process and lanes, and gives the execution
    /// slices a lane of their own.
    #[pyo3(signature = (*, named = false))]
    fn to_chrome_trace<'py>(&self, py: Python<'py>, named: bool) -> PyResult<Bound<'py, PyString>> {
        self.with_snapshot(|snapshot| chrome_string(py, snapshot, named))
    }

    /// The trace as a Perfetto protobuf trace (`bytes`): one process group named
    /// `process_name`, or for a merged trace one per source, named `host:pid`.
    #[pyo3(
        signature = (*, process_name = None, lanes = None),
        text_signature = "($self, *, process_name='dagron', lanes='compact')"
    )]
    fn to_perfetto<'py>(
        &self,
        py: Python<'py>,
        process_name: Option<&Bound<'py, PyAny>>,
        lanes: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let options = PerfettoOptions::check("to_perfetto", process_name, lanes)?;
        let epoch = self.epoch();
        self.with_snapshot(|snapshot| perfetto::to_bytes(py, snapshot, epoch, &options))
    }

    /// Write exactly `to_perfetto()` to `dest` (a path, `.gz` for gzip, or a binary
    /// file object), streaming, like `write_json`.
    #[pyo3(
        signature = (dest, *, process_name = None, lanes = None),
        text_signature = "($self, dest, *, process_name='dagron', lanes='compact')"
    )]
    fn write_perfetto(
        &self,
        py: Python<'_>,
        dest: &Bound<'_, PyAny>,
        process_name: Option<&Bound<'_, PyAny>>,
        lanes: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let options = PerfettoOptions::check("write_perfetto", process_name, lanes)?;
        let epoch = self.epoch();
        self.with_snapshot(|snapshot| {
            write_to(FileOutput::open_binary(dest)?, |sink| {
                perfetto::write(py, snapshot, epoch, &options, sink)
            })
        })
    }

    /// Write exactly `to_json()` to `dest` (a path, `.gz` for gzip, or a file
    /// object), streaming: memory use does not grow with the trace.
    fn write_json(&self, py: Python<'_>, dest: &Bound<'_, PyAny>) -> PyResult<()> {
        self.with_snapshot(|snapshot| to_file(dest, |sink| write_json(py, snapshot, sink)))
    }

    /// Write exactly `to_chrome_trace(named=named)` to `dest`, like `write_json`.
    #[pyo3(signature = (dest, *, named = false))]
    fn write_chrome_trace(&self, dest: &Bound<'_, PyAny>, named: bool) -> PyResult<()> {
        self.with_snapshot(|snapshot| to_file(dest, |sink| write_chrome(snapshot, named, sink)))
    }

    /// A human-readable summary (behaviour.md 4.3).
    fn summary(&self) -> String {
        match &self.store {
            Store::Unbounded(core) => core.summary().to_string(),
            Store::Bounded(_) => self.with_snapshot(|snapshot| snapshot.summary().to_string()),
        }
    }

    /// Metadata can refer back to the trace (`metadata={"trace": trace}`): let the
    /// cyclic GC see it, as it would see a pure-Python trace's list of events.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        let mut result = Ok(());
        let mut visit_extra = |extra: &PyExtra| {
            if result.is_ok() {
                if let Some(metadata) = &extra.metadata {
                    result = visit.call(metadata);
                }
            }
            if result.is_ok() {
                if let Some(step) = &extra.big_step {
                    result = visit.call(step);
                }
            }
        };
        match &self.store {
            Store::Unbounded(core) => core.for_each_payload(&mut visit_extra),
            Store::Bounded(bounded) => {
                let generations = bounded.generations();
                if let Some(previous) = &generations.previous {
                    previous.for_each_payload(&mut visit_extra);
                }
                generations.current.for_each_payload(&mut visit_extra);
            }
        }
        result
    }

    fn __bool__(&self) -> bool {
        true
    }

    fn __repr__(slf: &Bound<'_, Self>) -> String {
        let len = slf.get().with_snapshot(|snapshot| snapshot.len());
        format!("<{} with {len} events>", type_name(slf.as_any()))
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        state::reduce(slf)
    }

    fn __setstate__(slf: &Bound<'_, Self>, state: &Bound<'_, PyAny>) -> PyResult<()> {
        state::restore(slf, state)
    }
}

fn chrome_string<'py>(
    py: Python<'py>,
    snapshot: &PySnapshot<'_>,
    named: bool,
) -> PyResult<Bound<'py, PyString>> {
    let mut output = StrOutput::new(py, snapshot.len() * export::chrome::EVENT_SIZE_HINT + 32)?;
    // No Python object is touched: other threads may run (and record) meanwhile.
    py.detach(|| write_chrome(snapshot, named, &mut |chunk| output.append(chunk)))?;
    output.finish(py)
}

fn write_json(
    py: Python<'_>,
    snapshot: &PySnapshot<'_>,
    sink: &mut dyn FnMut(&[u8]) -> PyResult<()>,
) -> PyResult<()> {
    let mut out = OutputBuffer::streaming(sink, CHUNK);
    export::json::write(snapshot, &mut out, &mut JsonPayloadWriter::new(py)?)?;
    out.finish().map(drop)
}

fn write_chrome(
    snapshot: &PySnapshot<'_>,
    named: bool,
    sink: &mut dyn FnMut(&[u8]) -> PyResult<()>,
) -> PyResult<()> {
    if named {
        return perfetto::write_named_chrome(snapshot, sink);
    }
    let mut out = OutputBuffer::streaming(sink, CHUNK);
    export::chrome::write(snapshot, &mut out, &mut ChromePayloadWriter)?;
    out.finish().map(drop)
}

/// Run `write` into the file `dest`; on error nothing is left under its name.
fn to_file(
    dest: &Bound<'_, PyAny>,
    write: impl FnOnce(&mut dyn FnMut(&[u8]) -> PyResult<()>) -> PyResult<()>,
) -> PyResult<()> {
    write_to(FileOutput::open(dest)?, write)
}

/// Run `write` into `file`; on error nothing is left under its name.
fn write_to(
    mut file: FileOutput<'_>,
    write: impl FnOnce(&mut dyn FnMut(&[u8]) -> PyResult<()>) -> PyResult<()>,
) -> PyResult<()> {
    match write(&mut |chunk| file.write(chunk)) {
        Ok(()) => file.finish(),
        Err(error) => {
            file.abandon();
            Err(error)
        }
    }
}

/// A journal path from `str`, `bytes` or a path-like object.
fn journal_path_of(value: &Bound<'_, PyAny>) -> PyResult<std::path::PathBuf> {
    let os = value.py().import("os")?;
    os.call_method1("fspath", (value,))
        .and_then(|path| os.call_method1("fsdecode", (path,)))
        .and_then(|path| path.extract())
        .map_err(|_| bad_argument("ExecutionTrace", "journal", "a path or None", value))
}
