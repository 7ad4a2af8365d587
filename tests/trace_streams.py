"""Shared by the export tests: hypothesis strategies for ``record()`` streams (hostile
texts, numbers and metadata), the named Chrome export's reference writer, and traces
crafted from saved state."""

from __future__ import annotations

import json
import math
import re
from enum import Enum, IntEnum

import reference
from dagron.execution.tracing import ExecutionTrace, TraceEventType, TraceOrigin
from hypothesis import strategies as st

T = TraceEventType


class MyStr(str):
    def __str__(self):
        return "MyStr-str"

    def __repr__(self):
        return "MyStr-repr"


class MyInt(int):
    def __str__(self):
        return "MyInt-str"

    def __repr__(self):
        return "MyInt-repr"


class MyFloat(float):
    def __str__(self):
        return "MyFloat-str"

    def __repr__(self):
        return "MyFloat-repr"


class MyDict(dict):
    def __repr__(self):
        return "MyDict-repr"


class MyList(list):
    def __repr__(self):
        return "MyList-repr"


class Colour(IntEnum):
    RED = 1
    BIG = 2**70


class Word(str, Enum):
    HELLO = "h\xe9llo"


SPECIAL_CHARS = [
    "\x00",
    "\x01",
    "\x08",
    "\x0c",
    "\x1f",
    "\x7f",
    "\x80",
    "\x9f",
    "\xa0",
    "\xe9",
    "\xff",
    "\u0100",
    "\u2028",
    "\u2029",
    "\ufeff",
    "\uffff",
    "\ud800",
    "\udbff",
    "\udc00",
    "\udfff",
    "\U0001f600",
    "\U00010000",
    "\U0010ffff",
    "\n",
    "\r",
    "\t",
    '"',
    "\\",
    "/",
    "'",
    " ",
    "a",
]

SPECIAL_TEXTS = [
    "",
    "extract",
    "\ud83d\ude00",  # a surrogate pair given as two code points
    "\ude00\ud83d",  # the same two, in the wrong order
    "\x00\x00",
    "a\u0000b",
    "\\u00e9",
    "</script>",
]

chars = st.one_of(st.characters(exclude_categories=()), st.sampled_from(SPECIAL_CHARS))

plain_texts = st.one_of(st.text(chars, max_size=10), st.sampled_from(SPECIAL_TEXTS))

texts = st.one_of(plain_texts, plain_texts.map(MyStr), st.just(Word.HELLO))

SPECIAL_FLOATS = [
    math.nan,
    math.inf,
    -math.inf,
    -0.0,
    0.0,
    5e-324,
    -5e-324,
    2.2250738585072014e-308,
    1.7976931348623157e308,
    1e16,
    1e15,
    1e-5,
    1e-4,
    1e-7,
    1e21,
    1e22,
    1e23,
    0.1,
    0.30000000000000004,
    123456789012345680.0,
    9007199254740993.0,
    1.5,
    -2.5,
]

plain_floats = st.one_of(st.floats(), st.sampled_from(SPECIAL_FLOATS))

floats = st.one_of(plain_floats, plain_floats.map(MyFloat))

SPECIAL_INTS = [
    0,
    -1,
    2**31,
    2**53 + 1,
    2**63 - 1,
    2**63,
    -(2**63),
    -(2**63) - 1,
    2**64 - 1,
    2**64,
    2**64 + 1,
    -(2**64),
    2**128,
    -(10**40),
    10**300,
]

plain_ints = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**300), max_value=2**300),
    st.sampled_from(SPECIAL_INTS),
)

ints = st.one_of(plain_ints, plain_ints.map(MyInt), st.sampled_from(list(Colour)))

keys = st.one_of(texts, ints, floats, st.booleans(), st.none())

leaves = st.one_of(st.none(), st.booleans(), ints, floats, texts)


def _containers(children):
    return st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.lists(children, max_size=3).map(MyList),
        st.dictionaries(keys, children, max_size=4),
        st.dictionaries(keys, children, max_size=3).map(MyDict),
    )


json_values = st.recursive(leaves, _containers, max_leaves=16)

DEEP = {"a": {"b": [{"c": ({"d": [[], {}, ()]},)}]}, 1: [[[[1.5]]]]}

metadata_dicts = st.one_of(
    st.dictionaries(keys, json_values, min_size=1, max_size=5),
    st.dictionaries(texts, json_values, min_size=1, max_size=3).map(MyDict),
    st.builds(lambda: {"deep": DEEP, "empty": [{}, [], ()]}),
)

metadata_values = st.one_of(
    st.none(), st.builds(dict), st.builds(MyDict), metadata_dicts, metadata_dicts
)

step_indexes = st.one_of(st.none(), ints)

durations = st.one_of(
    st.none(),
    floats,
    st.integers(min_value=-(10**300), max_value=10**300),
    st.sampled_from([0, 1, -1, 2**64, MyInt(7)]),
)


@st.composite
def event_streams(draw, max_size=12):
    """A list of ``record()`` keyword dicts; node names often repeat."""
    pool = draw(st.lists(texts, min_size=1, max_size=4))
    node_names = st.one_of(st.none(), st.sampled_from(pool), st.sampled_from(pool), texts)
    one = st.fixed_dictionaries(
        {"event_type": st.sampled_from(list(TraceEventType))},
        optional={
            "node_name": node_names,
            "step_index": step_indexes,
            "duration": durations,
            "error": st.one_of(st.none(), texts),
            "metadata": metadata_values,
        },
    )
    return draw(st.lists(one, max_size=max_size))


def record_all(trace, stream):
    for kwargs in stream:
        trace.record(**kwargs)


CHROME_EXPORTED = {
    T.NODE_STARTED,
    T.NODE_COMPLETED,
    T.NODE_FAILED,
    T.NODE_TIMED_OUT,
    T.EXECUTION_STARTED,
    T.EXECUTION_COMPLETED,
}


def named_reference(events, event_sources=None, groups=None, dropped: int = 0) -> str:
    """The named output, from the contract's default records. ``event_sources``
    (each event's source index) and ``groups`` ((name, pid) per source) describe a
    merged trace; a plain one has a single group, ``dagron`` with pid 1."""
    groups = groups or [("dagron", 1)]
    event_sources = event_sources or [0] * len(events)
    records = reference.chrome_records(events)
    names: list[str] = []
    used: set[tuple[int, str]] = set()
    runs_in: set[int] = set()
    for event, source in zip(events, event_sources):
        if event.node_name is not None:
            if event.node_name not in names:
                names.append(event.node_name)
            used.add((source, event.node_name))
        if event.event_type in (T.EXECUTION_STARTED, T.EXECUTION_COMPLETED):
            runs_in.add(source)
    execution_tid = len(names) + 1
    exported = [
        source
        for event, source in zip(events, event_sources)
        if event.event_type in CHROME_EXPORTED
    ]
    assert len(exported) == len(records)
    for record, source in zip(records, exported):
        record["pid"] = groups[source][1]
        if record["cat"] == "execution":
            record["tid"] = execution_tid

    def meta(name, pid, tid, key, value):
        return {"name": name, "ph": "M", "pid": pid, "tid": tid, "args": {key: value}}

    head = []
    for source, (process, pid) in enumerate(groups):
        head.append(meta("process_name", pid, 0, "name", process))
        if dropped and source == 0:
            head.append(meta("process_labels", pid, 0, "labels", f"{dropped} events dropped"))
        if len(groups) == 1 or source in runs_in:
            head.append(meta("thread_name", pid, execution_tid, "name", "execution"))
            head.append(meta("thread_sort_index", pid, execution_tid, "sort_index", 0))
        for tid, name in enumerate(names, start=1):
            if (source, name) in used:
                head.append(meta("thread_name", pid, tid, "name", name))
                head.append(meta("thread_sort_index", pid, tid, "sort_index", tid))
    text = json.dumps({"traceEvents": head + records}, indent=2)
    # A string ending in a backslash ends in \u005c (the viewer rejects \\").
    return re.sub(r'(?<!\\)((?:\\\\)*)\\\\"', r'\1\\u005c"', text)


def crafted(origin: TraceOrigin, events: list[tuple], dropped: int = 0) -> ExecutionTrace:
    """A trace recorded elsewhere: origin and events as its pickled state gives them.
    ``events`` are (type, timestamp, node_name, step_index) tuples."""
    trace = ExecutionTrace.__new__(ExecutionTrace)
    saved = [(kind.value, ts, node, step, None, None, None) for kind, ts, node, step in events]
    origin_tuple = (origin.host, origin.pid, origin.monotonic_ns, origin.wall_ns)
    trace.__setstate__((2, None, saved, None, (origin_tuple, dropped, None, None)))
    return trace
