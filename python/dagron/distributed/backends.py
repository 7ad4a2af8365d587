"""Where :class:`~dagron.distributed.DistributedExecutor` runs its nodes.

A backend runs :func:`dagron.distributed._worker.run_node` calls and reports when
each is done (:meth:`Backend.submit_node`). :class:`ThreadBackend` uses threads of
this process, :class:`ProcessBackend` processes of this machine, :class:`DaskBackend`
a Dask cluster (an embedded ``LocalCluster``, or a scheduler by address, or your
``Client``).

Every backend also speaks upstream dagron's :class:`DistributedBackend` protocol
(``name``, ``submit(fn, *args, **kwargs)``, ``result(future, timeout=None)``,
``shutdown(wait=True)``), and a backend of your own written to that protocol plugs
into ``DistributedExecutor`` as it is (:class:`ProtocolBackend` adapts it).
"""

from __future__ import annotations

import multiprocessing
import threading
import uuid
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from queue import Empty, SimpleQueue
from typing import Any, Callable, Optional, Protocol, runtime_checkable

from dagron._validation import check_max_workers, default_max_workers
from dagron.errors import WorkerLostError

__all__ = [
    "Backend",
    "DaskBackend",
    "DistributedBackend",
    "ProcessBackend",
    "ProtocolBackend",
    "RayBackend",
    "ThreadBackend",
    "WorkerLostError",
]


def _check_per_slot(value: object, what: str) -> int:
    """A per-thread or per-CPU node count: ``TypeError`` for a non-int,
    ``ValueError`` below 1 (the same for every backend)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{what} must be an int, not {value!r}")
    if value < 1:
        raise ValueError(f"{what} must be >= 1, not {value}")
    return value


@runtime_checkable
class DistributedBackend(Protocol):
    """Upstream dagron's backend protocol: what a backend of your own implements to
    run :class:`~dagron.distributed.DistributedExecutor`'s nodes (every backend
    here implements it too).

    ``name`` names the backend (``DistributedExecutionResult.backend_name``);
    ``submit(fn, *args, **kwargs)`` starts ``fn(*args, **kwargs)`` and returns a
    future; ``result(future, timeout=None)`` waits for it and returns its value or
    raises its exception; ``shutdown(wait=True)`` releases the backend.
    """

    @property
    def name(self) -> str: ...

    def submit(self, fn: Any, *args: Any, **kwargs: Any) -> Any: ...

    def result(self, future: Any, timeout: Optional[float] = None) -> Any: ...

    def shutdown(self, wait: bool = True) -> None: ...


class Backend:
    """What the executor needs from a place to run nodes.

    ``serializes`` says whether tasks and results cross a process boundary (and are
    then pickled by the executor, which names the node when that fails).
    """

    serializes = True
    #: The backend's name (upstream's ``DistributedBackend.name``).
    name = "backend"

    def slots(self) -> int:
        """How many nodes the executor may have submitted at once (asked once per
        run)."""
        raise NotImplementedError

    def submit_node(
        self, fn: Callable[..., Any], args: Sequence[Any], done: Callable[[Any], None]
    ) -> Any:
        """Start ``fn(*args)``; return a handle, and call ``done(handle)`` (from any
        thread) once it has ended."""
        raise NotImplementedError

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Upstream's protocol: start ``fn(*args, **kwargs)``, return a future."""
        raise NotImplementedError

    def result(self, future: Any, timeout: Optional[float] = None) -> Any:
        """Upstream's protocol: ``future``'s value (its exception is raised;
        ``TimeoutError`` after ``timeout`` seconds)."""
        return future.result(timeout=timeout)

    def outcome(self, handle: Any, node: str) -> Any:
        """What ``fn`` returned; :class:`WorkerLostError` if its worker died."""
        raise NotImplementedError

    def outcomes(self, handles: list[Any], nodes: list[str]) -> list[Any]:
        """:meth:`outcome` of each handle (all done), an exception standing for one
        that raised."""
        results: list[Any] = []
        for handle, node in zip(handles, nodes):
            try:
                results.append(self.outcome(handle, node))
            except Exception as exc:
                results.append(exc)
        return results

    def cancel(self, handle: Any) -> None:
        """Give up on a node: cancel it if it has not started (a running one may run
        on; its outcome is ignored)."""

    def shutdown(self, wait: bool = True) -> None:
        """Release what the backend started (idempotent); ``wait``: for the tasks
        still running (not for one given up on)."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()


class _PoolBackend(Backend):
    """A backend over a ``concurrent.futures`` executor, made at first use."""

    def __init__(self, max_workers: Optional[int]) -> None:
        self.max_workers = check_max_workers(max_workers) or default_max_workers()
        self._pool: Optional[Any] = None
        self._abandoned = False

    def _make_pool(self) -> Any:
        raise NotImplementedError

    def slots(self) -> int:
        return self.max_workers

    def submit_node(
        self, fn: Callable[..., Any], args: Sequence[Any], done: Callable[[Any], None]
    ) -> Future[Any]:
        future = self.submit(fn, *args)
        future.add_done_callback(done)
        return future

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
        if self._pool is None:
            self._pool = self._make_pool()
        future: Future[Any] = self._pool.submit(fn, *args, **kwargs)
        return future

    def outcome(self, handle: Future[Any], node: str) -> Any:
        return handle.result()

    def cancel(self, handle: Future[Any]) -> None:
        if not handle.cancel():
            self._abandoned = True  # still running: shutdown must not wait for it

    def shutdown(self, wait: bool = True) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait and not self._abandoned, cancel_futures=True)


class ThreadBackend(_PoolBackend):
    """Nodes run on up to ``max_workers`` threads of this process (``None``: as
    ``ThreadPoolExecutor``). Nothing is pickled. A node given up on (timed out) keeps
    its thread until it returns."""

    serializes = False
    name = "thread"

    def __init__(self, max_workers: Optional[int] = None) -> None:
        super().__init__(max_workers)

    def _make_pool(self) -> _DaemonThreadPool:
        return _DaemonThreadPool(self.max_workers)


class _DaemonThreadPool:
    """``ThreadPoolExecutor``'s ``submit`` and ``shutdown`` over daemon threads.

    ``concurrent.futures`` joins its worker threads at interpreter exit. A
    ``KeyboardInterrupt`` that lands in the driver while it holds a future's lock
    (between the lock's acquire and the ``with`` block it guards) leaves that lock
    held, a worker waits on it forever, and the process could then never exit. Daemon
    threads are not joined at exit, as with ``DAGExecutor``'s pool.
    """

    def __init__(self, size: int) -> None:
        self._jobs: SimpleQueue[Optional[tuple[Future[Any], Callable[[], Any]]]] = SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"dagron-node_{n}", daemon=True)
            for n in range(size)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._jobs.put((future, lambda: fn(*args, **kwargs)))
        return future

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                self._jobs.put(None)  # for the next thread
                return
            future, call = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                value = call()
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(value)

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        if cancel_futures:
            while True:
                try:
                    job = self._jobs.get_nowait()
                except Empty:
                    break
                if job is not None:
                    job[0].cancel()
        self._jobs.put(None)
        if wait:
            for thread in self._threads:
                thread.join()


class ProcessBackend(_PoolBackend):
    """Nodes run in up to ``max_workers`` processes of this machine (``None``: as
    many as the thread default), started with ``spawn``. Tasks and results are
    pickled (with cloudpickle when installed, so lambdas and closures work).

    A process that dies breaks Python's process pool: every node running in it then
    fails with :class:`WorkerLostError`, and the next node starts a new pool.
    Processes still running a node that was given up on are terminated at shutdown.
    Upstream's ``MultiprocessingBackend`` is this class.
    """

    name = "multiprocessing"

    def __init__(self, max_workers: Optional[int] = None) -> None:
        super().__init__(max_workers)

    def _make_pool(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("spawn")
        return ProcessPoolExecutor(self.max_workers, mp_context=context)

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
        try:
            return super().submit(fn, *args, **kwargs)
        except BrokenProcessPool:  # a worker died since: start a new pool
            self._pool = None
            return super().submit(fn, *args, **kwargs)

    def outcome(self, handle: Future[Any], node: str) -> Any:
        try:
            return handle.result()
        except BrokenProcessPool as exc:
            raise WorkerLostError(node, f"its process ended abruptly ({exc})") from None

    def shutdown(self, wait: bool = True) -> None:
        pool = self._pool
        if pool is not None and self._abandoned:
            # ``ProcessPoolExecutor`` has no public way to stop a running task.
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
        super().shutdown(wait)


class DaskBackend(Backend):
    """Nodes run on a Dask cluster (``pip install 'dagron-trace[dask]'``).

    ``client``: a ``distributed.Client`` to use (left open at shutdown);
    ``address``: a scheduler address to connect to (e.g. ``"tcp://10.0.0.5:8786"``);
    neither: an embedded ``distributed.LocalCluster`` on this machine, started now and
    closed at shutdown (``cluster_options`` go to ``LocalCluster``; its scheduler lets
    no task be retried after a worker dies, so a lost worker fails its node).

    Each node is one ``client.submit`` (``pure=False``). The executor keeps at most
    ``nodes_per_thread`` nodes per worker thread of the cluster submitted at once
    (counted when a run starts): enough for Dask to keep every worker busy while
    results come back (which the executor fetches in batches), few enough that
    ``cancel_event`` stops the run soon. A worker lost mid-node (Dask's
    ``KilledWorker``, once the scheduler's ``allowed-failures`` retries are spent)
    fails the node with :class:`WorkerLostError`.
    """

    def __init__(
        self,
        client: Any = None,
        address: Optional[str] = None,
        *,
        nodes_per_thread: int = 8,
        **cluster_options: Any,
    ) -> None:
        try:
            import distributed
        except ImportError as exc:  # pragma: no cover - only without dagron-trace[dask]
            raise ImportError(
                "DaskBackend needs Dask's distributed scheduler: pip install 'dagron-trace[dask]'"
            ) from exc
        if client is not None and address is not None:
            raise ValueError("DaskBackend takes a client or an address, not both")
        if cluster_options and (client is not None or address is not None):
            raise ValueError("cluster options are for the embedded LocalCluster only")
        self.nodes_per_thread = _check_per_slot(nodes_per_thread, "nodes_per_thread")
        self._distributed = distributed
        self._cluster: Any = None
        self._owns_client = client is None
        if client is not None:
            if not isinstance(client, distributed.Client):
                raise TypeError(f"client must be a distributed.Client, not {client!r}")
            self.client = client
        elif address is not None:
            self.client = distributed.Client(address)
        else:
            # No fixed dashboard port (8787 may be taken); worker processes listen on
            # the loopback only (threads of this process talk in-process).
            options: dict[str, Any] = {"dashboard_address": ":0"}
            if cluster_options.get("processes", True):
                options["host"] = "127.0.0.1"
            options.update(cluster_options)
            options.setdefault("scheduler_kwargs", {}).setdefault("allowed_failures", 0)
            self._cluster = distributed.LocalCluster(**options)
            self.client = distributed.Client(self._cluster)
        self._run = uuid.uuid4().hex[:8]
        self._count = 0
        self._closed = False

    name = "dask"

    def _client(self) -> Any:
        if self._closed:
            raise RuntimeError("this DaskBackend was shut down; make a new one")
        return self.client

    def slots(self) -> int:
        return max(1, sum(self._client().nthreads().values())) * self.nodes_per_thread

    def submit_node(
        self, fn: Callable[..., Any], args: Sequence[Any], done: Callable[[Any], None]
    ) -> Any:
        self._count += 1
        key = f"dagron-{args[0]}-{self._run}-{self._count}"
        future = self._client().submit(fn, *args, key=key, pure=False)
        future.add_done_callback(lambda _: done(future))
        return future

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self._client().submit(fn, *args, pure=False, **kwargs)

    def outcome(self, handle: Any, node: str) -> Any:
        if handle.status == "error":
            exc = handle.exception()
            if isinstance(exc, self._distributed.KilledWorker):
                raise WorkerLostError(node, f"{type(exc).__name__}: {exc}") from None
            raise exc
        return handle.result()

    def outcomes(self, handles: list[Any], nodes: list[str]) -> list[Any]:
        results: list[Any] = [None] * len(handles)
        finished = []
        for k, (handle, node) in enumerate(zip(handles, nodes)):
            if handle.status == "finished":
                finished.append(k)
            else:
                try:
                    results[k] = self.outcome(handle, node)
                except Exception as exc:
                    results[k] = exc
        if finished:  # one round trip for all the results
            values = self._client().gather([handles[k] for k in finished])
            for k, value in zip(finished, values):
                results[k] = value
        return results

    def cancel(self, handle: Any) -> None:
        handle.cancel()

    def shutdown(self, wait: bool = True) -> None:
        self._closed = True
        if self._owns_client and self.client is not None:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


class RayBackend(Backend):
    """Nodes run as Ray tasks (``pip install ray``; not part of ``dagron-trace[dask]``).

    ``address``: a Ray cluster to connect to (``"auto"``, ``"ray://host:10001"``);
    ``None``: the running Ray instance of this process if there is one, else a local
    one started now (``init_options`` go to ``ray.init``) and shut down at shutdown.
    Each node is one task (``max_retries=0``: a node whose worker dies fails with
    :class:`WorkerLostError` instead of running again); at most ``nodes_per_cpu``
    nodes per CPU of the cluster are submitted at once.
    """

    def __init__(
        self, address: Optional[str] = None, *, nodes_per_cpu: int = 8, **init_options: Any
    ) -> None:
        try:
            import ray
        except ImportError as exc:  # pragma: no cover - only without ray
            raise ImportError("RayBackend needs Ray: pip install ray") from exc
        self.nodes_per_cpu = _check_per_slot(nodes_per_cpu, "nodes_per_cpu")
        self._ray = ray
        self._owns = not ray.is_initialized()
        if self._owns:
            init_options.setdefault("include_dashboard", False)
            ray.init(address=address, **init_options)
        self._remote: Any = None

    def slots(self) -> int:
        cpus = int(self._ray.cluster_resources().get("CPU", 1))
        return max(1, cpus) * self.nodes_per_cpu

    name = "ray"

    def submit_node(
        self, fn: Callable[..., Any], args: Sequence[Any], done: Callable[[Any], None]
    ) -> Any:
        if self._remote is None:
            self._remote = self._ray.remote(max_retries=0)(fn)
        ref = self._remote.remote(*args)
        ref.future().add_done_callback(lambda _: done(ref))
        return ref

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self._ray.remote(max_retries=0)(fn).remote(*args, **kwargs)

    def result(self, future: Any, timeout: Optional[float] = None) -> Any:
        return self._ray.get(future, timeout=timeout)

    def outcome(self, handle: Any, node: str) -> Any:
        exceptions = self._ray.exceptions
        try:
            return self._ray.get(handle)
        except exceptions.RayTaskError:
            raise
        except exceptions.RayError as exc:  # the worker (or its node) died
            raise WorkerLostError(node, f"{type(exc).__name__}: {exc}") from None

    def cancel(self, handle: Any) -> None:
        self._ray.cancel(handle)

    def shutdown(self, wait: bool = True) -> None:
        if self._owns and self._ray.is_initialized():
            self._ray.shutdown()
        self._owns = False


class _Waited:
    """A node submitted to a protocol backend: its future, then its outcome."""

    __slots__ = ("error", "future", "value")

    def __init__(self, future: Any) -> None:
        self.future = future
        self.value: Any = None
        self.error: Optional[BaseException] = None


class ProtocolBackend(Backend):
    """A backend written to upstream's :class:`DistributedBackend` protocol, as the
    executor drives it (``DistributedExecutor`` wraps such a backend itself).

    Each node is one ``backend.submit(run_node, ...)``, with the task as a callable
    (the backend carries it as it carries any callable: a backend that crosses
    processes pickles it), and one thread of this process that waits in
    ``backend.result`` until it ends. At most ``slots`` nodes are submitted at once:
    the backend's ``max_workers`` (or ``_max_workers``) when it has one, else the
    thread default.
    """

    serializes = False

    def __init__(self, backend: Any, slots: Optional[int] = None) -> None:
        missing = [
            m for m in ("submit", "result", "shutdown") if not callable(getattr(backend, m, None))
        ]
        if missing:
            raise TypeError(
                "backend must be a dagron.distributed backend or have upstream's "
                f"DistributedBackend methods (submit, result, shutdown); {backend!r} "
                f"lacks {', '.join(missing)}"
            )
        self.backend = backend
        self.name = str(getattr(backend, "name", type(backend).__name__))
        cap = (
            slots
            or getattr(backend, "max_workers", None)
            or getattr(backend, "_max_workers", None)
        )
        self._slots = cap if isinstance(cap, int) and cap >= 1 else default_max_workers()

    def slots(self) -> int:
        return self._slots

    def submit_node(
        self, fn: Callable[..., Any], args: Sequence[Any], done: Callable[[Any], None]
    ) -> _Waited:
        handle = _Waited(self.backend.submit(fn, *args))
        waiter = threading.Thread(
            target=self._wait, args=(handle, done), name="dagron-waiter", daemon=True
        )
        waiter.start()
        return handle

    def _wait(self, handle: _Waited, done: Callable[[Any], None]) -> None:
        try:
            handle.value = self.backend.result(handle.future)
        except BaseException as exc:
            handle.error = exc
        done(handle)

    def outcome(self, handle: _Waited, node: str) -> Any:
        if handle.error is not None:
            raise handle.error
        return handle.value

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self.backend.submit(fn, *args, **kwargs)

    def result(self, future: Any, timeout: Optional[float] = None) -> Any:
        return self.backend.result(future, timeout=timeout)

    def shutdown(self, wait: bool = True) -> None:
        self.backend.shutdown(wait=wait)
