"""A comparison as text: the plain table of ``summary()``, HTML for Jupyter, and a
``rich`` table with colours for terminals (``pip install 'dagron-trace[cli]'``)."""

from __future__ import annotations

import html as _html
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from dagron.comparison._result import NodeComparison, RunComparison

__all__ = ["HEADERS", "html", "plain", "rich_renderable", "seconds", "signed"]

HEADERS = ("node", "runs", "baseline", "candidate", "change", "rel", "noise", "makespan", "note")


def seconds(value: Optional[float]) -> str:
    """A duration with a unit that suits it."""
    if value is None or value != value:
        return "-"
    if value == 0:
        return "0"
    size = abs(value)
    if size >= 1.0:
        return f"{value:.3f}s"
    if size >= 1e-3:
        return f"{value * 1e3:.1f}ms"
    return f"{value * 1e6:.0f}us"


def signed(value: Optional[float]) -> str:
    text = seconds(value)
    return text if text in ("-", "0") or text.startswith("-") else "+" + text


def percent(value: Optional[float]) -> str:
    return "-" if value is None or value != value else f"{value * 100:+.1f}%"


def _spread(median: Optional[float], p25: Optional[float], p75: Optional[float]) -> str:
    text = seconds(median)
    if p25 is not None and p75 is not None and p75 > p25:
        text += f" ±{seconds((p75 - p25) / 2)}"
    return text


def _row(node: NodeComparison) -> tuple[str, ...]:
    b, c = node.baseline, node.candidate
    runs = f"{b.runs if b else 0}/{c.runs if c else 0}"
    notes = list(node.status_changes)
    if node.presence != "both":
        notes.insert(0, node.presence)
    if node.absorbed_by_slack:
        slack = b.slack if b is not None else None
        notes.append("had slack" + (f" ({seconds(slack)})" if slack is not None else ""))
    return (
        node.name,
        runs,
        _spread(b.median, b.p25, b.p75) if b else "-",
        _spread(c.median, c.p25, c.p75) if c else "-",
        signed(node.change),
        percent(node.relative),
        node.verdict or "-",
        signed(node.makespan_effect) if node.makespan_effect else "0",
        ", ".join(notes),
    )


def _head(result: RunComparison) -> list[str]:
    b, c = result.baseline, result.candidate
    runs = f"{len(b.traces)} baseline run(s), {len(c.traces)} candidate run(s)"
    lines = [f"Run comparison: {runs}"]
    verdict = result.makespan_verdict
    lines.append(
        f"Makespan: {seconds(b.makespan)} -> {seconds(c.makespan)}  "
        f"{signed(result.makespan_change)} ({percent(result.makespan_relative)}); "
        f"noise test: {verdict}"
    )
    for label, figures in (("baseline", b), ("candidate", c)):
        lines.append(f"Critical path ({label}): {_chain(figures.critical_path)}")
    for label, figures in (("baseline", b), ("candidate", c)):
        if figures.structural_path is not None:
            lines.append(
                f"Structural critical path ({label}, {seconds(figures.structural_length)}): "
                f"{_chain(figures.structural_path)}"
            )
    return lines


def _chain(path: list[str], shown: int = 8) -> str:
    if len(path) <= shown:
        return " -> ".join(path) or "-"
    return " -> ".join([*path[:3], f"... ({len(path) - 6} more)", *path[-3:]])


def _breakdown(result: RunComparison, shown: int = 5) -> list[tuple[str, str]]:
    moved = [(name, delta) for name, delta in result.breakdown.nodes.items() if delta]
    rows = [(name, signed(delta)) for name, delta in moved[:shown]]
    others = [delta for _, delta in moved[shown:]]
    if others:
        rows.append((f"({len(others)} other path nodes)", signed(sum(others))))
    rows.append(("scheduling delay", signed(result.breakdown.scheduling_delay)))
    rows.append(("idle", signed(result.breakdown.idle)))
    return rows


def _counts(result: RunComparison) -> str:
    parts = [
        f"{len(result.names)} nodes",
        f"{len(result.new_nodes)} new",
        f"{len(result.removed_nodes)} removed",
        f"{len(result.newly_failing)} newly failing",
        f"{len(result.newly_skipped)} newly skipped",
    ]
    return "Nodes: " + ", ".join(parts)


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]


def plain(result: RunComparison, top: int) -> str:
    lines = _head(result)
    lines.append(f"Makespan change by part ({signed(result.breakdown.total)} in all):")
    lines.extend("  " + line for line in _table(_breakdown(result)))
    lines.append(_counts(result))
    rows = [_row(node) for node in result.top(top)]
    if rows:
        lines.append(f"Top {len(rows)} nodes (median ± half the interquartile range):")
        lines.extend("  " + line for line in _table([HEADERS, *rows]))
    for title, items in (("Warnings", result.warnings), ("Notes", result.notes)):
        if items:
            lines.append(f"{title}:")
            lines.extend(f"  {item}" for item in items)
    return "\n".join(lines)


def html(result: RunComparison, top: int) -> str:
    esc = _html.escape
    head = "".join(f"<p>{esc(line)}</p>" for line in _head(result))
    parts = "".join(f"<tr><td>{esc(a)}</td><td>{esc(b)}</td></tr>" for a, b in _breakdown(result))
    header = "".join(f"<th>{esc(h)}</th>" for h in HEADERS)
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in _row(node)) + "</tr>"
        for node in result.top(top)
    )
    warn = "".join(f"<li>{esc(w)}</li>" for w in result.warnings)
    return (
        f"<div>{head}<table><tr><th>makespan change by part</th><th></th></tr>{parts}"
        f"</table><p>{esc(_counts(result))}</p><table><tr>{header}</tr>{body}</table>"
        + (f"<ul>{warn}</ul>" if warn else "")
        + "</div>"
    )


def _style(node: NodeComparison) -> str:
    if node.status_changes and any("newly" in s for s in node.status_changes):
        return "bold red"
    if node.verdict == "noise" or node.change is None:
        return "dim"
    return "red" if node.change > 0 else "green"


def rich_renderable(result: RunComparison, top: int) -> Any:
    """A ``rich`` renderable of the comparison (rich must be installed)."""
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    head = [Text(line) for line in _head(result)]
    parts = Table(title="Makespan change by part", show_header=False)
    parts.add_column()
    parts.add_column(justify="right")
    for name, delta in _breakdown(result):
        parts.add_row(name, Text(delta, style="red" if delta.startswith("+") else "green"))
    # No vertical rules: the nine columns fit an 80-column terminal.
    table = Table(
        title=f"Top nodes ({_counts(result)})",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1),
        collapse_padding=True,
    )
    for header in HEADERS:
        if header in ("node", "note"):
            # These wrap (names fold), as do the medians at their spread; the rest not.
            table.add_column(header, overflow="fold", min_width=7)
        else:
            wraps = header in ("baseline", "candidate")
            table.add_column(header, justify="right", no_wrap=not wraps)
    for node in result.top(top):
        row = list(_row(node))
        row[HEADERS.index("noise")] = row[HEADERS.index("noise")].replace(
            "too few runs", "few runs"
        )
        table.add_row(*row, style=_style(node))
    items: list[Any] = [*head, parts, table]
    items.extend(Text(f"warning: {w}", style="yellow") for w in result.warnings)
    return Group(*items)
