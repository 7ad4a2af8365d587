"""Traces as tables (``docs/tables.md``): the conveniences over the Arrow tables the
core builds (``trace.to_arrow()``, ``NodeRuns.to_arrow()``), each taking an object
with ``__arrow_c_stream__``: pandas and Parquet through pyarrow (the ``dagron-trace[arrow]``
extra), polars directly. ``to_arrow()`` itself needs none of them.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import os
import stat
from types import ModuleType
from typing import IO, Any, Union

__all__ = ["PARQUET_OPTIONS", "to_pandas", "to_polars", "write_parquet"]

_Dest = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]", IO[bytes]]

# How each column of a table is stored in Parquet: zstd, dictionaries for the
# dictionary-encoded columns, byte-stream-split floats and delta-coded integers
# (timestamps and durations compress to a few bytes each that way).
PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "compression_level": 3}
_ENCODINGS = {
    "timestamp": "BYTE_STREAM_SPLIT",
    "duration": "BYTE_STREAM_SPLIT",
    "start": "BYTE_STREAM_SPLIT",
    "end": "BYTE_STREAM_SPLIT",
    "time": "DELTA_BINARY_PACKED",
    "start_event": "DELTA_BINARY_PACKED",
    "end_event": "DELTA_BINARY_PACKED",
}

_temporaries = itertools.count()


def _require(module: str, needed_by: str, install: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(f"{needed_by} needs {module}: pip install {install}") from error


def _pyarrow(needed_by: str) -> ModuleType:
    return _require("pyarrow", needed_by, "'dagron-trace[arrow]'")


def to_pandas(table: Any) -> Any:
    """A ``pandas.DataFrame`` of ``table``, through pyarrow: dictionary columns
    become ``category``, ``time`` ``datetime64[ns, UTC]``, and integer columns with
    nulls ``float64`` (pyarrow's defaults)."""
    pyarrow = _pyarrow("to_pandas()")
    _require("pandas", "to_pandas()", "pandas")
    return pyarrow.table(table).to_pandas()


def to_polars(table: Any) -> Any:
    """A ``polars.DataFrame`` of ``table`` (dictionary columns become
    ``Categorical``); polars reads the Arrow stream itself."""
    polars = _require("polars", "to_polars()", "polars")
    return polars.DataFrame(table)


def write_parquet(table: Any, dest: _Dest) -> None:
    """Write ``table`` to ``dest`` as Parquet (the schema's metadata included). A
    path is written atomically: into a temporary file beside it (beside a symlink's
    target), renamed over it once complete, with the replaced file's permission
    bits; nothing is left under its name if writing fails. A FIFO or device is
    written straight into, as is a binary file object."""
    pyarrow = _pyarrow("write_parquet()")
    parquet = importlib.import_module("pyarrow.parquet")
    arrow_table = pyarrow.table(table)
    dictionaries = [
        field.name for field in arrow_table.schema if pyarrow.types.is_dictionary(field.type)
    ]
    encodings = {
        name: encoding for name, encoding in _ENCODINGS.items() if name in arrow_table.column_names
    }

    def write(where: Any) -> None:
        parquet.write_table(
            arrow_table,
            where,
            use_dictionary=dictionaries,
            column_encoding=encodings,
            **PARQUET_OPTIONS,
        )

    if hasattr(dest, "write"):
        write(dest)
        return
    _write_atomically(os.fsdecode(os.fspath(dest)), write)  # type: ignore[arg-type]


def _write_atomically(path: str, write: Any) -> None:
    target = os.path.realpath(path) if os.path.islink(path) else path
    try:
        replaced = os.stat(target)
    except FileNotFoundError:
        replaced = None
    if replaced is not None and not stat.S_ISREG(replaced.st_mode):
        with open(target, "wb") as stream:
            write(stream)
        return
    directory, name = os.path.split(target)
    temporary = os.path.join(directory, f".{name}.{os.getpid()}.{next(_temporaries)}.partial")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as stream:
            write(stream)
        if replaced is not None:
            os.chmod(temporary, stat.S_IMODE(replaced.st_mode))
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
