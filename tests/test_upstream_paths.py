"""Upstream dagron's module paths for the executors are re-exports of this package's
objects (issue 23, part 5): importing from either path gives the same class."""

from __future__ import annotations

import importlib

import dagron.distributed
import dagron.execution
import pytest

# module path -> the names it exports, each the object of dagron.execution.
UPSTREAM_PATHS = {
    "dagron.execution.executor": ["AsyncDAGExecutor", "DAGExecutor"],
    "dagron.execution._types": [
        "ExecutionCallbacks",
        "ExecutionResult",
        "NodeResult",
        "NodeStatus",
    ],
    "dagron.execution.distributed_executor": [
        "DistributedExecutionResult",
        "DistributedExecutor",
    ],
    "dagron.execution.backends.base": ["DistributedBackend"],
    "dagron.execution.backends.thread": ["ThreadBackend"],
    "dagron.execution.backends.multiprocessing": ["MultiprocessingBackend"],
}


@pytest.mark.parametrize("path", sorted(UPSTREAM_PATHS))
def test_module_reexports_the_package_objects(path: str) -> None:
    module = importlib.import_module(path)
    names = UPSTREAM_PATHS[path]
    assert sorted(module.__all__) == names
    for name in names:
        assert getattr(module, name) is getattr(dagron.execution, name), name


def test_backends_package_exports_each_backend_once() -> None:
    backends = importlib.import_module("dagron.execution.backends")
    assert sorted(backends.__all__) == [
        "DistributedBackend",
        "MultiprocessingBackend",
        "RayBackend",
        "ThreadBackend",
    ]
    for name in ("DistributedBackend", "MultiprocessingBackend", "ThreadBackend"):
        assert getattr(backends, name) is getattr(dagron.execution, name), name
    assert backends.RayBackend is dagron.distributed.RayBackend


def test_ray_path_imports_without_ray() -> None:
    # Importing the path must not need Ray; making a backend does.
    ray_module = importlib.import_module("dagron.execution.backends.ray")
    assert ray_module.RayBackend is dagron.distributed.RayBackend
    assert ray_module.__all__ == ["RayBackend"]


def test_executors_are_the_top_level_ones() -> None:
    from dagron.execution.executor import AsyncDAGExecutor, DAGExecutor

    assert DAGExecutor is dagron.DAGExecutor
    assert AsyncDAGExecutor is dagron.AsyncDAGExecutor
