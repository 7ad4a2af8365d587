"""Upstream dagron's import path for :class:`RayBackend`
(``dagron.execution.backends.ray``).

A re-export only: the backend is the one of :mod:`dagron.distributed`; importing this
module does not import Ray (the backend does when it is made).
"""

from dagron.distributed import RayBackend

__all__ = ["RayBackend"]
