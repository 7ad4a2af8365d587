"""Upstream dagron's import path for :class:`ThreadBackend`
(``dagron.execution.backends.thread``).

A re-export only: the backend is the one of :mod:`dagron.execution`.
"""

from dagron.execution import ThreadBackend

__all__ = ["ThreadBackend"]
