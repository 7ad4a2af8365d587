//! dagron's execution-trace recorder: a lock-free event buffer with JSON and
//! Chrome Trace exporters, and the Python bindings over it.
//!
//! Everything but `py` is plain Rust with no Python types, tested by `cargo test`.

pub mod admission;
pub mod alloc;
pub mod bounded;
pub mod buffer;
pub mod clock;
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
pub mod store;
pub mod summary;
pub mod trace;

#[cfg(not(loom))]
mod py;

#[cfg(not(loom))]
#[global_allocator]
static ALLOCATOR: alloc::ReserveAllocator = alloc::ReserveAllocator;
