"""Upstream dagron's import path for the distributed backends
(``dagron.execution.backends``).

A re-export only: the backends live in :mod:`dagron.distributed`. Upstream's
``CeleryBackend`` has no counterpart in this package.
"""

from dagron.execution.backends.base import DistributedBackend
from dagron.execution.backends.multiprocessing import MultiprocessingBackend
from dagron.execution.backends.ray import RayBackend
from dagron.execution.backends.thread import ThreadBackend

__all__ = ["DistributedBackend", "MultiprocessingBackend", "RayBackend", "ThreadBackend"]
