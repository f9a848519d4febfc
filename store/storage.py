"""Where datasets live: a local directory or an S3 prefix, behind the few operations the store needs.

Keys are `/`-separated paths relative to the location (`kyc/versions/v0001.json`). Both backends give
the same guarantees: `write` replaces a key whole (readers never see a torn object), and `create` is an
atomic create-if-absent, the compare-and-swap that makes each dataset version exactly one writer's.
Locally that is temp file + fsync + rename (and link for `create`); on S3 a PUT is atomic and `create`
is a conditional PUT (`If-None-Match: *`). `delete` exists only for `dataset repair`, which moves damaged
manifests aside (copy, then delete); nothing else ever removes an object.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any, Protocol, TypeVar

from config import InputError
from store.files import TEMP_PREFIX, atomic_write, create_exclusive, os_error_line, remove
from store.files import check_writable as check_folder_writable

T = TypeVar("T")


class Storage(Protocol):
    def read(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is none."""

    def write(self, key: str, data: bytes) -> None:
        """Create or replace the object atomically and durably."""

    def create(self, key: str, data: bytes) -> bool:
        """Create the object only if it does not exist (atomically); False if it already did."""

    def children(self, prefix: str) -> list[str]:
        """Names directly under `prefix` (files and folders), sorted; empty when there are none."""

    def delete(self, key: str) -> None:
        """Remove the object (nothing when there is none). Only `dataset repair` uses it."""

    def url(self, key: str = "") -> str:
        """Where `key` is, for messages."""

    def check_writable(self, prefix: str = "") -> None:
        """Raise an InputError now, before any paid model call, if objects under `prefix` cannot be written."""


class LocalStorage:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def read(self, key: str) -> bytes | None:
        try:
            return (self.root / key).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise InputError(os_error_line(exc, self.root / key)) from None

    def write(self, key: str, data: bytes) -> None:
        atomic_write(self.root / key, data)

    def create(self, key: str, data: bytes) -> bool:
        return create_exclusive(self.root / key, data)

    def delete(self, key: str) -> None:
        remove(self.root / key)

    def children(self, prefix: str) -> list[str]:
        try:
            return sorted(name for name in os.listdir(self.root / prefix) if not name.startswith(TEMP_PREFIX))
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            raise InputError(os_error_line(exc, self.root / prefix)) from None

    def url(self, key: str = "") -> str:
        return str(self.root / key) if key else str(self.root)

    def check_writable(self, prefix: str = "") -> None:
        """Write and remove a temp file in the folder (or its nearest existing parent: no folder is created)."""
        check_folder_writable(self.root / prefix)


class S3Storage:
    """An S3 prefix. The client honours AWS_ENDPOINT_URL (e.g. a local moto server) like any boto3 client."""

    def __init__(self, bucket: str, prefix: str = "", client: Any = None):
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("s3")
        return self._client

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, action: Callable[[], T], *, absent: set[str] = frozenset()) -> T | None:
        """Run an S3 request; None for the error codes in `absent`; a missing bucket, denied access or
        missing credentials become one-line InputErrors."""
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            return action()
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in absent:
                return None
            if code == "NoSuchBucket":
                raise InputError(f"{self.url()}: no such S3 bucket") from None
            if code in {"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"}:
                raise InputError(f"{self.url()}: access denied ({code}); check your AWS credentials") from None
            raise
        except NoCredentialsError:
            raise InputError(f"{self.url()}: no AWS credentials found") from None
        except BotoCoreError as error:
            raise InputError(f"{self.url()}: {error}") from None

    def read(self, key: str) -> bytes | None:
        return self._call(
            lambda: self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read(),
            absent={"NoSuchKey", "404"},
        )

    def write(self, key: str, data: bytes) -> None:
        self._call(lambda: self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data))

    def create(self, key: str, data: bytes) -> bool:
        # 412: the key exists; 409: a concurrent conditional write to the same key won
        created = self._call(
            lambda: self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, IfNoneMatch="*"),
            absent={"PreconditionFailed", "ConditionalRequestConflict"},
        )
        return created is not None

    def delete(self, key: str) -> None:
        self._call(lambda: self.client.delete_object(Bucket=self.bucket, Key=self._key(key)))

    def children(self, prefix: str) -> list[str]:
        folder = prefix.strip("/")
        base = self._key(folder) if folder else self.prefix
        base = f"{base}/" if base else ""

        def list_all() -> set[str]:
            names: set[str] = set()
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=base, Delimiter="/"
            ):
                names.update(item["Key"][len(base) :] for item in page.get("Contents", []))
                names.update(item["Prefix"][len(base) :].rstrip("/") for item in page.get("CommonPrefixes", []))
            return names

        return sorted(name for name in self._call(list_all) or () if name and not name.startswith(TEMP_PREFIX))

    def url(self, key: str = "") -> str:
        return f"s3://{self.bucket}/{self._key(key)}".rstrip("/")

    def check_writable(self, prefix: str = "") -> None:
        """PUT an empty probe object under `prefix` and delete it: a missing bucket, missing credentials or a
        denied PUT is one line now rather than after the paid calls. A denied DELETE is ignored (an append-only
        policy may refuse it); the probe is one fixed key, skipped by `children`, so it never accumulates."""
        from botocore.exceptions import BotoCoreError, ClientError

        key = self._key("/".join(part for part in (prefix.strip("/"), f"{TEMP_PREFIX}write-check") if part))
        self._call(lambda: self.client.put_object(Bucket=self.bucket, Key=key, Body=b""))
        with suppress(BotoCoreError, ClientError):
            self.client.delete_object(Bucket=self.bucket, Key=key)


def open_storage(location: str | Path) -> LocalStorage | S3Storage:
    """`s3://bucket/prefix` → S3; anything else is a local directory."""
    text = str(location)
    if text.startswith("s3://"):
        bucket, _, prefix = text[len("s3://") :].partition("/")
        if not bucket:
            raise InputError(f"--output-dir: {text!r} names no bucket; use s3://bucket/prefix")
        return S3Storage(bucket, prefix)
    return LocalStorage(Path(text))


def open_file(location: str) -> tuple[LocalStorage | S3Storage, str]:
    """The storage holding the file at `location` (a path or s3://bucket/key), and the file's key in it."""
    parent, _, name = str(location).rpartition("/")
    if not name:
        raise InputError(f"{location!r} names a folder, not a file")
    return open_storage(parent or "."), name
