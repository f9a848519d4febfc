"""A dataset's combined record index: ids, case keys and prompt fingerprints of every version, in SQLite.

    <location>/<name>/index/records.sqlite          for a local dataset
    $GOLDSMITH_CACHE_DIR/<hash of the URL>/records.sqlite   for S3 (default ~/.cache/goldsmith)

It is derived data, updated per commit: each version adds the rows of its own batch (one per record: the id,
case key, the line's digest, and the prompt's `store.dedup.Fingerprint`), so the id check of an append, the
case keys a run excludes and the near-duplicate screen cost O(batch), not O(dataset). A version's content is
its rows and those of its parents back to the last version that replaced the content (`base`).

It is never trusted over the batches: a version is indexed only from its batch bytes checked against the
manifest's sha256, and only after its chain digest (`sha256(parent.sha256 + batch.sha256)`) was checked against
the indexed parent. Since the chain digest of a version commits to every version before it, the index is
current up to version N when its row for N has the stored manifest's digest; when it has not (a repair set
versions aside and others were written), the rows after the last matching version are dropped and rebuilt.
A missing, unreadable or damaged index file is rebuilt from the batches; where none can be written, the index
lives in memory for the command.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from store.dedup import fingerprint

if TYPE_CHECKING:
    from store.dataset import Dataset, Manifest

FORMAT = "1"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS versions(
    version INTEGER PRIMARY KEY, sha256 TEXT NOT NULL, base INTEGER NOT NULL, operation TEXT NOT NULL,
    run_id TEXT NOT NULL, batch TEXT NOT NULL, records INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS records(
    rec INTEGER PRIMARY KEY, version INTEGER NOT NULL, line INTEGER NOT NULL, id TEXT NOT NULL,
    case_key TEXT NOT NULL, digest BLOB NOT NULL, normalised INTEGER NOT NULL, salt INTEGER NOT NULL,
    signature BLOB);
CREATE INDEX IF NOT EXISTS records_id ON records(id, version);
CREATE INDEX IF NOT EXISTS records_case ON records(case_key, version);
CREATE INDEX IF NOT EXISTS records_normalised ON records(normalised, version);
CREATE INDEX IF NOT EXISTS records_salt ON records(salt, version);
CREATE INDEX IF NOT EXISTS records_version ON records(version, line);
"""
_CHUNK = 500  # values per `IN (...)` query


def cache_root() -> Path:
    """Where indexes of remote datasets are kept: $GOLDSMITH_CACHE_DIR, else ~/.cache/goldsmith."""
    configured = os.environ.get("GOLDSMITH_CACHE_DIR")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "goldsmith"


def index_path(dataset: Dataset) -> Path:
    """The index file of `dataset`: in its folder when it is local, else in the cache folder."""
    root = getattr(dataset.storage, "root", None)
    if isinstance(root, Path):
        return root / dataset.name / "index" / "records.sqlite"
    return cache_root() / hashlib.sha256(dataset.where.encode()).hexdigest()[:24] / "records.sqlite"


def case_key(row: dict) -> str:
    """A record's case key (records written before they carried one: `category:subject`)."""
    facts = row.get("facts") or {}
    subject = facts.get("subject_id") or ",".join(sorted(facts.get("evidence_ids", [])))
    return row.get("case_key") or f"{row['category']}:{subject}"


def line_digest(line: bytes) -> bytes:
    return hashlib.blake2b(line, digest_size=16).digest()


class RecordIndex:
    """The combined index of one dataset (see the module docstring); one per `Dataset` object."""

    def __init__(self, dataset: Dataset, path: Path | None = None):
        self.dataset = dataset
        self.path = index_path(dataset) if path is None else path
        self.db = self._open()
        self._synced: dict[int, str] = {}  # version -> sha256 known current in this process

    # ---- the file ------------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        """The index database; a damaged file is replaced, an unwritable place gives an in-memory index."""
        for attempt in range(2):
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
                return self._prepare(db)
            except sqlite3.DatabaseError:
                if attempt == 0:
                    for suffix in ("", "-journal"):
                        with contextlib.suppress(OSError):
                            Path(f"{self.path}{suffix}").unlink()
            except OSError:
                break
        return self._prepare(sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False))

    @staticmethod
    def _prepare(db: sqlite3.Connection) -> sqlite3.Connection:
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        found = db.execute("SELECT value FROM meta WHERE key='format'").fetchone()
        if found is None:
            db.execute("INSERT OR REPLACE INTO meta VALUES('format', ?)", (FORMAT,))
        elif found[0] != FORMAT:
            raise sqlite3.DatabaseError("index format changed")
        return db

    def close(self) -> None:
        self.db.close()

    # ---- keeping it current -------------------------------------------------------------------
    def sync(self, manifest: Manifest | None, rows: Iterable[tuple] | None = None) -> None:
        """Index every version up to `manifest` that is not indexed yet (reading only their own batches; `rows`
        are `manifest`'s own batch's `record_row`s when its writer has them: the batch is then not read back); drop
        rows a repair made stale."""
        if manifest is None or self._synced.get(manifest.version) == manifest.sha256:
            return
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            known = dict(db.execute("SELECT version, sha256 FROM versions"))
            top = max(known, default=0)
            good = min(top, manifest.version)
            while good > 0:  # the newest indexed version whose digest is still the stored one
                stored = manifest if good == manifest.version else self.dataset.read_manifest(good)
                if known.get(good) == stored.sha256:
                    break
                good -= 1
            if good < min(top, manifest.version):
                db.execute("DELETE FROM versions WHERE version > ?", (good,))
                db.execute("DELETE FROM records WHERE version > ?", (good,))
            for number in range(good + 1, manifest.version + 1):
                current = manifest if number == manifest.version else self.dataset.read_manifest(number)
                self._add(current, rows if number == manifest.version else None)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._synced[manifest.version] = manifest.sha256

    def _add(self, manifest: Manifest, rows: Iterable[tuple] | None) -> None:
        """Index one version from its own batch, after checking its link to the indexed parent: from `rows` (the
        batch's `record_row`s as its writer made them), else from the stored batch, hashed as it is read."""
        db = self.db
        own = manifest.own_batch
        parent = None
        if manifest.parent is not None:
            parent = db.execute("SELECT sha256, base FROM versions WHERE version = ?", (manifest.parent,)).fetchone()
            if parent is None:
                raise self.dataset.damaged(
                    f"{self.dataset.name}@v{manifest.version}: its parent v{manifest.parent} is missing"
                )
        self.dataset.check_link(manifest)
        replacing = manifest.replaces or parent is None
        base = manifest.version if replacing else parent[1]
        db.execute(
            "INSERT INTO versions VALUES(?, ?, ?, ?, ?, ?, ?)",
            (manifest.version, manifest.sha256, base, manifest.operation, manifest.run_id, own.sha256, own.records),
        )
        if rows is None:
            rows = _parsed(self.dataset.batch_bytes(own, manifest.version).splitlines())
        db.executemany(
            "INSERT INTO records(version, line, id, case_key, digest, normalised, salt, signature)"
            " VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
            _rows(manifest.version, rows),
        )

    # ---- reading ---------------------------------------------------------------------------------
    def span(self, manifest: Manifest) -> tuple[int, int]:
        """The versions whose rows make up `manifest`'s content: (base, version)."""
        self.sync(manifest)
        found = self.db.execute("SELECT base FROM versions WHERE version = ?", (manifest.version,)).fetchone()
        return int(found[0]), manifest.version

    def known(self, manifest: Manifest | None, ids: Iterable[str]) -> set[str]:
        """Which of `ids` the version holds."""
        return self._which(manifest, "id", ids)

    def held_case_keys(self, manifest: Manifest | None, keys: Iterable[str]) -> set[str]:
        """Which of the case keys `keys` the version holds."""
        return self._which(manifest, "case_key", keys)

    def _which(self, manifest: Manifest | None, column: str, values: Iterable[str]) -> set[str]:
        if manifest is None:
            return set()
        low, high = self.span(manifest)
        wanted = set(values)
        if manifest.records <= len(wanted):  # fewer records than values asked about: read the version's instead
            query = f"SELECT {column} FROM records WHERE version BETWEEN ? AND ?"
            return {row[0] for row in self.db.execute(query, (low, high)) if row[0] in wanted}
        values = sorted(wanted)
        found: set[str] = set()
        for start in range(0, len(values), _CHUNK):
            chunk = values[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            found.update(
                row[0]
                for row in self.db.execute(
                    f"SELECT {column} FROM records WHERE {column} IN ({marks}) AND version BETWEEN ? AND ?",
                    (*chunk, low, high),
                )
            )
        return found

    def column(self, manifest: Manifest | None, column: str) -> Iterator[str]:
        """Every record's `column` (id or case_key) in the version, in dataset order."""
        if manifest is None:
            return iter(())
        low, high = self.span(manifest)
        query = f"SELECT {column} FROM records WHERE version BETWEEN ? AND ? ORDER BY rec"
        return (row[0] for row in self.db.execute(query, (low, high)))

    def rows(self, version: int) -> list[tuple[str, bytes, int]]:
        """(id, line digest, line number) of the records a version's own batch holds (it must be indexed)."""
        query = "SELECT id, digest, line FROM records WHERE version = ? ORDER BY line"
        return [(i, bytes(d), n) for i, d, n in self.db.execute(query, (version,))]

    def content(self, manifest: Manifest) -> dict[str, tuple[bytes, int, int]]:
        """id -> (line digest, version, line number) of every record of the version."""
        low, high = self.span(manifest)
        query = "SELECT id, digest, version, line FROM records WHERE version BETWEEN ? AND ? ORDER BY rec"
        return {i: (bytes(d), v, n) for i, d, v, n in self.db.execute(query, (low, high))}

    def committed_by(self, latest: Manifest | None, run_id: str) -> set[str]:
        """Ids that appends of run `run_id` committed, up to `latest`."""
        if latest is None:
            return set()
        self.sync(latest)
        query = (
            "SELECT r.id FROM records r JOIN versions v ON r.version = v.version "
            "WHERE v.run_id = ? AND v.operation = 'append' AND v.version <= ?"
        )
        return {row[0] for row in self.db.execute(query, (run_id, latest.version))}

    def prompts(self, manifest: Manifest | None) -> StoredVersion | None:
        """The version's prompts, for a `PromptIndex` base (`store.dedup.StoredPrompts`)."""
        if manifest is None:
            return None
        return StoredVersion(self, *self.span(manifest))


class StoredVersion:
    """One version's prompts in the index, read lazily (`store.dedup.StoredPrompts`)."""

    def __init__(self, index: RecordIndex, low: int, high: int):
        self.db = index.db
        self.low, self.high = low, high
        self._size: int | None = None

    def __len__(self) -> int:
        if self._size is None:
            query = "SELECT COUNT(*) FROM records WHERE version BETWEEN ? AND ?"
            self._size = int(self.db.execute(query, (self.low, self.high)).fetchone()[0])
        return self._size

    def normalised_of(self, key: str) -> int | None:
        query = "SELECT normalised FROM records WHERE id = ? AND version BETWEEN ? AND ? ORDER BY rec LIMIT 1"
        found = self.db.execute(query, (key, self.low, self.high)).fetchone()
        return None if found is None else int(found[0])

    def first_with(self, normalised: int) -> str | None:
        query = "SELECT id FROM records WHERE normalised = ? AND version BETWEEN ? AND ? ORDER BY rec LIMIT 1"
        found = self.db.execute(query, (normalised, self.low, self.high)).fetchone()
        return None if found is None else str(found[0])

    def with_salt(self, salt: int) -> list[tuple[str, int, bytes]]:
        query = (
            "SELECT id, rec, signature FROM records WHERE salt = ? AND version BETWEEN ? AND ? "
            "AND signature IS NOT NULL ORDER BY rec"
        )
        return [(i, int(r), bytes(s)) for i, r, s in self.db.execute(query, (salt, self.low, self.high))]


def record_row(line: bytes, record_id: str, key: str, prompt: str) -> tuple:
    """What the index keeps of one record, its line (without the newline) and that line's id, case key and prompt:
    (id, case key, line digest, the prompt's fingerprint: normalised hash, salt, signature)."""
    printed = fingerprint(prompt)
    return record_id, key, line_digest(line), printed.normalised, printed.salt, printed.signature


def _rows(version: int, rows: Iterable[tuple]) -> Iterator[tuple]:
    """The index rows of a version's `record_row`s, in batch order."""
    for number, row in enumerate(rows, 1):
        yield version, number, *row


def _parsed(lines: Iterable[bytes]) -> Iterator[tuple]:
    """The `record_row`s of a batch's lines (without their newlines)."""
    for line in lines:
        row = json.loads(line)
        yield record_row(line, row["id"], case_key(row), row["prompt"])
