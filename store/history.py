"""A dataset's versions read back: verify every version against its manifest, repair a damaged dataset by
setting its damaged versions aside, and diff two versions."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import TypeAdapter

from config import InputError
from store.dataset import BatchRef, Dataset, Manifest, batch_index, chain_digest, index_row
from store.records import Example


@dataclass
class Verification:
    """What `check` found: the problems in the order found, the versions they damage, and the index files
    (derived data) that disagree with their sound batch."""

    versions: list[int]
    problems: list[str] = field(default_factory=list)
    damaged: set[int] = field(default_factory=set)
    stale_indexes: list[BatchRef] = field(default_factory=list)

    @property
    def last_good(self) -> int | None:
        """The newest version that neither it nor any version before it is damaged; None when v1 is."""
        first = min(self.damaged, default=None)
        good = [v for v in self.versions if first is None or v < first]
        return good[-1] if good else None


def verify(
    dataset: Dataset, *, workers: int = 1, on_progress: Callable[[int, int], None] | None = None
) -> tuple[int, list[str]]:
    """(versions checked, problems); see `check`."""
    found = check(dataset, workers=workers, on_progress=on_progress)
    return len(found.versions), found.problems


@dataclass
class _Content:
    """What `check` knows of the content of the version it checked last (the next one's parent)."""

    batches: list[BatchRef] = field(default_factory=list)
    bad: bool = False  # a batch of it is missing or damaged
    records: int = 0  # the records its batches hold
    ids: set[str] | None = field(default_factory=set)  # its ids, when every batch is sound
    twice: set[str] = field(default_factory=set)  # ids it holds more than once


PARALLEL_FROM = 50_000  # records: below, worker processes would take longer to start than they save
HERE_FROM = 100_000  # records: a batch this big (one large import) is checked here, not copied to a worker


def check(dataset: Dataset, *, workers: int = 1, on_progress: Callable[[int, int], None] | None = None) -> Verification:
    """Every manifest parses, every batch file's sha256 and line count, every manifest's chain digest and
    lineage, every record's schema, and no id twice within a version. Reports damage, never raises on it.

    Streams: each batch is read, hashed and validated once, on its own, and each version's content is its
    parent's plus its batch (or its batch alone, for a re-validation or review), so the memory held is a few
    batches, the ids of one version and the manifests. With `workers` > 1 and at least `PARALLEL_FROM` records,
    the batches are hashed and validated in that many worker processes, two each ahead of the version being
    checked (`BatchChecks`); what is found is the same. `on_progress(records checked, records)` after each batch."""
    found = Verification(dataset.versions())
    manifests: dict[int, Manifest | None] = {}
    for number in found.versions:
        try:
            manifests[number] = dataset.read_manifest(number, cached=False)
        except InputError:
            manifests[number] = None
    planned = _planned(manifests)
    total = sum(batch.records for batch in planned)
    checked = 0
    sound: dict[str, bool] = {}  # per batch file, checked once
    fresh: dict[str, list[str]] = {}  # the ids of batches just checked, until a version takes them in
    state: _Content | None = None  # the content of the version before, None when unknown

    def problem(number: int, text: str) -> None:
        found.problems.append(f"{dataset.name}@v{number}: {text}")
        found.damaged.add(number)

    with BatchChecks(dataset, planned, workers if total >= PARALLEL_FROM else 1) as checks:
        for number in found.versions:
            manifest = manifests[number]
            if manifest is None:
                url = dataset.storage.url(dataset.manifest_key(number))
                problem(number, f"the manifest {url} is not a valid manifest (empty, truncated or changed)")
                state = None
                continue
            # the version before is its parent: `state` is that version's content
            parent = manifests.get(number - 1) if manifest.parent == number - 1 else None
            if manifest.parent is not None and parent is None:
                problem(number, f"parent v{manifest.parent} is missing or unreadable")
                state = None
                continue
            own = manifest.own_batch
            listed = manifest.batches
            base = state if (parent is not None and not manifest.replaces) else _Content()
            for batch in listed if listed is not None else [own]:
                if batch.file not in sound:
                    findings = checks.get(batch)
                    found.problems += [f"{dataset.name}@v{number}: {text}" for text in findings.problems]
                    if findings.stale_index:
                        found.stale_indexes.append(batch)
                    sound[batch.file] = findings.ids is not None
                    if findings.ids is not None:
                        fresh[batch.file] = findings.ids
                    checked += batch.records
                    if on_progress is not None:
                        on_progress(checked, max(total, checked))
            expected = chain_digest(parent.sha256 if parent else None, own.sha256)
            if manifest.sha256 != expected:
                problem(number, f"sha256 {manifest.sha256[:12]}… does not match its batches ({expected[:12]}…)")
            if (
                listed is not None
                and not manifest.replaces
                and parent
                and (base is None or listed[:-1] != base.batches)
            ):
                problem(number, f"an {manifest.operation} must keep its parent's batches unchanged")
            batches = listed if listed is not None else [*(base.batches if base else []), own]
            state = _grow(dataset, base, batches, sound, fresh)
            fresh.clear()
            if state.bad:
                found.damaged.add(number)
            if state.records != manifest.records:
                problem(number, f"manifest says {manifest.records} records, its batches hold a different number")
            if state.twice:
                problem(number, f"{len(state.twice)} ids appear more than once (first: {min(state.twice)})")
    return found


def _planned(manifests: dict[int, Manifest | None]) -> list[BatchRef]:
    """Every batch the manifests list, in the order `check` first comes to each."""
    planned: dict[str, BatchRef] = {}
    for manifest in manifests.values():
        if manifest is not None:
            for batch in manifest.batches if manifest.batches is not None else [manifest.own_batch]:
                planned.setdefault(batch.file, batch)
    return list(planned.values())


def _grow(
    dataset: Dataset,
    base: _Content | None,
    batches: list[BatchRef],
    sound: dict[str, bool],
    fresh: dict[str, list[str]],
) -> _Content:
    """The content of a version made of `batches`: `base` (its parent's, when `batches` extends it) plus the
    new batch's ids, else counted afresh from every batch."""
    extends = base is not None and batches[: len(base.batches)] == base.batches
    if not extends or base is None:
        base, new = _Content(), batches
    else:
        new = batches[len(base.batches) :]
    content = _Content(
        batches=batches,
        bad=base.bad or any(not sound.get(b.file, False) for b in new),
        records=base.records + sum(b.records for b in new),
        ids=None if base.ids is None else base.ids,
        twice=set(base.twice),
    )
    if content.bad or content.ids is None:
        content.ids = None
        content.twice = set()
        return content
    for batch in new:
        for id_ in fresh.get(batch.file) or _batch_ids(dataset, batch):
            if id_ in content.ids:
                content.twice.add(id_)
            content.ids.add(id_)
    return content


def _batch_ids(dataset: Dataset, batch: BatchRef) -> list[str]:
    data = dataset.storage.read(dataset.key("batches", batch.file)) or b""
    return [json.loads(line)["id"] for line in data.splitlines()]


_RECORDS = TypeAdapter(list[Example])


@dataclass
class BatchFindings:
    """What checking one batch found: its ids when its digest, line count and records are all sound (else None),
    the problems (without the version: a batch may be listed by many), and whether its index file disagrees."""

    ids: list[str] | None
    problems: list[str] = field(default_factory=list)
    stale_index: bool = False


def batch_findings(batch: BatchRef, data: bytes | None, index: bytes | None) -> BatchFindings:
    """Check a batch's bytes (`data`, None when missing) against its reference, and its index file, when there
    is one, against its records."""
    if data is None:
        return BatchFindings(None, [f"batch {batch.file} is missing"])
    if hashlib.sha256(data).hexdigest() != batch.sha256:
        return BatchFindings(None, [f"batch {batch.file} does not match its sha256 (changed or torn)"])
    lines = data.splitlines()
    if len(lines) != batch.records:
        return BatchFindings(None, [f"batch {batch.file} has {len(lines)} lines, the manifest says {batch.records}"])
    records: list[Example] | None = None
    try:  # the whole batch in one call (fast); on any doubt, line by line to name the line
        records = _RECORDS.validate_json(b"[" + b",".join(lines) + b"]")
    except ValueError:
        records = None
    if records is None or len(records) != len(lines):
        for n, line in enumerate(lines, 1):
            try:
                Example.model_validate_json(line)
            except ValueError:
                return BatchFindings(None, [f"batch {batch.file} line {n} is not a valid record"])
        records = [Example.model_validate_json(line) for line in lines]
    findings = BatchFindings([record.id for record in records])
    from_records = b"".join(index_row(record.id, record.prompt) for record in records)  # no second parse
    if index is not None and index != from_records and index != batch_index(data):
        findings.problems.append(f"the index of batch {batch.file} does not match it (delete the .index file)")
        findings.stale_index = True
    return findings


def _batch_key(batch: BatchRef) -> tuple[str, str, int]:
    """A batch reference as a key: the same file under another digest or count is another batch to check."""
    return batch.file, batch.sha256, batch.records


class BatchChecks:
    """The findings of each batch `check` asks for, in the order `planned` lists them: checked here, or with
    `workers` > 1 in that many worker processes, up to two batches each ahead of the one asked for (read here,
    from any storage, and handed over as bytes). A batch asked for out of that order, or of `HERE_FROM` records or
    more, is checked here."""

    def __init__(self, dataset: Dataset, planned: list[BatchRef], workers: int = 1):
        self.dataset = dataset
        self.ahead = iter(planned)
        self.pending: dict[tuple[str, str, int], Future[BatchFindings]] = {}  # in planned order
        self.window = 2 * workers
        self.pool: ProcessPoolExecutor | None = None
        if workers > 1:  # a fresh interpreter per worker: nothing of this process inherited
            self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))

    def __enter__(self) -> BatchChecks:
        return self

    def __exit__(self, *_: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)

    def get(self, batch: BatchRef) -> BatchFindings:
        if self.pool is None:
            return batch_findings(batch, *self._read(batch))
        self._fill()
        key = _batch_key(batch)
        if key not in self.pending:
            return batch_findings(batch, *self._read(batch))
        while (first := next(iter(self.pending))) != key:  # planned before it, never asked for: not needed
            self.pending.pop(first).cancel()
        findings = self.pending.pop(key).result()
        self._fill()
        return findings

    def _fill(self) -> None:
        assert self.pool is not None
        while len(self.pending) < self.window and (batch := next(self.ahead, None)) is not None:
            if batch.records < HERE_FROM:
                self.pending[_batch_key(batch)] = self.pool.submit(batch_findings, batch, *self._read(batch))

    def _read(self, batch: BatchRef) -> tuple[bytes | None, bytes | None]:
        storage = self.dataset.storage
        return storage.read(self.dataset.key("batches", batch.file)), storage.read(self.dataset.index_key(batch))


@dataclass
class RepairPlan:
    """What `repair` will do: set aside every version from the first damaged one on (a later version builds
    on it), so the last good version becomes the latest, and rebuild index files that disagree with their
    batch. Nothing is deleted: the manifests set aside are kept under `folder`, with the problems found."""

    found: Verification
    set_aside: list[int]
    keep: Manifest | None  # the latest version after the repair; None when v1 itself is damaged
    newest: Manifest | None  # the newest readable version set aside, for what the repair loses
    folder: str  # the key of <name>/damaged/<timestamp>

    @property
    def needed(self) -> bool:
        return bool(self.set_aside or self.found.stale_indexes)


def plan_repair(dataset: Dataset) -> RepairPlan:
    """Find the damage (`check`) and what repairing it takes; changes nothing."""
    found = check(dataset)
    last_good = found.last_good  # the latest version when nothing is damaged
    set_aside = [v for v in found.versions if last_good is None or v > last_good]
    newest = None
    for number in reversed(set_aside):
        try:
            newest = dataset.read_manifest(number)
            break
        except InputError:
            continue
    keep = dataset.read_manifest(last_good) if last_good is not None else None
    folder = dataset.key("damaged", datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"))
    return RepairPlan(found, set_aside, keep, newest, folder)


def repair(dataset: Dataset, plan: RepairPlan) -> None:
    """Do `plan`: copy each manifest set aside (and the problems found) into the plan's folder, then remove
    the originals, newest first, so the versions left are always v1..vN; then rebuild stale index files."""
    storage = dataset.storage
    if plan.set_aside:
        storage.write(f"{plan.folder}/problems.txt", "".join(p + "\n" for p in plan.found.problems).encode())
        for number in plan.set_aside:
            data = storage.read(dataset.manifest_key(number))
            if data is not None:
                storage.write(f"{plan.folder}/v{number:04d}.json", data)
        for number in reversed(plan.set_aside):
            storage.delete(dataset.manifest_key(number))
    for batch in plan.found.stale_indexes:
        data = storage.read(dataset.key("batches", batch.file))
        if data is not None and hashlib.sha256(data).hexdigest() == batch.sha256:
            storage.write(dataset.index_key(batch), batch_index(data))


@dataclass
class Change:
    id: str
    version: int
    reason: str


@dataclass
class Diff:
    old: int
    new: int
    added: list[Change] = field(default_factory=list)
    removed: list[Change] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)


def diff(dataset: Dataset, old: int, new: int) -> Diff:
    """What happened to each example between two versions, attributed to the version that did it.

    Read from the dataset's index (store/index.py): an append's rows are what it added, so a range of appends
    costs O(records added); a re-validation or review in the range compares the versions' line digests, and
    only the batches holding a changed record are read, to say what changed."""
    result = Diff(old, new)
    index = dataset.record_index
    manifests = {number: dataset.manifest(number) for number in range(old, new + 1)}
    index.sync(manifests[new])
    if not any(manifests[number].replaces for number in range(old + 1, new + 1)):
        for number in range(old + 1, new + 1):
            cause = _cause(manifests[number])
            result.added.extend(Change(id_, number, f"added by {cause}") for id_, _, _ in index.rows(number))
        result.added.sort(key=lambda change: change.id)
        return result
    lines = _Lines(dataset, manifests)
    before = index.content(manifests[old])
    state = dict(before)
    events: dict[str, dict[str, tuple[int, str]]] = {}  # id → kind → the latest (version, reason) of that kind
    for number in range(old + 1, new + 1):
        manifest = manifests[number]
        cause = _cause(manifest)
        rows = {id_: (digest, number, line) for id_, digest, line in index.rows(number)}
        content = rows if manifest.replaces else {**state, **rows}
        for id_ in rows.keys() - state.keys():
            events.setdefault(id_, {})["added"] = (number, f"added by {cause}")
        if manifest.replaces:
            for id_ in state.keys() - content.keys():
                events.setdefault(id_, {})["removed"] = (number, f"removed by {cause}")
        for id_ in rows.keys() & state.keys():
            if content[id_][0] != state[id_][0]:
                what = _what_changed(lines.of(state[id_]), lines.of(content[id_]))
                events.setdefault(id_, {})["changed"] = (number, f"{what} by {cause}")
        state = content
    for id_, kinds in sorted(events.items()):
        in_old, in_new = id_ in before, id_ in state
        if in_new and not in_old:
            result.added.append(Change(id_, *kinds["added"]))
        elif in_old and not in_new:
            result.removed.append(Change(id_, *kinds["removed"]))
        elif in_old and in_new and before[id_][0] != state[id_][0]:
            result.changed.append(Change(id_, *kinds["changed"]))
    return result


class _Lines:
    """Record lines by (version, line number), reading each version's own batch at most once."""

    def __init__(self, dataset: Dataset, manifests: dict[int, Manifest]):
        self.dataset = dataset
        self.manifests = manifests
        self.batches: dict[int, list[bytes]] = {}

    def of(self, where: tuple[bytes, int, int]) -> bytes:
        _, version, line = where
        if version not in self.batches:
            manifest = self.manifests.get(version) or self.dataset.manifest(version)
            self.batches[version] = self.dataset.batch_bytes(manifest.own_batch, version).splitlines()
        return self.batches[version][line - 1]


def _cause(manifest: Manifest) -> str:
    rubric = f"rubric {manifest.rubric.get('id')}@{manifest.rubric.get('version')}"
    if manifest.operation == "revalidate":
        return f"re-validation against {rubric} (run {manifest.run_id})"
    if manifest.operation == "review":
        return f"SME review (run {manifest.run_id})"
    return f"generation run {manifest.run_id} ({rubric})"


def _what_changed(old: bytes, new: bytes) -> str:
    before, after = json.loads(old), json.loads(new)
    review = after["provenance"].get("review")
    if review and review != before["provenance"].get("review"):
        done = {"approve": "approved", "correct": "corrected", "promote": "promoted"}[review["decision"]]
        return f"{done} (SME {review['reviewer']})"
    if before["reference_answer"] != after["reference_answer"]:
        return "answer repaired"
    return "critique re-judged"
