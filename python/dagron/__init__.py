"""dagron: DAG execution with a Rust-accelerated execution-trace recorder.

Installed as the ``dagron-trace`` distribution (``dagron`` on PyPI is the upstream
package, which this one replaces: both install ``dagron/``).
"""

# First: `dagron-trace` interrupted while the imports below run exits quietly.
from dagron import _cli_start  # noqa: F401, I001

import importlib.metadata as _metadata

from dagron import _core
from dagron.aio import AsyncDAGExecutor
from dagron.comparison import RunComparison, compare
from dagron.dag import DAG, DAGBuilder
from dagron.distributed import (
    DaskBackend,
    DistributedExecutionResult,
    DistributedExecutor,
    ProcessBackend,
    ThreadBackend,
    WorkerLostError,
)
from dagron.errors import CycleError, DAGError, DuplicateNodeError, NodeNotFoundError
from dagron.execution.tracing import ExecutionTrace, TraceEvent, TraceEventType
from dagron.executor import (
    DAGExecutor,
    ExecutionCallbacks,
    ExecutionResult,
    NodeResult,
    NodeStatus,
)
from dagron.profiling import NodeProfile, ProfileReport, profile_execution

#: The installed distribution's name: the wheel, the sdist and ``pip`` know it by this.
_DISTRIBUTION = "dagron-trace"

try:
    # The installed metadata's version; maturin copies it from Cargo.toml, which the
    # extension also compiles in (CARGO_PKG_VERSION), so the two agree.
    __version__: str = _metadata.version(_DISTRIBUTION)
except _metadata.PackageNotFoundError:  # run from a source tree, not installed
    __version__ = _core.__version__

__all__ = [
    "AsyncDAGExecutor",
    "DAG",
    "CycleError",
    "DAGBuilder",
    "DAGError",
    "DAGExecutor",
    "DaskBackend",
    "DistributedExecutionResult",
    "DistributedExecutor",
    "DuplicateNodeError",
    "ExecutionCallbacks",
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
