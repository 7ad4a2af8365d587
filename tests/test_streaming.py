"""Streaming export: ``write_json(dest)`` and ``write_chrome_trace(dest)``.

``dest`` is a path (``str`` or ``os.PathLike``; a name ending in ``.gz`` is gzip
compressed) or a binary or text file object. What is written is exactly the bytes of
``to_json()`` / ``to_chrome_trace()``. On error the exception propagates, the trace is
left as it was, and nothing is left under the final name: a path export writes
``.<name>.<pid>.partial`` beside the target and renames it only on success.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import io
import json
import os
import pathlib
import subprocess
import tempfile

import pytest
from dagron.execution.tracing import ExecutionTrace, TraceEventType
from hypothesis import HealthCheck, given, settings
from trace_streams import event_streams, record_all

SETTINGS = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

T = TraceEventType
FORMATS = {"json": ("to_json", "write_json"), "chrome": ("to_chrome_trace", "write_chrome_trace")}


def expected_bytes(trace, fmt):
    return getattr(trace, FORMATS[fmt][0])().encode("ascii")


def writer(trace, fmt):
    return getattr(trace, FORMATS[fmt][1])


def read_back(path):
    with open(path, "rb") as f:
        data = f.read()
    return gzip.decompress(data) if os.fspath(path).endswith(".gz") else data


def fingerprints(trace):
    """Everything the events carry (metadata by identity, NaN-safe durations)."""
    return [
        (
            e.event_type,
            e.timestamp,
            e.node_name,
            e.step_index,
            repr(e.duration),
            e.error,
            id(e.metadata) if e.metadata else "fresh",
        )
        for e in trace.events
    ]


def mixed_trace(events=2_000, bad_at=None, bad_value=None):
    """A trace of ``events`` events; the one at index ``bad_at`` carries ``bad_value``
    in its metadata (under the key ``"bad"``)."""
    trace = ExecutionTrace()
    trace.record(T.EXECUTION_STARTED)
    for i in range(events - 2):
        name = f"node_{i % 50:02d}_\xe9\u2603"
        metadata = {"i": i, "x": [1.5, None, "\ud800"]} if i % 10 == 0 else None
        if i == bad_at:
            metadata = {"ok": 1, "bad": bad_value}
        kind = (T.NODE_STARTED, T.NODE_COMPLETED, T.NODE_FAILED, T.STEP_STARTED)[i % 4]
        trace.record(
            kind,
            node_name=name,
            step_index=i,
            duration=i * 1e-5,
            error="RuntimeError: no" if kind is T.NODE_FAILED else None,
            metadata=metadata,
        )
    trace.record(T.EXECUTION_COMPLETED)
    return trace


# --- byte-for-byte equality --------------------------------------------------------------


def check_all_destinations(trace, directory):
    """Every kind of destination gets exactly ``to_json()`` / ``to_chrome_trace()``."""
    directory = pathlib.Path(directory)
    for fmt in FORMATS:
        want = expected_bytes(trace, fmt)
        write = writer(trace, fmt)

        for name in (f"{fmt}.json", f"{fmt}.json.gz"):
            for dest in (str(directory / name), directory / name):
                write(dest)
                assert read_back(dest) == want, (fmt, dest)

        buffer = io.BytesIO()
        assert write(buffer) is None
        assert buffer.getvalue() == want

        text = io.StringIO()
        write(text)
        assert text.getvalue().encode("ascii") == want

        binary_path = directory / f"{fmt}.bin"
        with open(binary_path, "wb") as f:
            write(f)
            assert not f.closed
        assert binary_path.read_bytes() == want

        text_path = directory / f"{fmt}.txt"
        with open(text_path, "w", encoding="utf-8") as f:
            write(f)
            assert not f.closed
        assert text_path.read_bytes() == want

        with open(directory / f"{fmt}.raw", "wb", buffering=0) as f:
            write(f)
        assert (directory / f"{fmt}.raw").read_bytes() == want
    expected = {
        f"{fmt}{suffix}"
        for fmt in FORMATS
        for suffix in (".json", ".json.gz", ".bin", ".txt", ".raw")
    }
    # No temporary (.partial) file survives a successful export.
    assert set(os.listdir(directory)) == expected


@SETTINGS
@given(stream=event_streams())
def test_writes_equal_the_strings(stream):
    trace = ExecutionTrace()
    record_all(trace, stream)
    before = fingerprints(trace)
    with tempfile.TemporaryDirectory() as tmp:
        check_all_destinations(trace, tmp)
    assert fingerprints(trace) == before


def test_empty_trace(tmp_path):
    trace = ExecutionTrace()
    check_all_destinations(trace, tmp_path)
    assert read_back(tmp_path / "json.json") == b"[]"


def test_larger_than_one_chunk(tmp_path):
    # Several of the writer's internal chunks, and non-ASCII names escaped in them.
    trace = mixed_trace(20_000)
    assert len(trace.to_json()) > 2 * 2**20
    check_all_destinations(trace, tmp_path)


def test_path_replaces_an_existing_file(tmp_path):
    trace = mixed_trace(100)
    for fmt in FORMATS:
        for name in (f"{fmt}.json", f"{fmt}.json.gz"):
            target = tmp_path / name
            target.write_bytes(b"old content that is longer than nothing" * 1000)
            writer(trace, fmt)(target)
            assert read_back(target) == expected_bytes(trace, fmt)
    assert len(os.listdir(tmp_path)) == 4


def test_gz_is_a_standard_gzip_file(tmp_path):
    trace = mixed_trace(3_000)
    for fmt in FORMATS:
        target = tmp_path / f"{fmt}.json.gz"
        writer(trace, fmt)(target)
        raw = target.read_bytes()
        assert raw[:2] == b"\x1f\x8b"
        with gzip.open(target, "rb") as f:
            assert f.read() == expected_bytes(trace, fmt)
        # Smaller than the text (the trace is repetitive).
        assert len(raw) < len(expected_bytes(trace, fmt)) // 3
        # json.load works on it as on the string.
        with gzip.open(target, "rt", encoding="ascii") as f:
            assert json.load(f) == json.loads(expected_bytes(trace, fmt))
        # Only names ending in .gz are compressed.
        plain = tmp_path / f"{fmt}.json.gz.txt"
        writer(trace, fmt)(plain)
        assert plain.read_bytes() == expected_bytes(trace, fmt)


def test_file_object_is_written_at_its_position_and_left_open():
    trace = mixed_trace(50)
    for fmt in FORMATS:
        buffer = io.BytesIO()
        buffer.write(b"prefix:")
        writer(trace, fmt)(buffer)
        writer(trace, fmt)(buffer)
        assert not buffer.closed
        want = expected_bytes(trace, fmt)
        assert buffer.getvalue() == b"prefix:" + want + want

        text = io.StringIO()
        text.write("\xe9:")
        writer(trace, fmt)(text)
        assert text.getvalue() == "\xe9:" + want.decode("ascii")


def test_file_object_sees_the_trace_as_it_was_when_called():
    # write() may run Python code; what it records does not show in this export.
    trace = mixed_trace(5_000)

    class Recording(io.RawIOBase):
        def __init__(self):
            self.parts = []

        def writable(self):
            return True

        def write(self, chunk):
            trace.record(T.NODE_STARTED, node_name=f"late_{len(self.parts)}")
            trace.summary()
            self.parts.append(bytes(chunk))
            return len(chunk)

    for fmt in FORMATS:
        want = expected_bytes(trace, fmt)
        sink = Recording()
        writer(trace, fmt)(sink)
        assert b"".join(sink.parts) == want
        assert len(sink.parts) >= 1
        assert expected_bytes(trace, fmt) != want  # the new events are there now


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("name", ["out.json", "out.json.gz"])
def test_missing_directory(tmp_path, fmt, name):
    trace = mixed_trace(100)
    target = tmp_path / "missing" / name
    with pytest.raises(FileNotFoundError) as info:
        writer(trace, fmt)(target)
    assert info.value.errno == errno.ENOENT
    assert os.listdir(tmp_path) == []
    writer(trace, fmt)(tmp_path / name)
    assert read_back(tmp_path / name) == expected_bytes(trace, fmt)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_parent_is_a_file(tmp_path, fmt):
    trace = mixed_trace(100)
    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(NotADirectoryError):
        writer(trace, fmt)(tmp_path / "file" / "out.json")
    assert os.listdir(tmp_path) == ["file"]


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_target_is_a_directory(tmp_path, fmt):
    trace = mixed_trace(100)
    (tmp_path / "out.json").mkdir()
    with pytest.raises(OSError):
        writer(trace, fmt)(tmp_path / "out.json")
    assert os.listdir(tmp_path) == ["out.json"]
    assert os.listdir(tmp_path / "out.json") == []


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("dest", [42, None, 1.5, object(), ["a.json"]])
def test_dest_of_a_wrong_type(fmt, dest):
    trace = mixed_trace(10)
    with pytest.raises(TypeError) as info:
        writer(trace, fmt)(dest)
    assert type(dest).__name__ in str(info.value)
    assert expected_bytes(trace, fmt)  # still fine


def _json_error(value):
    try:
        json.dumps({"bad": value})
    except (TypeError, ValueError) as exc:
        return exc
    raise AssertionError(f"json.dumps accepted {value!r}")


def _circular():
    loop = {}
    loop["self"] = loop
    return loop


UNSERIALIZABLE = [
    pytest.param(lambda: {1, 2}, id="set"),
    pytest.param(lambda: b"bytes", id="bytes"),
    pytest.param(lambda: object(), id="object"),
    pytest.param(lambda: [1, {"deep": complex(1, 2)}], id="nested-complex"),
    pytest.param(_circular, id="circular"),
]


@pytest.mark.parametrize("make_bad", UNSERIALIZABLE)
@pytest.mark.parametrize("events,bad_at", [(50, 20), (20_000, 19_000)], ids=["small", "late"])
@pytest.mark.parametrize("name", ["out.json", "out.json.gz"])
def test_unserializable_metadata(tmp_path, make_bad, events, bad_at, name):
    bad = make_bad()
    want = _json_error(bad)
    trace = mixed_trace(events, bad_at=bad_at, bad_value=bad)
    before = fingerprints(trace)
    target = tmp_path / name
    old = b"previous export, must survive"
    target.write_bytes(old)

    with pytest.raises(type(want)) as info:
        trace.write_json(target)
    assert type(info.value) is type(want)
    assert str(info.value) == str(want)
    # The existing file is untouched and no temporary file is left beside it.
    assert target.read_bytes() == old
    assert os.listdir(tmp_path) == [name]
    # A fresh target is not created either.
    with pytest.raises(type(want)):
        trace.write_json(tmp_path / ("new_" + name))
    assert os.listdir(tmp_path) == [name]
    # to_json fails the same way; to_chrome_trace and write_chrome_trace ignore metadata.
    with pytest.raises(type(want), match="^" + str(want) + "$"):
        trace.to_json()
    trace.write_chrome_trace(tmp_path / ("chrome_" + name))
    assert read_back(tmp_path / ("chrome_" + name)) == expected_bytes(trace, "chrome")
    assert fingerprints(trace) == before

    # Metadata is held by reference: once the bad value is gone, everything exports.
    bad_event = trace.events[bad_at + 1]
    assert bad_event.metadata["bad"] is bad
    del bad_event.metadata["bad"]
    trace.write_json(target)
    assert read_back(target) == trace.to_json().encode("ascii")
    buffer = io.BytesIO()
    trace.write_json(buffer)
    assert buffer.getvalue() == read_back(target)
    assert sorted(os.listdir(tmp_path)) == sorted([name, "chrome_" + name])


def test_unserializable_metadata_to_file_objects():
    bad = {1, 2}
    trace = mixed_trace(50, bad_at=10, bad_value=bad)
    for dest in (io.BytesIO(), io.StringIO()):
        with pytest.raises(TypeError, match="^Object of type set is not JSON serializable$"):
            trace.write_json(dest)
    trace.events[11].metadata["bad"] = "fixed"
    buffer = io.BytesIO()
    trace.write_json(buffer)
    assert buffer.getvalue() == trace.to_json().encode("ascii")


class Boom(Exception):
    pass


class FailingWriter(io.RawIOBase):
    """A binary sink whose ``write`` raises on its ``fail_on``-th call."""

    def __init__(self, fail_on):
        self.calls = 0
        self.fail_on = fail_on
        self.error = Boom(f"write #{fail_on} failed")

    def writable(self):
        return True

    def write(self, chunk):
        self.calls += 1
        if self.calls == self.fail_on:
            raise self.error
        return len(chunk)


class FailingText(io.TextIOBase):
    def write(self, text):
        raise UnicodeError("text sink refuses")


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("fail_on", [1, 3])
def test_write_exception_propagates(fmt, fail_on):
    trace = mixed_trace(20_000)
    before = fingerprints(trace)
    sink = FailingWriter(fail_on)
    with pytest.raises(Boom) as info:
        writer(trace, fmt)(sink)
    assert info.value is sink.error
    assert sink.calls == fail_on  # nothing more is written after the failure
    with pytest.raises(UnicodeError, match="text sink refuses"):
        writer(trace, fmt)(FailingText())
    assert fingerprints(trace) == before
    buffer = io.BytesIO()
    writer(trace, fmt)(buffer)
    assert buffer.getvalue() == expected_bytes(trace, fmt)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_closed_file_object(fmt):
    trace = mixed_trace(10)
    buffer = io.BytesIO()
    buffer.close()
    with pytest.raises(ValueError):
        writer(trace, fmt)(buffer)


def _dev_full_writable():
    try:
        with open("/dev/full", "wb"):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _dev_full_writable(), reason="/dev/full is not available")
@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("mode", ["wb", "w"])
def test_dev_full_file_object(fmt, mode):
    # Larger than any file buffer: the error surfaces from the export call itself.
    trace = mixed_trace(20_000)
    encoding = None if mode == "wb" else "ascii"
    f = open("/dev/full", mode, encoding=encoding)  # noqa: SIM115
    try:
        with pytest.raises(OSError) as info:
            writer(trace, fmt)(f)
        assert info.value.errno == errno.ENOSPC
    finally:
        with contextlib.suppress(OSError):
            f.close()
    assert f.closed


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A 1 MiB tmpfs (needs root or CAP_SYS_ADMIN; skipped where mounting fails)."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
            capture_output=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot mount a tmpfs: {exc}")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False, timeout=30)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_full_disk(tiny_tmpfs, fmt):
    keep = tiny_tmpfs / "keep.json"
    keep.write_bytes(b"[]")
    text_heavy = mixed_trace(40_000)  # several MiB of text
    random_names = _incompressible_trace(80_000)  # more than 1 MiB even gzipped
    cases = [("out.json", text_heavy), ("keep.json", text_heavy), ("out.json.gz", random_names)]
    for name, trace in cases:
        assert len(expected_bytes(trace, fmt)) > 4 * 2**20
        before = fingerprints(trace)
        with pytest.raises(OSError) as info:
            writer(trace, fmt)(tiny_tmpfs / name)
        assert info.value.errno == errno.ENOSPC, info.value
        # Nothing under the final name, no temporary file, the old file untouched.
        assert os.listdir(tiny_tmpfs) == ["keep.json"]
        assert keep.read_bytes() == b"[]"
        assert fingerprints(trace) == before
    # The space was given back: a small export fits.
    small = mixed_trace(20)
    writer(small, fmt)(tiny_tmpfs / "small.json.gz")
    assert read_back(tiny_tmpfs / "small.json.gz") == expected_bytes(small, fmt)


def _incompressible_trace(events):
    trace = ExecutionTrace()
    rand = os.urandom(events * 8).hex()
    for i in range(events // 2):
        name = rand[i * 16 : i * 16 + 16]
        trace.record(T.NODE_STARTED, node_name=name, metadata={"r": name})
        trace.record(T.NODE_COMPLETED, node_name=name, duration=i * 1e-3)
    return trace
