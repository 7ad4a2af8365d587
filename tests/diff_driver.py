"""One side of the differential test (tests/test_differential.py): runs a case through
whichever ``dagron`` this interpreter imports, and reports what happened as JSON.

The same file drives both packages: this project's in the test's own process
(:func:`run_case`), and upstream dagron 0.1.1 in a CPython 3.12 venv of its own, as a
subprocess (``python diff_driver.py``: one JSON case a line on stdin, one JSON
observation a line on stdout). It uses only the API the two share, and reports raw
observations; the test normalizes the kept differences.

A case: ``nodes`` (names), ``edges`` (pairs), ``behaviour`` (name -> ``"return"``,
``"raise"``, ``"slow"`` or ``"missing"``), ``executor`` (``"sync"``, ``"async"`` or
``"distributed"``: ``DAGExecutor``, ``AsyncDAGExecutor``, ``DistributedExecutor`` on a
``ThreadBackend``), ``fail_fast``, ``max_workers`` (``None`` or an int; the backend's
for ``"distributed"``), ``timeout`` (per node: ``execute(timeout=)``, or
``node_timeout=`` for ``"distributed"``) and ``slow`` (seconds a slow task sleeps).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any, Callable


def _tasks(case: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    """The callables of the case's nodes (none for a ``"missing"`` one)."""
    slow = case["slow"]
    is_async = case["executor"] == "async"
    tasks: dict[str, Callable[[], Any]] = {}
    for name in case["nodes"]:
        kind = case["behaviour"][name]
        if kind == "missing":
            continue
        value = f"value of {name}"
        message = f"boom in {name}"

        def sync_task(kind: str = kind, value: str = value, message: str = message) -> Any:
            if kind == "raise":
                raise ValueError(message)
            if kind == "slow":
                time.sleep(slow)
            return value

        async def async_task(kind: str = kind, value: str = value, message: str = message) -> Any:
            if kind == "raise":
                raise ValueError(message)
            if kind == "slow":
                await asyncio.sleep(slow)
            return value

        tasks[name] = async_task if is_async else sync_task
    return tasks


def run_case(case: dict[str, Any]) -> dict[str, Any]:
    """Run ``case`` with this interpreter's ``dagron``; return the observations."""
    import dagron
    from dagron.execution.backends.thread import ThreadBackend
    from dagron.execution.distributed_executor import DistributedExecutor

    dag = dagron.DAG()
    dag.add_nodes(case["nodes"])
    dag.add_edges([tuple(edge) for edge in case["edges"]])
    calls: dict[str, list[str]] = {name: [] for name in case["nodes"]}
    callbacks = dagron.ExecutionCallbacks(
        on_start=lambda n: calls[n].append("start"),
        on_complete=lambda n, v: calls[n].append("complete"),
        on_failure=lambda n, e: calls[n].append("failure"),
        on_skip=lambda n: calls[n].append("skip"),
    )
    tasks = _tasks(case)
    dispatch = None  # what DistributedExecutor adds to the result
    options = {"fail_fast": case["fail_fast"], "enable_tracing": True, "callbacks": callbacks}
    timeout = case["timeout"]
    kind = case["executor"]
    if kind == "sync":
        executor = dagron.DAGExecutor(dag, case["max_workers"], **options)
        result = executor.execute(tasks, timeout=timeout)
    elif kind == "async":
        executor = dagron.AsyncDAGExecutor(dag, case["max_workers"], **options)
        result = asyncio.run(executor.execute(tasks, timeout=timeout))
    else:
        backend = ThreadBackend(max_workers=case["max_workers"])
        with DistributedExecutor(dag, backend, node_timeout=timeout, **options) as executor:
            outer = executor.execute(tasks)
        dispatch = {"backend_name": outer.backend_name, "dispatch_info": outer.dispatch_info}
        result = outer.execution_result
    # What the callbacks saw by the time execute returned.
    seen = {name: list(names) for name, names in calls.items()}
    nodes = {}
    for name, node in result.node_results.items():
        error = node.error
        nodes[name] = {
            "status": node.status.value,
            "result": node.result,
            "error": None if error is None else [type(error).__name__, str(error)],
        }
    events: dict[str, list[list[Any]]] = {}
    step_events = 0
    for event in result.trace.events:
        if event.node_name is None:
            step_events += event.event_type.value in ("step_started", "step_completed")
            continue
        events.setdefault(event.node_name, []).append([event.event_type.value, event.error])
    counts = {
        field: getattr(result, field)
        for field in ("succeeded", "failed", "skipped", "timed_out", "cancelled")
    }
    return {
        "nodes": nodes,
        "counts": counts,
        "events": events,
        "step_events": step_events,
        "summary": result.trace.summary().split("\n"),
        "callbacks": seen,
        "dispatch": dispatch,
    }


def main() -> int:
    for line in sys.stdin:
        case = json.loads(line)
        try:
            observed: dict[str, Any] = {"ok": run_case(case)}
        except Exception as exc:
            observed = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(observed) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
