"""Reading Goldsmith records from a JSON Lines file (a `jsonl` export) for `dataset import`.

Every line is validated before anything else happens; the records are later stored unchanged, so export →
import → export gives back the same bytes. What a record must prove before it is imported is checked in
simulation/importer.py.
"""

from __future__ import annotations

import hashlib

from pydantic import ValidationError

from config import InputError
from config.yamlfile import dotted_path
from store.records import Example
from store.storage import open_file


def read_records(source: str) -> tuple[list[tuple[int, Example]], str]:
    """(line number, record) of every record of a local or s3:// JSON Lines file, and its sha256; any bad line
    is an InputError naming `file:line: field: problem`."""
    storage, key = open_file(source)
    data = storage.read(key)
    if data is None:
        raise InputError(f"{source}: no such file")
    records, problems = [], []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append((number, Example.model_validate_json(line)))
        except ValidationError as exc:
            for error in exc.errors():
                field = dotted_path(error["loc"]) or "(line)"
                problems.append(f"{source}:{number}: {field}: {error['msg']}")
    if problems:
        raise InputError.capped(problems)
    if not records:
        raise InputError(f"{source}: no records")
    return records, hashlib.sha256(data).hexdigest()
