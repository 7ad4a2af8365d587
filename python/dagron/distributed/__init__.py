"""Run a DAG beyond one thread pool: on threads, processes of this machine, or Dask.

:class:`DistributedExecutor` runs each node on a backend (:class:`ThreadBackend`,
:class:`ProcessBackend`, :class:`DaskBackend`) and traces each node where it ran.
``DaskBackend`` needs ``pip install 'dagron[dask]'``; importing this package does not.
"""

from dagron.distributed.backends import (
    Backend,
    DaskBackend,
    ProcessBackend,
    RayBackend,
    ThreadBackend,
    WorkerLostError,
)
from dagron.distributed.executor import DistributedExecutor

__all__ = [
    "Backend",
    "DaskBackend",
    "DistributedExecutor",
    "ProcessBackend",
    "RayBackend",
    "ThreadBackend",
    "WorkerLostError",
]
