"""Upstream dagron's import path for :class:`DistributedExecutor`
(``dagron.execution.distributed_executor``).

A re-export only: the executor lives in :mod:`dagron.distributed`.
"""

from dagron.execution import DistributedExecutionResult, DistributedExecutor

__all__ = ["DistributedExecutionResult", "DistributedExecutor"]
