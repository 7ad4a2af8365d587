//! A live trace's journal as Python meets it: what `record` does when the journal
//! needs attention (start it, wait for the writer, warn once), `flush` (releasing
//! the GIL, interruptible), stopping it when the trace goes, and how the journal's
//! failures become Python errors (`OSError` of the errno's subclass, naming the
//! file) and `TraceJournalWarning`s.

use std::ffi::CString;
use std::path::Path;

use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;

use dagron_core::journal::{Attention, Failure, FlushError, Flushed, Journal};

/// An `OSError` (the errno's subclass, e.g. `FileNotFoundError`) whose filename is
/// the journal's path.
pub(crate) fn journal_error(path: &Path, failure: &Failure) -> PyErr {
    let filename = path.to_string_lossy().into_owned();
    match failure.errno {
        Some(errno) => PyOSError::new_err((errno, failure.message.clone(), filename)),
        None => PyOSError::new_err(format!("{filename}: {}", failure.message)),
    }
}

/// Warn with a `TraceJournalWarning`.
pub(crate) fn warn(py: Python<'_>, message: &str) -> PyResult<()> {
    let category = py.import("dagron.errors")?.getattr("TraceJournalWarning")?;
    let message = CString::new(message.replace('\0', "\\0"))?;
    PyErr::warn(py, &category, &message, 1)
}

fn tell(py: Python<'_>, attention: Attention) -> PyResult<()> {
    match attention {
        Attention::Tell(message) => warn(py, &message),
        _ => Ok(()),
    }
}

/// Raise a pending `KeyboardInterrupt` (or what a signal handler raised).
fn check_signals() -> PyResult<()> {
    Python::attach(|py| py.check_signals())
}

/// After `record` put the event at `index` in a trace's `journal`, when
/// `Journal::needs_attention` said so; `start` starts the journal.
#[cold]
#[inline(never)]
pub(crate) fn attend(
    py: Python<'_>,
    journal: &Journal,
    index: usize,
    start: impl FnOnce() -> PyResult<()>,
) -> PyResult<()> {
    match journal.attend(index) {
        Attention::Nothing => Ok(()),
        Attention::Start => start(),
        told @ Attention::Tell(_) => tell(py, told),
        Attention::Wait => match py.detach(|| journal.flush(check_signals)) {
            Ok(_) => Ok(()),
            Err(FlushError::Interrupted(error)) => Err(error),
            Err(FlushError::Failed(failure)) => {
                tell(py, journal.tell_once(|| journal.failure_message(&failure)))
            }
        },
    }
}

/// `ExecutionTrace.flush()` for a journaled trace.
pub(crate) fn flush(py: Python<'_>, journal: &Journal) -> PyResult<()> {
    match py.detach(|| journal.flush(check_signals)) {
        Ok(Flushed::Done) => Ok(()),
        Ok(Flushed::Forked) => tell(py, journal.tell_once(|| journal.fork_message())),
        Err(FlushError::Interrupted(error)) => Err(error),
        Err(FlushError::Failed(failure)) => {
            // Raising tells the user: no warning for it at the next record.
            let _ = journal.tell_once(String::new);
            let message = format!(
                "journal write failed: {}; the journal holds the first {} events",
                failure.message,
                journal.written()
            );
            Err(journal_error(
                journal.path(),
                &Failure::new(failure.errno, message),
            ))
        }
    }
}

/// Stop the journal of a trace that is going away, warning if it failed and the
/// user was never told. Called from `Drop`: any exception being raised meanwhile
/// is kept, and a warning that raises is reported as unraisable.
pub(crate) fn stop(journal: &Journal) {
    Python::attach(|py| {
        let Some(message) = py.detach(|| journal.stop()) else {
            return;
        };
        let pending = PyErr::take(py);
        if let Err(error) = warn(py, &message) {
            error.write_unraisable(py, None);
        }
        if let Some(pending) = pending {
            pending.restore(py);
        }
    });
}

/// `_flush_journals()`: flush every journal of the process (at interpreter exit),
/// warning of each that failed.
pub(crate) fn flush_all(py: Python<'_>) -> PyResult<()> {
    let told = py.detach(|| dagron_core::journal::flush_all(check_signals))?;
    for message in told {
        if let Err(error) = warn(py, &message) {
            error.write_unraisable(py, None);
        }
    }
    Ok(())
}
