"""A validator for the Chrome Trace Event Format, as the tests use it.

``validate(text)`` parses a trace (JSON object with ``traceEvents``, or a bare JSON
array) and checks, for every event: the required keys ``name``, ``ph``, ``ts``, ``pid``
and ``tid`` with the right types; ``ph`` among the format's phases; ``ts`` a finite
number of microseconds; ``dur`` on complete (``X``) events; ``args`` a dict. Per
``(pid, tid)`` lane it checks that ``ts`` never decreases and that duration events nest:
every ``E`` closes the innermost open ``B`` of the same name, and nothing is left open
at the end. It raises :class:`ChromeTraceError` on the first problem and otherwise
returns the spans it found.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Union

# Every phase of the Trace Event Format: duration, complete, instant (and its legacy
# "I"), counter, async (nestable and legacy), flow, sample, object, metadata, memory
# dump, mark, clock sync and context events.
PHASES = frozenset("BEXiICbneSTpFstfPNODMVvRc()")


class ChromeTraceError(ValueError):
    """The text is not a valid Chrome trace; the message says where and why."""


@dataclass
class Span:
    """One matched ``B``/``E`` pair: ``begin`` and ``end`` in microseconds."""

    name: str
    pid: int
    tid: int
    begin: float
    end: float
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class ChromeTrace:
    """What :func:`validate` found: all events, and the matched duration spans."""

    events: list[dict[str, Any]]
    spans: list[Span]

    def spans_named(self, name: str) -> list[Span]:
        return [span for span in self.spans if span.name == name]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)) and math.isfinite(
        value
    )


def validate(trace: Union[str, dict[str, Any], list[Any]]) -> ChromeTrace:
    """Validate a Chrome trace given as JSON text or as already parsed JSON."""
    data = json.loads(trace) if isinstance(trace, str) else trace
    if isinstance(data, dict):
        if "traceEvents" not in data:
            raise ChromeTraceError("the top-level object has no 'traceEvents'")
        events = data["traceEvents"]
    else:
        events = data
    if not isinstance(events, list):
        raise ChromeTraceError(f"traceEvents must be a list, not {type(events).__name__}")

    open_spans: dict[tuple[int, int], list[tuple[str, float]]] = {}
    last_ts: dict[tuple[int, int], float] = {}
    spans: list[Span] = []
    for n, event in enumerate(events):
        where = f"event {n} ({event!r})"
        if not isinstance(event, dict):
            raise ChromeTraceError(f"{where}: an event must be an object")
        for key in ("name", "ph", "ts", "pid", "tid"):
            if key not in event:
                raise ChromeTraceError(f"{where}: missing required key {key!r}")
        name, ph, ts = event["name"], event["ph"], event["ts"]
        if not isinstance(name, str):
            raise ChromeTraceError(f"{where}: 'name' must be a string")
        if ph not in PHASES:
            raise ChromeTraceError(f"{where}: unknown phase {ph!r}")
        if not _is_number(ts):
            raise ChromeTraceError(f"{where}: 'ts' must be a finite number of microseconds")
        if not (_is_int(event["pid"]) and _is_int(event["tid"])):
            raise ChromeTraceError(f"{where}: 'pid' and 'tid' must be integers")
        if "args" in event and not isinstance(event["args"], dict):
            raise ChromeTraceError(f"{where}: 'args' must be an object")
        if ph == "X" and not (_is_number(event.get("dur")) and event["dur"] >= 0):
            raise ChromeTraceError(f"{where}: a complete event needs a non-negative 'dur'")

        lane = (event["pid"], event["tid"])
        if ts < last_ts.get(lane, -math.inf):
            raise ChromeTraceError(
                f"{where}: ts {ts} is before the previous ts {last_ts[lane]} on lane {lane}"
            )
        last_ts[lane] = ts
        stack = open_spans.setdefault(lane, [])
        if ph == "B":
            stack.append((name, ts))
        elif ph == "E":
            if not stack:
                raise ChromeTraceError(f"{where}: 'E' with no open 'B' on lane {lane}")
            open_name, begin = stack.pop()
            if open_name != name:
                raise ChromeTraceError(
                    f"{where}: 'E' for {name!r} but the open 'B' on lane {lane} is {open_name!r}"
                )
            spans.append(Span(name, lane[0], lane[1], begin, ts, event.get("args", {})))
    for lane, stack in open_spans.items():
        if stack:
            names = [name for name, _ in stack]
            raise ChromeTraceError(f"lane {lane} ends with unclosed 'B' events: {names!r}")
    return ChromeTrace(events, spans)
