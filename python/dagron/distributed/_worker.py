"""The worker side of :class:`~dagron.distributed.DistributedExecutor`: run one node
where the backend placed it, and record its events there.

:func:`run_node` is what a backend runs (in a thread, a process of this machine, or a
Dask worker). It records the node's ``NODE_STARTED`` and its end event into a
one-node :class:`~dagron.execution.tracing.ExecutionTrace` on the worker's clock,
through a :class:`dagron._core.RunState` (as ``DAGExecutor`` does, so a node's
``duration`` is the time between the clock readings that stamp its two events), and
returns that trace (which carries its origin: host, pid, clocks) with the outcome;
the driver merges the traces (see :mod:`dagron.distributed._traces`). This module
imports nothing from Dask.
"""

from __future__ import annotations

import pickle
from typing import Any, Callable, Optional

from dagron import _core
from dagron._run import COMPLETED, FAILED, PENDING, RUNNING
from dagron._validation import describe
from dagron.errors import RemoteError
from dagron.execution.tracing import ExecutionTrace

__all__ = ["NodeOutcome", "RemoteError", "dumps", "loads_failure", "run_node"]


def _stand_in(exc: BaseException) -> RemoteError:
    text = describe(exc)
    name = type(exc).__name__
    return RemoteError(name, text[len(name) + 2 :] if text.startswith(name + ": ") else "")


def loads_failure(data: bytes, error_text: Optional[str]) -> BaseException:
    """The exception a node's worker sent back pickled, or a :class:`RemoteError`
    made from its ``"Type: message"`` text when it cannot be unpickled here."""
    try:
        exc = pickle.loads(data)
    except Exception:
        text = error_text or "Exception"
        name, _, message = text.partition(": ")
        return RemoteError(name, message)
    return exc if isinstance(exc, BaseException) else RemoteError("Exception", repr(exc))


try:  # Dask brings cloudpickle: closures and lambdas then cross processes too.
    import cloudpickle

    _dumps: Callable[[Any], bytes] = cloudpickle.dumps
except ImportError:  # pragma: no cover - only without dagron-trace[dask]
    _dumps = pickle.dumps

#: ``(completed, value or exception, error text, duration, trace)``: what
#: :func:`run_node` returns. With ``serialized``, the value or exception is pickled
#: bytes; ``error text`` is ``"ExcType: message"`` for a failure, else ``None``;
#: ``trace`` is ``None`` when the run is not traced.
NodeOutcome = tuple[bool, Any, Optional[str], float, Optional[ExecutionTrace]]


def dumps(task: Any) -> bytes:
    """Pickle a task with cloudpickle when it is installed (lambdas, closures and
    functions of ``__main__`` then travel by value), else with pickle."""
    return _dumps(task)


def dump_result(value: Any) -> bytes:
    """Pickle a result or an exception for the driver: with pickle when it can (much
    faster than cloudpickle), else with cloudpickle."""
    try:
        return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
    except Exception:
        if _dumps is pickle.dumps:
            raise
    return _dumps(value)


def run_node(name: str, task: Any, tracing: bool, serialized: bool) -> NodeOutcome:
    """Run node ``name``'s task (a callable, or its pickled bytes when ``serialized``)
    and return its :data:`NodeOutcome`. Never raises for a failing task: the failure
    is the outcome. With ``serialized``, the value (or exception) is returned pickled,
    and a value that cannot be pickled fails the node with a ``TypeError`` naming it.
    """
    status = [PENDING]
    results: list[Any] = [None]
    errors: list[Optional[BaseException]] = [None]
    durations = [0.0]
    trace = ExecutionTrace(_node_names=_core.NodeNames([name])) if tracing else None
    state = _core.RunState(status, results, errors, durations, RUNNING, COMPLETED, FAILED, trace)
    state.start(0)
    try:
        fn = pickle.loads(task) if serialized else task
        value = fn()
        if serialized:
            try:
                value = dump_result(value)
            except Exception as exc:
                raise TypeError(
                    f"the result of node {name!r} cannot be pickled: {describe(exc)}"
                ) from None
    except BaseException as exc:  # the node fails; the worker goes on
        text = describe(exc)
        state.fail(0, exc, text)
        failure: Any = exc
        if serialized:
            try:
                failure = dump_result(exc)
                pickle.loads(failure)  # what the driver will do with it
            except Exception:  # an exception that cannot travel: its type and text do
                failure = dump_result(_stand_in(exc))
        return (False, failure, text, durations[0], trace)
    state.complete(0, value)
    return (True, value, None, durations[0], trace)
