"""`dataset list / show / diff / verify`: what a user can see of their datasets, and proof nothing was altered."""

import json
from pathlib import Path

import pytest

from store.dataset import Dataset
from store.records import Example
from tests.test_revalidate import SUSPICIOUS, tightened  # noqa: F401  (fixture)


@pytest.fixture
def history(cli, tmp_path, tightened):  # noqa: F811
    """v1: 12 generated; v2: +8 generated; v3: re-validated against a tighter rubric (suspicious ones leave)."""
    assert cli("generate", "--count", "12", "--seed", "5").exit_code == 0
    assert cli("generate", "--count", "8", "--seed", "6").exit_code == 0
    assert cli("revalidate", "kyc", "--rubric", str(tightened)).exit_code == 0
    return Dataset(tmp_path / "output", "kyc")


def ids(dataset: Dataset, version: int) -> set[str]:
    return {r.id for r in dataset.records(dataset.manifest(version))}


def test_list_and_show(cli, history):
    listing = cli("dataset", "list")
    v3 = history.manifest(3)
    assert listing.output.startswith(f"kyc: domain kyc, world seed 1, v1..v3, {v3.records} records in v3, rubrics ")
    assert listing.output.count("kyc-investigation@") == 2  # the original and the tightened rubric

    shown = cli("dataset", "show", "kyc@v2", "--examples", "2")
    v2 = history.manifest(2)
    assert f"records {v2.records} (added {v2.added}, removed 0)" in shown.output
    assert "by category:   " + ", ".join(f"{k} {v}" for k, v in v2.categories.items()) in shown.output
    assert len([line for line in shown.output.splitlines() if line.startswith("- ")]) == 2


def test_diff_names_each_change_and_its_cause(cli, history):
    result = cli("dataset", "diff", "kyc@v1", "kyc@v3")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    added = {line.split()[1] for line in lines if line.startswith("+ ")}
    removed = {line.split()[1] for line in lines if line.startswith("- ")}
    v1, v3 = ids(history, 1), ids(history, 3)
    assert added == v3 - v1 and removed == v1 - v3 and removed
    assert all("v3: removed by re-validation against rubric" in line for line in lines if line.startswith("- "))
    assert all("v2: added by generation run" in line for line in lines if line.startswith("+ "))
    suspicious = {r.id for r in history.records(history.manifest(2)) if r.category in SUSPICIOUS}
    assert removed == suspicious & v1
    changed = {line.split()[1] for line in lines if line.startswith("~ ")}
    old = {r.id: r for r in history.records(history.manifest(1))}
    new = {r.id: r for r in history.records(history.manifest(3))}
    assert changed == {i for i in v1 & v3 if old[i] != new[i]}
    assert lines[0] == f"kyc@v1 → kyc@v3: {len(added)} added, {len(removed)} removed, {len(changed)} changed"


def test_diff_wants_the_older_version_first(cli, history):
    result = cli("dataset", "diff", "kyc@v3", "kyc@v1")
    assert result.exit_code == 2 and "give the older version first" in result.output


def test_verify_passes_on_an_untouched_dataset(cli, history):
    result = cli("dataset", "verify", "kyc")
    assert result.exit_code == 0 and result.output.startswith("kyc: 3 versions verified")


def test_verify_catches_a_changed_batch(cli, history):
    batch = Path(history.where) / "batches" / history.manifest(1).own_batch.file
    data = batch.read_bytes()
    batch.write_bytes(data.replace(b'"verdict":"suspicious"', b'"verdict":"not_suspicious"', 1))
    result = cli("dataset", "verify", "kyc")
    assert result.exit_code == 1
    assert f"kyc@v1: batch {batch.name} does not match its sha256 (changed or torn)" in result.output


def test_verify_catches_an_index_file_that_disagrees_with_its_batch(cli, history):
    batch = history.manifest(1).own_batch
    index = Path(history.where) / "batches" / batch.file.replace(".jsonl", ".index")
    index.write_text(index.read_text().replace('"', "'", 2))
    result = cli("dataset", "verify", "kyc")
    assert result.exit_code == 1
    assert f"kyc@v1: the index of batch {batch.file} does not match it (delete the .index file)" in result.output
    index.unlink()  # derived data: rebuilt from the batch when missing
    assert {i for i, _ in history.index(history.manifest(1))} == {r.id for r in history.records(history.manifest(1))}
    assert index.exists() and cli("dataset", "verify", "kyc").exit_code == 0


def test_verify_catches_a_forged_manifest_digest(cli, history):
    path = Path(history.where) / "versions" / "v0002.json"
    manifest = json.loads(path.read_text())
    manifest["sha256"] = "0" * 64
    path.write_text(json.dumps(manifest))
    result = cli("dataset", "verify", "kyc")
    assert result.exit_code == 1 and "kyc@v2: sha256 000000000000… does not match its batches" in result.output


def test_verify_catches_an_id_stored_twice(cli, history):
    info, latest = history.info(), history.manifest()
    again = next(history.records(latest))
    lineage = {"run_id": "forged", "rubric": {}, "models": {}, "generation": {}}
    assert history._write_version(
        info, latest, [Example.model_validate(again.model_dump())], operation="append", **lineage
    )
    result = cli("dataset", "verify", "kyc")
    assert result.exit_code == 1
    assert f"kyc@v4: 1 ids appear more than once (first: {again.id})" in result.output


def test_verify_of_a_missing_dataset_is_exit_2(cli):
    result = cli("dataset", "verify", "nope")
    assert result.exit_code == 2 and "dataset 'nope' has no versions" in result.output
