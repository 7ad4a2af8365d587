"""Reading traces back from files: ``ExecutionTrace.load``.

Two kinds of file: a journal (``ExecutionTrace(journal=path)``) and a
``write_json`` / ``to_json`` export, optionally gzip-compressed. This module tells
them apart and decodes the JSON text (``json``); the Rust core decodes journals,
checks the JSON records, and restores either straight into a new trace
(``_core._load_journal``, ``_core._load_json``). A JSON export holds no origin:
the loaded trace gets ``TraceOrigin(host=<file name>, pid=0, monotonic_ns=0,
wall_ns=0)``, so merging lines it up at its start (pass ``offsets`` to place it)
and names it after its file.
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
T = TypeVar("T", bound=_core.TraceRecorder)

#: The journal format's magic bytes (the core's, `rust/core/src/journal/format/`).
JOURNAL_MAGIC: bytes = _core.JOURNAL_MAGIC
GZIP_MAGIC = b"\x1f\x8b"
READ_CHUNK = 1 << 20


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
    return _json(cls, data, name, progress)


def _journal(
    cls: type[T], data: bytes, name: str, progress: Optional[Progress], decompressed: bool
) -> T:
    try:
        trace, lost = _core._load_journal(cls, data, _text(name), progress, decompressed)
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
    return trace


def _json(cls: type[T], data: bytes, name: str, progress: Optional[Progress] = None) -> T:
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
    del text  # not needed while the core fills the trace
    # Each record checked (TraceFileError naming the event) and restored by the core.
    host = _text(os.path.basename(name))
    return _core._load_json(cls, records, name, host, progress)


def _text(name: str) -> str:
    """``name`` as text the core can hold: a file name that is not valid UTF-8
    (``os.fsdecode`` leaves its bytes as lone surrogates) gets ``?`` for them."""
    return name.encode("utf-8", "replace").decode("utf-8")


def _decode(text: str) -> Any:
    """``json.loads(text)``, at any nesting depth: a file nested deeper than the
    recursion limit lets ``json`` go is decoded without recursion."""
    try:
        return json.loads(text)
    except RecursionError:
        pass
    from dagron.execution import _deep_json

    return _deep_json.loads(text)
