"""Durable file writes: temp file + fsync + rename, and exclusive creation (the version pointer's CAS).

A write that fails (full disk, read-only file system, no permission) leaves no temp file behind and
raises `WriteFailed`: one line naming the folder, the reason and what to do.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import NamedTuple

from config import InputError

TEMP_PREFIX = ".tmp-"  # a write in progress (or one a crash left behind); never a file of the store

_FREE_SPACE = "free space and run the same command again"
_ELSEWHERE = "make it writable, or write to another location, and run the command again"
ADVICE = {
    errno.ENOSPC: _FREE_SPACE,
    errno.EDQUOT: _FREE_SPACE,
    errno.EROFS: "write to another location and run the command again",
    errno.EACCES: _ELSEWHERE,
    errno.EPERM: _ELSEWHERE,
    errno.ENOTDIR: "part of this path is a file; write to another location",
}


class WriteFailed(InputError):
    """A write the environment refused (full disk, read-only file system, no permission): exit code 2."""


def os_error_line(exc: OSError, where: str | Path) -> str:
    """`where: reason; what to do` for an OSError; `where` is used when the error names no file (or a temp file)."""
    named = exc.filename if isinstance(exc.filename, str) else None
    if named and not os.path.basename(named).startswith(TEMP_PREFIX):
        where = named
    reason = exc.strerror or str(exc)
    reason = reason[:1].lower() + reason[1:]
    advice = ADVICE.get(exc.errno) if exc.errno is not None else None
    return f"{where}: {reason}" + (f"; {advice}" if advice else "")


@contextmanager
def _reported(directory: Path) -> Iterator[None]:
    """Turn an OSError raised while writing into `directory` into WriteFailed."""
    try:
        yield
    except OSError as exc:
        raise WriteFailed(os_error_line(exc, directory)) from exc


def _discard(path: Path) -> None:
    with suppress(OSError):
        path.unlink()


def make_directory(directory: Path) -> None:
    """Create `directory` and its parents; a file where a folder should be is NotADirectoryError, not "exists"."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # a file where the folder should be
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(directory)) from None


def _open_temp(directory: Path, data: bytes) -> tuple[int, Path]:
    """A new temp file in `directory` holding `data` (in the page cache, not synced), still open; removed again if
    anything fails."""
    try:
        fd, name = tempfile.mkstemp(dir=directory, prefix=TEMP_PREFIX)
    except FileNotFoundError:  # the folder is made on its first write, not checked on every one
        make_directory(directory)
        fd, name = tempfile.mkstemp(dir=directory, prefix=TEMP_PREFIX)
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes the file private; datasets and exports are shared
        rest = memoryview(data)
        while rest:
            rest = rest[os.write(fd, rest) :]
    except BaseException:
        os.close(fd)
        _discard(Path(name))
        raise
    return fd, Path(name)


def _write_temp(directory: Path, data: bytes) -> Path:
    """A synced temp file in `directory` holding `data`; removed again if anything fails."""
    fd, tmp = _open_temp(directory, data)
    try:
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        _discard(tmp)
        raise
    return tmp


def _sync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that readers see the old or the new content, never a torn file."""
    with _reported(path.parent):
        tmp = _write_temp(path.parent, data)
        try:
            os.replace(tmp, path)
        except BaseException:
            _discard(tmp)
            raise
        _sync_dir(path.parent)


class Staged(NamedTuple):
    """The first half of an `atomic_write`: `data` in a temp file beside `path`, still open, neither synced nor in
    place; `complete` does the rest."""

    path: Path
    tmp: Path
    fd: int


def stage(path: Path, data: bytes) -> Staged:
    """Write `data` to a new temp file beside `path` (into the page cache: no waiting on the disk)."""
    with _reported(path.parent):
        fd, tmp = _open_temp(path.parent, data)
    return Staged(path, tmp, fd)


def complete(staged: Sequence[Staged]) -> None:
    """The second half of the `atomic_write`s of `staged`: each temp file synced and renamed over its path, in
    order, then each folder synced once. A failure (WriteFailed) leaves no temp file behind; the writes before it
    are done. Only system calls, so it can run on a thread of its own while the event loop goes on."""
    for n, write in enumerate(staged):
        try:
            with _reported(write.path.parent):
                _finish(write)
        except BaseException:
            abandon(staged[n + 1 :])
            raise
    for folder in dict.fromkeys(write.path.parent for write in staged):
        with _reported(folder):
            _sync_dir(folder)


def abandon(staged: Sequence[Staged]) -> None:
    """Close and remove the temp files of writes that will not be completed."""
    for write in staged:
        with suppress(OSError):
            os.close(write.fd)
        _discard(write.tmp)


def _finish(write: Staged) -> None:
    try:
        try:
            os.fsync(write.fd)
        finally:
            os.close(write.fd)
        os.replace(write.tmp, write.path)
    except BaseException:
        _discard(write.tmp)
        raise


def create_exclusive(path: Path, data: bytes) -> bool:
    """Create `path` with `data` only if it does not exist yet (atomically); False if someone else did."""
    with _reported(path.parent):
        tmp = _write_temp(path.parent, data)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        finally:
            _discard(tmp)
        _sync_dir(path.parent)
    return True


def check_writable(directory: Path) -> None:
    """Raise WriteFailed now if a file cannot be written in `directory` (or, when it does not exist yet, in its
    nearest existing parent, so the check creates no folders): a block is written, synced and removed."""
    while not directory.exists() and directory.parent != directory:
        directory = directory.parent
    with _reported(directory):
        _discard(_write_temp(directory, b"\n" * 4096))


def remove(path: Path) -> None:
    """Remove `path` durably (nothing when it is already gone); only `dataset repair` removes files."""
    with _reported(path.parent):
        path.unlink(missing_ok=True)
        if path.parent.is_dir():
            _sync_dir(path.parent)
