"""Upstream dagron's import path for the backend protocol
(``dagron.execution.backends.base``).

A re-export only: :class:`DistributedBackend` is the one of :mod:`dagron.execution`.
"""

from dagron.execution import DistributedBackend

__all__ = ["DistributedBackend"]
