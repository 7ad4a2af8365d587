"""Upstream dagron's import path for the executors' data types
(``dagron.execution._types``).

A re-export only: the types are those of :mod:`dagron.execution`.
"""

from dagron.execution import ExecutionCallbacks, ExecutionResult, NodeResult, NodeStatus

__all__ = ["ExecutionCallbacks", "ExecutionResult", "NodeResult", "NodeStatus"]
