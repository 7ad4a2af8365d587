"""Type stubs for the compiled module ``dagron._core`` (the Rust recorder)."""

import os
from typing import IO, Any, Optional, Union

from typing_extensions import disjoint_base

from dagron.execution.tracing import TraceEvent, TraceEventType

__all__ = ["TraceRecorder", "_register_types", "__version__"]

__version__: str

_Dest = Union[str, bytes, os.PathLike[str], os.PathLike[bytes], IO[str], IO[bytes]]

@disjoint_base
class TraceRecorder:
    """The Rust recorder that ``ExecutionTrace`` subclasses."""

    def __new__(
        cls, *args: Any, max_events: Optional[int] = None, **kwargs: Any
    ) -> TraceRecorder: ...
    @property
    def max_events(self) -> Optional[int]: ...
    def record(
        self,
        event_type: TraceEventType,
        *,
        node_name: Optional[str] = None,
        step_index: Optional[int] = None,
        duration: Optional[float] = None,
        error: Optional[str] = None,
        metadata: Optional[dict[str, Any]] = None,
    ) -> None: ...
    @property
    def events(self) -> list[TraceEvent]: ...
    def events_for_node(self, name: str) -> list[TraceEvent]: ...
    def to_json(self) -> str: ...
    def to_chrome_trace(self) -> str: ...
    def write_json(self, dest: _Dest) -> None: ...
    def write_chrome_trace(self, dest: _Dest) -> None: ...
    def summary(self) -> str: ...
    def __bool__(self) -> bool: ...
    def __reduce__(self) -> tuple[Any, ...]: ...
    def __setstate__(self, state: Any) -> None: ...

def _register_types(enum_type: type[TraceEventType], event_type: type[TraceEvent]) -> None: ...
