"""A dataset's versions read back: verify every version against its manifest, repair a damaged dataset by
setting its damaged versions aside, and diff two versions."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from config import InputError
from store.dataset import REPLACING, BatchRef, Dataset, Manifest, batch_index, chain_digest
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


def verify(dataset: Dataset) -> tuple[int, list[str]]:
    """(versions checked, problems); see `check`."""
    found = check(dataset)
    return len(found.versions), found.problems


def check(dataset: Dataset) -> Verification:
    """Every manifest parses, every batch file's sha256 and line count, every manifest's chain digest and
    lineage, every record's schema, and no id twice within a version. Reports damage, never raises on it."""
    found = Verification(dataset.versions())
    manifests: dict[int, Manifest] = {}
    batch_ids: dict[str, list[str] | None] = {}  # per batch file, checked once: its ids, or None if it is bad

    def problem(number: int, text: str) -> None:
        found.problems.append(f"{dataset.name}@v{number}: {text}")
        found.damaged.add(number)

    for number in found.versions:
        try:
            manifest = manifests[number] = dataset.read_manifest(number)
        except InputError:
            url = dataset.storage.url(dataset.manifest_key(number))
            problem(number, f"the manifest {url} is not a valid manifest (empty, truncated or changed)")
            continue
        for batch in manifest.batches:
            if batch.file not in batch_ids:
                batch_ids[batch.file] = _check_batch(dataset, batch, found, number)
        if any(batch_ids[b.file] is None for b in manifest.batches):
            found.damaged.add(number)
        parent = manifests.get(manifest.parent) if manifest.parent else None
        if manifest.parent is not None and parent is None:
            problem(number, f"parent v{manifest.parent} is missing or unreadable")
            continue
        expected = chain_digest(parent.sha256 if parent else None, manifest.batches[-1].sha256)
        if manifest.sha256 != expected:
            problem(number, f"sha256 {manifest.sha256[:12]}… does not match its batches ({expected[:12]}…)")
        if manifest.operation not in REPLACING and parent and manifest.batches[:-1] != parent.batches:
            problem(number, f"an {manifest.operation} must keep its parent's batches unchanged")
        if sum(b.records for b in manifest.batches) != manifest.records:
            problem(number, f"manifest says {manifest.records} records, its batches hold a different number")
        if all(batch_ids[b.file] is not None for b in manifest.batches):
            ids = Counter(id_ for b in manifest.batches for id_ in batch_ids[b.file] or [])
            twice = sorted(i for i, n in ids.items() if n > 1)
            if twice:
                problem(number, f"{len(twice)} ids appear more than once (first: {twice[0]})")
    return found


def _check_batch(dataset: Dataset, batch: BatchRef, found: Verification, number: int) -> list[str] | None:
    """The ids of a batch whose digest, line count and records are all sound; None (and a problem) if not."""
    where = f"{dataset.name}@v{number}"
    data = dataset.storage.read(dataset.key("batches", batch.file))
    if data is None:
        found.problems.append(f"{where}: batch {batch.file} is missing")
        return None
    if hashlib.sha256(data).hexdigest() != batch.sha256:
        found.problems.append(f"{where}: batch {batch.file} does not match its sha256 (changed or torn)")
        return None
    lines = data.splitlines()
    if len(lines) != batch.records:
        found.problems.append(f"{where}: batch {batch.file} has {len(lines)} lines, the manifest says {batch.records}")
        return None
    ids = []
    for n, line in enumerate(lines, 1):
        try:
            ids.append(Example.model_validate_json(line).id)
        except ValueError:
            found.problems.append(f"{where}: batch {batch.file} line {n} is not a valid record")
            return None
    index = dataset.storage.read(dataset.index_key(batch))
    if index is not None and index != batch_index(data):
        found.problems.append(f"{where}: the index of batch {batch.file} does not match it (delete the .index file)")
        found.stale_indexes.append(batch)
    return ids


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

    Every version from `old` to `new` is read, so each change names its version and cause."""
    result = Diff(old, new)
    before = _by_id(dataset, dataset.manifest(old))
    state = dict(before)
    events: dict[str, dict[str, tuple[int, str]]] = {}  # id → kind → the latest (version, reason) of that kind
    for number in range(old + 1, new + 1):
        manifest = dataset.manifest(number)
        content = _by_id(dataset, manifest)
        cause = _cause(manifest)
        for id_ in content.keys() - state.keys():
            events.setdefault(id_, {})["added"] = (number, f"added by {cause}")
        for id_ in state.keys() - content.keys():
            events.setdefault(id_, {})["removed"] = (number, f"removed by {cause}")
        for id_ in content.keys() & state.keys():
            if content[id_] != state[id_]:
                events.setdefault(id_, {})["changed"] = (
                    number,
                    f"{_what_changed(state[id_], content[id_])} by {cause}",
                )
        state = content
    for id_, kinds in sorted(events.items()):
        in_old, in_new = id_ in before, id_ in state
        if in_new and not in_old:
            result.added.append(Change(id_, *kinds["added"]))
        elif in_old and not in_new:
            result.removed.append(Change(id_, *kinds["removed"]))
        elif in_old and in_new and before[id_] != state[id_]:
            result.changed.append(Change(id_, *kinds["changed"]))
    return result


def _by_id(dataset: Dataset, manifest: Manifest) -> dict[str, bytes]:
    return {json.loads(line)["id"]: line for chunk in dataset.iter_bytes(manifest) for line in chunk.splitlines()}


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
