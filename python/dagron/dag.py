"""A directed acyclic graph of named nodes (:class:`DAG`) and its fluent builder.

Nodes are numbered in insertion order and the graph is stored as two adjacency lists
of those numbers (successors and predecessors, each an insertion-ordered ``dict`` used
as a set), so memory is O(V + E). Every edge insertion
checks that the graph stays acyclic by searching for a path from the new edge's target
back to its source (a depth-first search that only visits what the target reaches), so
a DAG can never hold a cycle.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Optional

from dagron import _core
from dagron.errors import CycleError, DuplicateNodeError, NodeNotFoundError

__all__ = ["DAG", "DAGBuilder"]


def _check_name(name: object) -> str:
    """The node a name stands for: its text, as a plain ``str``.

    A node is its text, whatever ``str`` subclass names it (a subclass's own ``__eq__``
    or ``__hash__`` does not make two nodes of one text), so a run traced or not sees
    the same nodes, and the trace, which records names as text, tells them apart.
    """
    if type(name) is str:
        return name
    if not isinstance(name, str):
        raise TypeError(f"node names must be str, not {type(name).__name__}")
    return str.__str__(name)


def _check_duration(name: str, value: object) -> float:
    """A node's duration as a float: a real number, finite and not negative."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"the duration of node {name!r} must be a number, not {type(value).__name__}"
        )
    seconds = float(value)
    if not (seconds >= 0.0 and math.isfinite(seconds)):
        raise ValueError(f"the duration of node {name!r} must be finite and >= 0, not {value!r}")
    return seconds


def _unpack_edge(pair: object) -> tuple[str, str]:
    try:
        u, v = pair  # type: ignore[misc]
    except (TypeError, ValueError):
        raise TypeError(f"an edge must be a (source, target) pair, not {pair!r}") from None
    return u, v  # type: ignore[has-type]


class DAG:
    """A directed acyclic graph whose nodes are named by strings.

    Nodes and edges keep their insertion order. Adding an edge that already exists is a
    no-op. Every mutating method either succeeds completely or raises and leaves the DAG
    unchanged:

    - :class:`~dagron.DuplicateNodeError` for a name the DAG already holds;
    - :class:`~dagron.NodeNotFoundError` for an edge endpoint that is not a node
      (use :meth:`builder` to create nodes from edges);
    - :class:`~dagron.CycleError` for an edge that would close a cycle (a self-loop
      included); its message shows the cycle, e.g. ``c -> a -> b -> c``;
    - ``TypeError`` for a node name that is not a ``str``.

    A node is named by its text: a ``str`` subclass instance is kept as the plain
    ``str`` of the same text, so two names with equal text are one node.

    Internally a node is an index into ``_names``; ``_succ[i]`` and ``_pred[i]`` are the
    indices of its successors and predecessors, as insertion-ordered dicts used as sets.
    """

    __slots__ = (
        "_edge_count",
        "_graph_cache",
        "_index",
        "_names",
        "_node_names_table",
        "_pred",
        "_succ",
    )

    def __init__(self) -> None:
        self._names: list[str] = []
        self._index: dict[str, int] = {}
        self._succ: list[dict[int, None]] = []
        self._pred: list[dict[int, None]] = []
        self._edge_count = 0
        self._node_names_table: Optional[_core.NodeNames] = None
        # The last GraphIndex built, with the (node count, edge count) it was built
        # at: a DAG only grows (a failed add_edges rolls back to the same graph), so
        # equal counts mean an equal graph.
        self._graph_cache: Optional[tuple[int, int, _core.GraphIndex]] = None

    @staticmethod
    def builder() -> DAGBuilder:
        """Return a new fluent :class:`DAGBuilder`."""
        return DAGBuilder()

    # -- mutation -----------------------------------------------------------------

    def add_node(self, name: str) -> None:
        """Add one node; raise :class:`~dagron.DuplicateNodeError` if it exists."""
        self.add_nodes((name,))

    def add_nodes(self, names: Iterable[str]) -> None:
        """Add several nodes, all or none (a duplicate anywhere adds nothing)."""
        batch = [_check_name(name) for name in names]
        seen: set[str] = set()
        for name in batch:
            if name in self._index or name in seen:
                raise DuplicateNodeError(name)
            seen.add(name)
        for name in batch:
            self._append_node(name)

    def _append_node(self, name: str) -> int:
        i = len(self._names)
        self._index[name] = i
        self._names.append(name)
        self._succ.append({})
        self._pred.append({})
        return i

    def add_edge(self, u: str, v: str) -> None:
        """Add the edge ``u -> v`` (``v`` runs after ``u``); both nodes must exist."""
        self._add_edges(((u, v),), create_nodes=False)

    def add_edges(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Add several ``(u, v)`` edges, all or none."""
        self._add_edges(pairs, create_nodes=False)

    def _add_edges(self, pairs: Iterable[tuple[str, str]], *, create_nodes: bool) -> None:
        """Insert edges atomically; with ``create_nodes``, create missing endpoints."""
        node_count = len(self._names)
        new_edges: list[tuple[int, int]] = []
        try:
            for pair in pairs:
                u, v = _unpack_edge(pair)
                if create_nodes:
                    for name in (u, v):
                        name = _check_name(name)
                        if name not in self._index:
                            self._append_node(name)
                edge = self._insert_edge(u, v)
                if edge is not None:
                    new_edges.append(edge)
        except BaseException:
            for i, j in reversed(new_edges):
                del self._succ[i][j]
                del self._pred[j][i]
            self._edge_count -= len(new_edges)
            # Nodes created by this call are the last ones: drop them.
            for name in self._names[node_count:]:
                del self._index[name]
            del self._names[node_count:], self._succ[node_count:], self._pred[node_count:]
            self._node_names_table = None  # it may hold a dropped name
            raise

    def _insert_edge(self, u: str, v: str) -> tuple[int, int] | None:
        """Insert one edge between existing nodes; None if it was already there."""
        i = self._node_index(u)
        j = self._node_index(v)
        if j in self._succ[i]:
            return None
        if i == j:
            raise CycleError([u, u])
        path = self._find_path(j, i)
        if path is not None:
            raise CycleError([u, *(self._names[k] for k in path)])
        self._succ[i][j] = None
        self._pred[j][i] = None
        self._edge_count += 1
        return i, j

    def _node_index(self, name: str) -> int:
        try:
            return self._index[_check_name(name)]
        except KeyError:
            raise NodeNotFoundError(name) from None

    def _find_path(self, source: int, target: int) -> list[int] | None:
        """A path ``source -> ... -> target`` along edges, or None (iterative DFS)."""
        succ = self._succ
        # Cheap exits: nothing leaves ``source`` or nothing enters ``target``.
        if not succ[source] or not self._pred[target]:
            return None
        parent: dict[int, int] = {source: -1}
        stack = [source]
        while stack:
            node = stack.pop()
            for nxt in succ[node]:
                if nxt in parent:
                    continue
                parent[nxt] = node
                if nxt == target:
                    path = [nxt]
                    while node != -1:
                        path.append(node)
                        node = parent[node]
                    path.reverse()
                    return path
                stack.append(nxt)
        return None

    # -- pickling -----------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        """The graph itself, without what is built from it (the node-name table a
        traced run makes, the profiling index): those are rebuilt on demand."""
        return {
            "names": self._names,
            "succ": self._succ,
            "pred": self._pred,
            "edge_count": self._edge_count,
        }

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple):  # the slots-only form, `(None, {slot: value})`
            state = {name.lstrip("_"): value for name, value in state[1].items()}
        self._names = state["names"]
        self._index = {name: i for i, name in enumerate(self._names)}
        self._succ = state["succ"]
        self._pred = state["pred"]
        self._edge_count = state["edge_count"]
        self._node_names_table = None
        self._graph_cache = None

    # -- queries ------------------------------------------------------------------

    @property
    def nodes(self) -> list[str]:
        """All node names, in insertion order."""
        return list(self._names)

    @property
    def edges(self) -> list[tuple[str, str]]:
        """All edges as ``(u, v)`` pairs, grouped by source in insertion order."""
        names = self._names
        return [(names[i], names[j]) for i, targets in enumerate(self._succ) for j in targets]

    @property
    def node_count(self) -> int:
        return len(self._names)

    @property
    def edge_count(self) -> int:
        return self._edge_count

    def __len__(self) -> int:
        return len(self._names)

    def __bool__(self) -> bool:
        # A DAG is a container, but an empty one is still a DAG: keep it truthy.
        return True

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str):
            name = _check_name(name)
        return name in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def has_edge(self, u: str, v: str) -> bool:
        i = self._index.get(u)
        j = self._index.get(v)
        return i is not None and j is not None and j in self._succ[i]

    def successors(self, name: str) -> list[str]:
        """The nodes with an edge from ``name``."""
        return [self._names[j] for j in self._succ[self._node_index(name)]]

    def predecessors(self, name: str) -> list[str]:
        """The nodes with an edge to ``name``."""
        return [self._names[i] for i in self._pred[self._node_index(name)]]

    def roots(self) -> list[str]:
        """The nodes without predecessors, in insertion order."""
        return [name for name, preds in zip(self._names, self._pred) if not preds]

    def leaves(self) -> list[str]:
        """The nodes without successors, in insertion order."""
        return [name for name, succs in zip(self._names, self._succ) if not succs]

    def levels(self) -> list[list[str]]:
        """The topological levels: level k holds the nodes whose longest path from a
        root has k edges, each level in node insertion order. These are the executor's
        steps."""
        names, _, levels = self._compile()
        return [[names[i] for i in level] for level in levels]

    def topological_sort(self) -> list[str]:
        """All nodes, level by level (so every edge points forward)."""
        return [name for level in self.levels() for name in level]

    def topological_levels(self) -> list[list[str]]:
        """Another name of :meth:`levels` (the one upstream dagron code calls)."""
        return self.levels()

    def ancestors(self, name: str) -> list[str]:
        """Every node with a path to ``name`` (``name`` excluded), in insertion order."""
        return self._reachable(self._pred, self._node_index(name))

    def descendants(self, name: str) -> list[str]:
        """Every node reachable from ``name`` (``name`` excluded), in insertion order."""
        return self._reachable(self._succ, self._node_index(name))

    def _reachable(self, adjacency: list[dict[int, None]], start: int) -> list[str]:
        # A search over the adjacency dicts themselves: O(what it reaches), with no
        # snapshot of the whole graph.
        seen: set[int] = set()
        stack = [start]
        while stack:
            for nxt in adjacency[stack.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        names = self._names
        return [names[i] for i in sorted(seen)]

    def critical_path(self, durations: Mapping[str, float]) -> tuple[list[str], float]:
        """The longest path through the DAG when node ``n`` takes ``durations[n]``
        seconds (1.0 for a node missing from ``durations``, as upstream dagron does),
        and its total: ``(names, total)``.

        The path starts at the node with the largest bottom level (its duration plus
        the largest bottom level among its successors) and steps to the successor with
        the largest one; ties go to the smaller name. Computed in Rust in O(V + E).
        Durations must be finite numbers >= 0; a name that is not a node raises
        :class:`~dagron.NodeNotFoundError`.
        """
        if not isinstance(durations, Mapping):
            raise TypeError(f"durations must be a mapping, not {type(durations).__name__}")
        names, graph = self._graph_index()
        costs = [1.0] * len(names)
        for name, value in durations.items():
            costs[self._node_index(name)] = _check_duration(name, value)
        path, total = graph.critical_path(costs, b"\x01" * len(names), names)
        return [names[i] for i in path], total

    def _graph_index(self) -> tuple[list[str], _core.GraphIndex]:
        """``(names, index)``: the node names and the graph in the Rust core's
        compact form (built from the adjacency dicts in O(V + E), its order the
        levels of :meth:`levels`); kept until the DAG grows, so profiling a run
        again, or a second run of the same DAG, does not rebuild it."""
        cached = self._graph_cache
        stamp = (len(self._names), self._edge_count)
        if cached is not None and cached[:2] == stamp:
            graph = cached[2]
        else:
            graph = _core.GraphIndex(self._succ)
            self._graph_cache = (*stamp, graph)
        return list(self._names), graph

    def _compile(self) -> tuple[list[str], list[list[int]], list[list[int]]]:
        """Snapshot the graph for one run, in O(V + E).

        Returns ``(names, succs, levels)``: node names by index, the successor indices
        of each node, and the node indices of each topological level (Kahn's algorithm,
        keeping for every node its longest distance from a root).
        """
        names = list(self._names)
        succs = list(map(list, self._succ))
        indegree = list(map(len, self._pred))
        depth = [0] * len(names)
        order = [i for i, d in enumerate(indegree) if not d]
        for i in order:  # ``order`` grows while it is walked: a FIFO queue.
            below = depth[i] + 1
            for j in succs[i]:
                if depth[j] < below:
                    depth[j] = below
                indegree[j] -= 1
                if not indegree[j]:
                    order.append(j)
        levels: list[list[int]] = [[] for _ in range(max(depth, default=-1) + 1)]
        for i, d in enumerate(depth):
            levels[d].append(i)
        return names, succs, levels

    def _node_names(self) -> _core.NodeNames:
        """The node names as a table shared by the traces of this DAG's runs (node
        ``i`` is name id ``i``; see ``DAGExecutor``). Built once and kept: nodes are
        only ever appended, so a table is current while its length matches."""
        table = self._node_names_table
        if table is None or len(table) != len(self._names):
            table = self._node_names_table = _core.NodeNames(self._names)
        return table

    def __repr__(self) -> str:
        return f"DAG(nodes={len(self._names)}, edges={self._edge_count})"


class DAGBuilder:
    """A fluent way to build a :class:`DAG`: every method returns the builder.

    Unlike :meth:`DAG.add_edge`, the builder's :meth:`add_edge` and :meth:`add_edges`
    create the nodes an edge names. :meth:`add_node` still rejects a name the graph
    already holds. Errors are raised by the call that causes them, and leave the graph
    as it was. :meth:`build` hands over the graph; the builder cannot be used after it.
    """

    __slots__ = ("_dag",)

    def __init__(self) -> None:
        self._dag: DAG | None = DAG()

    def _target(self) -> DAG:
        if self._dag is None:
            raise RuntimeError("this DAGBuilder has already built its DAG")
        return self._dag

    def add_node(self, name: str) -> DAGBuilder:
        self._target().add_nodes((name,))
        return self

    def add_nodes(self, names: Iterable[str]) -> DAGBuilder:
        self._target().add_nodes(names)
        return self

    def add_edge(self, u: str, v: str) -> DAGBuilder:
        self._target()._add_edges(((u, v),), create_nodes=True)
        return self

    def add_edges(self, pairs: Iterable[tuple[str, str]]) -> DAGBuilder:
        self._target()._add_edges(pairs, create_nodes=True)
        return self

    def build(self) -> DAG:
        """Return the built DAG."""
        dag = self._target()
        self._dag = None
        return dag
