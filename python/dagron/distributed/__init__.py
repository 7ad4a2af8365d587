"""Run a DAG beyond one thread pool: on threads, processes of this machine, or Dask.

:class:`DistributedExecutor` runs each node on a backend (:class:`ThreadBackend`,
:class:`ProcessBackend`, :class:`DaskBackend`) and traces each node where it ran.
``DaskBackend`` needs ``pip install 'dagron-trace[dask]'``; importing this package does not.
"""

from dagron.distributed._worker import RemoteError
from dagron.distributed.backends import (
    Backend,
    DaskBackend,
    DistributedBackend,
    ProcessBackend,
    ProtocolBackend,
    RayBackend,
    ThreadBackend,
    WorkerLostError,
)
from dagron.distributed.executor import DistributedExecutionResult, DistributedExecutor

#: Upstream dagron's name for :class:`ProcessBackend`.
MultiprocessingBackend = ProcessBackend

__all__ = [
    "Backend",
    "DaskBackend",
    "DistributedBackend",
    "DistributedExecutionResult",
    "DistributedExecutor",
    "MultiprocessingBackend",
    "ProcessBackend",
    "ProtocolBackend",
    "RayBackend",
    "RemoteError",
    "ThreadBackend",
    "WorkerLostError",
]
