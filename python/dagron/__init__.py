"""dagron: DAG execution with a Rust-accelerated execution-trace recorder."""

from dagron.aio import AsyncDAGExecutor
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
    "NodeResult",
    "NodeStatus",
    "ProcessBackend",
    "ThreadBackend",
    "TraceEvent",
    "TraceEventType",
    "WorkerLostError",
]
