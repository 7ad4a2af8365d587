"""``to_chrome_trace(named=True)``: the default Chrome output, plus metadata events
that name the process and each lane, with the execution slices on a lane of their
own (tid = number of node names + 1, sorted first) instead of tid 0, and strings
that end in a backslash ending in ``\u005c`` (same JSON; the Perfetto UI rejects a
file with ``\\"``).
"""

from __future__ import annotations

import reference
from dagron.execution.tracing import ExecutionTrace
from hypothesis import HealthCheck, given, settings
from trace_streams import T, event_streams, named_reference, record_all

#: The event types the Chrome export writes (behaviour.md 4.2).


def test_exact_output():
    trace = ExecutionTrace()
    trace.record(T.EXECUTION_STARTED)
    trace.record(T.NODE_SKIPPED, node_name="skipped\\")
    trace.record(T.NODE_STARTED, node_name="x\xe9")
    trace.record(T.NODE_FAILED, node_name="x\xe9", error="E: no")
    trace.record(T.EXECUTION_COMPLETED)
    ts = [event.timestamp * 1_000_000 for event in trace.events]
    want = (
        '{\n  "traceEvents": [\n'
        '    {\n      "name": "process_name",\n      "ph": "M",\n      "pid": 1,\n'
        '      "tid": 0,\n      "args": {\n        "name": "dagron"\n      }\n    },\n'
        '    {\n      "name": "thread_name",\n      "ph": "M",\n      "pid": 1,\n'
        '      "tid": 3,\n      "args": {\n        "name": "execution"\n      }\n    },\n'
        '    {\n      "name": "thread_sort_index",\n      "ph": "M",\n      "pid": 1,\n'
        '      "tid": 3,\n      "args": {\n        "sort_index": 0\n      }\n    },\n'
        '    {\n      "name": "thread_name",\n      "ph": "M",\n      "pid": 1,\n'
        '      "tid": 1,\n      "args": {\n        "name": "skipped\\u005c"\n      }\n    },\n'
        '    {\n      "name": "thread_sort_index",\n      "ph": "M",\n      "pid": 1,\n'
        '      "tid": 1,\n      "args": {\n        "sort_index": 1\n      }\n    },\n'
        '    {\n      "name": "thread_name",\n      "ph": "M",\n      "pid": 1,\n'
        '      "tid": 2,\n      "args": {\n        "name": "x\\u00e9"\n      }\n    },\n'
        '    {\n      "name": "thread_sort_index",\n      "ph": "M",\n      "pid": 1,\n'
        '      "tid": 2,\n      "args": {\n        "sort_index": 2\n      }\n    },\n'
        '    {\n      "name": "execution",\n      "cat": "execution",\n      "ph": "B",\n'
        f'      "ts": {ts[0]!r},\n      "pid": 1,\n      "tid": 3\n    }},\n'
        '    {\n      "name": "x\\u00e9",\n      "cat": "node",\n      "ph": "B",\n'
        f'      "ts": {ts[2]!r},\n      "pid": 1,\n      "tid": 2\n    }},\n'
        '    {\n      "name": "x\\u00e9",\n      "cat": "node",\n      "ph": "E",\n'
        f'      "ts": {ts[3]!r},\n      "pid": 1,\n      "tid": 2,\n      "args": {{\n'
        '        "status": "node_failed",\n        "error": "E: no"\n      }\n    },\n'
        '    {\n      "name": "execution",\n      "cat": "execution",\n      "ph": "E",\n'
        f'      "ts": {ts[4]!r},\n      "pid": 1,\n      "tid": 3\n    }}\n'
        "  ]\n}"
    )
    assert trace.to_chrome_trace(named=True) == want
    assert want == named_reference(trace.events)


def test_empty_trace_names_the_process_and_execution_lane():
    assert ExecutionTrace().to_chrome_trace(named=True) == named_reference([])


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(stream=event_streams(max_size=10))
def test_named_output_matches_the_reference(stream):
    trace = ExecutionTrace()
    record_all(trace, stream)
    events = trace.events
    assert trace.to_chrome_trace(named=True) == named_reference(events)
    # The default stays exactly the documented output.
    assert trace.to_chrome_trace() == reference.to_chrome_trace(events)
    assert trace.to_chrome_trace(named=False) == trace.to_chrome_trace()


def test_write_chrome_trace_named(tmp_path):
    trace = ExecutionTrace()
    trace.record(T.EXECUTION_STARTED)
    trace.record(T.NODE_STARTED, node_name="a")
    trace.record(T.NODE_COMPLETED, node_name="a")
    trace.record(T.EXECUTION_COMPLETED)
    path = tmp_path / "named.json"
    trace.write_chrome_trace(path, named=True)
    assert path.read_text("ascii") == trace.to_chrome_trace(named=True)
    trace.write_chrome_trace(path)
    assert path.read_text("ascii") == trace.to_chrome_trace()
