"""Traces as tables (issue 22): ``trace.to_arrow()`` and ``NodeRuns`` through the Arrow
PyCapsule interface, read by pyarrow, polars, pandas and DuckDB; ``write_parquet``;
``dagron-trace convert ... -o run.parquet``.

Every field of every row is checked against ``trace.events`` (random traces: live,
bounded, merged, journal- and JSON-loaded), and every node-runs row against
``trace.node_runs()`` (which ``test_node_runs`` checks against the Perfetto export).
"""

from __future__ import annotations

import json
import math
import os
import stat
import sys

import pytest
from dagron import cli
from dagron.execution.tracing import ExecutionTrace, TraceEventType, TraceOrigin
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

T = TraceEventType
HERE = TraceOrigin("host-a", 11, 1_000_000_000, 1_700_000_000_000_000_000)
THERE = TraceOrigin("host-b", 22, 5_000_000_000, 1_700_000_000_500_000_000)
EVENT_COLUMNS = [
    "event_type",
    "timestamp",
    "time",
    "node_name",
    "step_index",
    "duration",
    "error",
    "metadata",
    "source",
]
RUN_COLUMNS = [
    "node",
    "source",
    "lane",
    "start",
    "end",
    "duration",
    "status",
    "error",
    "start_event",
    "end_event",
]


def fix(text):
    """A str as UTF-8 can carry it: each lone surrogate becomes U+FFFD."""
    if text is None:
        return None
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)


def same(a, b) -> bool:
    """Equality that tells int from float, and NaN and -0.0 apart."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return bool(a == b)


def absolute_ns(origin, ts):
    """``origin.wall_ns + round(ts * 1e9)``, halves away from zero; None when the
    trace has no wall clock (loaded from JSON) or the sum leaves int64."""
    if origin is None or origin.wall_ns == 0:
        return None
    since = ts * 1e9
    if not -(2.0**63) < since < 2.0**63:
        return None
    rounded = int(math.copysign(math.floor(abs(since) + 0.5), since))
    total = origin.wall_ns + rounded
    return total if -(2**63) <= total < 2**63 else None


def metadata_text(metadata):
    """The metadata as ``to_json`` writes it: ``json.dumps(indent=2)`` nested at the
    event's level."""
    return json.dumps(metadata, indent=2).replace("\n", "\n    ") if metadata else None


def expected_events(trace: ExecutionTrace) -> list[tuple]:
    origin = trace.origin
    names = [f"{s.host}:{s.pid}" for s in trace.sources]
    return [
        (
            e.event_type.value,
            e.timestamp,
            absolute_ns(origin, e.timestamp),
            fix(e.node_name),
            e.step_index,
            e.duration,
            fix(e.error),
            metadata_text(e.metadata),
            names[source],
        )
        for e, source in zip(trace.events, trace.event_sources())
    ]


def table_rows(table, columns: list[str]) -> list[tuple]:
    """The rows of a pyarrow table, timestamps as int64 nanoseconds."""
    values = []
    for name in columns:
        column = table.column(name)
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.int64())
        values.append(column.to_pylist())
    return list(zip(*values))


def check_rows(got: list[tuple], want: list[tuple]) -> None:
    assert len(got) == len(want)
    for position, (row, expected) in enumerate(zip(got, want)):
        assert all(same(a, b) for a, b in zip(row, expected)), (position, row, expected)


def check_events(trace: ExecutionTrace) -> None:
    arrow = trace.to_arrow()
    table = pa.table(arrow)
    assert table.column_names == EVENT_COLUMNS == arrow.column_names
    assert len(arrow) == table.num_rows
    metadata = {k.decode(): v.decode() for k, v in table.schema.metadata.items()}
    want = {"dagron.table": "events", "dagron.schema_version": "1"}
    want["dagron.dropped"] = str(trace.dropped)
    if trace.max_events is not None:
        want["dagron.max_events"] = str(trace.max_events)
    assert metadata == want == arrow.metadata
    check_rows(table_rows(table, EVENT_COLUMNS), expected_events(trace))


def expected_runs(trace: ExecutionTrace) -> list[tuple]:
    runs = trace.node_runs()  # noqa: F841 - DuckDB finds it by name
    rows = []
    for i in range(len(runs)):
        is_open = runs.status[i] == "open"
        rows.append(
            (
                fix(runs.names[runs.node[i]]),
                runs.sources[runs.source[i]],
                runs.lane[i],
                runs.start[i],
                None if is_open else runs.end[i],
                None if is_open else runs.duration[i],
                runs.status[i],
                fix(runs.error[i]),
                None if runs.start_event[i] < 0 else runs.start_event[i],
                None if runs.end_event[i] < 0 else runs.end_event[i],
            )
        )
    return rows


def check_runs(trace: ExecutionTrace) -> None:
    """The table of ``NodeRuns`` and the trace's own (``to_arrow(kind="node_runs")``,
    straight from the core) both hold ``node_runs()``'s rows."""
    expected = expected_runs(trace)
    table = pa.table(trace.node_runs())
    assert table.column_names == RUN_COLUMNS
    assert table.schema.metadata == {b"dagron.table": b"node_runs", b"dagron.schema_version": b"1"}
    check_rows(table_rows(table, RUN_COLUMNS), expected)
    direct = pa.table(trace.to_arrow(kind="node_runs"))
    assert direct.schema.remove_metadata() == table.schema.remove_metadata()
    metadata = {k.decode(): v.decode() for k, v in direct.schema.metadata.items()}
    want = {"dagron.table": "node_runs", "dagron.schema_version": "1"}
    want["dagron.dropped"] = str(trace.dropped)
    if trace.max_events is not None:
        want["dagron.max_events"] = str(trace.max_events)
    assert metadata == want
    check_rows(table_rows(direct, RUN_COLUMNS), expected)


def crafted(origin: TraceOrigin, events: list[tuple], dropped: int = 0) -> ExecutionTrace:
    """A trace recorded elsewhere: ``events`` are the pickled state's tuples,
    ``(type, timestamp, node_name, step_index, duration, error, metadata)``."""
    trace = ExecutionTrace.__new__(ExecutionTrace)
    saved = [(kind.value, *rest) for kind, *rest in events]
    origin_tuple = (origin.host, origin.pid, origin.monotonic_ns, origin.wall_ns)
    trace.__setstate__((2, None, saved, None, (origin_tuple, dropped, None, None)))
    return trace


# -- random traces -------------------------------------------------------------------

TEXTS = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=8),
    st.sampled_from(["", "\ud800", "\udfff", "\ufffd", "a\x00b", "\ud83d\ude00", "é"]),
)
JSON_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5))
METADATA = st.dictionaries(
    st.text(max_size=4),
    st.recursive(JSON_LEAVES, lambda inner: st.lists(inner, max_size=3), max_leaves=5),
    max_size=3,
)
EVENTS = st.lists(
    st.fixed_dictionaries(
        {"event_type": st.sampled_from(list(T))},
        optional={
            "node_name": st.one_of(st.sampled_from(["a", "b", "\ud800", "\ufffd"]), TEXTS),
            "step_index": st.integers(min_value=-(2**63), max_value=2**63 - 1),
            "duration": st.floats(),
            "error": TEXTS,
            "metadata": METADATA,
        },
    ),
    max_size=30,
)
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def recorded(stream: list[dict], **options) -> ExecutionTrace:
    trace = ExecutionTrace(**options)
    for kwargs in stream:
        trace.record(**kwargs)
    return trace


@SETTINGS
@given(stream=EVENTS)
def test_every_field_of_every_row_is_the_event(stream):
    check_events(recorded(stream))


@SETTINGS
@given(stream=EVENTS, size=st.integers(min_value=1, max_value=8))
def test_bounded_traces_keep_the_newest_rows_and_count_the_dropped(stream, size):
    trace = recorded(stream, max_events=size)
    assert trace.dropped == max(0, len(stream) - len(trace.events))
    check_events(trace)


@SETTINGS
@given(first=EVENTS, second=EVENTS)
def test_merged_traces_name_each_row_source(first, second):
    traces = []
    for origin, stream in ((HERE, first), (THERE, second)):
        events = [
            (
                kw["event_type"],
                i * 0.5,
                kw.get("node_name"),
                kw.get("step_index"),
                kw.get("duration"),
                kw.get("error"),
                kw.get("metadata"),
            )
            for i, kw in enumerate(stream)
        ]
        traces.append(crafted(origin, events, dropped=len(events) % 3))
    merged = ExecutionTrace.merge(traces)
    check_events(merged)
    if first and second:
        sources = set(pa.table(merged.to_arrow()).column("source").to_pylist())
        assert sources == {"host-a:11", "host-b:22"}


RUN_KINDS = st.sampled_from(
    [
        T.NODE_STARTED,
        T.NODE_STARTED,
        T.NODE_COMPLETED,
        T.NODE_FAILED,
        T.NODE_TIMED_OUT,
        T.NODE_SKIPPED,
        T.NODE_CANCELLED,
        T.NODE_GATE_WAITING,
        T.NODE_GATE_RESOLVED,
        T.RESOURCE_ACQUIRED,
        T.RESOURCE_RELEASED,
        T.STEP_STARTED,
    ]
)
RUN_STREAMS = st.lists(
    st.fixed_dictionaries(
        {"event_type": RUN_KINDS, "node_name": st.sampled_from(["a", "b", "\ud800", None])},
        optional={
            "duration": st.floats(allow_nan=False, width=32),
            "error": st.sampled_from(["E: x", "", "\udc00"]),
        },
    ),
    max_size=40,
)


@SETTINGS
@given(stream=RUN_STREAMS)
def test_node_runs_table_is_node_runs(stream):
    check_runs(recorded(stream))


@SETTINGS
@given(stream=RUN_STREAMS, size=st.integers(min_value=1, max_value=8))
def test_bounded_node_runs_table_is_node_runs(stream, size):
    check_runs(recorded(stream, max_events=size))


@SETTINGS
@given(first=RUN_STREAMS, second=RUN_STREAMS)
def test_merged_node_runs_table_is_node_runs(first, second):
    traces = [
        crafted(
            origin,
            [
                (kw["event_type"], i * 0.5, kw["node_name"], None, kw.get("duration"), None, None)
                for i, kw in enumerate(stream)
            ],
        )
        for origin, stream in ((HERE, first), (THERE, second))
    ]
    check_runs(ExecutionTrace.merge(traces))


# -- particular traces ---------------------------------------------------------------


def small_trace(**options) -> ExecutionTrace:
    trace = ExecutionTrace(**options)
    trace.record(T.EXECUTION_STARTED)
    trace.record(T.NODE_STARTED, node_name="load", step_index=0)
    trace.record(T.NODE_COMPLETED, node_name="load", step_index=0, duration=0.25)
    trace.record(T.NODE_STARTED, node_name="fit", step_index=1, metadata={"k": [1, 2.5]})
    trace.record(T.NODE_FAILED, node_name="fit", step_index=1, duration=0.5, error="E: x")
    trace.record(T.NODE_STARTED, node_name="open")
    trace.record(T.EXECUTION_COMPLETED)
    return trace


def test_empty_trace_is_an_empty_table_with_the_schema():
    trace = ExecutionTrace()
    table = pa.table(trace.to_arrow())
    assert table.num_rows == 0 and table.column_names == EVENT_COLUMNS
    assert table.schema.field("event_type").type == pa.dictionary(pa.int8(), pa.string())
    assert table.schema.field("time").type == pa.timestamp("ns", tz="UTC")
    assert table.schema.field("metadata").type == pa.large_string()
    assert pa.table(trace.node_runs()).num_rows == 0
    assert pa.schema(trace.to_arrow()) == table.schema
    assert repr(trace.to_arrow()) == "<ArrowTable events: 0 rows, 9 columns>"


def test_the_table_can_be_read_again_and_outlives_the_trace():
    trace = small_trace()
    arrow = trace.to_arrow()
    first = pa.table(arrow)
    trace.record(T.NODE_SKIPPED, node_name="late")
    del trace
    assert pa.table(arrow).equals(first)
    assert first.num_rows == 7
    # An unused capsule is released without a consumer.
    arrow.__arrow_c_stream__()
    arrow.__arrow_c_schema__()


def test_journal_loaded_trace(tmp_path):
    path = tmp_path / "run.journal"
    trace = small_trace(journal=path)
    trace.flush()
    loaded = ExecutionTrace.load(path)
    assert loaded.origin == trace.origin
    check_events(loaded)
    check_runs(loaded)
    assert table_rows(pa.table(loaded.to_arrow()), EVENT_COLUMNS) == table_rows(
        pa.table(trace.to_arrow()), EVENT_COLUMNS
    )


def test_json_loaded_trace_has_no_absolute_time(tmp_path):
    path = tmp_path / "run.json"
    small_trace().write_json(path)
    loaded = ExecutionTrace.load(path)
    check_events(loaded)
    table = pa.table(loaded.to_arrow())
    assert table.column("time").null_count == table.num_rows
    assert set(table.column("source").to_pylist()) == {"run.json:0"}


def test_hostile_strings_are_handled_as_perfetto_handles_them():
    big = "n" * (1 << 20)
    trace = ExecutionTrace()
    for name in [big, "a\x00b", "\ud800", "\udbff", "\ufffd", "\ud83d\ude00", big]:
        trace.record(T.NODE_SKIPPED, node_name=name, error=name)
    check_events(trace)
    table = pa.table(trace.to_arrow())
    names = table.column("node_name").combine_chunks()
    # Names equal once surrogates become U+FFFD share one dictionary entry.
    # "\ud83d\ude00" is two code points here, two lone surrogates.
    assert names.dictionary.to_pylist() == [big, "a\x00b", "\ufffd", "\ufffd\ufffd"]
    assert names.indices.to_pylist() == [0, 1, 2, 2, 2, 3, 0]


@pytest.mark.parametrize("kind", ["runs", b"events", None, 3])
def test_an_unknown_kind_is_named(kind):
    trace = small_trace()
    if kind is None:
        assert trace.to_arrow(kind=None).metadata["dagron.table"] == "events"
        return
    with pytest.raises(
        ValueError, match=r"to_arrow\(\) kind must be 'events' or 'node_runs', not "
    ):
        trace.to_arrow(kind=kind)


def test_a_step_beyond_int64_is_an_error():
    trace = ExecutionTrace()
    trace.record(T.STEP_STARTED, step_index=2**63)
    with pytest.raises(OverflowError, match=r"event 0: step_index 9223372036854775808 does not"):
        trace.to_arrow()


def test_metadata_json_cannot_write_fails_as_to_json_fails():
    trace = ExecutionTrace()
    trace.record(T.NODE_STARTED, node_name="a", metadata={"f": {1, 2}})
    with pytest.raises(TypeError) as from_json:
        trace.to_json()
    with pytest.raises(TypeError) as from_arrow:
        trace.to_arrow()
    assert str(from_arrow.value) == str(from_json.value)


class ListItems(dict):
    """items() yields [key, value] lists; json unpacks any pair."""

    def items(self):  # type: ignore[override]
        return [[key, value] for key, value in dict.items(self)]


class Falsy(dict):
    def __bool__(self) -> bool:
        return False


@pytest.mark.parametrize(
    "metadata",
    [
        pytest.param(ListItems(a=1, b=[2, ListItems(c="d")]), id="list-pairs"),
        pytest.param(Falsy(k=1), id="falsy"),
        pytest.param({"nested": Falsy(k=1), "t": (1, 2)}, id="nested-falsy"),
        pytest.param({"big": 10**40, "nan": math.nan, "s": "\ud800\x00", 1.5: None}, id="odd"),
    ],
)
def test_metadata_is_the_text_to_json_writes(metadata):
    trace = ExecutionTrace()
    trace.record(T.EXECUTION_STARTED, metadata=metadata)
    trace.record(T.EXECUTION_COMPLETED, metadata={})
    got = pa.table(trace.to_arrow()).column("metadata").to_pylist()
    assert got[1] is None
    text = trace.to_json()
    assert f'"timestamp": 0.0,\n    "metadata": {got[0]}\n  }},' in text
    # An event's own metadata with items is written with them, whatever its __bool__
    # says (docs/faults.md); nested dicts are written as json writes them.
    top = dict(metadata) if isinstance(metadata, Falsy) else metadata
    assert got[0] == json.dumps(top, indent=2).replace("\n", "\n    ")


# -- consumers -----------------------------------------------------------------------


def test_polars_reads_both_tables():
    pl = pytest.importorskip("polars")
    trace = small_trace()
    events = trace.to_polars()
    assert events.columns == EVENT_COLUMNS
    assert events["node_name"].dtype == pl.Categorical
    assert events["step_index"].to_list() == [None, 0, 0, 1, 1, None, None]
    assert pl.from_arrow(trace.to_arrow()).equals(events)
    runs = trace.node_runs().to_polars()
    assert runs.equals(trace.to_polars(kind="node_runs"))
    assert runs.select("node", "status").rows() == [
        ("load", "completed"),
        ("fit", "failed"),
        ("open", "open"),
    ]


def test_pandas_reads_both_tables():
    pytest.importorskip("pandas")
    trace = small_trace()
    events = trace.to_pandas()
    assert list(events.columns) == EVENT_COLUMNS
    assert str(events["event_type"].dtype) == "category"
    assert str(events["time"].dtype) == "datetime64[ns, UTC]"
    assert events["error"].tolist()[4] == "E: x"
    runs = trace.node_runs().to_pandas()
    assert runs["duration"].tolist()[:2] == [0.25, 0.5]
    assert runs.equals(trace.to_pandas(kind="node_runs"))


def test_duckdb_queries_both_tables():
    duckdb = pytest.importorskip("duckdb")
    trace = small_trace()
    events = trace.to_arrow()  # noqa: F841 - DuckDB finds it by name
    runs = trace.node_runs()  # noqa: F841 - DuckDB finds it by name
    assert duckdb.sql(
        "SELECT event_type, count(*) FROM events GROUP BY ALL ORDER BY 2 DESC, 1"
    ).fetchall() == [("node_started", 3), ("execution_completed", 1), ("execution_started", 1),
                     ("node_completed", 1), ("node_failed", 1)]  # fmt: skip
    assert duckdb.sql(
        "SELECT node, median(duration) FROM runs WHERE status <> 'open' GROUP BY node "
        "ORDER BY 2 DESC LIMIT 10"
    ).fetchall() == [("fit", 0.5), ("load", 0.25)]


def test_the_conversions_name_the_missing_package(monkeypatch):
    trace = small_trace()
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(
        ImportError, match=r"to_pandas\(\) needs pyarrow: pip install 'dagron-trace\[arrow\]'"
    ):
        trace.to_pandas()
    with pytest.raises(ImportError, match=r"write_parquet\(\) needs pyarrow"):
        trace.write_parquet("never.parquet")
    monkeypatch.setitem(sys.modules, "polars", None)
    with pytest.raises(ImportError, match=r"to_polars\(\) needs polars: pip install polars"):
        trace.node_runs().to_polars()
    assert len(trace.to_arrow()) == 7  # needs nothing


# -- Parquet -------------------------------------------------------------------------


def test_parquet_round_trip_keeps_rows_and_schema(tmp_path):
    trace = small_trace(max_events=6)
    path = tmp_path / "run.parquet"
    trace.write_parquet(path)
    table = pq.read_table(path)
    assert table.equals(pa.table(trace.to_arrow()))
    assert table.schema.metadata[b"dagron.max_events"] == b"6"
    assert table.schema.metadata[b"dagron.dropped"] == b"1"
    assert os.listdir(tmp_path) == ["run.parquet"]


def test_parquet_to_a_file_object(tmp_path):
    trace = small_trace()
    with open(tmp_path / "run.parquet", "wb") as stream:
        trace.write_parquet(stream)
    assert pq.read_table(tmp_path / "run.parquet").num_rows == 7
    trace.write_parquet(tmp_path / "runs.parquet", kind="node_runs")
    runs = pq.read_table(tmp_path / "runs.parquet")
    assert runs.equals(pa.table(trace.to_arrow(kind="node_runs")))


def test_parquet_replaces_atomically_keeping_permissions(tmp_path, monkeypatch):
    path = tmp_path / "run.parquet"
    path.write_bytes(b"old")
    os.chmod(path, 0o640)
    link = tmp_path / "link.parquet"
    link.symlink_to(path)
    small_trace().write_parquet(link)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert link.is_symlink() and pq.read_table(path).num_rows == 7

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq, "write_table", fail)
    with pytest.raises(OSError, match="No space left"):
        small_trace().write_parquet(path)
    assert sorted(os.listdir(tmp_path)) == ["link.parquet", "run.parquet"]
    assert pq.read_table(path).num_rows == 7


def test_cli_converts_a_journal_to_parquet(tmp_path, capsys):
    journal = tmp_path / "run.journal"
    trace = small_trace(journal=journal)
    trace.flush()
    out = tmp_path / "run.parquet"
    assert cli.main(["convert", str(journal), "-o", str(out)]) == 0
    assert table_rows(pq.read_table(out), EVENT_COLUMNS) == table_rows(
        pa.table(trace.to_arrow()), EVENT_COLUMNS
    )
    assert capsys.readouterr().err == ""


def test_cli_without_pyarrow_is_one_line(tmp_path, capsys, monkeypatch):
    journal = tmp_path / "run.journal"
    small_trace(journal=journal).flush()
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    assert cli.main(["convert", str(journal), "-o", str(tmp_path / "x"), "--to", "parquet"]) == 1
    err = capsys.readouterr().err
    needs = "write_parquet() needs pyarrow: pip install 'dagron-trace[arrow]'"
    assert err == f"dagron-trace: error: {needs}\n"
    assert sorted(os.listdir(tmp_path)) == ["run.journal"]
