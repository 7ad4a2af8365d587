"""The exceptions and warnings dagron raises, in one place: building a
:class:`dagron.DAG` (:class:`DAGError` and its kinds, each also the built-in
exception a caller would catch without knowing dagron: ``ValueError`` or
``KeyError``), reading trace files (:class:`TraceFileError`,
:class:`TraceJournalWarning`), and running nodes elsewhere (:class:`WorkerLostError`,
:class:`RemoteError`).
"""

from __future__ import annotations

__all__ = [
    "CycleError",
    "DAGError",
    "DuplicateNodeError",
    "NodeNotFoundError",
    "RemoteError",
    "TraceFileError",
    "TraceJournalWarning",
    "WorkerLostError",
]


class TraceFileError(ValueError):
    """A trace file that cannot be read back: damaged, foreign or empty. The
    message names the file and, where it applies, the byte offset."""


class TraceJournalWarning(UserWarning):
    """Something a journal could not do, said once, without stopping the program:
    loading a cut journal (its process was killed mid-write: the events up to its
    last whole block were loaded, and the rest dropped); a journal whose writes
    failed (a full disk: told at the next ``record``, when the trace goes, and at
    interpreter exit); or a forked child's copy of a journaled trace (a journal
    does not cross ``fork()``: the child keeps its events in memory only)."""


class DAGError(Exception):
    """Base class of every error raised while building a :class:`dagron.DAG`."""


class DuplicateNodeError(DAGError, ValueError):
    """A node was added under a name the DAG already holds. ``name`` is that name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"node {name!r} already exists")
        self.name = name


class NodeNotFoundError(DAGError, KeyError):
    """An edge named a node the DAG does not hold. ``name`` is that name.

    ``str()`` gives the plain message (a bare ``KeyError`` would wrap it in quotes).
    """

    def __init__(self, name: str) -> None:
        self.message = f"node {name!r} does not exist"
        super().__init__(self.message)
        self.name = name

    def __str__(self) -> str:
        return self.message


class CycleError(DAGError, ValueError):
    """An edge would close a cycle; the DAG was left unchanged.

    ``cycle`` is the cycle as a list of node names that starts and ends with the
    source of the rejected edge, e.g. ``["c", "a", "b", "c"]`` for the edge
    ``c -> a`` added to ``a -> b -> c``; the message shows it as ``c -> a -> b -> c``.
    """

    def __init__(self, cycle: list[str]) -> None:
        self.cycle = cycle
        path = " -> ".join(cycle)
        super().__init__(f"edge {cycle[0]!r} -> {cycle[1]!r} would create a cycle: {path}")


class WorkerLostError(RuntimeError):
    """The worker running a node died (its process was killed or crashed) before the
    node ended. ``node`` is the node's name."""

    def __init__(self, node: str, detail: str) -> None:
        super().__init__(f"the worker running node {node!r} was lost: {detail}")
        self.node = node


class RemoteError(Exception):
    """Stands for an exception a node's task raised in another process that cannot
    be rebuilt here (its class cannot be unpickled: say, an ``__init__`` that takes
    other arguments than the exception's ``args``). ``type_name`` is the original
    exception's class name, ``message`` its message; ``str()`` is
    ``"TypeName: message"``, as the node's ``NODE_FAILED`` event says."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(type_name, message)
        self.type_name = type_name
        self.message = message

    def __str__(self) -> str:
        return f"{self.type_name}: {self.message}" if self.message else self.type_name
