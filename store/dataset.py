"""A golden dataset in a storage location: immutable numbered versions made of append-only batch files.

    <location>/<name>/dataset.json                  what the dataset is bound to: domain, version, world seed
    <location>/<name>/batches/<sha>.jsonl           records, one JSON object per line, named by content hash
    <location>/<name>/batches/<sha>.index           [id, prompt] per record of that batch, derived
    <location>/<name>/versions/v0001.json           a version's manifest: parent, its batch, counts, digest, lineage
    <location>/<name>/index/records.sqlite          ids, case keys, prompt fingerprints per version (store/index.py)
    <location>/<name>/review/<run>.jsonl            episodes that produced no example, with the reasons
    <location>/<name>/runs/<run>/                   a run's plan, episode checkpoints and summary
    <location>/<name>/damaged/<time>/               manifests `dataset repair` set aside (store/history.py)

A manifest (schema 2) names its parent and its own batch only: an append or import is its parent's content
followed by its batch, a re-validation or review's batch is the whole content. A version's batch list is found
by walking the parent chain (`batches`); schema-1 manifests, which list every batch, are read as they are, and a
schema-2 version may build on a schema-1 parent. Appending writes only the new batch and a manifest (O(batch)),
and any version exports byte-identically forever. Creating the next version's manifest is an exclusive create
(the storage's compare-and-swap): two writers cannot both make v5; the loser rebases and retries. The location
is a local directory or `s3://bucket/prefix` (store/storage.py).

Opening a version checks it: its manifest must parse, and its sha256 must chain its parent's and its batch's;
listing its batches checks every link back to the version that holds its whole content, and every batch read
must match its sha256. Damage is an InputError naming the file and pointing to `dataset verify` and `dataset
repair`. A writer refuses to build on a version whose manifest, chain link or own batch is damaged, and on any
version it has to index (store/index.py); older batches are checked by `dataset verify` (docs/store.md).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import pickle
import platform
import re
import sqlite3
import subprocess
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from importlib import metadata
from itertools import chain, islice
from operator import attrgetter
from pathlib import Path
from typing import IO, Any, Literal, NamedTuple, TypeVar

from pydantic import Field, ValidationError, model_validator

from config import InputError
from store.dedup import PromptIndex
from store.files import TEMP_PREFIX
from store.index import RecordIndex, case_key, record_row
from store.records import Example, ReviewItem, Strict, utc_now
from store.storage import Storage, open_storage
from store.streams import Spool, write_stream

MANIFEST_SCHEMA_VERSION = 2  # 1: `batches` lists every batch of the version; 2: `batch` is the version's own
BINDING_SCHEMA_VERSION = 1
Operation = Literal["append", "revalidate", "import", "review"]
REPLACING: frozenset[str] = frozenset({"revalidate", "review"})  # operations whose one batch is the whole content
T = TypeVar("T")
Record = Example | bytes  # an example, or its JSON line as `Example.model_dump_json` writes it (encoded)
_ID_CHUNK = 64  # lines whose ids an append looks up in the index at once (their lines are held meanwhile)


class DatasetInfo(Strict):
    """What a dataset is bound to from its creation: its examples are only true in this world."""

    schema_version: int = BINDING_SCHEMA_VERSION
    name: str
    domain: str
    domain_version: str
    world_seed: int
    created_at: str


class BatchRef(Strict):
    file: str
    sha256: str
    records: int


class Manifest(Strict):
    """One immutable version of a dataset, and how it came to be."""

    schema_version: int = MANIFEST_SCHEMA_VERSION
    dataset: str
    version: int
    parent: int | None
    operation: Operation = "append"
    created_at: str
    run_id: str
    domain: str
    domain_version: str
    world_seed: int
    rubric: dict[str, str]
    models: dict[str, str | list[str]]
    generation: dict[str, Any]
    environment: dict[str, Any]
    batch: BatchRef | None = Field(
        None, description="schema 2: the batch this version wrote (added to the parent's content, or replacing it)"
    )
    batches: list[BatchRef] | None = Field(None, min_length=1, description="schema 1: every batch of the version")
    added: int
    removed: int = 0
    records: int
    categories: dict[str, int]
    difficulties: dict[str, int]
    sha256: str = Field(description="sha256 chain over the batch digests: sha256(parent.sha256 + batch.sha256)")

    @model_validator(mode="after")
    def _one_layout(self) -> Manifest:
        if self.schema_version == 1 and (self.batches is None or self.batch is not None):
            raise ValueError("a schema-1 manifest lists its batches")
        if self.schema_version == 2 and (self.batch is None or self.batches is not None):
            raise ValueError("a schema-2 manifest names its own batch")
        if self.schema_version not in (1, 2):
            raise ValueError(f"manifest schema {self.schema_version} is not one this Goldsmith reads")
        return self

    @property
    def own_batch(self) -> BatchRef:
        """The batch this version wrote."""
        if self.batch is not None:
            return self.batch
        assert self.batches is not None
        return self.batches[-1]

    @property
    def replaces(self) -> bool:
        """Whether this version's batch is its whole content (a re-validation or review)."""
        return self.operation in REPLACING

    def dump(self) -> bytes:
        """The manifest file's bytes (a layout's unused field is left out)."""
        return self.model_dump_json(indent=2, exclude={"batches"} if self.batches is None else {"batch"}).encode()


def parse_ref(ref: str) -> tuple[str, int | None]:
    """`kyc` → ("kyc", None) for the latest version; `kyc@v2` → ("kyc", 2)."""
    name, _, version = ref.partition("@")
    if not version:
        return name, None
    if not (version.startswith("v") and version[1:].isdigit() and int(version[1:]) > 0):
        raise InputError(f"{ref}: version must look like @v1, @v2, ...")
    return name, int(version[1:])


def chain_digest(parent: str | None, batch_sha256: str) -> str:
    return hashlib.sha256(f"{parent or ''}{batch_sha256}".encode()).hexdigest()


class Dataset:
    """One named dataset in a storage location (a directory, `s3://bucket/prefix`, or a `Storage`)."""

    def __init__(self, location: Storage | str | Path, name: str, *, index_path: Path | None = None):
        if not name or "/" in name or name.startswith("."):
            raise InputError(f"invalid dataset name {name!r}")
        self.name = name
        self.storage: Storage = open_storage(location) if isinstance(location, str | Path) else location
        self._manifests: dict[int, Manifest] = {}  # parsed manifests (immutable once created)
        self._sound: set[int] = set()  # versions whose link to their parent was checked
        self._contents: dict[int, list[BatchRef]] = {}  # a version's batch list, found by walking its parents
        self._verified: set[tuple[str, str]] = set()  # (file, sha256) of batches read (or written) and sound
        self._listed: list[int] = []  # the versions the last listing found
        self._index_path = index_path
        self._index: RecordIndex | None = None

    @property
    def record_index(self) -> RecordIndex:
        """The dataset's combined, persisted index of ids, case keys and prompts (store/index.py)."""
        if self._index is None:
            self._index = RecordIndex(self, self._index_path)
        return self._index

    @property
    def where(self) -> str:
        return self.storage.url(self.name)

    def key(self, *parts: str) -> str:
        """The storage key of a file of this dataset."""
        return "/".join((self.name, *parts))

    # ---- binding ----------------------------------------------------------------------------
    def info(self) -> DatasetInfo | None:
        data = self.storage.read(self.key("dataset.json"))
        try:
            return None if data is None else DatasetInfo.model_validate_json(data)
        except ValidationError:
            raise InputError(
                f"{self.storage.url(self.key('dataset.json'))}: not a valid dataset binding (empty, truncated or "
                "changed); restore it from a copy (its domain, domain version and world seed are in every manifest)"
            ) from None

    def bind(self, *, domain: str, domain_version: str, world_seed: int | None, default_world_seed: int) -> DatasetInfo:
        """The dataset's binding, creating it on first use; a conflicting request is an InputError."""
        info = self.info()
        if info is None:
            info = DatasetInfo(
                name=self.name,
                domain=domain,
                domain_version=domain_version,
                world_seed=default_world_seed if world_seed is None else world_seed,
                created_at=utc_now(),
            )
            if not self.storage.create(self.key("dataset.json"), info.model_dump_json(indent=2).encode()):
                info = self.info()
        assert info is not None
        if info.domain != domain:
            raise InputError(f"dataset '{self.name}' belongs to domain '{info.domain}', not '{domain}'")
        if info.domain_version != domain_version:
            raise InputError(
                f"dataset '{self.name}' was made with {domain} domain version {info.domain_version}; "
                f"this Goldsmith has version {domain_version}: start a new dataset (--dataset)"
            )
        if world_seed is not None and world_seed != info.world_seed:
            raise InputError(
                f"dataset '{self.name}' is bound to world seed {info.world_seed}; "
                f"--world-seed {world_seed} would make its tool ground truth wrong"
            )
        self.check(self.latest())  # a writer binds before it writes anything: refuse a damaged dataset here
        return info

    # ---- reading ------------------------------------------------------------------------------
    def versions(self) -> list[int]:
        names = self.storage.children(self.key("versions"))
        self._listed = sorted(
            int(n[1:-5]) for n in names if n.startswith("v") and n.endswith(".json") and n[1:-5].isdigit()
        )
        return list(self._listed)

    def manifest(self, version: int | None = None) -> Manifest:
        """The manifest of `version` (latest when None), its link to its parent checked; InputError when there
        is none or it is damaged. The versions are listed again unless `version` was in the last listing."""
        versions = self._listed if version is not None and version in self._listed else self.versions()
        if not versions:
            raise InputError(f"dataset '{self.name}' has no versions in {self.storage.url()}")
        version = versions[-1] if version is None else version
        if version not in versions:
            raise InputError(f"dataset '{self.name}' has no version v{version}; it has v1..v{versions[-1]}")
        manifest = self.read_manifest(version)
        self.check_link(manifest)
        return manifest

    def latest(self) -> Manifest | None:
        return self.manifest() if self.versions() else None

    def manifest_key(self, version: int) -> str:
        return self.key("versions", f"v{version:04d}.json")

    def read_manifest(self, version: int, *, cached: bool = True) -> Manifest:
        """The manifest of `version` as stored, parsed but its lineage unchecked; InputError if it is missing
        or does not parse (empty, truncated, edited). `cached=False` reads it again (what `dataset verify` does)."""
        if cached and version in self._manifests:
            return self._manifests[version]
        key = self.manifest_key(version)
        data = self.storage.read(key)
        if data is None:
            raise self.damaged(f"{self.storage.url(key)}: missing")
        try:
            manifest = Manifest.model_validate_json(data)
        except ValueError:
            manifest = None
        if manifest is None or manifest.version != version:
            raise self.damaged(f"{self.storage.url(key)}: not a valid manifest (empty, truncated or changed)")
        self._manifests[version] = manifest
        return manifest

    def check_link(self, manifest: Manifest) -> None:
        """Check one link of the chain: the parent exists and parses, the sha256 chains the parent's and the
        version's own batch's, and a schema-1 append lists its parent's batches unchanged. Once per object."""
        if manifest.version in self._sound:
            return
        where = f"{self.name}@v{manifest.version}"
        parent = None
        if manifest.parent is not None:
            known = manifest.parent in self._manifests or manifest.parent in self._listed
            if manifest.parent != manifest.version - 1 or (
                not known and self.storage.read(self.manifest_key(manifest.parent)) is None
            ):
                raise self.damaged(f"{where}: its parent v{manifest.parent} is missing")
            parent = self.read_manifest(manifest.parent)
        if manifest.sha256 != chain_digest(parent.sha256 if parent else None, manifest.own_batch.sha256):
            raise self.damaged(
                f"{self.storage.url(self.manifest_key(manifest.version))}: its sha256 does not match its "
                "parent's and its last batch's"
            )
        if manifest.batches is not None and not manifest.replaces:
            kept = [] if parent is None else parent.batches if parent.batches is not None else self.batches(parent)
            if manifest.batches[:-1] != kept:
                raise self.damaged(f"{where}: an {manifest.operation} must keep its parent's batches unchanged")
        self._sound.add(manifest.version)

    def batches(self, manifest: Manifest) -> list[BatchRef]:
        """Every batch of the version, in order: its parents' (back to the version holding its whole content)
        and its own. Each link walked is checked (`check_link`); the list is kept per object."""
        if manifest.version in self._contents:
            return self._contents[manifest.version]
        chain: list[BatchRef] = []
        current: Manifest | None = manifest
        start: list[BatchRef] = []
        while current is not None:
            self.check_link(current)
            if current.batches is not None:  # schema 1 lists them all: check the links they span
                start = current.batches
                while current.parent is not None and not current.replaces and current.parent not in self._sound:
                    current = self.read_manifest(current.parent)
                    self.check_link(current)
                break
            if current.version in self._contents:
                start = self._contents[current.version]
                break
            chain.append(current.own_batch)
            if current.replaces or current.parent is None:
                break
            current = self.read_manifest(current.parent)
        batches = [*start, *reversed(chain)]
        self._contents[manifest.version] = batches
        return batches

    def damaged(self, problem: str) -> InputError:
        """The one-line error for damage found while reading: what is wrong, and the commands that fix it."""
        root = self.storage.url()
        where = "" if root == "output" else f" --output-dir {root}"
        return InputError(
            f"{problem}; run `python main.py dataset verify {self.name}{where}`, "
            f"then `python main.py dataset repair {self.name}{where}`"
        )

    def index_key(self, batch: BatchRef) -> str:
        """The key of a batch's index file: `[id, prompt]` per record (derived; rebuilt when missing)."""
        return self.key("batches", batch.file.removesuffix(".jsonl") + ".index")

    def batch_bytes(self, batch: BatchRef, version: int | None = None) -> bytes:
        """A batch's bytes, checked against its sha256 (from the manifest of `version`, for messages);
        InputError when the file is missing, changed or torn."""
        key = self.key("batches", batch.file)
        data = self.storage.read(key)
        listed = f"{self.name}@v{version}" if version else "a version"
        if data is None:
            raise self.damaged(f"{self.storage.url(key)}: missing, but {listed} lists it")
        if hashlib.sha256(data).hexdigest() != batch.sha256:
            raise self.damaged(f"{self.storage.url(key)}: does not match its sha256 in {listed} (changed or torn)")
        self._verified.add((batch.file, batch.sha256))
        return data

    def check(self, manifest: Manifest | None) -> None:
        """Raise InputError unless `manifest` is sound to build on: its link to its parent (`check_link`) and its
        own batch (present, matching its sha256).

        Cost: O(batch). The older batches were each checked when this dataset's index took them in
        (store/index.py: a version is indexed only from sound batch bytes whose chain digest matches), and a
        version's digest chains every batch before it; damage done to an older batch afterwards is found by
        `dataset verify` and by any read of that batch (export, revalidate), not by an append (docs/store.md)."""
        if manifest is None:
            return
        self.check_link(manifest)
        own = manifest.own_batch
        if (own.file, own.sha256) not in self._verified:
            self.batch_bytes(own, manifest.version)

    def iter_bytes(self, manifest: Manifest) -> Iterator[bytes]:
        """The version's content, batch by batch, exactly as stored (each batch checked as it is read)."""
        for batch in self.batches(manifest):
            yield self.batch_bytes(batch, manifest.version)

    def records(self, manifest: Manifest) -> Iterator[Example]:
        for batch in self.batches(manifest):
            for number, line in enumerate(self.batch_bytes(batch, manifest.version).splitlines(), 1):
                try:
                    yield Example.model_validate_json(line)
                except ValidationError as error:
                    where = self.storage.url(self.key("batches", batch.file))
                    problem = error.errors()[0]["msg"]
                    raise InputError(f"{where}:{number}: not a record this Goldsmith can read ({problem})") from None

    def index(self, manifest: Manifest | None) -> list[tuple[str, str]]:
        """(id, prompt) of every record of a version, from the batches' small index files (rebuilt from
        the batch when one is missing), so dedup never has to parse whole records. Each batch is checked
        against its sha256 first (`check`)."""
        if manifest is None:
            return []
        return [entry for batch in self.batches(manifest) for entry in self.batch_entries(batch, manifest.version)]

    def batch_entries(self, batch: BatchRef, version: int | None = None) -> list[tuple[str, str]]:
        """(id, prompt) of every record of one batch, from its index file, once the batch is checked."""
        content = None if (batch.file, batch.sha256) in self._verified else self.batch_bytes(batch, version)
        key = self.index_key(batch)
        data = self.storage.read(key)
        if data is None:
            data = batch_index(content if content is not None else self.batch_bytes(batch, version))
            self.storage.write(key, data)
        return [tuple(json.loads(line)) for line in data.splitlines()]

    def ids(self, manifest: Manifest | None) -> set[str]:
        """Every id of a version (from the index, store/index.py)."""
        return set(self.record_index.column(manifest, "id"))

    def known_ids(self, manifest: Manifest | None, ids: Iterable[str]) -> set[str]:
        """Which of `ids` the version holds: O(len(ids)) index lookups."""
        return self.record_index.known(manifest, ids)

    def case_keys(self, manifest: Manifest | None) -> set[str]:
        """The case keys of a version's records (records written before they carried one: `category:subject`)."""
        return set(self.record_index.column(manifest, "case_key"))

    def held_case_keys(self, manifest: Manifest | None, keys: Iterable[str]) -> frozenset[str]:
        """Which of the case keys `keys` (e.g. every case of the world) the version holds."""
        return frozenset(self.record_index.held_case_keys(manifest, keys))

    def prompt_index(self, manifest: Manifest | None) -> PromptIndex:
        """A `PromptIndex` of the version's prompts, read lazily from the persisted index: nothing is loaded."""
        return PromptIndex(base=self.record_index.prompts(manifest))

    def committed_by(self, run_id: str) -> set[str]:
        """Ids that appends of run `run_id` committed (a resumed run commits each example once)."""
        return self.record_index.committed_by(self.latest(), run_id)

    # ---- writing ------------------------------------------------------------------------------
    def append(
        self,
        examples: Iterable[Record] | CheckedRecords,
        *,
        run_id: str,
        rubric: dict[str, str],
        models: dict[str, str | list[str]],
        generation: dict[str, Any],
        operation: Literal["append", "import"] = "append",
    ) -> tuple[Manifest | None, list[str]]:
        """Commit the examples not already in the dataset as a new version; InputError, writing nothing, when
        the latest version is damaged (its batches are checked, see `check`). `examples` may be `CheckedRecords`
        (checked as they arrived) or any iterable of examples or their JSON lines, read once: they go to a local
        temp file, never all in memory, and are checked as the batch is written.

        Returns (the new manifest, or None when nothing was new; the ids skipped as duplicates)."""
        info = self._bound()
        lineage = {"run_id": run_id, "rubric": rubric, "models": models, "generation": generation}
        with contextlib.ExitStack() as files:
            if isinstance(examples, CheckedRecords):
                records, ident = examples.__iter__, attrgetter("id")  # read again on each try
            else:
                incoming = files.enter_context(tempfile.TemporaryFile(prefix=TEMP_PREFIX))
                for example in examples:
                    incoming.write(record_line(example) + b"\n")
                records, ident = partial(_lines, incoming), line_id
            while True:
                parent = self.latest()
                self.check(parent)  # O(batch): see `check`
                duplicates: list[str] = []
                with self._batch(self._fresh(parent, records(), ident, duplicates)) as batch:
                    if not batch.records:
                        return None, duplicates
                    manifest = self._publish(info, parent, batch, operation=operation, **lineage)
                if manifest is not None:
                    return manifest, duplicates

    def _fresh(
        self, parent: Manifest | None, records: Iterator[T], ident: Callable[[T], str], duplicates: list[str]
    ) -> Iterator[T]:
        """The records whose id (`ident`) neither `parent` nor an earlier record holds, in order; the ids of the
        others go to `duplicates`. The index is asked a chunk of records at a time."""
        seen: set[str] = set()
        while chunk := list(islice(records, _ID_CHUNK)):
            ids = [ident(record) for record in chunk]
            known = self.known_ids(parent, ids)
            for record, example_id in zip(chunk, ids, strict=True):
                if example_id in known or example_id in seen:
                    duplicates.append(example_id)
                else:
                    yield record
                seen.add(example_id)

    def replace(
        self,
        examples: Iterable[Example],
        *,
        based_on: Manifest,
        removed: int,
        run_id: str,
        rubric: dict[str, str],
        models: dict[str, str | list[str]],
        generation: dict[str, Any],
        operation: Literal["revalidate", "review"] = "revalidate",
    ) -> Manifest:
        """Commit `examples` as the whole content of the version after `based_on` (a re-validation, or an SME
        review's publish).

        Fails, writing no version, if another writer committed after `based_on`."""
        info = self._bound()
        changed = InputError(
            f"dataset '{self.name}' got a new version while it was being re-validated; run revalidate again"
        )
        if self.latest() != based_on:
            raise changed
        manifest = self._write_version(
            info,
            based_on,
            examples,
            operation=operation,
            removed=removed,
            run_id=run_id,
            rubric=rubric,
            models=models,
            generation=generation,
        )
        if manifest is None:
            raise changed
        return manifest

    def _bound(self) -> DatasetInfo:
        info = self.info()
        if info is None:
            raise InputError(f"dataset '{self.name}' does not exist in {self.storage.url()}")
        return info

    def _write_version(
        self, info: DatasetInfo, parent: Manifest | None, examples: Iterable[Record], **version: Any
    ) -> Manifest | None:
        """Write the batch and claim the next version (`version`: `_publish`'s keywords); None if another writer
        claimed it first. An append or import builds on the parent's batches and counts; a re-validation or review
        replaces the content."""
        with self._batch(examples) as batch:
            return self._publish(info, parent, batch, **version)

    @contextlib.contextmanager
    def _batch(self, examples: Iterable[Record | Checked]) -> Iterator[Batch]:
        """The examples as a batch in a local temp file, each line checked as it is written (unless it was)."""
        with contextlib.ExitStack() as files:
            batch = Batch(*(files.enter_context(tempfile.TemporaryFile(prefix=TEMP_PREFIX)) for _ in range(3)))
            for example in examples:
                batch.add(example if isinstance(example, Checked) else checked(example))
            yield batch

    def _publish(
        self,
        info: DatasetInfo,
        parent: Manifest | None,
        batch: Batch,
        *,
        operation: Operation,
        removed: int = 0,
        run_id: str,
        rubric: dict[str, str],
        models: dict[str, str | list[str]],
        generation: dict[str, Any],
    ) -> Manifest | None:
        """Store a batch (streamed, under its content's name) and its index file, and claim the next version
        with it; None if another writer claimed that version first."""
        ref = batch.ref()
        # content-addressed: a file already there under this name is these bytes (or damaged); written again whole
        write_stream(self.storage, self.key("batches", ref.file), batch.lines())
        self._verified.add((ref.file, ref.sha256))
        write_stream(self.storage, self.index_key(ref), batch.index_lines())
        replacing = operation in REPLACING
        base = None if replacing else parent
        categories = Counter(base.categories if base else {})
        categories.update(batch.categories)
        difficulties = Counter(base.difficulties if base else {})
        difficulties.update(batch.difficulties)
        version = (parent.version if parent else 0) + 1
        manifest = Manifest(
            dataset=self.name,
            version=version,
            parent=parent.version if parent else None,
            operation=operation,
            created_at=utc_now(),
            run_id=run_id,
            domain=info.domain,
            domain_version=info.domain_version,
            world_seed=info.world_seed,
            rubric=rubric,
            models=models,
            generation=generation,
            environment=environment(),
            batch=ref,
            added=0 if replacing else batch.records,
            removed=removed,
            records=(base.records if base else 0) + batch.records,
            categories=dict(sorted(categories.items())),
            difficulties=dict(sorted(difficulties.items())),
            sha256=chain_digest(parent.sha256 if parent else None, ref.sha256),
        )
        if not self.storage.create(self.manifest_key(version), manifest.dump()):
            return None
        self._manifests[version] = manifest
        self._listed = sorted({*self._listed, version})
        with contextlib.suppress(sqlite3.Error):  # derived: a later command catches up from the batch
            self.record_index.sync(manifest, batch.rows())
        return manifest

    def keep_rubric(self, version: str, content: dict[str, Any]) -> None:
        """Keep the rubric a version was judged with, by its content version, so exports and audits can
        read the exact criteria later even after the rubric file was edited."""
        self.storage.create(self.key("rubrics", f"{version}.json"), json.dumps(content, indent=2).encode())

    def kept_rubric(self, version: str) -> dict[str, Any] | None:
        data = self.storage.read(self.key("rubrics", f"{version}.json"))
        return None if data is None else json.loads(data)

    def write_review(self, run_id: str, items: Iterable[ReviewItem | bytes]) -> str | None:
        """File a run's review queue (items, or their JSON lines), streamed; returns where it went, None when
        there was nothing to file."""
        lines = (item if isinstance(item, bytes) else item.model_dump_json().encode() for item in items)
        first = next(lines, None)
        if first is None:
            return None
        key = self.key("review", f"{run_id}.jsonl")
        write_stream(self.storage, key, (line + b"\n" for line in chain([first], lines)))
        return self.storage.url(key)

    def write_run(self, run_id: str, summary: dict[str, Any]) -> str:
        key = self.key("runs", run_id, "summary.json")
        self.storage.write(key, json.dumps(summary, indent=2).encode())
        return self.storage.url(key)


def batch_index(batch: bytes) -> bytes:
    """A batch's index file: `[id, prompt]` per record, in order."""
    return b"".join(index_line(line) for line in batch.splitlines())


def index_line(line: bytes) -> bytes:
    """One record's line of its batch's index file."""
    row = json.loads(line)
    return index_row(row["id"], row["prompt"])


_LEADING_ID = re.compile(rb'\{"schema_version":\d+,"id":"([^"\\]*)"')


def line_id(line: bytes) -> str:
    """A record line's id: read off its start as Goldsmith writes records (no parse of the whole line), else
    parsed."""
    if found := _LEADING_ID.match(line):
        return found.group(1).decode()
    return json.loads(line)["id"]


def index_row(record_id: str, prompt: str) -> bytes:
    """The index file's line of a record with this id and prompt."""
    return (json.dumps([record_id, prompt], ensure_ascii=False) + "\n").encode()


def record_line(record: Record) -> bytes:
    """A record's JSON line (without the newline), as a batch stores it."""
    return record if isinstance(record, bytes) else record.model_dump_json().encode()


def _lines(file: IO[bytes]) -> Iterator[bytes]:
    """A file's lines from its start, without their newlines."""
    file.seek(0)
    return (line.rstrip(b"\n") for line in file)


class Checked(NamedTuple):
    """A record's line that read back as a valid record, and what its batch and the record index take from it:
    made by `checked` (or read back from `CheckedRecords`), and only then."""

    line: bytes
    id: str
    prompt: str
    case_key: str
    category: str
    difficulty: str


def checked(record: Record) -> Checked:
    """`record`'s line, checked: what is written must read back as a valid record."""
    line = record_line(record)
    example = Example.model_validate_json(line)
    key = example.case_key or case_key(example.model_dump(include={"category", "facts"}))
    return Checked(line, example.id, example.prompt, key, example.category, example.difficulty)


class CheckedRecords:
    """Records checked as they arrive, kept in local temp files (flat memory) until a commit takes them, in key
    order, with nothing left to check: a run checks each accepted example as its episode lands, not all of them
    between its last episode and its commit."""

    def __init__(self) -> None:
        self._lines = Spool()
        self._facts = Spool()  # each line's `Checked` fields after the line, as JSON

    def __len__(self) -> int:
        return len(self._lines)

    def put(self, key: int, record: Record) -> None:
        line, *facts = checked(record)
        self._lines.put(key, line)
        self._facts.put(key, json.dumps(facts).encode())

    def __iter__(self) -> Iterator[Checked]:
        """Every record put, in key order."""
        for line, facts in zip(self._lines.items(), self._facts.items(), strict=True):
            yield Checked(line, *json.loads(facts))

    def close(self) -> None:
        self._lines.close()
        self._facts.close()


class Batch:
    """A batch being written: its lines (checked: see `Checked`) in a local temp file, and their sha256, count and
    categories, taken as they are added."""

    def __init__(self, spool: IO[bytes], index: IO[bytes], rows: IO[bytes]):
        self.spool = spool
        self.index = index  # the batch's index file, made from the records as they are checked
        self.rows_file = rows  # the record index's rows, from the same records (pickled: this process's own file)
        self.sha256 = hashlib.sha256()
        self.records = 0
        self.categories: Counter[str] = Counter()
        self.difficulties: Counter[str] = Counter()

    def add(self, record: Checked) -> None:
        line = record.line
        self.spool.write(line + b"\n")
        self.index.write(index_row(record.id, record.prompt))
        row = record_row(line, record.id, record.case_key, record.prompt)
        pickle.dump(row, self.rows_file, pickle.HIGHEST_PROTOCOL)
        self.sha256.update(line + b"\n")
        self.records += 1
        self.categories[record.category] += 1
        self.difficulties[record.difficulty] += 1

    def ref(self) -> BatchRef:
        digest = self.sha256.hexdigest()
        return BatchRef(file=f"{digest[:24]}.jsonl", sha256=digest, records=self.records)

    def lines(self) -> Iterator[bytes]:
        """The batch's lines as stored, each with its newline."""
        self.spool.flush()
        self.spool.seek(0)
        yield from self.spool

    def index_lines(self) -> Iterator[bytes]:
        """The batch's index file (`batch_index` of its lines), line by line."""
        self.index.flush()
        self.index.seek(0)
        yield from self.index

    def rows(self) -> Iterator[tuple]:
        """The record index's `record_row` of each line, in order."""
        self.rows_file.flush()
        self.rows_file.seek(0)
        for _ in range(self.records):
            yield pickle.load(self.rows_file)


@functools.cache
def environment() -> dict[str, Any]:
    """Where a version was made: git revision (and whether the tree was dirty), Python, key packages. Taken once
    per process, by its first version or when a run starts (`Run`): the code a process runs is what it started
    with."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str | None:
        try:
            return subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=5, check=True
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    packages = {}
    for name in ("strands-agents", "pydantic", "boto3"):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    return {
        "git_revision": git("rev-parse", "HEAD"),
        "git_dirty": bool(git("status", "--porcelain")),
        "python": platform.python_version(),
        "packages": packages,
    }
