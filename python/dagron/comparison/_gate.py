"""Gate conditions for CI: ``makespan > +10%``, ``node:* > +25% and > 50ms``,
``new_failures > 0``. The grammar (docs/compare.md has it with examples)::

    condition := subject clause ("and" clause)*
    subject   := "makespan" | "node:" PATTERN | counter
    counter   := "new_failures" | "new_skips" | "new_nodes" | "removed_nodes"
    clause    := (">" | ">=" | "<" | "<=") NUMBER [unit]
    unit      := "%" | "s" | "ms" | "us"

NUMBER may carry a sign (``+10``, ``-5``); PATTERN is a node name or an ``fnmatch``
pattern (``*``, ``?``, ``[...]``), in double quotes when it has spaces. For
``makespan`` and ``node:`` a ``%`` clause reads the relative change, a time clause the
absolute change (seconds); a counter takes a plain number. A ``makespan`` or ``node:``
condition holds when every clause holds and the change is not within noise (with too
few runs a side for the noise test, the figures alone decide); ``node:`` holds when it
holds for at least one matching node.
"""

from __future__ import annotations

import fnmatch
import operator
import re
from dataclasses import dataclass
from typing import Callable, Optional

from dagron.comparison._render import percent, signed
from dagron.comparison._result import RunComparison

__all__ = ["Gate", "GateError", "parse_gate"]

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
_UNITS = {"%": 0.01, "s": 1.0, "ms": 1e-3, "us": 1e-6}
_COUNTERS = {
    "new_failures": "newly_failing",
    "new_skips": "newly_skipped",
    "new_nodes": "new_nodes",
    "removed_nodes": "removed_nodes",
}
_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_CLAUSE = re.compile(rf"\s*(>=|<=|>|<)\s*({_NUMBER})\s*(%|ms|us|s)?\s*")
_SUBJECT = re.compile(
    r'\s*(makespan|new_failures|new_skips|new_nodes|removed_nodes|node:(?:"[^"]+"|[^\s"]+))'
)
_AND = re.compile(r"\s*and\b")


class GateError(ValueError):
    """An expression outside the grammar, or one that names no node."""


@dataclass(frozen=True)
class Clause:
    op: str
    value: float  # seconds, a fraction (for %), or a count
    relative: bool
    text: str

    def holds(self, absolute: float, relative: float) -> bool:
        figure = relative if self.relative else absolute
        return figure == figure and _OPS[self.op](figure, self.value)


@dataclass(frozen=True)
class Gate:
    """One parsed condition; ``check(result)`` says why it holds (empty: it does not)."""

    text: str
    subject: str  # "makespan", "node" or a counter name
    pattern: Optional[str]
    clauses: tuple[Clause, ...]

    def check(self, result: RunComparison) -> list[str]:
        if self.subject == "makespan":
            if result.makespan_verdict == "noise":
                return []
            change, relative = result.makespan_change, result.makespan_relative
            if all(c.holds(change, relative) for c in self.clauses):
                return [f"makespan {signed(change)} ({percent(relative)})"]
            return []
        if self.subject == "node":
            return self._nodes(result)
        found = getattr(result, _COUNTERS[self.subject])
        if all(c.holds(float(len(found)), float("nan")) for c in self.clauses):
            shown = ", ".join(found[:5]) + (", ..." if len(found) > 5 else "")
            return [f"{self.subject} = {len(found)}" + (f" ({shown})" if shown else "")]
        return []

    def _nodes(self, result: RunComparison) -> list[str]:
        assert self.pattern is not None
        names = result.names
        if any(ch in self.pattern for ch in "*?["):
            match = re.compile(fnmatch.translate(self.pattern)).match
            picked = [i for i, name in enumerate(names) if match(name)]
        else:
            picked = [i for i, name in enumerate(names) if name == self.pattern]
        if not picked:
            raise GateError(f"{self.text!r}: no node of either side matches {self.pattern!r}")
        cols = result.columns
        change, relative, verdict = cols.change, cols.relative, cols.verdict
        clauses = self.clauses
        reasons = []
        for i in picked:
            c = change[i]
            if c != c or verdict[i] == "noise":
                continue
            if all(clause.holds(c, relative[i]) for clause in clauses):
                reasons.append(f"node {names[i]} {signed(c)} ({percent(relative[i])})")
        return reasons


def parse_gate(text: str) -> Gate:
    """Parse one condition; ``GateError`` names what is wrong."""
    subject_match = _SUBJECT.match(text)
    if not subject_match:
        raise GateError(
            f"{text!r}: expected makespan, node:PATTERN, new_failures, new_skips, new_nodes "
            "or removed_nodes first"
        )
    subject = subject_match.group(1)
    pattern = None
    if subject.startswith("node:"):
        pattern = subject[5:].strip('"')
        subject = "node"
    position = subject_match.end()
    clauses = []
    while True:
        clause = _CLAUSE.match(text, position)
        if not clause:
            rest = text[position:].strip() or "the end"
            raise GateError(f"{text!r}: expected a comparison like '> +10%' at {rest!r}")
        op, number, unit = clause.groups()
        if subject in _COUNTERS:
            if unit:
                raise GateError(f"{text!r}: {subject} is a count; compare it with a number")
            value, is_relative = float(number), False
        else:
            if not unit:
                raise GateError(
                    f"{text!r}: {number} needs a unit: % (relative change) or s, ms, us"
                )
            value, is_relative = float(number) * _UNITS[unit], unit == "%"
        clauses.append(Clause(op, value, is_relative, clause.group(0).strip()))
        position = clause.end()
        if position == len(text):
            break
        joined = _AND.match(text, position)
        if not joined:
            raise GateError(f"{text!r}: expected 'and' or the end at {text[position:]!r}")
        position = joined.end()
    return Gate(text=text, subject=subject, pattern=pattern, clauses=tuple(clauses))
