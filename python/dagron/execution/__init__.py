"""Execution support for dagron, at upstream dagron's import paths: tracing lives in
:mod:`dagron.execution.tracing`; the executors, their result types and the
distributed backends are re-exported here (loaded on first use, since the executors
themselves import :mod:`dagron.execution.tracing`)."""

from typing import Any

from dagron.execution.tracing import ExecutionTrace, TraceEvent, TraceEventType

# name -> (module, attribute): what upstream's ``dagron.execution`` offers that this
# package has elsewhere.
_ELSEWHERE = {
    "ExecutionResult": ("dagron.results", "ExecutionResult"),
    "NodeResult": ("dagron.results", "NodeResult"),
    "NodeStatus": ("dagron.results", "NodeStatus"),
    "ExecutionCallbacks": ("dagron.results", "ExecutionCallbacks"),
    "DAGExecutor": ("dagron.executor", "DAGExecutor"),
    "AsyncDAGExecutor": ("dagron.aio", "AsyncDAGExecutor"),
    "DistributedExecutor": ("dagron.distributed", "DistributedExecutor"),
    "DistributedExecutionResult": ("dagron.distributed", "DistributedExecutionResult"),
    "DistributedBackend": ("dagron.distributed", "DistributedBackend"),
    "ThreadBackend": ("dagron.distributed", "ThreadBackend"),
    "MultiprocessingBackend": ("dagron.distributed", "MultiprocessingBackend"),
}

__all__ = ["ExecutionTrace", "TraceEvent", "TraceEventType", *_ELSEWHERE]


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _ELSEWHERE[name]
    except KeyError:
        raise AttributeError(f"module 'dagron.execution' has no attribute {name!r}") from None
    import importlib

    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
