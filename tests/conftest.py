"""Expectations several test files share."""

from __future__ import annotations

import pytest

#: ``summary()`` of a trace without events (behaviour.md 4.3).
EMPTY_SUMMARY = (
    "Execution Trace Summary\n"
    "  Total events: 0\n"
    "  Unique nodes: 0\n"
    "  Completed: 0\n"
    "  Failed: 0\n"
    "  Skipped: 0\n"
    "  Timed out: 0\n"
    "  Cancelled: 0\n"
    "  Duration: 0.0000s"
)


@pytest.fixture
def empty_summary() -> str:
    """The summary text of an empty trace."""
    return EMPTY_SUMMARY
