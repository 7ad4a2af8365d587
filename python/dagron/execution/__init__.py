"""Execution support for dagron: tracing lives in :mod:`dagron.execution.tracing`."""

from dagron.execution.tracing import ExecutionTrace, TraceEvent, TraceEventType

__all__ = ["ExecutionTrace", "TraceEvent", "TraceEventType"]
