"""Type stubs for the compiled module ``dagron._core`` (the Rust recorder)."""

import os
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import IO, Any, Literal, Optional, TypeVar, Union, final

from typing_extensions import disjoint_base

from dagron.execution.tracing import TraceEvent, TraceEventType

__all__ = [
    "ArrowTable",
    "GraphIndex",
    "NodeNames",
    "NodeRuns",
    "RunState",
    "TraceRecorder",
    "_flush_journals",
    "_mann_whitney",
    "_node_runs_table",
    "_node_stats",
    "_trace_column",
    "_trace_column_of",
    "_trace_spans",
    "_trace_spans_of",
    "_register_types",
    "_trace_state",
    "_profile_run",
    "EVENT_TYPE_VALUES",
    "JOURNAL_MAGIC",
    "__version__",
    "_load_journal",
    "_load_json",
]

__version__: str
JOURNAL_MAGIC: bytes
EVENT_TYPE_VALUES: tuple[str, ...]

_T = TypeVar("_T", bound=TraceRecorder)
_Origin = tuple[str, int, int, int]

_Dest = Union[str, bytes, os.PathLike[str], os.PathLike[bytes], IO[str], IO[bytes]]
_BinaryDest = Union[str, bytes, os.PathLike[str], os.PathLike[bytes], IO[bytes]]

@disjoint_base
class TraceRecorder:
    """The Rust recorder that ``ExecutionTrace`` subclasses."""

    def __new__(
        cls,
        *args: Any,
        max_events: Optional[int] = None,
        journal: Union[str, bytes, os.PathLike[str], os.PathLike[bytes], None] = None,
        _node_names: Optional[NodeNames] = None,
        **kwargs: Any,
    ) -> TraceRecorder: ...
    @property
    def max_events(self) -> Optional[int]: ...
    @property
    def dropped(self) -> int: ...
    @property
    def journal(self) -> Optional[str]: ...
    def flush(self) -> None: ...
    def _origin(self) -> Optional[_Origin]: ...
    def _sources(self) -> list[_Origin]: ...
    def event_sources(self) -> list[int]: ...
    def node_runs(self) -> NodeRuns: ...
    @classmethod
    def merge(
        cls: type[_T],
        traces: Iterable[TraceRecorder],
        *,
        offsets: Optional[Iterable[float]] = None,
    ) -> _T: ...
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
    def to_arrow(self, *, kind: Literal["events", "node_runs"] = "events") -> ArrowTable: ...
    def to_chrome_trace(self, *, named: bool = False) -> str: ...
    def to_perfetto(
        self, *, process_name: str = "dagron", lanes: Literal["compact", "node"] = "compact"
    ) -> bytes: ...
    def write_json(self, dest: _Dest) -> None: ...
    def write_chrome_trace(self, dest: _Dest, *, named: bool = False) -> None: ...
    def write_perfetto(
        self,
        dest: _BinaryDest,
        *,
        process_name: str = "dagron",
        lanes: Literal["compact", "node"] = "compact",
    ) -> None: ...
    def summary(self) -> str: ...
    def _report_data(
        self,
    ) -> tuple[
        Union[str, list[str]],
        list[str],
        list[int],
        list[tuple[str, str, bytes]],
        tuple[list[int], list[int], list[str]],
        list[tuple[int, Optional[dict[str, Any]], Optional[dict[str, Any]]]],
        tuple[list[int], list[int], list[TraceEvent]],
    ]: ...
    def __bool__(self) -> bool: ...
    def __reduce__(self) -> tuple[Any, ...]: ...
    def __setstate__(self, state: Any) -> None: ...

@final
class NodeRuns:
    """One row per run of a node, as index-aligned columns."""

    @property
    def names(self) -> list[str]: ...
    @property
    def sources(self) -> list[str]: ...
    @property
    def node(self) -> list[int]: ...
    @property
    def source(self) -> list[int]: ...
    @property
    def lane(self) -> list[int]: ...
    @property
    def start(self) -> list[float]: ...
    @property
    def end(self) -> list[float]: ...
    @property
    def duration(self) -> list[float]: ...
    @property
    def status(self) -> list[str]: ...
    @property
    def error(self) -> list[Optional[str]]: ...
    @property
    def start_event(self) -> list[int]: ...
    @property
    def end_event(self) -> list[int]: ...
    def __len__(self) -> int: ...
    def to_arrow(self) -> ArrowTable: ...
    def __arrow_c_stream__(self, requested_schema: Optional[object] = None) -> object: ...
    def __arrow_c_schema__(self) -> object: ...
    def to_pandas(self) -> Any: ...
    def to_polars(self) -> Any: ...

@final
class ArrowTable:
    """A table of a trace, readable through the Arrow PyCapsule interface."""

    def __arrow_c_stream__(self, requested_schema: Optional[object] = None) -> object: ...
    def __arrow_c_schema__(self) -> object: ...
    def __len__(self) -> int: ...
    @property
    def column_names(self) -> list[str]: ...
    @property
    def metadata(self) -> dict[str, str]: ...

@final
class NodeNames:
    """Distinct node names shared by the traces of a DAG's runs (internal)."""

    def __new__(cls, names: list[str]) -> NodeNames: ...
    def __len__(self) -> int: ...

@final
class RunState:
    """One executor run's node states and frame (internal to ``dagron._run``)."""

    def __new__(
        cls,
        status: list[Any],
        results: list[Any],
        errors: list[Any],
        durations: list[float],
        running: Any,
        completed: Any,
        failed: Any,
        trace: Optional[TraceRecorder] = None,
        *,
        names: Optional[list[str]] = None,
        pending: Any = None,
        skipped: Any = None,
        cancelled: Any = None,
        timed_out: Any = None,
    ) -> RunState: ...
    def start(self, node: int, /) -> bool: ...
    def complete(self, node: int, value: Any, /) -> bool: ...
    def fail(self, node: int, exc: BaseException, error_text: str) -> bool: ...
    def close(self, outcome: Any) -> list[int]: ...
    @property
    def closed(self) -> bool: ...
    def __enter__(self) -> RunState: ...
    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> bool: ...
    def step_started(self, step: int) -> None: ...
    def step_completed(self) -> None: ...
    def give_up(self, node: int, outcome: Any, reason: str) -> None: ...
    def time_out_overdue(
        self, nodes: list[int], timeout: float, timeout_text: str
    ) -> tuple[list[int], Optional[float]]: ...
    def start_elsewhere(self, node: int) -> bool: ...
    def settle(self, node: int, completed: bool, value: Any, duration: float) -> bool: ...
    @property
    def duration(self) -> Optional[float]: ...

@final
class GraphIndex:
    """A DAG of node indices in compact form, for the profiling passes (internal)."""

    def __new__(cls, successors: Union[list[list[int]], list[dict[int, None]]]) -> GraphIndex: ...
    def __len__(self) -> int: ...
    def order(self) -> list[int]: ...
    def schedule(
        self, durations: list[float], included: bytes
    ) -> tuple[list[float], list[float], list[float], float]: ...
    def critical_path(
        self, costs: list[float], included: bytes, names: list[str]
    ) -> tuple[list[int], float]: ...
    def observe(
        self, starts: list[float], ends: list[float], run_start: float, run_end: float
    ) -> tuple[list[int], list[float], float]: ...

def _register_types(enum_type: type[TraceEventType], event_type: type[TraceEvent]) -> None: ...
def _load_journal(
    cls: type[_T],
    data: bytes,
    name: str,
    progress: Optional[Callable[[int, int], object]] = None,
    decompressed: bool = False,
) -> tuple[_T, int]: ...
def _load_json(
    cls: type[_T],
    records: list[Any],
    name: str,
    host: str,
    progress: Optional[Callable[[int, int], object]] = None,
) -> _T: ...
def _flush_journals() -> None: ...
def _node_stats(
    base_columns: Sequence[bytes],
    base_extra: Sequence[tuple[int, float]],
    cand_columns: Sequence[bytes],
    cand_extra: Sequence[tuple[int, float]],
    count: int,
    alpha: float,
) -> dict[str, bytes]: ...
def _trace_column(
    runs: NodeRuns, index: dict[str, int], table: list[str]
) -> tuple[bytes, int, list[tuple[int, float]], list[tuple[int, str]], float, float, int]: ...
def _trace_column_of(
    trace: TraceRecorder, index: dict[str, int], table: list[str]
) -> tuple[
    tuple[bytes, int, list[tuple[int, float]], list[tuple[int, str]], float, float, int],
    int,
    int,
    int,
]: ...
def _trace_spans(
    runs: NodeRuns, index: dict[str, int], table: list[str]
) -> tuple[bytes, bytes, bytes, bytes, list[float], list[float], float, float]: ...
def _trace_spans_of(
    trace: TraceRecorder, index: dict[str, int], table: list[str]
) -> tuple[bytes, bytes, bytes, bytes, list[float], list[float], float, float]: ...
def _mann_whitney(a: Sequence[float], b: Sequence[float]) -> tuple[float, Optional[float]]: ...
def _node_runs_table(
    runs: Any, *, dropped: Optional[int] = None, max_events: Optional[int] = None
) -> ArrowTable: ...
def _profile_run(
    graph: GraphIndex,
    node_results: dict[str, Any],
    index: dict[str, int],
    completed: object,
    check_duration: Callable[[str, object], float],
    names: list[str],
    profile_type: type,
    fields: tuple[str, ...],
    bottlenecks: int,
    trace: Optional[TraceRecorder] = None,
) -> tuple[
    Optional[tuple[dict[str, Any], list[str], float, list[str], list[float], float, int]],
    Optional[tuple[list[str], dict[str, float], float]],
]: ...
def _trace_state(
    events: list[tuple[Any, ...]],
    origin: Optional[tuple[str, int, int, int]] = None,
    dropped: int = 0,
    sources: Optional[list[tuple[str, int, int, int]]] = None,
    event_sources: Optional[list[int]] = None,
) -> tuple[Any, ...]: ...
