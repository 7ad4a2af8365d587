"""Upstream dagron's import path for the executors (``dagron.execution.executor``).

A re-export only: the executors live in :mod:`dagron.executor` and :mod:`dagron.aio`,
and are re-exported here so that code importing from upstream's module runs unchanged.
"""

from dagron.execution import AsyncDAGExecutor, DAGExecutor

__all__ = ["AsyncDAGExecutor", "DAGExecutor"]
