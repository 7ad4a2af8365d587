"""Reading traces back from files: ``ExecutionTrace.load``.

Two kinds of file: a journal (``ExecutionTrace(journal=path)``; decoded by the Rust
core) and a ``write_json`` / ``to_json`` export, optionally gzip-compressed. A
JSON export holds no origin: the loaded trace gets ``TraceOrigin(host=<file name>,
pid=0, monotonic_ns=0, wall_ns=0)``, so merging lines it up at its start (pass
``offsets`` to place it) and names it after its file.
"""

from __future__ import annotations

import gc
import gzip
import json
import os
import warnings
import zlib
from typing import Any, Callable, Optional, TypeVar, Union

from dagron import _core
from dagron.errors import TraceFileError, TraceJournalWarning

__all__ = ["load", "loads", "TraceJournalWarning"]

PathArg = Union[str, "os.PathLike[str]"]
T = TypeVar("T")

#: The journal format's magic bytes (the core's, `rust/core/src/journal/format/`).
JOURNAL_MAGIC: bytes = _core.JOURNAL_MAGIC
GZIP_MAGIC = b"\x1f\x8b"
READ_CHUNK = 1 << 20
FIELDS = ("event_type", "timestamp", "node_name", "step_index", "duration", "error", "metadata")


def read_file(path: PathArg, progress: Optional[Callable[[int], None]] = None) -> bytes:
    """The file's bytes; ``progress(n)`` is called as each ``n`` bytes arrive."""
    chunks = []
    with open(path, "rb") as file:
        while True:
            chunk = file.read(READ_CHUNK)
            if not chunk:
                break
            chunks.append(chunk)
            if progress is not None:
                progress(len(chunk))
    return b"".join(chunks)


def load(cls: type[T], path: PathArg) -> T:
    return loads(cls, read_file(path), os.fsdecode(path))


Progress = Callable[[int, int], object]


def loads(cls: type[T], data: bytes, name: str, progress: Optional[Progress] = None) -> T:
    """A trace of ``cls`` from the bytes of file ``name`` (named in errors);
    ``progress(done, total)`` is told how many events are converted so far."""
    # Millions of new objects, none of them garbage: no collections meanwhile.
    paused = gc.isenabled()
    gc.disable()
    try:
        return _loads(cls, data, name, progress)
    finally:
        if paused:
            gc.enable()


def _loads(cls: type[T], data: bytes, name: str, progress: Optional[Progress]) -> T:
    if not data:
        raise TraceFileError(f"{name}: empty file, not a trace")
    # A journal, or one cut inside its magic bytes.
    if data.startswith(JOURNAL_MAGIC) or JOURNAL_MAGIC.startswith(data):
        return _journal(cls, data, name, progress, decompressed=False)
    if data.startswith(GZIP_MAGIC):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise TraceFileError(f"{name}: damaged gzip data ({error})") from None
        # A gzipped journal: its offsets are in the decompressed data.
        if data.startswith(JOURNAL_MAGIC):
            return _journal(cls, data, name, progress, decompressed=True)
    return _restore(cls, _json_state(data, os.path.basename(name), name, progress), name)


def _journal(
    cls: type[T], data: bytes, name: str, progress: Optional[Progress], decompressed: bool
) -> T:
    try:
        state, lost = _core.read_journal(data, name, progress, decompressed)
    except ValueError as error:
        raise TraceFileError(str(error)) from None
    if lost:
        of = " of the decompressed data" if decompressed else ""
        warnings.warn(
            f"{name}: journal cut at offset {len(data) - lost}{of}: loaded the events up to "
            f"its last whole block, dropped {lost} bytes",
            TraceJournalWarning,
            stacklevel=6,
        )
    return _restore(cls, state, name)


def _restore(cls: type[T], state: tuple[Any, ...], name: str) -> T:
    trace: Any = cls.__new__(cls)  # type: ignore[call-overload]
    try:
        trace.__setstate__(state)
    except (TypeError, ValueError) as error:
        raise TraceFileError(f"{name}: {error}") from None
    return trace  # type: ignore[no-any-return]


def _json_state(
    data: bytes, host: str, name: str, progress: Optional[Progress] = None
) -> tuple[Any, ...]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise TraceFileError(
            f"{name}: not a trace: invalid UTF-8 at offset {error.start}"
        ) from None
    try:
        records = _decode(text)
    except json.JSONDecodeError as error:
        offset = len(text[: error.pos].encode("utf-8", "surrogatepass"))
        raise TraceFileError(f"{name}: not a JSON trace: {error.msg} at offset {offset}") from None
    except ValueError as error:  # an integer too long for int() (over 4,300 digits)
        raise TraceFileError(f"{name}: not a JSON trace: {error}") from None
    if not isinstance(records, list):
        raise TraceFileError(
            f"{name}: not a JSON trace: expected a list of events, found {type(records).__name__}"
        )
    events = []
    for position, record in enumerate(records):
        if progress is not None and position % 65_536 == 0:
            progress(position, len(records))
        if not isinstance(record, dict):
            raise TraceFileError(f"{name}: event {position}: expected an object")
        unknown = set(record) - set(FIELDS)
        if unknown or "event_type" not in record or "timestamp" not in record:
            raise TraceFileError(
                f"{name}: event {position}: expected keys {', '.join(FIELDS)}; "
                f"got {', '.join(map(str, record))}"
            )
        events.append(tuple(record.get(field) for field in FIELDS))
    for position, event in enumerate(events):
        problem = _field_problem(event)
        if problem:
            raise TraceFileError(f"{name}: event {position}: {problem}")
    if progress is not None:
        progress(len(records), len(records))
    origin = (host, 0, 0, 0)
    return _core._trace_state(events, origin)


def _decode(text: str) -> Any:
    """``json.loads(text)``, at any nesting depth: a file nested deeper than the
    recursion limit lets ``json`` go is decoded without recursion."""
    try:
        return json.loads(text)
    except RecursionError:
        pass
    from dagron.execution import _deep_json

    return _deep_json.loads(text)


#: The event types' values, as a JSON export writes them (the core's list).
_KINDS = frozenset(_core.EVENT_TYPE_VALUES)


def _field_problem(event: tuple[Any, ...]) -> str:
    """What is wrong with one JSON record's fields ('' if nothing)."""
    kind, ts, node, step, duration, error, metadata = event

    def integer(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    def number(value: Any) -> bool:
        return integer(value) or isinstance(value, float)

    checks = (
        (isinstance(kind, str) and kind in _KINDS, "event_type", kind),
        (number(ts), "timestamp", ts),
        (node is None or isinstance(node, str), "node_name", node),
        (step is None or integer(step), "step_index", step),
        (duration is None or number(duration), "duration", duration),
        (error is None or isinstance(error, str), "error", error),
        (metadata is None or isinstance(metadata, dict), "metadata", metadata),
    )
    for ok, field, value in checks:
        if not ok:
            return f"bad {field} {value!r}"
    return ""
