"""Self-checks of the reference model against hand-written expected text.

These run without the compiled extension: the events are plain stand-ins.
"""

from __future__ import annotations

from enum import Enum
from types import SimpleNamespace

import reference


class Kind(Enum):
    EXECUTION_STARTED = "execution_started"
    STEP_STARTED = "step_started"
    NODE_STARTED = "node_started"
    NODE_COMPLETED = "node_completed"
    NODE_FAILED = "node_failed"
    NODE_SKIPPED = "node_skipped"
    NODE_TIMED_OUT = "node_timed_out"
    NODE_CANCELLED = "node_cancelled"
    EXECUTION_COMPLETED = "execution_completed"


def ev(kind, timestamp, node_name=None, step_index=None, duration=None, error=None, **md):
    return SimpleNamespace(
        event_type=kind,
        timestamp=timestamp,
        node_name=node_name,
        step_index=step_index,
        duration=duration,
        error=error,
        metadata=md,
    )


EVENTS = [
    ev(Kind.EXECUTION_STARTED, 0.0),
    ev(Kind.STEP_STARTED, 0.25, step_index=0),
    ev(Kind.NODE_SKIPPED, 0.375, node_name="z"),
    ev(Kind.NODE_STARTED, 0.5, node_name="\xe9"),
    ev(Kind.NODE_COMPLETED, 1.25, node_name="\xe9", duration=1e-05, k=[1, {}]),
    ev(Kind.NODE_STARTED, 1.5, node_name="\ud800"),
    ev(Kind.NODE_FAILED, 1.75, node_name="\ud800", error="E: x"),
    ev(Kind.NODE_TIMED_OUT, 2.0, node_name="z", error=""),
    ev(Kind.NODE_CANCELLED, 2.25),
    ev(Kind.EXECUTION_COMPLETED, 2.5),
]


def test_empty(empty_summary):
    assert reference.to_json([]) == "[]"
    assert reference.to_chrome_trace([]) == '{\n  "traceEvents": []\n}'
    assert reference.summary([]) == empty_summary


def test_to_json_by_hand():
    expected = """[
  {
    "event_type": "execution_started",
    "timestamp": 0.0
  },
  {
    "event_type": "step_started",
    "timestamp": 0.25,
    "step_index": 0
  },
  {
    "event_type": "node_skipped",
    "timestamp": 0.375,
    "node_name": "z"
  },
  {
    "event_type": "node_started",
    "timestamp": 0.5,
    "node_name": "\\u00e9"
  },
  {
    "event_type": "node_completed",
    "timestamp": 1.25,
    "node_name": "\\u00e9",
    "duration": 1e-05,
    "metadata": {
      "k": [
        1,
        {}
      ]
    }
  },
  {
    "event_type": "node_started",
    "timestamp": 1.5,
    "node_name": "\\ud800"
  },
  {
    "event_type": "node_failed",
    "timestamp": 1.75,
    "node_name": "\\ud800",
    "error": "E: x"
  },
  {
    "event_type": "node_timed_out",
    "timestamp": 2.0,
    "node_name": "z",
    "error": ""
  },
  {
    "event_type": "node_cancelled",
    "timestamp": 2.25
  },
  {
    "event_type": "execution_completed",
    "timestamp": 2.5
  }
]"""
    assert reference.to_json(EVENTS) == expected


def test_to_chrome_trace_by_hand():
    # "z" takes tid 1 at its (non-exported) NODE_SKIPPED, before "\xe9" (2) and "\ud800" (3).
    expected = """{
  "traceEvents": [
    {
      "name": "execution",
      "cat": "execution",
      "ph": "B",
      "ts": 0.0,
      "pid": 1,
      "tid": 0
    },
    {
      "name": "\\u00e9",
      "cat": "node",
      "ph": "B",
      "ts": 500000.0,
      "pid": 1,
      "tid": 2
    },
    {
      "name": "\\u00e9",
      "cat": "node",
      "ph": "E",
      "ts": 1250000.0,
      "pid": 1,
      "tid": 2,
      "args": {
        "status": "node_completed"
      }
    },
    {
      "name": "\\ud800",
      "cat": "node",
      "ph": "B",
      "ts": 1500000.0,
      "pid": 1,
      "tid": 3
    },
    {
      "name": "\\ud800",
      "cat": "node",
      "ph": "E",
      "ts": 1750000.0,
      "pid": 1,
      "tid": 3,
      "args": {
        "status": "node_failed",
        "error": "E: x"
      }
    },
    {
      "name": "z",
      "cat": "node",
      "ph": "E",
      "ts": 2000000.0,
      "pid": 1,
      "tid": 1,
      "args": {
        "status": "node_timed_out"
      }
    },
    {
      "name": "execution",
      "cat": "execution",
      "ph": "E",
      "ts": 2500000.0,
      "pid": 1,
      "tid": 0
    }
  ]
}"""
    assert reference.to_chrome_trace(EVENTS) == expected


def test_summary_by_hand():
    assert reference.summary(EVENTS) == (
        "Execution Trace Summary\n"
        "  Total events: 10\n"
        "  Unique nodes: 3\n"
        "  Completed: 1\n"
        "  Failed: 1\n"
        "  Skipped: 1\n"
        "  Timed out: 1\n"
        "  Cancelled: 1\n"
        "  Duration: 2.5000s"
    )


def test_metadata_emptied_after_the_fact_is_omitted():
    event = ev(Kind.NODE_STARTED, 0.0, node_name="a", x=1)
    event.metadata.clear()
    assert reference.to_json([event]) == (
        '[\n  {\n    "event_type": "node_started",\n    "timestamp": 0.0,\n'
        '    "node_name": "a"\n  }\n]'
    )


def test_ts_is_one_multiplication():
    event = ev(Kind.EXECUTION_STARTED, 0.1)
    assert '"ts": 100000.0,' in reference.to_chrome_trace([event])
    event = ev(Kind.EXECUTION_STARTED, 1.005)
    assert '"ts": 1004999.9999999999,' in reference.to_chrome_trace([event])
    event = ev(Kind.EXECUTION_STARTED, 0.000123)
    assert '"ts": 123.00000000000001,' in reference.to_chrome_trace([event])
