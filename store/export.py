"""Exports of a dataset version to the formats downstream tools load. More formats come with issue #6."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from config import InputError
from store.dataset import Dataset, Manifest
from store.files import atomic_write


def export_jsonl(dataset: Dataset, manifest: Manifest, out: Path) -> int:
    """Goldsmith's own records, one JSON object per line, byte-identical to what the version stores."""
    atomic_write(out, b"".join(dataset.iter_bytes(manifest)))
    return manifest.records


FORMATS: dict[str, Callable[[Dataset, Manifest, Path], int]] = {"jsonl": export_jsonl}


def export(dataset: Dataset, version: int | None, fmt: str, out: Path) -> tuple[Manifest, int]:
    """Write `dataset` at `version` (latest when None) to `out` in format `fmt`; returns (manifest, records)."""
    writer = FORMATS.get(fmt)
    if writer is None:
        raise InputError(f"--format: unknown format {fmt!r}; available: {', '.join(FORMATS)}")
    manifest = dataset.manifest(version)
    return manifest, writer(dataset, manifest, out)
