//! dagron's execution-trace recorder, without Python: a lock-free event buffer, the
//! JSON, Chrome Trace and Perfetto writers, the journal, merging and the graph
//! passes. The `dagron-py` crate binds it to Python; this crate does not depend on
//! pyo3, so `cargo test -p dagron-core` needs no interpreter.

pub mod admission;
pub mod alloc;
pub mod arrow;
pub mod bounded;
pub mod buffer;
pub mod clock;
pub mod compare;
pub mod error;
pub mod event;
pub mod export;
pub mod graph;
pub mod intern;
pub mod journal;
pub mod json_text;
pub mod merge;
pub mod origin;
pub mod runs;
pub mod spans;
pub mod store;
pub mod summary;
pub mod trace;

#[cfg(not(loom))]
#[global_allocator]
static ALLOCATOR: alloc::ReserveAllocator = alloc::ReserveAllocator;
