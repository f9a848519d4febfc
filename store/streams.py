"""Writing a file of unknown size from chunks, with flat memory: all of it or nothing.

Locally the chunks go to a temp file beside the target (fsynced, then renamed over it); on S3 to a local temp
file, then one upload (boto3 splits a large file into a multipart upload, which S3 makes visible at once,
whole). If producing the chunks raises (bad input found at the end), nothing is written.
"""

from __future__ import annotations

import os
import tempfile
from array import array
from collections.abc import Iterable, Iterator
from contextlib import suppress
from pathlib import Path

from store.files import TEMP_PREFIX, WriteFailed, make_directory, os_error_line
from store.storage import LocalStorage, S3Storage, Storage


def write_stream(storage: Storage, key: str, chunks: Iterable[bytes]) -> None:
    """Write the concatenation of `chunks` to `key`, atomically; nothing is written if `chunks` raises."""
    if isinstance(storage, LocalStorage):
        _write_local(storage.root / key, chunks)
    elif isinstance(storage, S3Storage):
        with tempfile.TemporaryFile(prefix=TEMP_PREFIX) as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.seek(0)
            storage._call(lambda: storage.client.upload_fileobj(handle, storage.bucket, storage._key(key)))
    else:
        storage.write(key, b"".join(chunks))


def _write_local(path: Path, chunks: Iterable[bytes]) -> None:
    try:
        make_directory(path.parent)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX)
    except OSError as exc:
        raise WriteFailed(os_error_line(exc, path.parent)) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o644)
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(name, path)
    except BaseException as exc:
        with suppress(OSError):
            os.unlink(name)
        if isinstance(exc, OSError):
            raise WriteFailed(os_error_line(exc, path.parent)) from None  # as storage.write names it
        raise


class Spool:
    """Byte strings put by key (e.g. an episode's index) into a local temp file, read back in key order: what a run
    keeps of its episodes until the commit, in flat memory however many there are."""

    def __init__(self) -> None:
        self.file = tempfile.TemporaryFile(prefix=TEMP_PREFIX)  # noqa: SIM115 (closed by `close`)
        self.keys = array("q")
        self.offsets = array("q")
        self.sizes = array("q")
        self.end = 0

    def __len__(self) -> int:
        return len(self.keys)

    def put(self, key: int, data: bytes) -> None:
        self.file.seek(self.end)
        self.file.write(data)
        self.keys.append(key)
        self.offsets.append(self.end)
        self.sizes.append(len(data))
        self.end += len(data)

    def items(self) -> Iterator[bytes]:
        """Every string put, in key order."""
        self.file.flush()
        for i in sorted(range(len(self.keys)), key=self.keys.__getitem__):
            self.file.seek(self.offsets[i])
            yield self.file.read(self.sizes[i])

    def close(self) -> None:
        self.file.close()
