"""dagron: DAG execution with a Rust-accelerated execution-trace recorder."""

from dagron.dag import DAG, DAGBuilder
from dagron.errors import CycleError, DAGError, DuplicateNodeError, NodeNotFoundError
from dagron.execution.tracing import ExecutionTrace, TraceEvent, TraceEventType
from dagron.executor import DAGExecutor, ExecutionResult, NodeResult, NodeStatus
from dagron.profiling import NodeProfile, ProfileReport, profile_execution

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
    "NodeProfile",
    "NodeResult",
    "NodeStatus",
    "ProfileReport",
    "TraceEvent",
    "TraceEventType",
    "profile_execution",
]
