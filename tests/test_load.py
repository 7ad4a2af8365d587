"""``ExecutionTrace.load`` restores a file's events straight into the core (issue 24,
item 2): a loaded trace is the trace its file holds, just as that trace copied
through pickle is; bad JSON records are told exactly, in the order a whole file is
checked; the loaded trace is of the class ``load`` is called on, made without
``__init__`` or ``__setstate__``; progress is told every 65,536 events and at the end.
"""

from __future__ import annotations

import gzip
import json
import os
import pickle
import zlib

import pytest
from dagron.errors import TraceFileError
from dagron.execution import _files
from dagron.execution.tracing import ExecutionTrace, TraceOrigin
from dagron.execution.tracing import TraceEventType as T

BIG = 2**70
KEYS = "event_type, timestamp, node_name, step_index, duration, error, metadata"


def record_mixed(trace: ExecutionTrace) -> None:
    """Every kind of value a file carries: metadata (nested, empty), step indices
    beyond 64 bits, errors, a name with a lone surrogate, an int duration."""
    trace.record(T.EXECUTION_STARTED)
    trace.record(T.NODE_STARTED, node_name="a", step_index=0)
    trace.record(
        T.NODE_COMPLETED,
        node_name="a",
        step_index=BIG,
        duration=0.25,
        metadata={"rows": 3, "tags": ["x", None], "nested": {"f": 1.5}},
    )
    trace.record(T.NODE_STARTED, node_name="b\udcff", step_index=-(2**80))
    trace.record(T.NODE_FAILED, node_name="b\udcff", duration=1, error="E: boom", metadata={})
    trace.record(T.EXECUTION_COMPLETED, metadata={"k": True})


def state_of(trace: ExecutionTrace) -> tuple:
    return (
        trace.events,
        trace.to_json(),
        trace.origin,
        trace.sources,
        trace.event_sources(),
        trace.dropped,
    )


def assert_like_its_pickled_copy(trace: ExecutionTrace) -> None:
    copy = pickle.loads(pickle.dumps(trace))
    assert type(copy) is type(trace)
    assert state_of(copy) == state_of(trace)


@pytest.mark.parametrize("name", ["run.json", "run.json.gz"])
def test_a_json_export_loads_as_the_trace_and_its_pickled_copy(tmp_path, name):
    trace = ExecutionTrace()
    record_mixed(trace)
    trace.write_json(tmp_path / name)
    loaded = ExecutionTrace.load(tmp_path / name)
    assert loaded.events == trace.events
    assert loaded.to_json() == trace.to_json()
    assert loaded.origin == TraceOrigin(host=name, pid=0, monotonic_ns=0, wall_ns=0)
    assert loaded.sources == [loaded.origin]
    assert loaded.dropped == 0
    steps = [event.step_index for event in loaded.events]
    assert steps == [None, 0, BIG, -(2**80), None, None]
    assert [type(step) for step in steps[1:4]] == [int, int, int]
    assert [event.metadata for event in loaded.events][2:] == [
        {"rows": 3, "tags": ["x", None], "nested": {"f": 1.5}},
        {},
        {},
        {"k": True},
    ]
    assert_like_its_pickled_copy(loaded)


@pytest.mark.parametrize("compressed", [False, True])
def test_a_journal_loads_as_the_trace_and_its_pickled_copy(tmp_path, compressed):
    path = tmp_path / "run.journal"
    trace = ExecutionTrace(journal=path)
    record_mixed(trace)
    trace.flush()
    if compressed:
        path.with_suffix(".gz").write_bytes(gzip.compress(path.read_bytes()))
        path = path.with_suffix(".gz")
    loaded = ExecutionTrace.load(path)
    assert loaded.events == trace.events
    assert loaded.to_json() == trace.to_json()
    assert loaded.origin == trace.origin
    assert loaded.sources == [trace.origin]
    assert loaded.event_sources() == [0] * 6
    assert loaded.dropped == 0
    assert_like_its_pickled_copy(loaded)


def test_files_whose_names_are_not_utf8_load(tmp_path):
    # os.fsdecode keeps the byte 0xff as a lone surrogate: the JSON trace's origin
    # is named with "?" for it, and a journal loads under such a name too.
    folder = os.fsencode(tmp_path)
    trace = ExecutionTrace()
    record_mixed(trace)
    json_path = os.fsdecode(folder + b"/run\xff.json")
    trace.write_json(json_path)
    loaded = ExecutionTrace.load(json_path)
    assert loaded.events == trace.events
    assert loaded.origin == TraceOrigin(host="run?.json", pid=0, monotonic_ns=0, wall_ns=0)
    journal_path = os.fsdecode(folder + b"/run\xff.journal")
    journaled = ExecutionTrace(journal=journal_path)
    record_mixed(journaled)
    journaled.flush()
    assert ExecutionTrace.load(journal_path).events == journaled.events
    with open(journal_path, "r+b") as file:
        file.truncate(3)
    with pytest.raises(TraceFileError, match=r"run\?\.journal: "):
        ExecutionTrace.load(journal_path)


def test_a_journals_dropped_count_reaches_the_loaded_trace(tmp_path):
    path = tmp_path / "run.journal"
    trace = ExecutionTrace(journal=path)
    record_mixed(trace)
    trace.flush()
    data = bytearray(path.read_bytes())
    # The header: magic (8), version (2), flags (2), body length (4), body, crc32;
    # the body: pid (4), monotonic_ns (8), wall_ns (8), dropped (8), host.
    length = int.from_bytes(data[12:16], "little")
    data[36:44] = (7).to_bytes(8, "little")
    data[16 + length : 20 + length] = zlib.crc32(data[16 : 16 + length]).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    loaded = ExecutionTrace.load(path)
    assert loaded.dropped == 7
    assert loaded.events == trace.events
    assert loaded.origin == trace.origin
    assert_like_its_pickled_copy(loaded)


class Sub(ExecutionTrace):
    """A subclass whose ``__init__`` needs an argument and whose ``__setstate__``
    refuses: loading must use neither."""

    def __init__(self, label: str) -> None:
        super().__init__()
        self.label = label

    def __setstate__(self, state: object) -> None:
        raise AssertionError("load went through __setstate__")


def test_load_makes_the_class_it_is_called_on_without_init_or_setstate(tmp_path):
    trace = ExecutionTrace(journal=tmp_path / "run.journal")
    record_mixed(trace)
    trace.flush()
    trace.write_json(tmp_path / "run.json")
    for name in ("run.journal", "run.json"):
        loaded = Sub.load(tmp_path / name)
        assert type(loaded) is Sub
        assert not hasattr(loaded, "label")
        assert loaded.events == trace.events
        # It records on, after the loaded events.
        loaded.record(T.NODE_STARTED, node_name="c")
        assert loaded.events[-1].timestamp >= trace.events[-1].timestamp


GOOD = {"event_type": "node_started", "timestamp": 0.0}


def bad(**fields: object) -> dict:
    return {**GOOD, **fields}


@pytest.mark.parametrize(
    "text, message",
    [
        ("[1]", "event 0: expected an object"),
        ("[null]", "event 0: expected an object"),
        ('[{"event_type": "node_started"}]', f"event 0: expected keys {KEYS}; got event_type"),
        ('[{"timestamp": 0}]', f"event 0: expected keys {KEYS}; got timestamp"),
        (
            '[{"event_type": "node_started", "timestamp": 0, "zz": 1, "error": null}]',
            f"event 0: expected keys {KEYS}; got event_type, timestamp, zz, error",
        ),
        ("[{}]", f"event 0: expected keys {KEYS}; got "),
        (json.dumps([bad(event_type="nope")]), "event 0: bad event_type 'nope'"),
        (json.dumps([bad(event_type="NODE_STARTED")]), "event 0: bad event_type 'NODE_STARTED'"),
        (json.dumps([bad(event_type=None)]), "event 0: bad event_type None"),
        (json.dumps([bad(event_type=2)]), "event 0: bad event_type 2"),
        (json.dumps([bad(timestamp=True)]), "event 0: bad timestamp True"),
        (json.dumps([bad(timestamp="1")]), "event 0: bad timestamp '1'"),
        (json.dumps([bad(timestamp=None)]), "event 0: bad timestamp None"),
        (json.dumps([bad(node_name=3)]), "event 0: bad node_name 3"),
        (json.dumps([bad(step_index=True)]), "event 0: bad step_index True"),
        (json.dumps([bad(step_index=1.0)]), "event 0: bad step_index 1.0"),
        (json.dumps([bad(duration=False)]), "event 0: bad duration False"),
        (json.dumps([bad(duration="1")]), "event 0: bad duration '1'"),
        (json.dumps([bad(error=1)]), "event 0: bad error 1"),
        (json.dumps([bad(metadata=[])]), "event 0: bad metadata []"),
        (json.dumps([bad(metadata="x\udcff")]), "event 0: bad metadata 'x\\udcff'"),
        # The first bad field in the fields' order; the first bad record.
        (json.dumps([bad(event_type="x", timestamp="y")]), "event 0: bad event_type 'x'"),
        (json.dumps([GOOD, bad(error=2), bad(node_name=1)]), "event 1: bad error 2"),
        # A record that is no object, anywhere, is told before any bad field.
        (json.dumps([bad(event_type="x"), GOOD, 5]), "event 2: expected an object"),
        (json.dumps([bad(node_name=1), {"a": 1}]), f"event 1: expected keys {KEYS}; got a"),
        # Numbers the core cannot hold, then the timestamps' order, after every field.
        (
            '[{"event_type": "node_started", "timestamp": 1' + "0" * 400 + "}]",
            "event 0: timestamp is an integer of 401 digits, too large for a float",
        ),
        (
            json.dumps([GOOD, bad(duration=-(10**400)), bad(duration=10**500)]),
            "event 1: duration is an integer of 401 digits, too large for a float",
        ),
        (
            '[{"event_type": "node_started", "timestamp": 1' + "0" * 400 + "},"
            ' {"event_type": "node_started", "timestamp": 0, "node_name": 1}]',
            "event 1: bad node_name 1",
        ),
        (
            json.dumps([bad(timestamp=2.0), bad(timestamp=1)]),
            "invalid ExecutionTrace state: event 1 has timestamp 1; timestamps must be "
            "finite, at least 0.0 and never decrease",
        ),
        (
            json.dumps([bad(timestamp=float("nan"))]),
            "invalid ExecutionTrace state: event 0 has timestamp NaN; timestamps must be "
            "finite, at least 0.0 and never decrease",
        ),
        (
            json.dumps([bad(timestamp=-0.5)]),
            "invalid ExecutionTrace state: event 0 has timestamp -0.5; timestamps must be "
            "finite, at least 0.0 and never decrease",
        ),
    ],
)
def test_bad_json_records_are_told_exactly(text, message):
    with pytest.raises(TraceFileError) as caught:
        _files.loads(ExecutionTrace, text.encode(), "dir/f.json")
    assert str(caught.value) == f"dir/f.json: {message}"
    assert caught.value.__cause__ is None


def test_good_json_records_of_every_shape_load():
    records = [
        bad(timestamp=0, node_name=None, step_index=None, duration=None, error=None),
        bad(timestamp=1, step_index=-1, duration=2, metadata=None),
        bad(event_type="node_failed", timestamp=1.5, step_index=BIG, error="e", metadata={}),
    ]
    loaded = _files.loads(ExecutionTrace, json.dumps(records).encode(), "f.json")
    assert [(e.event_type, e.timestamp, e.step_index, e.duration) for e in loaded.events] == [
        (T.NODE_STARTED, 0.0, None, None),
        (T.NODE_STARTED, 1.0, -1, 2.0),
        (T.NODE_FAILED, 1.5, BIG, None),
    ]
    assert [type(e.timestamp) for e in loaded.events] == [float] * 3
    assert [e.error for e in loaded.events] == [None, None, "e"]


def progress_calls(data: bytes, name: str) -> tuple[list[tuple[int, int]], object]:
    calls: list[tuple[int, int]] = []
    try:
        outcome: object = _files.loads(ExecutionTrace, data, name, lambda *a: calls.append(a))
    except TraceFileError as error:
        outcome = str(error)
    return calls, outcome


def test_progress_is_told_every_65536_events_and_at_the_end(tmp_path):
    n = 140_000
    trace = ExecutionTrace(journal=tmp_path / "run.journal")
    for i in range(n):
        trace.record(T.NODE_STARTED, node_name=f"n{i % 10}")
    trace.flush()
    every = [(0, n), (65_536, n), (131_072, n), (n, n)]
    calls, loaded = progress_calls((tmp_path / "run.journal").read_bytes(), "run.journal")
    assert calls == every
    assert isinstance(loaded, ExecutionTrace) and len(loaded.events) == n
    records = [bad(timestamp=float(i)) for i in range(n)]
    calls, loaded = progress_calls(json.dumps(records).encode(), "f.json")
    assert calls == every
    assert isinstance(loaded, ExecutionTrace) and len(loaded.events) == n
    # A bad record is told before the end is.
    records[100_000] = bad(node_name=5)
    calls, outcome = progress_calls(json.dumps(records).encode(), "f.json")
    assert calls == every[:3]
    assert outcome == "f.json: event 100000: bad node_name 5"
