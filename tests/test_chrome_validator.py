"""The Chrome Trace checker the tests use (tests/chrome_validator.py): what it rejects,
with which message, and what it accepts."""

from __future__ import annotations

from typing import Any

import chrome_validator
import pytest


def event(ph: str, ts: float, name: str = "n", tid: int = 1, **extra: Any) -> dict[str, Any]:
    return {"name": name, "ph": ph, "ts": ts, "pid": 1, "tid": tid, **extra}


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([{"ph": "B", "ts": 0, "pid": 1, "tid": 1}], "missing required key 'name'"),
        ([event("Q", 0)], "unknown phase 'Q'"),
        ([event("B", "0")], "'ts' must be a finite number"),
        ([event("B", True)], "'ts' must be a finite number"),
        ([event("B", float("nan"))], "'ts' must be a finite number"),
        ([event("B", 0, tid=None)], "'pid' and 'tid' must be integers"),
        ([event("E", 0)], "'E' with no open 'B'"),
        ([event("B", 0), event("E", 1, name="m")], "'E' for 'm' but the open 'B'"),
        ([event("B", 0)], "unclosed 'B' events: \\['n'\\]"),
        ([event("B", 5), event("E", 4)], "ts 4 is before the previous ts 5"),
        ([event("X", 0)], "needs a non-negative 'dur'"),
        ([event("i", 0, args=[])], "'args' must be an object"),
    ],
)
def test_chrome_validator_rejects(events, message):
    with pytest.raises(chrome_validator.ChromeTraceError, match=message):
        chrome_validator.validate({"traceEvents": events})


def test_chrome_validator_accepts_nesting_and_separate_lanes():
    found = chrome_validator.validate(
        [
            event("B", 0, name="outer"),
            event("B", 0, name="other", tid=2),
            event("B", 1, name="inner"),
            event("E", 2, name="inner", args={"k": 1}),
            event("E", 1, name="other", tid=2),
            event("E", 3, name="outer"),
            event("X", 3, dur=1),
        ]
    )
    assert [(s.name, s.tid, s.begin, s.end, s.args) for s in found.spans] == [
        ("inner", 1, 1, 2, {"k": 1}),
        ("other", 2, 0, 1, {}),
        ("outer", 1, 0, 3, {}),
    ]
    with pytest.raises(chrome_validator.ChromeTraceError, match="no 'traceEvents'"):
        chrome_validator.validate("{}")
