"""Compare runs: why was this run slower, and did anything regress?

:func:`compare` reads each side's node runs (``ExecutionTrace.node_runs()``) and
returns a :class:`RunComparison`: per-node durations and their change with a noise
test, status changes, the makespan on each side with its observed critical path, and
the makespan change split by node plus scheduling delay and idle. ``dagron-trace diff``
is its command line, with gate conditions for CI (:func:`parse_gate`). The
methods are described in docs/compare.md.
"""

from dagron.comparison._compare import compare
from dagron.comparison._gate import Gate, GateError, parse_gate
from dagron.comparison._result import (
    Breakdown,
    NodeComparison,
    NodeSide,
    RunComparison,
    SideFigures,
)

__all__ = [
    "Breakdown",
    "Gate",
    "GateError",
    "NodeComparison",
    "NodeSide",
    "RunComparison",
    "SideFigures",
    "compare",
    "parse_gate",
]
