//! `RunState`: the executors' per-node state machine for one run (internal to
//! `dagron._steps`, which every executor runs on).
//!
//! Worker threads and the run's main thread race on a node's state: a worker ends
//! a task while the main thread times the run out. Each transition, and the event
//! it records, happens here in one call under one short lock: a call that never
//! lets go of the GIL, so no thread is ever parked on this lock while the holder
//! waits for the GIL (which a Python `threading.Lock` around the same steps does:
//! measured, it cost the executor a context switch per node). Once the run's frame
//! has ended, no call records anything or changes a node.
//!
//! The node lists (status, results, errors, durations) stay Python lists that the
//! executors read; this object is their only writer: a node's start and end where
//! it ran (`start`, `complete`, `fail`), its timeout (`time_out_overdue`), a node
//! run elsewhere (`start_elsewhere`, `settle`), a node given up (`give_up`), and
//! whatever the end of the run leaves open (`__exit__`).
//!
//! The run's own frame is here too, so that an interrupt (`KeyboardInterrupt` from
//! a signal handler, which can land between any two bytecodes of the executor)
//! never leaves the trace half-closed: used as a context manager, `__enter__`
//! records `EXECUTION_STARTED` and `__exit__` ends whatever is still open (running
//! nodes, nodes not started, the open step) and records `EXECUTION_COMPLETED`,
//! once; each step's start and end, and each node given up, is one call.

mod frame;
mod node_methods;
mod nodes;
mod pymethods;

pub(crate) use node_methods::install;
pub(crate) use nodes::RunState;
