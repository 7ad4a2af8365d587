"""The HTML report as one self-contained document, and writing it to a file.

The page is ``report.css`` and ``report.js`` (package data, this project's own)
inlined into one HTML file with the data: the JSON facts in one ``<script
type="application/json">`` element, the node names one per line in a ``<script
type="text/plain">`` element (when they can be: else they are in the JSON), and
each numeric column in its own base64 ``<script type="application/octet-stream">``
element. Nothing is fetched: the page
works from ``file://`` with no network. The document is produced in pieces, so a
report on a large trace is written without holding it whole in memory.
"""

from __future__ import annotations

import contextlib
import html
import os
import stat
import tempfile
from collections.abc import Iterator
from importlib import resources
from typing import Any

from dagron.report.data import ReportData


def _asset(name: str) -> str:
    return resources.files("dagron.report").joinpath(name).read_text(encoding="utf-8")


def pieces(data: ReportData) -> Iterator[bytes]:
    """The document, in order, as UTF-8 pieces."""
    title = html.escape(str(data.meta["title"]))
    body = '<body class="compact">' if data.meta.get("compact") else "<body>"
    yield (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        # No request may leave the page: not even for a favicon.
        '<link rel="icon" href="data:,">\n'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:\">\n"
        f"<title>{title}</title>\n<style>\n{_asset('report.css')}</style>\n</head>\n"
        f"{body}\n<noscript>This report needs JavaScript to draw.</noscript>\n"
        '<script type="application/json" id="dagron-meta">'
    ).encode()
    yield data.meta_json().encode()
    yield b"</script>\n"
    if data.names_text is not None:
        yield b'<script type="text/plain" id="dagron-names">'
        yield data.names_text.encode()
        yield b"</script>\n"
    for column in data.columns:
        yield (f'<script type="application/octet-stream" id="dagron-col-{column.name}">').encode()
        yield from column.base64_pieces()
        yield b"</script>\n"
    yield f"<script>\n{_asset('report.js')}</script>\n</body>\n</html>\n".encode()


def to_text(data: ReportData) -> str:
    return b"".join(pieces(data)).decode()


def _umask() -> int:
    """The process's umask, read without changing it (Linux), else the usual 022."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def write(data: ReportData, path: Any) -> None:
    """Write the document to ``path``: a regular file (or a new one) is replaced
    atomically (a temporary beside it, renamed into place once whole); any other
    kind of file (a FIFO, ``/dev/stdout``) is written straight into."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"path must be a str, bytes or os.PathLike, not {type(path).__name__}")
    target = os.fsdecode(os.fspath(path))
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        with open(target, "wb") as direct:
            for piece in pieces(data):
                direct.write(piece)
        return
    destination = os.path.realpath(target)
    permissions = stat.S_IMODE(mode) if mode is not None else 0o666 & ~_umask()
    handle, temporary = tempfile.mkstemp(
        prefix=f".{os.path.basename(destination)}.",
        suffix=".tmp",
        dir=os.path.dirname(destination),
    )
    try:
        with os.fdopen(handle, "wb") as out:
            for piece in pieces(data):
                out.write(piece)
        os.chmod(temporary, permissions)
        os.replace(temporary, destination)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
