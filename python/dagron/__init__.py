"""dagron: DAG execution with a Rust-accelerated execution-trace recorder."""

# The package version is Cargo.toml's, compiled into the extension (CARGO_PKG_VERSION);
# the wheel's metadata takes the same one, so the two cannot drift apart.
from dagron._core import __version__
from dagron.aio import AsyncDAGExecutor
from dagron.comparison import RunComparison, compare
from dagron.dag import DAG, DAGBuilder
from dagron.distributed import (
    DaskBackend,
    DistributedExecutor,
    ProcessBackend,
    ThreadBackend,
    WorkerLostError,
)
from dagron.errors import CycleError, DAGError, DuplicateNodeError, NodeNotFoundError
from dagron.execution.tracing import ExecutionTrace, TraceEvent, TraceEventType
from dagron.executor import DAGExecutor, ExecutionResult, NodeResult, NodeStatus
from dagron.profiling import NodeProfile, ProfileReport, profile_execution

__all__ = [
    "AsyncDAGExecutor",
    "DAG",
    "CycleError",
    "DAGBuilder",
    "DAGError",
    "DAGExecutor",
    "DaskBackend",
    "DistributedExecutor",
    "DuplicateNodeError",
    "ExecutionResult",
    "ExecutionTrace",
    "NodeNotFoundError",
    "NodeProfile",
    "NodeResult",
    "NodeStatus",
    "ProcessBackend",
    "ProfileReport",
    "RunComparison",
    "ThreadBackend",
    "TraceEvent",
    "TraceEventType",
    "WorkerLostError",
    "__version__",
    "compare",
    "profile_execution",
]
