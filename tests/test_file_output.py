"""Where a path or file-object export ends up, in the cases where a careless writer
loses or corrupts it: concurrent exports to one path, file objects that take fewer
bytes than offered, symlinks, permissions, FIFOs, and paths that are not what they
seem (``__fspath__`` that raises, a NUL in the name).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import io
import os
import stat
import subprocess
import sys
import threading
import time

import pytest
from dagron.execution.tracing import ExecutionTrace, TraceEventType

T = TraceEventType
FORMATS = {"json": ("to_json", "write_json"), "chrome": ("to_chrome_trace", "write_chrome_trace")}


def make_trace(events: int, tag: str) -> ExecutionTrace:
    trace = ExecutionTrace()
    for i in range(events // 2):
        trace.record(T.NODE_STARTED, node_name=f"{tag}-{i % 97}")
        trace.record(T.NODE_COMPLETED, node_name=f"{tag}-{i % 97}", duration=i * 1e-3)
    return trace


def expected(trace: ExecutionTrace, fmt: str) -> bytes:
    return getattr(trace, FORMATS[fmt][0])().encode("ascii")


def write(trace: ExecutionTrace, fmt: str, dest: object) -> None:
    getattr(trace, FORMATS[fmt][1])(dest)


# --- 1. several writers, one path -----------------------------------------------------


class LetsOthersRun(dict):
    """Metadata whose serialization lets other threads run (as any Python code in
    metadata may), so two exports really overlap."""

    def items(self):  # type: ignore[override]
        time.sleep(0.002)
        return super().items()


def overlapping_trace(tag: str) -> ExecutionTrace:
    trace = make_trace(30_000, tag)  # about 1.5 MB of JSON
    for _ in range(3):
        trace.record(T.STEP_STARTED, step_index=1, metadata=LetsOthersRun(tag=tag))
        for i in range(5_000):
            trace.record(T.NODE_STARTED, node_name=f"{tag}-{i}")
    return trace


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_threads_writing_one_path(tmp_path, fmt):
    """Each writer has its own temporary: no writer fails, and a reader only ever
    sees one whole export (the last rename wins)."""
    target = tmp_path / "out.json"
    traces = [overlapping_trace(tag) for tag in "ab"]
    wants = {expected(trace, fmt) for trace in traces}
    errors: list[BaseException] = []
    seen: list[bytes] = []
    stop = threading.Event()

    def writer(trace: ExecutionTrace) -> None:
        try:
            for _ in range(6):
                write(trace, fmt, target)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    def reader() -> None:
        while not stop.is_set():
            with contextlib.suppress(FileNotFoundError):
                seen.append(target.read_bytes())

    threads = [threading.Thread(target=writer, args=(t,)) for t in traces]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    watcher.join()
    assert errors == []
    assert target.read_bytes() in wants
    assert all(data in wants for data in seen), "a reader saw a torn or mixed export"
    assert os.listdir(tmp_path) == ["out.json"]


class ExportsWhileSerialized(dict):
    """Metadata whose serialization exports another trace to the same path."""

    def __init__(self, other: ExecutionTrace, target: object) -> None:
        super().__init__(k=1)
        self.other = other
        self.target = target

    def items(self):  # type: ignore[override]
        self.other.write_json(self.target)
        return super().items()


def test_export_inside_an_export_to_the_same_path(tmp_path):
    target = tmp_path / "out.json"
    inner = make_trace(20_000, "inner")
    outer = make_trace(20_000, "outer")
    outer.record(T.EXECUTION_COMPLETED, metadata=ExportsWhileSerialized(inner, target))
    want = expected(outer, "json")  # runs the hook once: writes inner's export
    assert target.read_bytes() == expected(inner, "json")
    outer.write_json(target)
    assert target.read_bytes() == want
    assert os.listdir(tmp_path) == ["out.json"]


# --- 2. short writes ------------------------------------------------------------------


class TakesAThousand(io.RawIOBase):
    """A raw file that takes at most 1,000 bytes per call."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.calls = 0

    def writable(self) -> bool:
        return True

    def write(self, b):  # type: ignore[override]
        self.calls += 1
        taken = bytes(b[:1000])
        self.data += taken
        return len(taken)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_raw_writer_taking_a_thousand_bytes_per_call(fmt):
    trace = make_trace(5_000, "x")
    want = expected(trace, fmt)
    sink = TakesAThousand()
    write(trace, fmt, sink)
    assert bytes(sink.data) == want
    assert sink.calls >= len(want) // 1000  # every call after the first takes the rest


class WouldBlockAfter(io.RawIOBase):
    def __init__(self, limit: int) -> None:
        self.data = bytearray()
        self.limit = limit

    def writable(self) -> bool:
        return True

    def write(self, b):  # type: ignore[override]
        room = self.limit - len(self.data)
        if room <= 0:
            return None
        taken = bytes(b[:room])
        self.data += taken
        return len(taken)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_raw_writer_that_would_block(fmt):
    trace = make_trace(20_000, "x")
    sink = WouldBlockAfter(300_000)
    with pytest.raises(BlockingIOError) as info:
        write(trace, fmt, sink)
    assert info.value.errno == errno.EAGAIN
    assert info.value.characters_written == 300_000
    assert bytes(sink.data) == expected(trace, fmt)[:300_000]


def test_non_blocking_pipe():
    """A real non-blocking pipe fills up: BlockingIOError, as io.BufferedWriter
    raises, with what went through counted; never a silent partial write."""
    trace = make_trace(20_000, "x")
    read_fd, write_fd = os.pipe()
    try:
        fcntl.fcntl(write_fd, fcntl.F_SETFL, fcntl.fcntl(write_fd, fcntl.F_GETFL) | os.O_NONBLOCK)
        sink = open(write_fd, "wb", buffering=0, closefd=False)  # noqa: SIM115
        with sink, pytest.raises(BlockingIOError) as info:
            trace.write_json(sink)
        fcntl.fcntl(read_fd, fcntl.F_SETFL, fcntl.fcntl(read_fd, fcntl.F_GETFL) | os.O_NONBLOCK)
        got = bytearray()
        while True:
            try:
                chunk = os.read(read_fd, 1 << 16)
            except BlockingIOError:
                break
            if not chunk:
                break
            got += chunk
    finally:
        os.close(read_fd)
        os.close(write_fd)
    assert 0 < info.value.characters_written == len(got)
    assert bytes(got) == expected(trace, "json")[: len(got)]


@pytest.mark.parametrize("returned", [-1, 10**6, "x"])
def test_raw_writer_with_a_bad_count(returned):
    class Bad(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, b):  # type: ignore[override]
            return returned

    with pytest.raises((OSError, TypeError)):
        make_trace(10, "x").write_json(Bad())


def test_raw_writer_error_propagates():
    class Broken(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, b):  # type: ignore[override]
            raise PermissionError("read-only medium")

    with pytest.raises(PermissionError, match="read-only medium"):
        make_trace(10, "x").write_json(Broken())


# --- 3. what is at the path -----------------------------------------------------------


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_symlink_is_written_through(tmp_path, fmt):
    real = tmp_path / "data" / "real.json"
    real.parent.mkdir()
    real.write_bytes(b"old")
    link = tmp_path / "link.json"
    link.symlink_to(os.path.join("data", "real.json"))
    trace = make_trace(100, "x")
    write(trace, fmt, link)
    assert link.is_symlink()
    assert os.readlink(link) == os.path.join("data", "real.json")
    assert real.read_bytes() == expected(trace, fmt)
    assert sorted(os.listdir(tmp_path)) == ["data", "link.json"]
    assert os.listdir(real.parent) == ["real.json"]  # the temporary went beside it


def test_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.json"
    link.symlink_to("new.json")
    trace = make_trace(100, "x")
    trace.write_json(link)
    assert link.is_symlink()
    assert (tmp_path / "new.json").read_bytes() == expected(trace, "json")


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o604])
def test_permissions_are_kept(tmp_path, mode):
    target = tmp_path / "secret.json"
    target.write_bytes(b"old")
    target.chmod(mode)
    trace = make_trace(100, "x")
    trace.write_json(target)
    assert stat.S_IMODE(target.stat().st_mode) == mode
    assert target.read_bytes() == expected(trace, "json")


def test_a_new_file_gets_the_default_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        make_trace(10, "x").write_json(tmp_path / "new.json")
        (tmp_path / "by-open.json").write_bytes(b"")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == stat.S_IMODE(
        (tmp_path / "by-open.json").stat().st_mode
    )


def test_hard_link_gets_a_new_file(tmp_path):
    """The documented behaviour: the name written is replaced by a new file; other
    links keep the old contents."""
    target = tmp_path / "out.json"
    target.write_bytes(b"old")
    os.link(target, tmp_path / "other.json")
    trace = make_trace(10, "x")
    trace.write_json(target)
    assert target.read_bytes() == expected(trace, "json")
    assert (tmp_path / "other.json").read_bytes() == b"old"


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("name", ["pipe", "pipe.gz"])
def test_fifo_is_written_into(tmp_path, fmt, name):
    """A FIFO stays a FIFO and its reader (a thread here) gets the whole export."""
    fifo = tmp_path / name
    os.mkfifo(fifo)
    trace = make_trace(40_000, "x")  # more than a pipe buffer
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write(trace, fmt, fifo)
    reader.join(30)
    assert not reader.is_alive()
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    data = got[0]
    if name.endswith(".gz"):
        import gzip

        data = gzip.decompress(data)
    assert data == expected(trace, fmt)
    assert os.listdir(tmp_path) == [name]


def test_dev_stdout_is_written_into(tmp_path):
    """A path through ``/proc/self/fd`` (what ``/dev/stdout`` is), here with a file as
    the child's stdout, is written straight into that file, not replaced by a new
    one (which the descriptor's holder would never see). A link of the test's own
    stands for ``/dev/stdout``, so a broken build cannot replace the machine's."""
    out = tmp_path / "stdout.txt"
    link = tmp_path / "stdout-link"
    link.symlink_to("/proc/self/fd/1")
    code = (
        "import os, sys\n"
        "from dagron.execution.tracing import ExecutionTrace, TraceEventType as T\n"
        "t = ExecutionTrace(); t.record(T.EXECUTION_STARTED)\n"
        "before = os.fstat(1).st_ino\n"
        f"t.write_json({str(link)!r})\n"
        "print('same file' if os.stat(sys.argv[1]).st_ino == before else 'replaced',"
        " file=sys.stderr)\n"
    )
    with open(out, "wb") as f:
        done = subprocess.run(
            [sys.executable, "-c", code, str(out)],
            stdout=f,
            stderr=subprocess.PIPE,
            check=True,
            timeout=60,
        )
    assert done.stderr.strip() == b"same file"
    assert out.read_bytes().startswith(b'[\n  {\n    "event_type": "execution_started"')
    assert link.is_symlink()


# --- 6. errors reach the caller as they are -------------------------------------------


class RaisingPath:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def __fspath__(self) -> str:
        raise self.exc


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize(
    "exc", [PermissionError("no access"), KeyboardInterrupt(), LookupError("x")]
)
def test_fspath_errors_reach_the_caller(fmt, exc):
    trace = make_trace(10, "x")
    with pytest.raises(type(exc)) as info:
        write(trace, fmt, RaisingPath(exc))
    assert info.value is exc


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("dest", ["out\0.json", b"out\0.json"])
def test_nul_in_path_is_a_value_error(tmp_path, fmt, dest):
    with pytest.raises(ValueError) as info:
        open(dest, "w")  # noqa: SIM115 - what open() raises
    with pytest.raises(ValueError) as ours:
        write(make_trace(10, "x"), fmt, dest)
    assert str(ours.value) == str(info.value)
