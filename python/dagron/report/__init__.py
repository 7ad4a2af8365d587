"""A trace as one self-contained HTML report (``ExecutionTrace.write_html``,
``dagron-trace report``) and inline in a notebook (:func:`display`).

- :mod:`dagron.report.data`: the trace's node runs as compact columns and facts;
- :mod:`dagron.report.document`: the HTML document (``report.js`` and
  ``report.css`` inlined) and its atomic write;
- :mod:`dagron.report.view`: ``dagron-trace view``'s one-shot server for the
  Perfetto UI; :mod:`dagron.report.commands`: the ``report`` and ``view`` commands.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any, Optional

from dagron.report import data as _data
from dagron.report import document as _document

if TYPE_CHECKING:
    from dagron.dag import DAG
    from dagron.execution.tracing import ExecutionTrace

__all__ = ["InlineReport", "display", "to_html", "write_html"]

# The inline (notebook) view's frame height in CSS pixels.
_INLINE_HEIGHT = 560


def write_html(
    trace: ExecutionTrace,
    path: Any,
    *,
    dag: Optional[DAG] = None,
    title: Optional[str] = None,
) -> None:
    """Write ``trace``'s report to ``path`` (see ``ExecutionTrace.write_html``)."""
    _check_title(title)
    _document.write(_data.collect(trace, dag=dag, title=title), path)


def to_html(
    trace: ExecutionTrace,
    *,
    dag: Optional[DAG] = None,
    title: Optional[str] = None,
    compact: bool = False,
) -> str:
    """The report as one HTML document (a ``str``)."""
    _check_title(title)
    return _document.to_text(_data.collect(trace, dag=dag, title=title, compact=compact))


def _check_title(title: Optional[str]) -> None:
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be a str or None, not {type(title).__name__}")


class InlineReport:
    """A report that a notebook shows inline: the compact report (header, chart and
    the running count, no tables) in a sandbox-free ``<iframe srcdoc>``, so its
    script runs apart from the notebook's page."""

    def __init__(
        self,
        trace: ExecutionTrace,
        *,
        dag: Optional[DAG] = None,
        title: Optional[str] = None,
        height: int = _INLINE_HEIGHT,
    ) -> None:
        self._page = to_html(trace, dag=dag, title=title, compact=True)
        self._height = height

    def _repr_html_(self) -> str:
        return (
            f'<iframe srcdoc="{html.escape(self._page, quote=True)}" '
            f'style="width:100%;height:{self._height}px;border:1px solid #d0d7de;'
            'border-radius:6px" title="dagron trace report"></iframe>'
        )


def display(
    trace: ExecutionTrace,
    *,
    dag: Optional[DAG] = None,
    title: Optional[str] = None,
    height: int = _INLINE_HEIGHT,
) -> InlineReport:
    """The compact report of ``trace`` for a notebook cell: the value shows inline
    (Jupyter calls its ``_repr_html_``)."""
    return InlineReport(trace, dag=dag, title=title, height=height)
