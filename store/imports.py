"""`dataset import`: Goldsmith records from a JSON Lines file (a `jsonl` export) into a dataset, as a version.

Every line is validated before anything is written; the records are stored unchanged, so export → import →
export gives back the same bytes. The target dataset is created bound to the records' domain and world, or
must already be bound to the same ones. The version's rubric and models are those of the newest record.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from pydantic import ValidationError

from config import InputError
from config.yamlfile import dotted_path
from store.dataset import Dataset, Manifest
from store.records import Example
from store.storage import open_file

MAX_PROBLEMS = 20


def read_records(source: str) -> tuple[list[Example], str]:
    """The valid records of a local or s3:// JSON Lines file and its sha256; any bad line is an InputError
    naming `file:line: field: problem`."""
    storage, key = open_file(source)
    data = storage.read(key)
    if data is None:
        raise InputError(f"{source}: no such file")
    records, problems = [], []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(Example.model_validate_json(line))
        except ValidationError as exc:
            for error in exc.errors():
                field = dotted_path(error["loc"]) or "(line)"
                problems.append(f"{source}:{number}: {field}: {error['msg']}")
    if problems:
        more = len(problems) - MAX_PROBLEMS
        raise InputError(problems[:MAX_PROBLEMS] + ([f"... and {more} more problems"] if more > 0 else []))
    if not records:
        raise InputError(f"{source}: no records")
    return records, hashlib.sha256(data).hexdigest()


def import_records(dataset: Dataset, source: str) -> tuple[Manifest | None, int, list[str]]:
    """Append the records of `source` to `dataset` as an `import` version.

    Returns (the new manifest, or None if every record was already there; records read; ids skipped)."""
    records, sha256 = read_records(source)
    worlds = {(r.domain, r.provenance.domain_version, r.provenance.world_seed) for r in records}
    if len(worlds) > 1:
        listed = ", ".join(f"{d} v{v} world seed {s}" for d, v, s in sorted(worlds))
        raise InputError(
            f"{source}: records come from more than one domain or world ({listed}); import them separately"
        )
    (domain, domain_version, world_seed) = worlds.pop()
    dataset.bind(domain=domain, domain_version=domain_version, world_seed=world_seed, default_world_seed=world_seed)
    newest = max(records, key=lambda r: r.provenance.created_at)
    manifest, skipped = dataset.append(
        records,
        run_id=f"import-{datetime.now(UTC):%Y%m%dT%H%M%SZ}",
        rubric={"id": newest.critique.rubric_id, "version": newest.critique.rubric_version},
        models=newest.provenance.models,
        generation={"operation": "import", "source": source, "sha256": sha256, "records": len(records)},
        operation="import",
    )
    return manifest, len(records), skipped
