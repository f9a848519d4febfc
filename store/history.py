"""A dataset's versions read back: verify every version against its manifest, and diff two versions."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field

from store.dataset import BatchRef, Dataset, Manifest, batch_index, chain_digest
from store.records import Example


def verify(dataset: Dataset) -> tuple[int, list[str]]:
    """(versions checked, problems): every batch file's sha256 and line count, every manifest's chain digest
    and lineage, every record's schema, and no id twice within a version."""
    problems: list[str] = []
    versions = dataset.versions()
    manifests: dict[int, Manifest] = {}
    batch_ids: dict[str, list[str] | None] = {}  # per batch file, checked once: its ids, or None if it is bad
    for number in versions:
        where = f"{dataset.name}@v{number}"
        try:
            manifest = manifests[number] = dataset.manifest(number)
        except ValueError:
            problems.append(f"{where}: the manifest is not valid JSON for a manifest")
            continue
        for batch in manifest.batches:
            if batch.file not in batch_ids:
                batch_ids[batch.file] = _check_batch(dataset, batch, problems, where)
        parent = manifests.get(manifest.parent) if manifest.parent else None
        if manifest.parent is not None and parent is None:
            problems.append(f"{where}: parent v{manifest.parent} is missing or unreadable")
            continue
        expected = chain_digest(parent.sha256 if parent else None, manifest.batches[-1].sha256)
        if manifest.sha256 != expected:
            problems.append(f"{where}: sha256 {manifest.sha256[:12]}… does not match its batches ({expected[:12]}…)")
        if manifest.operation != "revalidate" and parent and manifest.batches[:-1] != parent.batches:
            problems.append(f"{where}: an {manifest.operation} must keep its parent's batches unchanged")
        if sum(b.records for b in manifest.batches) != manifest.records:
            problems.append(f"{where}: manifest says {manifest.records} records, its batches hold a different number")
        if all(batch_ids[b.file] is not None for b in manifest.batches):
            ids = Counter(id_ for b in manifest.batches for id_ in batch_ids[b.file] or [])
            twice = sorted(i for i, n in ids.items() if n > 1)
            if twice:
                problems.append(f"{where}: {len(twice)} ids appear more than once (first: {twice[0]})")
    return len(versions), problems


def _check_batch(dataset: Dataset, batch: BatchRef, problems: list[str], where: str) -> list[str] | None:
    """The ids of a batch whose digest, line count and records are all sound; None (and a problem) if not."""
    data = dataset.storage.read(dataset.key("batches", batch.file))
    if data is None:
        problems.append(f"{where}: batch {batch.file} is missing")
        return None
    if hashlib.sha256(data).hexdigest() != batch.sha256:
        problems.append(f"{where}: batch {batch.file} does not match its sha256 (changed or torn)")
        return None
    lines = data.splitlines()
    if len(lines) != batch.records:
        problems.append(f"{where}: batch {batch.file} has {len(lines)} lines, the manifest says {batch.records}")
        return None
    ids = []
    for n, line in enumerate(lines, 1):
        try:
            ids.append(Example.model_validate_json(line).id)
        except ValueError:
            problems.append(f"{where}: batch {batch.file} line {n} is not a valid record")
            return None
    index = dataset.storage.read(dataset.index_key(batch))
    if index is not None and index != batch_index(data):
        problems.append(f"{where}: the index of batch {batch.file} does not match it (delete the .index file)")
    return ids


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
    return f"generation run {manifest.run_id} ({rubric})"


def _what_changed(old: bytes, new: bytes) -> str:
    before, after = json.loads(old), json.loads(new)
    if before["reference_answer"] != after["reference_answer"]:
        return "answer repaired"
    return "critique re-judged"
