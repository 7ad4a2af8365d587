//! The `dagron._core` Python extension: the module and its `TraceRecorder` class,
//! which `dagron.execution.tracing.ExecutionTrace` subclasses, over the pyo3-free
//! `dagron_core` crate. This crate is the only one that knows about Python: it checks
//! arguments, converts between Python objects and the core's plain data, and maps
//! core errors to Python exceptions; nothing here decides what a trace means.

// The core's modules, under the paths the bindings name them by (`crate::trace`, ...);
// `arrow`, `compare`, `graph`, `journal` and `merge` are the bindings' own modules,
// so the core's go by `dagron_core::`.
use dagron_core::{
    alloc, clock, error, event, export, intern, json_text, origin, runs, store, trace,
};

mod arguments;
mod arrow;
mod compare;
mod constructor;
mod errors;
mod events;
mod exports;
mod fastcall;
mod ffi;
mod graph;
mod journal;
mod journal_live;
mod journal_text;
mod load;
mod load_json;
mod merge;
mod metadata;
mod new_objects;
mod node_names;
mod node_runs;
mod output;
mod payload;
mod perfetto;
mod pickle;
mod profile;
mod provenance;
mod record_call;
mod recorder;
mod recorder_methods;
mod registry;
mod report;
mod run;
mod slotted;
mod strings;

use pyo3::prelude::*;

// The module needs the GIL (pyo3's default, said here on purpose): `RunState` and
// the recorder's per-node calls rely on holding it while they update Python lists
// and payloads, and an abi3 wheel cannot load into a free-threaded interpreter.
#[pymodule(gil_used = true)]
fn _core(module: &Bound<'_, PyModule>) -> PyResult<()> {
    crate::alloc::refill();
    output::self_test_in_place_str(module.py());
    module.add_class::<recorder::TraceRecorder>()?;
    module.add_class::<node_names::NodeNames>()?;
    module.add_class::<run::RunState>()?;
    module.add_class::<graph::GraphIndex>()?;
    module.add_class::<arrow::ArrowTable>()?;
    module.add_class::<node_runs::PyNodeRuns>()?;
    run::install(&module.py().get_type::<run::RunState>())?;
    record_call::install(&module.py().get_type::<recorder::TraceRecorder>())?;
    module.add_function(wrap_pyfunction!(registry::_register_types, module)?)?;
    module.add_function(wrap_pyfunction!(journal::_load_journal, module)?)?;
    module.add_function(wrap_pyfunction!(load_json::_load_json, module)?)?;
    module.add_function(wrap_pyfunction!(journal::_flush_journals, module)?)?;
    module.add_function(wrap_pyfunction!(compare::_node_stats, module)?)?;
    module.add_function(wrap_pyfunction!(compare::_mann_whitney, module)?)?;
    module.add_function(wrap_pyfunction!(compare::_trace_column, module)?)?;
    module.add_function(wrap_pyfunction!(compare::_trace_column_of, module)?)?;
    module.add_function(wrap_pyfunction!(compare::_trace_spans, module)?)?;
    module.add_function(wrap_pyfunction!(compare::_trace_spans_of, module)?)?;
    module.add_function(wrap_pyfunction!(arrow::_node_runs_table, module)?)?;
    module.add_function(wrap_pyfunction!(pickle::_trace_state, module)?)?;
    module.add_function(wrap_pyfunction!(profile::_profile_run, module)?)?;
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // The event types' values, in the core's order, and the journal's magic bytes (the
    // loader sniffs journals with it): one copy of each, the core's.
    let kinds: Vec<&str> = crate::event::EventKind::ALL
        .iter()
        .map(|kind| kind.value())
        .collect();
    module.add(
        "EVENT_TYPE_VALUES",
        pyo3::types::PyTuple::new(module.py(), kinds)?,
    )?;
    module.add(
        "JOURNAL_MAGIC",
        pyo3::types::PyBytes::new(module.py(), dagron_core::journal::format::MAGIC),
    )?;
    Ok(())
}
