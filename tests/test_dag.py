"""dagron.DAG and dagron.DAGBuilder: construction, errors, and topological levels."""

from __future__ import annotations

import copy
import pickle

import dagron
import pytest
from dagron import DAG, CycleError, DAGError, DAGExecutor, DuplicateNodeError, NodeNotFoundError


def snapshot(dag: dagron.DAG) -> tuple[list[str], list[tuple[str, str]], int]:
    return dag.nodes, dag.edges, dag.edge_count


def chain(*names: str) -> dagron.DAG:
    dag = dagron.DAG()
    dag.add_nodes(names)
    dag.add_edges(zip(names, names[1:]))
    return dag


def test_add_node_and_queries():
    dag = dagron.DAG()
    assert dag.add_node("a") is None
    dag.add_nodes(["b", "c"])
    dag.add_edge("a", "b")
    dag.add_edges([("a", "c"), ("b", "c")])
    assert dag.nodes == ["a", "b", "c"]
    assert dag.edges == [("a", "b"), ("a", "c"), ("b", "c")]
    assert (len(dag), dag.node_count, dag.edge_count) == (3, 3, 3)
    assert list(dag) == ["a", "b", "c"]
    assert "a" in dag and "z" not in dag
    assert dag.has_edge("a", "b") and not dag.has_edge("b", "a")
    assert dag.successors("a") == ["b", "c"]
    assert dag.predecessors("c") == ["a", "b"]
    assert dag.roots() == ["a"]
    assert dag.leaves() == ["c"]
    assert repr(dag) == "DAG(nodes=3, edges=3)"


def test_empty_dag_is_truthy():
    dag = dagron.DAG()
    assert len(dag) == 0
    assert bool(dag) is True
    assert dag.levels() == []
    assert dag.topological_sort() == []


def test_duplicate_edge_is_a_no_op():
    dag = chain("a", "b")
    dag.add_edge("a", "b")
    dag.add_edges([("a", "b")])
    assert dag.edges == [("a", "b")]
    assert dag.edge_count == 1


def test_duplicate_node():
    dag = chain("a", "b")
    with pytest.raises(DuplicateNodeError) as info:
        dag.add_node("a")
    assert str(info.value) == "node 'a' already exists"
    assert info.value.name == "a"
    assert isinstance(info.value, DAGError)
    assert isinstance(info.value, ValueError)


def test_add_nodes_is_all_or_nothing():
    dag = chain("a", "b")
    before = snapshot(dag)
    with pytest.raises(DuplicateNodeError, match="node 'b' already exists"):
        dag.add_nodes(["x", "b", "y"])
    with pytest.raises(DuplicateNodeError, match="node 'x' already exists"):
        dag.add_nodes(["x", "x"])
    assert snapshot(dag) == before


def test_unknown_node_named_in_error():
    dag = chain("a", "b")
    before = snapshot(dag)
    with pytest.raises(NodeNotFoundError) as info:
        dag.add_edge("a", "ghost")
    # Not KeyError's quoted repr: the plain message.
    assert str(info.value) == "node 'ghost' does not exist"
    assert info.value.name == "ghost"
    assert isinstance(info.value, KeyError)
    assert isinstance(info.value, DAGError)
    with pytest.raises(NodeNotFoundError, match="node 'nope' does not exist"):
        dag.add_edge("nope", "a")
    with pytest.raises(NodeNotFoundError, match="node 'ghost' does not exist"):
        dag.successors("ghost")
    with pytest.raises(NodeNotFoundError, match="node 'ghost' does not exist"):
        dag.predecessors("ghost")
    assert snapshot(dag) == before


def test_self_loop_is_a_cycle():
    dag = chain("a", "b")
    before = snapshot(dag)
    with pytest.raises(CycleError) as info:
        dag.add_edge("b", "b")
    assert str(info.value) == "edge 'b' -> 'b' would create a cycle: b -> b"
    assert info.value.cycle == ["b", "b"]
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, DAGError)
    assert snapshot(dag) == before


def test_cycle_error_shows_the_path():
    dag = chain("a", "b", "c")
    before = snapshot(dag)
    with pytest.raises(CycleError) as info:
        dag.add_edge("c", "a")
    assert str(info.value) == "edge 'c' -> 'a' would create a cycle: c -> a -> b -> c"
    assert info.value.cycle == ["c", "a", "b", "c"]
    assert snapshot(dag) == before


def test_cycle_path_through_a_branching_graph():
    dag = dagron.DAG()
    dag.add_nodes(["a", "b", "c", "d", "e"])
    dag.add_edges([("a", "b"), ("a", "c"), ("c", "d"), ("b", "e")])
    with pytest.raises(CycleError) as info:
        dag.add_edge("d", "a")
    assert info.value.cycle == ["d", "a", "c", "d"]
    # Unrelated edges are still accepted.
    dag.add_edge("e", "d")
    assert dag.has_edge("e", "d")


def test_long_cycle_does_not_recurse():
    names = [f"n{i}" for i in range(5000)]
    dag = chain(*names)
    with pytest.raises(CycleError) as info:
        dag.add_edge(names[-1], names[0])
    assert info.value.cycle == [names[-1], *names]
    assert dag.edge_count == len(names) - 1


def test_add_edges_is_all_or_nothing():
    dag = chain("a", "b", "c")
    dag.add_node("d")
    before = snapshot(dag)
    with pytest.raises(CycleError, match="c -> a -> b -> c"):
        dag.add_edges([("c", "d"), ("a", "d"), ("c", "a")])
    assert snapshot(dag) == before
    with pytest.raises(NodeNotFoundError, match="'zz'"):
        dag.add_edges([("c", "d"), ("d", "zz")])
    assert snapshot(dag) == before
    # A cycle formed only by edges of the same batch is caught too.
    with pytest.raises(CycleError, match="d -> c -> d"):
        dag.add_edges([("c", "d"), ("d", "c")])
    assert snapshot(dag) == before


def test_bad_names_and_pairs():
    dag = dagron.DAG()
    with pytest.raises(TypeError, match="node names must be str, not int"):
        dag.add_node(1)  # type: ignore[arg-type]
    dag.add_node("a")
    with pytest.raises(TypeError, match="node names must be str, not NoneType"):
        dag.add_edge("a", None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"an edge must be a \(source, target\) pair"):
        dag.add_edges([("a", "b", "c")])  # type: ignore[list-item]
    assert dag.nodes == ["a"]


def test_builder_is_fluent_and_creates_nodes():
    builder = dagron.DAG.builder()
    assert isinstance(builder, dagron.DAGBuilder)
    same = builder.add_node("solo").add_nodes(["x", "y"]).add_edge("extract", "transform")
    assert same is builder
    assert builder.add_edges([("transform", "load"), ("x", "y")]) is builder
    dag = builder.build()
    assert isinstance(dag, dagron.DAG)
    assert dag.nodes == ["solo", "x", "y", "extract", "transform", "load"]
    assert dag.edges == [("x", "y"), ("extract", "transform"), ("transform", "load")]
    with pytest.raises(RuntimeError, match="already built"):
        builder.add_node("late")


def test_builder_errors_leave_the_graph_unchanged():
    builder = dagron.DAGBuilder().add_edge("a", "b")
    with pytest.raises(CycleError, match="edge 'new' -> 'new' would create a cycle: new -> new"):
        builder.add_edge("new", "new")
    with pytest.raises(CycleError, match="q -> b -> q"):
        builder.add_edges([("b", "p"), ("b", "q"), ("q", "b")])
    with pytest.raises(DuplicateNodeError, match="node 'a' already exists"):
        builder.add_node("a")
    dag = builder.build()
    assert snapshot(dag) == (["a", "b"], [("a", "b")], 1)


def test_levels_are_longest_paths_from_a_root():
    dag = (
        dagron.DAG.builder()
        .add_node("lonely")
        .add_edges([("a", "b"), ("b", "c"), ("a", "c"), ("a", "d"), ("c", "e"), ("d", "e")])
        .add_edge("r", "d")
        .build()
    )
    # c is reached from a directly and through b: the longer path decides its level.
    assert dag.levels() == [["lonely", "a", "r"], ["b", "d"], ["c"], ["e"]]
    assert dag.topological_sort() == ["lonely", "a", "r", "b", "d", "c", "e"]
    order = {name: n for n, name in enumerate(dag.topological_sort())}
    assert all(order[u] < order[v] for u, v in dag.edges)


def test_levels_of_a_wide_and_deep_graph():
    dag = dagron.DAG()
    dag.add_nodes(f"n{i}" for i in range(1000))
    # Each node i > 0 depends on (i - 1) // 2: a binary tree, level = floor(log2(i + 1)).
    dag.add_edges((f"n{(i - 1) // 2}", f"n{i}") for i in range(1, 1000))
    levels = dag.levels()
    assert [len(level) for level in levels] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 489]
    assert levels[3] == [f"n{i}" for i in range(7, 15)]


def test_pickle_and_copy_keep_the_graph_not_its_caches():
    # A traced run builds the node-name table and profiling the graph index: neither
    # is picklable, and neither is part of the graph.
    dag = DAG()
    dag.add_nodes("abcd")
    dag.add_edges([("a", "b"), ("a", "c"), ("c", "d")])
    result = DAGExecutor(dag, trace=True).execute({n: (lambda: None) for n in "abcd"})
    dagron.profile_execution(dag, result)
    assert dag._node_names_table is not None and dag._graph_cache is not None
    for copied in (pickle.loads(pickle.dumps(dag)), copy.deepcopy(dag), copy.copy(dag)):
        assert copied.nodes == ["a", "b", "c", "d"]
        assert sorted(copied.edges) == [("a", "b"), ("a", "c"), ("c", "d")]
        assert copied.edge_count == 3
        assert copied._node_names_table is None and copied._graph_cache is None
        copied.add_edge("b", "d")
        assert copied.critical_path({"a": 1.0, "b": 5.0, "c": 1.0, "d": 1.0}) == (
            ["a", "b", "d"],
            7.0,
        )
    assert dag.edge_count == 3


def test_graph_index_is_rebuilt_when_the_dag_grows():
    dag = DAG()
    dag.add_nodes("ab")
    dag.add_edges([("a", "b")])
    assert dag.critical_path({"a": 1.0, "b": 1.0}) == (["a", "b"], 2.0)
    first = dag._graph_index()[1]
    assert dag._graph_index()[1] is first  # unchanged graph: the same index
    dag.add_node("c")
    assert dag.critical_path({"a": 1.0, "b": 1.0, "c": 5.0}) == (["c"], 5.0)
    dag.add_edge("b", "c")
    assert dag.critical_path({"a": 1.0, "b": 1.0, "c": 5.0}) == (["a", "b", "c"], 7.0)
    # A failed add_edges rolls back to the same graph: the index still fits it.
    kept = dag._graph_index()[1]
    with pytest.raises(CycleError):
        dag.add_edges([("a", "c"), ("c", "a")])
    assert dag._graph_index()[1] is kept
    assert dag.critical_path({"a": 1.0, "b": 1.0, "c": 5.0}) == (["a", "b", "c"], 7.0)
