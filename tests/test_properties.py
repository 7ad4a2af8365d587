"""``record`` fed odd data (behaviour.md 4, 4.1-4.3).

Every argument of ``record`` is drawn from arbitrary Python objects: wrong types,
subclasses of str/int/float/dict, objects whose ``__str__``, ``__eq__``, ``__hash__``,
``__index__`` or ``__float__`` raise, huge ints, deep nesting, bytes, sets, enums of
other types, the ``TraceEventType`` class itself. Each call must either record what the
contract accepts or raise the documented error (a ``TypeError`` naming the parameter and
the type received; nothing recorded). After every example the trace must hold exactly
the accepted calls, and ``to_json`` / ``to_chrome_trace`` / ``summary`` must equal the
reference model's output, or raise exactly what ``json.dumps`` raises.

A second test mutates metadata dicts from another thread while exports run.

``DAGRON_STRESS=1`` runs many more examples. Run with ``-s`` to see the counts.
"""

from __future__ import annotations

import collections
import contextlib
import decimal
import enum
import fractions
import json
import math
import os
import sys
import threading
import time
from typing import Any, Callable
from unittest import mock

import pytest
import reference
from dagron.execution.tracing import ExecutionTrace, TraceEvent, TraceEventType
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FULL = os.environ.get("DAGRON_STRESS") == "1"

COUNTS: collections.Counter[str] = collections.Counter()


@pytest.fixture(scope="module", autouse=True)
def _report_counts():
    yield
    if COUNTS:
        print(f"\n[fuzz] {dict(sorted(COUNTS.items()))}")


def fuzz_settings(examples: int) -> Any:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


needs_full = pytest.mark.skipif(not FULL, reason="full size runs with DAGRON_STRESS=1")


# --- odd objects ----------------------------------------------------------------------


class Boom(Exception):
    """What the hostile objects below raise."""


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise Boom("boom")


def _plain_repr(self: Any) -> str:
    # The objects below keep a working repr only so that hypothesis can print a failing
    # example; test_objects_whose_repr_raises covers a raising repr.
    return f"<{type(self).__name__}>"


class RaisingStr:
    __str__ = _boom
    __repr__ = _plain_repr
    __format__ = _boom


class RaisingEq:
    __eq__ = _boom
    __ne__ = _boom
    __hash__ = _boom  # type: ignore[assignment]


class RaisingIndex:
    __index__ = _boom
    __int__ = _boom


class RaisingFloat:
    __float__ = _boom


class RaisingEverything:
    __str__ = _boom
    __repr__ = _plain_repr
    __eq__ = _boom
    __hash__ = _boom  # type: ignore[assignment]
    __index__ = _boom
    __int__ = _boom
    __float__ = _boom
    __bool__ = _boom
    __len__ = _boom
    __iter__ = _boom


class StrSub(str):
    pass


class HostileStr(str):
    """A str whose Python-level methods all raise; its content is what counts."""

    __str__ = _boom
    __repr__ = _plain_repr
    __eq__ = _boom
    __ne__ = _boom
    __hash__ = _boom  # type: ignore[assignment]
    __len__ = _boom
    __iter__ = _boom
    encode = _boom


class IntSub(int):
    pass


class HostileInt(int):
    __str__ = _boom
    __repr__ = _plain_repr
    __eq__ = _boom
    __ne__ = _boom
    __hash__ = _boom  # type: ignore[assignment]
    __index__ = _boom
    __int__ = _boom
    __bool__ = _boom


class OwnFloatInt(int):
    """An int whose ``__float__`` disagrees with its value."""

    def __float__(self) -> float:
        return 99.5


class BadFloatInt(int):
    """An int whose ``__float__`` raises (see test_duration_int_with_raising_float)."""

    __float__ = _boom


class FloatSub(float):
    pass


class HostileFloat(float):
    __str__ = _boom
    __repr__ = _plain_repr
    __eq__ = _boom
    __ne__ = _boom
    __hash__ = _boom  # type: ignore[assignment]
    __float__ = _boom
    __bool__ = _boom


class QuietHostileFloat(float):
    """HostileFloat, but with the float's own comparisons."""

    __str__ = _boom
    __repr__ = _plain_repr
    __hash__ = _boom  # type: ignore[assignment]
    __float__ = _boom
    __bool__ = _boom


class DictSub(dict):
    pass


class HostileDict(dict):
    __str__ = _boom
    __repr__ = _plain_repr
    __eq__ = _boom
    __ne__ = _boom
    __hash__ = _boom  # type: ignore[assignment]
    __iter__ = _boom


class FalsyDict(dict):
    """A dict that calls itself empty: json.dumps writes it as ``{}``."""

    def __len__(self) -> int:
        return 0


class BoolRaisingDict(dict):
    __repr__ = _plain_repr
    __bool__ = _boom


class SpoofedClass:
    """Its ``__class__`` raises: json.dumps propagates that error."""

    __repr__ = _plain_repr

    @property  # type: ignore[misc]
    def __class__(self):
        raise Boom("no class")


class ListSub(list):
    pass


class RaisingIterList(list):
    """json iterates list subclasses with ``for``: this one raises there."""

    __iter__ = _boom


class Colour(enum.Enum):
    RED = 1
    NAME = "red"


class Level(enum.IntEnum):
    LOW = 1
    HUGE = 2**80


class Word(str, enum.Enum):
    HELLO = "h\xe9llo"


class Ratio(float, enum.Enum):
    HALF = 0.5


class Perm(enum.IntFlag):
    R = 4
    W = 2


def _function() -> None:
    """A plain function, as an argument."""


TYPES = [TraceEventType, TraceEvent, ExecutionTrace, int, str, dict, type, object]

ODD_OBJECTS: list[Any] = [
    RaisingStr(),
    RaisingEq(),
    RaisingIndex(),
    RaisingFloat(),
    RaisingEverything(),
    HostileStr("hostile"),
    HostileStr(""),
    HostileInt(7),
    HostileInt(-(2**70)),
    OwnFloatInt(3),
    HostileFloat(2.5),
    HostileFloat(math.nan),
    QuietHostileFloat(2.5),
    BadFloatInt(5),
    SpoofedClass(),
    FalsyDict(a=1),
    BoolRaisingDict(a=1),
    HostileDict(a=1),
    HostileDict(),
    RaisingIterList([1, 2]),
    b"bytes",
    bytearray(b"ba"),
    memoryview(b"mv"),
    {1, 2},
    frozenset(),
    set(),
    complex(1, 2),
    decimal.Decimal("1.5"),
    decimal.Decimal("NaN"),
    fractions.Fraction(1, 3),
    Colour.RED,
    Colour.NAME,
    Level.LOW,
    Level.HUGE,
    Word.HELLO,
    Ratio.HALF,
    Perm.R | Perm.W,
    *list(TraceEventType)[:3],
    *TYPES,
    object(),
    _function,
    lambda: None,
    Ellipsis,
    NotImplemented,
    True,
    False,
    range(3),
    iter([]),
    Boom("as a value"),
    mock.sentinel.value,
]


# By position: hypothesis hashes what sampled_from holds, and some of these raise there.
def _odd_object(position: int) -> Any:
    return ODD_OBJECTS[position]


odd_objects = st.integers(min_value=0, max_value=len(ODD_OBJECTS) - 1).map(_odd_object)

# Values that are fine for at least one parameter.
SPECIAL_TEXTS = ["", "n", "\x00", "\ud800", "\udfff\ud800", "\U0001f600", "\u2028", '"\\/']
texts = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=8),
    st.sampled_from(SPECIAL_TEXTS),
)
str_like = st.one_of(
    texts,
    texts.map(StrSub),
    texts.map(HostileStr),
    st.just(Word.HELLO),
)
HUGE_INTS = [2**31, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 2**200, -(10**300), 10**400]
int_like = st.one_of(
    st.integers(),
    st.sampled_from(HUGE_INTS),
    st.integers().map(IntSub),
    st.sampled_from(HUGE_INTS).map(IntSub),
    st.integers(min_value=-(2**100), max_value=2**100).map(HostileInt),
    st.integers(min_value=-1000, max_value=1000).map(OwnFloatInt),
    st.integers(min_value=-1000, max_value=1000).map(BadFloatInt),
    st.sampled_from([Level.LOW, Level.HUGE, Perm.R, Perm.R | Perm.W]),
)
float_like = st.one_of(
    st.floats(),
    st.floats().map(FloatSub),
    st.floats().map(HostileFloat),
    st.just(Ratio.HALF),
)
# In metadata json.dumps compares floats with themselves (``o != o``), so a float whose
# __eq__ raises makes it raise too (test_float_subclass_whose_eq_raises_in_metadata).
json_float_like = st.one_of(float_like, st.floats().map(QuietHostileFloat))

# --- metadata: json-able trees with odd leaves and keys -------------------------------


def _deep(depth: int, kind: str) -> Any:
    value: Any = "bottom"
    for level in range(depth):
        value = [value] if kind == "list" else {f"k{level}": value}
    return value


GOOD_KEYS = st.one_of(
    texts,
    texts.map(StrSub),
    st.integers(),
    st.sampled_from(HUGE_INTS),
    st.integers().map(IntSub),
    st.floats(),
    st.floats().map(FloatSub),
    st.booleans(),
    st.none(),
    st.sampled_from([Word.HELLO, Level.LOW, Level.HUGE]),
)
BAD_KEYS = st.sampled_from(
    [
        (1, 2),
        (),
        frozenset({1}),
        b"k",
        decimal.Decimal(2),
        Colour.RED,
        TraceEventType.NODE_STARTED,
        TraceEventType,
        object(),
        complex(0, 1),
    ]
)
keys = st.one_of(GOOD_KEYS, GOOD_KEYS, GOOD_KEYS, BAD_KEYS)
json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    int_like,
    json_float_like,
    str_like,
)
leaves = st.one_of(
    json_leaves,
    json_leaves,
    json_leaves,
    odd_objects,
    st.builds(_deep, st.integers(min_value=1, max_value=120), st.sampled_from(["list", "dict"])),
)


def _make_dict(pairs: list[tuple[Any, Any]], cls: type = dict) -> dict[Any, Any]:
    """A dict from ``pairs``, skipping keys the dict itself refuses (raising hashes)."""
    made = cls()
    for key, value in pairs:
        with contextlib.suppress(Boom):
            dict.__setitem__(made, key, value)
    return made


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    pairs = st.lists(st.tuples(keys, children), max_size=4)
    return st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.lists(children, max_size=3).map(ListSub),
        st.lists(children, max_size=2).map(RaisingIterList),
        pairs.map(_make_dict),
        pairs.map(lambda p: _make_dict(p, DictSub)),
        pairs.map(lambda p: _make_dict(p, HostileDict)),
        pairs.map(lambda p: _make_dict(p, FalsyDict)),
        pairs.map(lambda p: _make_dict(p, BoolRaisingDict)),
    )


trees = st.recursive(leaves, _containers, max_leaves=12)


@st.composite
def metadata_dicts(draw: Any) -> dict[Any, Any]:
    cls = draw(
        st.sampled_from([dict, dict, dict, DictSub, HostileDict, FalsyDict, BoolRaisingDict])
    )
    made = _make_dict(draw(st.lists(st.tuples(keys, trees), max_size=4)), cls)
    cycle = draw(st.sampled_from(["none", "none", "none", "self", "list"]))
    if cycle == "self":
        made["me"] = made
    elif cycle == "list":
        loop: list[Any] = [1]
        loop.append(loop)
        made["loop"] = loop
    return made


# --- parameters -----------------------------------------------------------------------

anything = st.one_of(
    odd_objects,
    str_like,
    int_like,
    float_like,
    metadata_dicts(),
    st.none(),
    trees,
)

PARAMETERS = ["node_name", "step_index", "duration", "error", "metadata"]
VALID = {
    "node_name": str_like,
    "step_index": int_like,
    "duration": st.one_of(float_like, int_like),
    "error": str_like,
    "metadata": metadata_dicts(),
}
MISSING = object()  # the argument is not passed at all


@st.composite
def calls(draw: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """One ``record`` call: positional args and keyword args. Most calls are well
    formed, many have one odd argument, some are chaos."""
    kind = draw(st.sampled_from(["clean"] * 4 + ["one odd"] * 4 + ["chaos"] * 2))
    members = st.sampled_from(list(TraceEventType))
    odd = draw(st.sampled_from(["event_type", *PARAMETERS])) if kind == "one odd" else None
    if kind == "chaos":
        event_type = draw(st.one_of(members, anything))
    else:
        event_type = draw(anything if odd == "event_type" else members)
    how = "positional"
    if kind == "chaos" or draw(st.integers(0, 9)) == 0:
        how = draw(st.sampled_from(["positional", "keyword", "missing", "both", "extra"]))
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = {}
    if how in ("positional", "both", "extra"):
        args = (event_type,)
    if how in ("keyword", "both"):
        kwargs["event_type"] = event_type
    if how == "extra":
        args += (draw(anything),)
    for name in PARAMETERS:
        if name == odd:
            value = draw(anything)
        elif kind == "chaos":
            value = draw(st.one_of(st.just(MISSING), st.none(), VALID[name], anything))
        else:
            value = draw(st.one_of(st.just(MISSING), st.none(), VALID[name], VALID[name]))
        if value is not MISSING:
            kwargs[name] = value
    if kind == "chaos" and draw(st.integers(0, 9)) == 0:
        kwargs[draw(st.sampled_from(["nodename", "metadata_", "timestamp", "self"]))] = 1
    return args, kwargs


# --- the contract, as an oracle -------------------------------------------------------


def _is_str(value: Any) -> bool:
    return issubclass(type(value), str)


def _is_int(value: Any) -> bool:
    return issubclass(type(value), int) and not issubclass(type(value), bool)


def _accepts(name: str, value: Any) -> bool:
    """Whether ``value`` has a type the contract accepts for parameter ``name``."""
    if value is None:
        return True
    if name in ("node_name", "error"):
        return _is_str(value)
    if name == "step_index":
        return _is_int(value)
    if name == "duration":
        return issubclass(type(value), (int, float))
    if name == "metadata":
        return issubclass(type(value), dict)
    raise AssertionError(name)


def _durations(value: Any) -> tuple[list[float], list[type]]:
    """The floats ``duration=value`` may be stored as, and the errors it may raise.

    The contract says only "stored as float". Accepted: the numeric value (what
    ``int.__float__`` / ``float.__float__`` give) or what ``float(value)`` gives; an
    error only when both conversions fail, of the type one of them raised."""
    stored: list[float] = []
    errors: list[type] = []
    base = float.__float__ if issubclass(type(value), float) else int.__float__
    for convert in (base, float):
        try:
            stored.append(convert(value))
        except Exception as exc:
            errors.append(type(exc))
    return stored, ([] if stored and len(errors) < 2 else errors)


class Expected:
    """The outcome the contract allows for one call."""

    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.args = args
        self.kwargs = kwargs
        self.signature_error = False
        self.bad: list[str] = []
        self.durations: list[float] = []
        self.duration_errors: list[type] = []
        unknown = set(kwargs) - {"event_type", *PARAMETERS}
        given_type = (len(args) >= 1) + ("event_type" in kwargs)
        if len(args) > 1 or unknown or given_type != 1:
            self.signature_error = True
            return
        event_type = args[0] if args else kwargs["event_type"]
        if not any(event_type is member for member in TraceEventType):
            self.bad.append("event_type")
        for name in PARAMETERS:
            if not _accepts(name, kwargs.get(name)):
                self.bad.append(name)
        duration = kwargs.get("duration")
        if duration is not None and "duration" not in self.bad:
            self.durations, self.duration_errors = _durations(duration)
        self.event_type = event_type

    @property
    def accepted(self) -> bool:
        return not self.signature_error and not self.bad and not self.duration_errors


def check_raised(expected: Expected, exc: BaseException) -> None:
    """An exception from ``record``: the documented one, for the right parameter."""
    message = str(exc)
    if expected.signature_error:
        assert type(exc) is TypeError, repr(exc)
        return
    allowed = []
    for name in expected.bad:
        value = expected.event_type if name == "event_type" else expected.kwargs[name]
        if type(exc) is TypeError and f"'{name}'" in message and type(value).__name__ in message:
            return
        allowed.append(f"TypeError naming '{name}' and {type(value).__name__}")
    # An OverflowError (an int too large for a float) must name the parameter.
    if type(exc) in expected.duration_errors and (
        type(exc) is not OverflowError or "duration" in message
    ):
        return
    raise AssertionError(
        f"record raised {exc!r}; allowed: {allowed} or {expected.duration_errors}"
    )


def describe(value: Any) -> str:
    """``repr`` for messages, even of objects whose ``repr`` raises."""
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__} object with a raising repr>"
    return text if len(text) < 300 else text[:300] + "..."


def same_text(got: Any, want: Any) -> bool:
    """``got`` is an exact str holding ``want``'s characters (no Python-level __eq__)."""
    if want is None:
        return got is None
    return type(got) is str and str.__eq__(got, want) is True


def same_duration(got: Any, allowed: list[float]) -> bool:
    if type(got) is not float:
        return False
    for want in allowed:
        if math.isnan(want) and math.isnan(got):
            return True
        if got == want and math.copysign(1.0, got) == math.copysign(1.0, want):
            return True
    return False


def check_event(event: Any, expected: Expected, where: str) -> None:
    kwargs = expected.kwargs
    assert type(event) is TraceEvent, where
    assert event.event_type is expected.event_type, where
    assert type(event.timestamp) is float and math.isfinite(event.timestamp), where
    assert same_text(event.node_name, kwargs.get("node_name")), where
    assert same_text(event.error, kwargs.get("error")), where
    step = kwargs.get("step_index")
    if step is None:
        assert event.step_index is None, where
    else:
        assert type(event.step_index) is int, where
        assert int.__eq__(event.step_index, int.__index__(step)) is True, where
    if kwargs.get("duration") is None:
        assert event.duration is None, where
    else:
        assert same_duration(event.duration, expected.durations), (
            where,
            event.duration,
            expected.durations,
        )
    metadata = kwargs.get("metadata")
    if metadata is not None and dict.__len__(metadata) > 0:
        assert event.metadata is metadata, where
    else:
        assert type(event.metadata) is dict and dict.__len__(event.metadata) == 0, where
        assert event.metadata is not metadata, where


def outcome(call: Callable[[], Any]) -> tuple[Any, ...]:
    try:
        return ("ok", call())
    except RecursionError as exc:
        # Where exactly the limit is hit differs; the exception type must not.
        return ("error", type(exc))
    except Exception as exc:
        return ("error", type(exc), str(exc))


def check_exports(trace: ExecutionTrace) -> None:
    events = trace.events
    for name, ours, theirs in [
        ("to_json", trace.to_json, reference.to_json),
        ("to_chrome_trace", trace.to_chrome_trace, reference.to_chrome_trace),
        ("summary", trace.summary, reference.summary),
    ]:
        got = outcome(ours)
        want = outcome(lambda theirs=theirs: theirs(events))
        assert got == want, f"{name}: {str(got)[:300]} != {str(want)[:300]}"
        COUNTS[f"{name} {got[0]}"] += 1


def record_and_check(trace: ExecutionTrace, stream: list[Any], accepted: list[Expected]) -> None:
    for args, kwargs in stream:
        expected = Expected(args, kwargs)
        COUNTS["calls"] += 1
        try:
            result = trace.record(*args, **kwargs)
        except Exception as exc:
            COUNTS[f"rejected with {type(exc).__name__}"] += 1
            if expected.accepted:
                raise AssertionError(
                    f"record(*{describe(args)}, **{describe(kwargs)}) raised {exc!r} on a "
                    "call the contract accepts"
                ) from exc
            check_raised(expected, exc)
            continue
        assert result is None
        COUNTS["accepted"] += 1
        assert expected.accepted, f"accepted a call the contract rejects: {expected.bad}"
        accepted.append(expected)


def check_trace(trace: ExecutionTrace, accepted: list[Expected]) -> None:
    events = trace.events
    assert len(events) == len(accepted)
    for position, (event, expected) in enumerate(zip(events, accepted)):
        check_event(event, expected, f"event {position}")
    stamps = [event.timestamp for event in events]
    assert stamps == sorted(stamps)
    if stamps:
        assert stamps[0] == 0.0
    assert bool(trace) is True
    check_exports(trace)


streams = st.lists(calls(), min_size=1, max_size=8)


def _fuzz_record(stream: list[Any]) -> None:
    COUNTS["examples"] += 1
    trace = ExecutionTrace()
    accepted: list[Expected] = []
    record_and_check(trace, stream, accepted)
    check_trace(trace, accepted)
    # Still usable: a plain record after whatever happened.
    trace.record(TraceEventType.EXECUTION_COMPLETED)
    assert len(trace.events) == len(accepted) + 1


@fuzz_settings(examples=300)
@given(stream=streams)
def test_record_odd_arguments(stream):
    _fuzz_record(stream)


@pytest.mark.stress
@needs_full
@fuzz_settings(examples=10_000)
@given(stream=streams)
def test_record_odd_arguments_full_size(stream):
    _fuzz_record(stream)


def _by_python_equality(events: list[Any], name: Any) -> list[Any]:
    return [event for event in events if event.node_name == name]


def _fingerprints(events: list[Any]) -> list[tuple[Any, ...]]:
    return [
        (
            event.event_type,
            event.timestamp,
            event.node_name,
            event.step_index,
            repr(event.duration),
            event.error,
            id(event.metadata) if event.metadata else "fresh",
        )
        for event in events
    ]


def _events_for_node_example(stream: list[Any], names: list[Any]) -> None:
    """``events_for_node(name)`` with any object: exactly the events whose
    ``node_name == name`` (Python's comparison, errors included), in order."""
    COUNTS["events_for_node examples"] += 1
    trace = ExecutionTrace()
    accepted: list[Expected] = []
    record_and_check(trace, stream, accepted)
    events = trace.events
    for name in names + [event.node_name for event in events] + [mock.ANY]:
        want = outcome(lambda name=name: _fingerprints(_by_python_equality(events, name)))
        got = outcome(lambda name=name: _fingerprints(trace.events_for_node(name)))
        assert got == want, (describe(name), got, want)
        COUNTS[f"events_for_node {got[0]}"] += 1


node_streams = st.lists(calls(), min_size=1, max_size=6)
node_names = st.lists(anything, max_size=4)


@fuzz_settings(examples=200)
@given(stream=node_streams, names=node_names)
def test_events_for_node_with_odd_names(stream, names):
    _events_for_node_example(stream, names)


@pytest.mark.stress
@needs_full
@fuzz_settings(examples=3_000)
@given(stream=node_streams, names=node_names)
def test_events_for_node_with_odd_names_full_size(stream, names):
    _events_for_node_example(stream, names)


# --- targeted cases found by the fuzzer or the brief ----------------------------------


def test_every_parameter_rejects_the_trace_event_type_class():
    trace = ExecutionTrace()
    with pytest.raises(TypeError, match="event_type.*EnumType|event_type.*EnumMeta"):
        trace.record(TraceEventType)
    for name in PARAMETERS:
        with pytest.raises(TypeError, match=f"'{name}'"):
            trace.record(TraceEventType.NODE_STARTED, **{name: TraceEventType})
    for name in PARAMETERS:
        with pytest.raises(TypeError, match=f"'{name}'"):
            trace.record(TraceEventType.NODE_STARTED, **{name: RaisingEverything()})
    assert trace.events == []
    trace.record(TraceEventType.NODE_STARTED, node_name=HostileStr("x"), step_index=HostileInt(3))
    (event,) = trace.events
    assert type(event.node_name) is str and str.__eq__(event.node_name, "x")
    assert type(event.step_index) is int and int.__eq__(event.step_index, 3)
    assert trace.to_json() == reference.to_json(trace.events)


class RaisingRepr:
    __repr__ = _boom
    __str__ = _boom


class RaisingReprStr(str):
    __repr__ = _boom
    __str__ = _boom


class RaisingReprDict(dict):
    __repr__ = _boom
    __str__ = _boom


def test_objects_whose_repr_raises():
    """Error messages name the type, never call repr; exports never call repr either."""
    trace = ExecutionTrace()
    for name in ["event_type", *PARAMETERS]:
        arguments = {"event_type": TraceEventType.NODE_STARTED, name: RaisingRepr()}
        with pytest.raises(TypeError, match=f"'{name}'.*RaisingRepr"):
            trace.record(**arguments)
    assert trace.events == []
    metadata = RaisingReprDict(a=RaisingReprStr("x"), b=[RaisingRepr()])
    trace.record(
        TraceEventType.NODE_FAILED,
        node_name=RaisingReprStr("n"),
        error=RaisingReprStr("e"),
        metadata=metadata,
    )
    (event,) = trace.events
    assert event.metadata is metadata
    with pytest.raises(TypeError, match="^Object of type RaisingRepr is not JSON serializable$"):
        reference.to_json(trace.events)
    with pytest.raises(TypeError, match="^Object of type RaisingRepr is not JSON serializable$"):
        trace.to_json()
    metadata["b"] = []
    assert trace.to_json() == reference.to_json(trace.events)
    assert trace.to_chrome_trace() == reference.to_chrome_trace(trace.events)


@pytest.mark.parametrize("cls", [FalsyDict, BoolRaisingDict])
def test_nested_dict_subclass_that_overrides_truth(cls):
    """json.dumps asks a dict whether it is empty (``if not dct``): so must to_json."""
    trace = ExecutionTrace()
    trace.record(TraceEventType.NODE_COMPLETED, metadata={"inner": cls(a=1)})
    assert outcome(trace.to_json) == outcome(lambda: reference.to_json(trace.events))


def test_float_subclass_whose_eq_raises_in_metadata():
    """json.dumps checks ``o != o`` (NaN) on floats, so a raising __ne__ propagates."""
    trace = ExecutionTrace()
    trace.record(TraceEventType.NODE_COMPLETED, metadata={"v": HostileFloat(1.5)})
    assert outcome(trace.to_json) == outcome(lambda: reference.to_json(trace.events))


def test_duration_int_with_own_float():
    """The contract only says "stored as float"; either reading is accepted above."""
    trace = ExecutionTrace()
    trace.record(TraceEventType.NODE_COMPLETED, duration=OwnFloatInt(3))
    assert trace.events[0].duration in (3.0, 99.5)


def test_duration_int_with_raising_float():
    """Its own error, or its value: never a misleading OverflowError."""
    trace = ExecutionTrace()
    try:
        trace.record(TraceEventType.NODE_COMPLETED, duration=BadFloatInt(3))
    except Boom:
        assert trace.events == []
        return
    (event,) = trace.events
    assert event.duration == 3.0


def test_metadata_value_whose_class_attribute_raises():
    """json.dumps propagates the error raised by an object's ``__class__``."""
    trace = ExecutionTrace()
    trace.record(TraceEventType.NODE_COMPLETED, metadata={"v": SpoofedClass()})
    with pytest.raises(Boom):
        reference.to_json(trace.events)
    with pytest.raises(Boom):
        trace.to_json()


def test_events_for_node_with_an_object_equal_to_everything():
    """``events_for_node`` filters with ``node_name == name``, like the documented code."""
    trace = ExecutionTrace()
    trace.record(TraceEventType.NODE_STARTED, node_name="a")
    trace.record(TraceEventType.NODE_STARTED, node_name="b")
    want = [event for event in trace.events if event.node_name == mock.ANY]
    assert len(want) == 2
    assert trace.events_for_node(mock.ANY) == want


# --- metadata mutated by another thread during export ---------------------------------


class YieldingList(list):
    """A list json iterates in Python (a subclass with ``__iter__``), giving up the
    interpreter between items so another thread can run in the middle of an export."""

    def __iter__(self):
        for position in range(list.__len__(self)):
            if position == 0:
                time.sleep(0)
            try:
                yield list.__getitem__(self, position)
            except IndexError:
                return


DICT_CHANGED = {
    "dictionary changed size during iteration",
    "dictionary keys changed during iteration",
}


def _mutator(shared: list[dict[Any, Any]], stop: threading.Event, errors: list[Any]) -> None:
    """Bursts of changes (add and remove keys, replace values), then quiet spells."""
    step = 0
    try:
        while not stop.is_set():
            for _ in range(20):
                step += 1
                for target in shared:
                    key = step % 37
                    action = step % 5
                    if action == 0:
                        target[f"new{step}"] = [step, {"x": step}]
                    elif action == 1:
                        target.pop(f"new{step - 1}", None)
                    elif action == 2:
                        target[key] = {"replaced": step, "list": [1, 2, 3]}
                        # Replace the value an export may be writing right now.
                        own = "y" if isinstance(target, DictSub) else 100
                        target[own] = YieldingList([step, step + 1])
                    elif action == 3:
                        target.pop(key, None)
                    else:
                        target[key] = list(range(step % 7))
                time.sleep(0)
            time.sleep(0.001 * (step % 30))
    except BaseException as exc:  # reported by the main thread
        errors.append(exc)


EVENTS = 24


def _mutation_run(rounds: int) -> collections.Counter[str]:
    trace = ExecutionTrace()
    # Another thread can run in the middle of an export only where it calls Python
    # code (json.dumps would let it run anywhere): in these lists' __iter__.
    plain: dict[Any, Any] = {i: [i, "v"] for i in range(30)}
    plain[100] = YieldingList([1, 2])
    sub = DictSub({f"s{i}": i for i in range(10)})
    sub["y"] = YieldingList([3])
    nested: dict[Any, Any] = {"plain": plain, "list": YieldingList([plain, sub])}
    shared = [plain, sub]
    for position in range(EVENTS):
        metadata = [plain, sub, nested][position % 3]
        trace.record(
            TraceEventType.NODE_COMPLETED, node_name=f"n{position % 4}", metadata=metadata
        )
    tally: collections.Counter[str] = collections.Counter()
    errors: list[Any] = []
    stop = threading.Event()
    thread = threading.Thread(target=_mutator, args=(shared, stop, errors))
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    thread.start()
    try:
        for _ in range(rounds):
            try:
                text = trace.to_json()
            except RuntimeError as exc:
                assert str(exc) in DICT_CHANGED, repr(exc)
                tally["RuntimeError (dict changed during export)"] += 1
            else:
                records = json.loads(text)
                assert len(records) == EVENTS
                assert [r["node_name"] for r in records] == [f"n{p % 4}" for p in range(EVENTS)]
                tally["valid JSON"] += 1
            chrome = trace.to_chrome_trace()
            assert len(json.loads(chrome)["traceEvents"]) == EVENTS
            assert len(trace.events) == EVENTS
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(old_interval)
    assert not errors, errors
    # Quiet again: the trace is intact and exports exactly.
    events = trace.events
    assert len(events) == EVENTS
    assert trace.to_json() == reference.to_json(events)
    trace.record(TraceEventType.EXECUTION_COMPLETED)
    assert len(trace.events) == EVENTS + 1
    return tally


def _mutation_test(rounds: int) -> None:
    tally = _mutation_run(rounds)
    COUNTS.update({f"mutation: {k}": v for k, v in tally.items()})
    print(f"\n[fuzz] metadata mutated during {rounds} exports: {dict(tally)}")
    assert sum(tally.values()) == rounds


def test_metadata_mutated_by_another_thread_during_export():
    _mutation_test(rounds=150)


@pytest.mark.stress
@needs_full
def test_metadata_mutated_by_another_thread_during_export_full_size():
    _mutation_test(rounds=5_000)
