"""Upstream dagron's import path for :class:`MultiprocessingBackend`
(``dagron.execution.backends.multiprocessing``).

A re-export only: the backend is the one of :mod:`dagron.execution`.
"""

from dagron.execution import MultiprocessingBackend

__all__ = ["MultiprocessingBackend"]
