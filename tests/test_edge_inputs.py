"""Odd but legal inputs that must behave as the contract and ``json.dumps`` say:
restored states with hostile numbers, ``-0.0`` timestamps, dict subclasses in
metadata, a dict changed during an export, huge ``max_events``, ``__slots__`` of a
subclass across pickling, and ``str`` subclasses as DAG node names.
"""

from __future__ import annotations

import copy
import json
import math
import pickle

import dagron
import pytest
import reference
from dagron.execution.tracing import ExecutionTrace, TraceEventType

T = TraceEventType


def reference_json(trace: ExecutionTrace) -> str:
    return reference.to_json(trace.events)


def outcome(function):  # type: ignore[no-untyped-def]
    try:
        return ("ok", function())
    except Exception as exc:  # noqa: BLE001 - compared below
        return (type(exc), str(exc))


# --- 6. errors raised while restoring propagate --------------------------------------


class Raising:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def __index__(self) -> int:
        raise self.exc

    def __float__(self) -> float:
        raise self.exc


def saved_state(trace: ExecutionTrace) -> tuple:
    return trace.__reduce__()[2]


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), MemoryError(), SystemExit(3)])
@pytest.mark.parametrize("where", ["version", "epoch", "timestamp"])
def test_restore_lets_interrupts_through(exc, where):
    trace = ExecutionTrace()
    trace.record(T.EXECUTION_STARTED)
    version, epoch, events, instance_dict, provenance = saved_state(trace)
    if where == "version":
        version = Raising(exc)
    elif where == "epoch":
        epoch = Raising(exc)
    else:
        events = [(events[0][0], Raising(exc), *events[0][2:])]
    fresh = ExecutionTrace.__new__(ExecutionTrace)
    with pytest.raises(type(exc)) as info:
        fresh.__setstate__((version, epoch, events, instance_dict, provenance))
    assert info.value is exc


@pytest.mark.parametrize("where", ["version", "timestamp"])
def test_restore_of_a_bad_value_is_still_an_invalid_state(where):
    trace = ExecutionTrace()
    trace.record(T.EXECUTION_STARTED)
    version, epoch, events, instance_dict, provenance = saved_state(trace)
    if where == "version":
        version = "one"
    else:
        events = [(events[0][0], "zero", *events[0][2:])]
    with pytest.raises(ValueError, match="invalid ExecutionTrace state"):
        ExecutionTrace.__new__(ExecutionTrace).__setstate__(
            (version, epoch, events, instance_dict, provenance)
        )


# --- 7. -0.0 ---------------------------------------------------------------------------


def test_negative_zero_timestamps_are_read_as_zero():
    trace = ExecutionTrace()
    trace.record(T.NODE_STARTED, node_name="a")
    trace.record(T.NODE_COMPLETED, node_name="a")
    version, epoch, events, instance_dict, provenance = saved_state(trace)
    events = [
        (events[0][0], -0.0, *events[0][2:]),
        (events[1][0], 0.0, *events[1][2:]),
        (events[1][0], 2.5, *events[1][2:]),
    ]
    restored = ExecutionTrace.__new__(ExecutionTrace)
    restored.__setstate__((version, epoch, events, instance_dict, provenance))
    stamps = [e.timestamp for e in restored.events]
    assert stamps == [0.0, 0.0, 2.5]
    assert [math.copysign(1.0, ts) for ts in stamps] == [1.0, 1.0, 1.0]
    assert [e.timestamp for e in restored.events_for_node("a")] == stamps
    assert restored.summary().splitlines()[-1] == "  Duration: 2.5000s"
    assert '"timestamp": -0.0' not in restored.to_json()
    restored.record(T.EXECUTION_COMPLETED)
    assert restored.events[-1].timestamp >= 2.5


# --- 8. json fidelity --------------------------------------------------------------------


class ListItems(dict):
    """items() yields [key, value] lists; json unpacks any pair."""

    def items(self):  # type: ignore[override]
        return [[key, value] for key, value in dict.items(self)]


class OddItems(dict):
    def __init__(self, *items: object) -> None:
        super().__init__(a=1)
        self.odd = items

    def items(self):  # type: ignore[override]
        # Fresh iterators on each call: each export runs this once.
        return [iter(item) if isinstance(item, list) else item for item in self.odd]


@pytest.mark.parametrize(
    "metadata",
    [
        pytest.param(ListItems(a=1, b=[2, ListItems(c="d")]), id="list-pairs"),
        pytest.param({"nested": OddItems(["k", 2], "xy")}, id="iterator-and-str"),
        pytest.param({"nested": OddItems(("k", 1, 2))}, id="too-many"),
        pytest.param({"nested": OddItems(["k"])}, id="too-few"),
        pytest.param({"nested": OddItems(5)}, id="not-iterable"),
        pytest.param({"nested": OddItems("abc")}, id="long-str"),
    ],
)
def test_dict_subclass_items_are_unpacked_as_json_does(metadata):
    trace = ExecutionTrace()
    trace.record(T.EXECUTION_STARTED, metadata=metadata)
    assert outcome(trace.to_json) == outcome(lambda: reference_json(trace))


class Falsy(dict):
    def __bool__(self) -> bool:
        return False


def test_top_level_metadata_is_written_when_non_empty():
    trace = ExecutionTrace()
    trace.record(T.EXECUTION_STARTED, metadata=Falsy(k=1))
    trace.record(T.EXECUTION_COMPLETED, metadata={"nested": Falsy(k=1)})
    text = trace.to_json()
    assert text == reference_json(trace)
    # Non-empty, so the key is there, with the items whatever the dict's truth
    # (issue 19: not json's "{}"); nested dicts follow json, which writes a falsy
    # one as {}.
    assert json.loads(text)[0]["metadata"] == {"k": 1}
    assert json.loads(text)[1]["metadata"] == {"nested": {}}


class Rekeys(float):
    """A float whose comparison (which json runs for float subclasses) swaps a key
    of the dict holding it for another, keeping the size."""

    target: dict

    def __ne__(self, other: object) -> bool:
        if "a" in self.target:
            del self.target["a"]
            self.target["new"] = 0
        return float.__ne__(self, other)  # type: ignore[no-any-return]


def test_keys_changed_during_an_export():
    def build() -> ExecutionTrace:
        value = Rekeys(1.5)
        metadata = {"a": value, "z": 2}
        value.target = metadata
        trace = ExecutionTrace()
        trace.record(T.EXECUTION_STARTED, metadata=metadata)
        return trace

    ours = outcome(build().to_json)
    theirs = outcome(lambda: reference_json(build()))
    assert theirs == (RuntimeError, "dictionary keys changed during iteration")
    assert ours == theirs


@pytest.mark.parametrize("value", [10**40, 2**63, 2**64])
def test_max_events_too_large(value):
    with pytest.raises(ValueError) as info:
        ExecutionTrace(max_events=value)
    assert str(info.value) == (
        f"ExecutionTrace() argument 'max_events' is too large: {value} (at most {2**63 - 1})"
    )


@pytest.mark.parametrize("value", [0, -1, -(10**40)])
def test_max_events_too_small(value):
    with pytest.raises(ValueError, match="must be at least 1"):
        ExecutionTrace(max_events=value)


class Slotted(ExecutionTrace):
    __slots__ = ("label", "unset")


class SlottedWithDict(Slotted):
    pass


@pytest.mark.parametrize("cls", [Slotted, SlottedWithDict])
@pytest.mark.parametrize(
    "roundtrip", [copy.copy, copy.deepcopy, lambda t: pickle.loads(pickle.dumps(t))]
)
def test_slots_survive_pickling_and_copies(cls, roundtrip):
    trace = cls()
    trace.label = "nightly"
    if cls is SlottedWithDict:
        trace.extra = 7
    trace.record(T.EXECUTION_STARTED)
    again = roundtrip(trace)
    assert type(again) is cls
    assert again.label == "nightly"
    assert not hasattr(again, "unset")
    if cls is SlottedWithDict:
        assert again.extra == 7
    assert again.to_json() == trace.to_json()


def test_state_without_slots_keeps_its_old_layout():
    trace = ExecutionTrace()
    trace.record(T.EXECUTION_STARTED)
    # (version, epoch, events, instance dict, provenance): no sixth item for slots.
    assert len(saved_state(trace)) == 5


# --- 8. str subclasses as node names: one rule, tracing on or off ---------------------


class Tagged(str):
    """Equal only to itself: a str subclass that would make two nodes of one text."""

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)


@pytest.mark.parametrize("tracing", [False, True])
def test_a_node_is_its_text(tracing):
    first, second = Tagged("x"), Tagged("x")
    dag = dagron.DAG()
    dag.add_node(first)
    with pytest.raises(dagron.DuplicateNodeError):
        dag.add_node(second)
    with pytest.raises(dagron.DuplicateNodeError):
        dagron.DAG().add_nodes([Tagged("y"), Tagged("y")])
    assert dag.nodes == ["x"] and type(dag.nodes[0]) is str
    assert second in dag
    built = dagron.DAG.builder().add_edges([(first, "z"), (second, "w")]).build()
    assert built.nodes == ["x", "z", "w"]
    result = dagron.DAGExecutor(built, trace=tracing).execute(
        {second: lambda: 1, "z": lambda: 2, "w": lambda: 3}
    )
    assert {name: r.result for name, r in result.node_results.items()} == {"x": 1, "z": 2, "w": 3}
    assert (result.trace is not None) == tracing
    if tracing:
        assert [e.node_name for e in result.trace.events_for_node("x")] == ["x", "x"]


def test_the_same_text_twice_in_tasks_is_an_error():
    dag = dagron.DAG()
    dag.add_node("x")
    with pytest.raises(ValueError, match="tasks given twice for node 'x'"):
        dagron.DAGExecutor(dag).execute({Tagged("x"): lambda: 1, Tagged("x"): lambda: 2})
