"""Checks of what an executor is given (tasks, options, costs, callbacks), each with
a clear error naming what was wrong, and the small rules every executor shares: the
default worker count, a step's order by cost, an exception as ``"Type: message"``."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any, Callable, Optional

from dagron.results import ExecutionCallbacks

__all__ = [
    "check_callbacks",
    "check_costs",
    "check_max_workers",
    "check_timeout",
    "default_max_workers",
    "describe",
    "order_by_cost",
    "resolve_tasks",
]


def default_max_workers() -> int:
    """The thread cap used when ``max_workers`` is None (as ``ThreadPoolExecutor``)."""
    return min(32, (os.cpu_count() or 1) + 4)


def describe(exc: BaseException) -> str:
    """``"ExcType: message"``, or just ``"ExcType"`` when the message is empty."""
    name = type(exc).__name__
    try:
        message = str(exc)
    except Exception:  # a broken __str__ must not kill the worker
        message = "<exception str() failed>"
    return f"{name}: {message}" if message else name


def resolve_tasks(
    names: list[str], tasks: Mapping[str, Optional[Callable[[], Any]]]
) -> list[Optional[Callable[[], Any]]]:
    """The task of each node (``None`` when missing); a clear error for a key that is
    not a node or a value that is not callable."""
    if not isinstance(tasks, Mapping):
        raise TypeError(f"tasks must be a mapping, not {type(tasks).__name__}")
    known = set(names)
    unknown = [key for key in tasks if key not in known]
    callables = list(map(tasks.get, names))
    if unknown:
        # A node is its text (see dagron.dag): a str subclass key that its own
        # __eq__/__hash__ kept from matching still names the node of its text.
        index = {name: i for i, name in enumerate(names)}
        for key in unknown:
            i = index.get(str.__str__(key)) if isinstance(key, str) else None
            if i is None:
                raise ValueError(f"tasks given for nodes not in the DAG: {unknown!r}")
            if callables[i] is not None:
                raise ValueError(f"tasks given twice for node {names[i]!r}")
            callables[i] = tasks[key]
    for name, task in zip(names, callables):
        if task is not None and not callable(task):
            raise TypeError(f"the task for node {name!r} is not callable: {task!r}")
    return callables


def check_timeout(timeout: object, what: str = "timeout") -> Optional[float]:
    """``timeout`` as seconds, or None for no limit (``None`` or infinity)."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"{what} must be a number of seconds, not {timeout!r}")
    if not timeout >= 0:
        raise ValueError(f"{what} must be >= 0, not {timeout!r}")
    return None if math.isinf(timeout) else timeout


def check_max_workers(max_workers: object) -> Optional[int]:
    if max_workers is not None and (
        not isinstance(max_workers, int) or isinstance(max_workers, bool)
    ):
        raise TypeError(f"max_workers must be an int or None, not {max_workers!r}")
    if max_workers is not None and max_workers < 1:
        raise ValueError(f"max_workers must be at least 1, not {max_workers}")
    return max_workers


def check_callbacks(callbacks: object) -> Optional[ExecutionCallbacks]:
    """``callbacks`` as given, or None when it sets no function (so a run without
    callbacks pays nothing for them); a clear error for anything else."""
    if callbacks is None:
        return None
    hooks = ("on_start", "on_complete", "on_failure", "on_skip")
    if not all(hasattr(callbacks, hook) for hook in hooks):
        raise TypeError(f"callbacks must be an ExecutionCallbacks, not {callbacks!r}")
    for hook in hooks:
        function = getattr(callbacks, hook)
        if function is not None and not callable(function):
            raise TypeError(f"callbacks.{hook} is not callable: {function!r}")
    if all(getattr(callbacks, hook) is None for hook in hooks):
        return None
    return callbacks  # type: ignore[return-value]


def check_costs(costs: object) -> Optional[dict[str, float]]:
    """``costs`` (node name -> estimated seconds) as a dict, checked."""
    if costs is None:
        return None
    if not isinstance(costs, Mapping):
        raise TypeError(f"costs must be a mapping of node name to seconds, not {costs!r}")
    checked = {}
    for name, cost in costs.items():
        if isinstance(cost, bool) or not isinstance(cost, (int, float)) or not cost >= 0:
            raise ValueError(f"the cost of node {name!r} must be a number >= 0, not {cost!r}")
        checked[str(name)] = float(cost)
    return checked


def order_by_cost(
    names: list[str], levels: list[list[int]], costs: Optional[dict[str, float]]
) -> list[list[int]]:
    """Each step's nodes, the costliest first (a node without a cost counts 1.0; ties
    keep the DAG's order); a clear error for a cost given for a name not in the DAG."""
    if not costs:
        return levels
    unknown = set(costs).difference(names)
    if unknown:
        raise ValueError(f"costs given for nodes not in the DAG: {sorted(unknown)!r}")
    cost = [costs.get(name, 1.0) for name in names]
    return [sorted(level, key=lambda i: -cost[i]) for level in levels]
