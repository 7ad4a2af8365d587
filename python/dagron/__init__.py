"""dagron: DAG execution with a Rust-accelerated execution-trace recorder."""

# The package version is Cargo.toml's, compiled into the extension (CARGO_PKG_VERSION);
# the wheel's metadata takes the same one, so the two cannot drift apart.
from dagron._core import __version__
from dagron.dag import DAG, DAGBuilder
from dagron.errors import CycleError, DAGError, DuplicateNodeError, NodeNotFoundError
from dagron.execution.tracing import ExecutionTrace, TraceEvent, TraceEventType
from dagron.executor import DAGExecutor, ExecutionResult, NodeResult, NodeStatus

__all__ = [
    "DAG",
    "CycleError",
    "DAGBuilder",
    "DAGError",
    "DAGExecutor",
    "DuplicateNodeError",
    "ExecutionResult",
    "ExecutionTrace",
    "NodeNotFoundError",
    "NodeResult",
    "NodeStatus",
    "TraceEvent",
    "TraceEventType",
    "__version__",
]
