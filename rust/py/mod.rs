//! The Python side: the `dagron._core` module and its `TraceRecorder` class, which
//! `dagron.execution.tracing.ExecutionTrace` subclasses. This is the only module
//! that knows about Python; it checks arguments, converts between Python objects
//! and the core's plain data, and maps core errors to Python exceptions.

mod arguments;
mod constructor;
mod errors;
mod events;
mod exports;
mod fastcall;
mod ffi;
mod graph;
mod journal;
mod journal_text;
mod merge;
mod metadata;
mod new_objects;
mod node_names;
mod node_runs;
mod output;
mod payload;
mod perfetto;
mod pickle;
mod provenance;
mod record_call;
mod recorder;
mod recorder_methods;
mod registry;
mod report;
mod run;
mod strings;

use pyo3::prelude::*;

impl From<crate::error::AllocError> for PyErr {
    fn from(_: crate::error::AllocError) -> PyErr {
        Python::attach(new_objects::no_memory)
    }
}

impl From<crate::error::InternError> for PyErr {
    fn from(error: crate::error::InternError) -> PyErr {
        errors::trace_error(error.into())
    }
}

#[pymodule(gil_used = false)]
fn _core(module: &Bound<'_, PyModule>) -> PyResult<()> {
    crate::alloc::refill();
    output::self_test_in_place_str(module.py());
    module.add_class::<recorder::TraceRecorder>()?;
    module.add_class::<node_names::NodeNames>()?;
    module.add_class::<run::RunState>()?;
    module.add_class::<graph::GraphIndex>()?;
    module.add_class::<node_runs::PyNodeRuns>()?;
    run::install(&module.py().get_type::<run::RunState>())?;
    record_call::install(&module.py().get_type::<recorder::TraceRecorder>())?;
    module.add_function(wrap_pyfunction!(registry::_register_types, module)?)?;
    module.add_function(wrap_pyfunction!(journal::read_journal, module)?)?;
    module.add_function(wrap_pyfunction!(journal::_flush_journals, module)?)?;
    module.add_function(wrap_pyfunction!(pickle::_trace_state, module)?)?;
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
