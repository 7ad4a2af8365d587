//! Origins and sources on the Python side: converts origins to and from
//! `(host, pid, monotonic_ns, wall_ns)` tuples (which `dagron.execution.tracing`
//! wraps in `TraceOrigin`), and lists a snapshot's sources as such tuples.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use crate::origin::Origin;
use crate::trace::Snapshot;

pub(crate) fn origin_tuple<'py>(py: Python<'py>, origin: &Origin) -> PyResult<Bound<'py, PyTuple>> {
    (
        origin.host.as_str(),
        origin.pid,
        origin.monotonic_ns,
        origin.wall_ns,
    )
        .into_pyobject(py)
}

/// An origin from a `(host, pid, monotonic_ns, wall_ns)` tuple.
pub(crate) fn origin_from(value: &Bound<'_, PyAny>) -> PyResult<Origin> {
    let fields: (String, u32, u64, i64) = value.extract().map_err(|_| {
        PyValueError::new_err(format!(
            "an origin must be (host: str, pid: int, monotonic_ns: int, wall_ns: int), not {}",
            value.repr().map_or_else(|_| "?".into(), |r| r.to_string())
        ))
    })?;
    let (host, pid, monotonic_ns, wall_ns) = fields;
    Ok(Origin {
        host,
        pid,
        monotonic_ns,
        wall_ns,
    })
}

/// `trace.sources` as origin tuples, and `trace.event_sources()`.
pub(crate) fn sources<'py, X, S>(
    py: Python<'py>,
    snapshot: &Snapshot<'_, X, S>,
) -> PyResult<Bound<'py, PyList>> {
    let sources = snapshot.sources();
    let tuples = sources
        .list
        .iter()
        .map(|origin| origin_tuple(py, origin))
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, tuples)
}

pub(crate) fn event_sources<'py, X, S>(
    py: Python<'py>,
    snapshot: &Snapshot<'_, X, S>,
) -> PyResult<Bound<'py, PyList>> {
    let sources = snapshot.sources();
    PyList::new(py, snapshot.event_sources(&sources))
}
