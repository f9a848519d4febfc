"""Costs that follow the batch: schema-2 manifests name only their own batch, the persisted index answers
the id, case-key and prompt questions, and old (schema-1) datasets keep working. Reads are counted, not timed."""

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from pydantic import ValidationError

from config import InputError
from exports import ExportRequest, export, select
from store.dataset import CheckedRecords, Dataset
from store.dedup import PromptIndex
from store.history import diff, plan_repair, repair, verify
from store.storage import LocalStorage
from tests.factories import make_example

LEGACY = Path(__file__).resolve().parent.parent / "fixtures" / "store_v1"  # written by the schema-1 store
LINEAGE = {"rubric": {"id": "r", "version": "v"}, "models": {}, "generation": {}}


class CountingStorage(LocalStorage):
    """A local storage that records every key read."""

    def __init__(self, root: Path):
        super().__init__(root)
        self.reads: list[str] = []

    def read(self, key: str) -> bytes | None:
        self.reads.append(key)
        return super().read(key)


def example(n: int, category: str = "structuring"):
    record = make_example(f"{n:08x}", category=category)
    prompt = f"Please check customer C-{n:05d} for unusual {category} activity this month"
    return record.model_copy(update={"prompt": prompt, "case_key": f"{category}:C-{n:05d}"})


def grown(root: Path, versions: int, per: int = 5) -> Dataset:
    ds = Dataset(root, "d")
    ds.bind(domain="kyc", domain_version="1", world_seed=None, default_world_seed=1)
    for v in range(versions):
        ds.append([example(v * per + i) for i in range(per)], run_id=f"run{v}", **LINEAGE)
    return ds


@pytest.fixture
def legacy(tmp_path) -> Path:
    shutil.copytree(LEGACY, tmp_path / "out")
    return tmp_path / "out"


def test_the_fixture_is_schema_1_as_the_old_store_wrote_it():
    manifest = json.loads((LEGACY / "legacy" / "versions" / "v0004.json").read_text())
    assert manifest["schema_version"] == 1 and len(manifest["batches"]) == 2 and "batch" not in manifest


def test_a_schema_1_dataset_reads_verifies_diffs_and_exports_unchanged(legacy, tmp_path):
    ds = Dataset(legacy, "legacy")
    assert verify(ds) == (4, [])
    assert [r.id for r in ds.records(ds.manifest(2))] == ["a", "b", "c"]
    assert [r.id for r in ds.records(ds.manifest())] == ["a", "c", "d", "e"]
    changes = diff(ds, 1, 4)
    assert [(c.id, c.version) for c in changes.added] == [("c", 2), ("d", 4), ("e", 4)]
    assert [(c.id, c.version, c.reason) for c in changes.removed] == [
        ("b", 3, "removed by re-validation against rubric r@v (run reval)")
    ]
    assert [(c.id, c.reason) for c in diff(ds, 1, 2).added] == [("c", "added by generation run run2 (rubric r@v)")]
    assert ds.case_keys(ds.manifest()) == {"structuring:C-a", "structuring:C-c", "pep_match:C-d", "structuring:C-e"}
    assert ds.committed_by("run3") == {"d", "e"} and ds.committed_by("run1") == {"a", "b"}
    out = tmp_path / "v4.jsonl"
    assert export(ds, None, ExportRequest(format="jsonl", out=str(out))).records == 4
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["a", "c", "d", "e"]


def test_a_schema_2_version_appends_on_a_schema_1_parent(legacy):
    before = {p.name: p.read_bytes() for p in (legacy / "legacy" / "versions").iterdir()}
    ds = Dataset(legacy, "legacy")
    v5, duplicates = ds.append([example(1), make_example("a")], run_id="new", **LINEAGE)
    assert duplicates == ["a"] and (v5.version, v5.parent, v5.schema_version, v5.records) == (5, 4, 2, 5)
    assert ds.batches(v5) == [*ds.manifest(4).batches, v5.batch]
    assert {p.name: p.read_bytes() for p in (legacy / "legacy" / "versions").iterdir() if p.name in before} == before
    fresh = Dataset(legacy, "legacy")
    assert verify(fresh) == (5, [])
    assert [r.id for r in fresh.records(fresh.manifest())] == ["a", "c", "d", "e", example(1).id]
    assert [c.id for c in diff(fresh, 3, 5).added] == sorted(["d", "e", example(1).id])
    (legacy / "legacy" / "batches" / v5.batch.file).write_bytes(b"torn")
    plan = plan_repair(Dataset(legacy, "legacy"))
    assert plan.set_aside == [5] and plan.keep.version == 4
    repair(fresh, plan)
    assert verify(Dataset(legacy, "legacy")) == (4, [])


def test_a_schema_1_dataset_on_s3(s3, legacy):
    for path in (legacy / "legacy").rglob("*"):
        if path.is_file():
            s3.put_object(Bucket="goldens", Key=f"team/{path.relative_to(legacy)}", Body=path.read_bytes())
    ds = Dataset("s3://goldens/team", "legacy")
    manifest, _ = ds.append([example(7)], run_id="new", **LINEAGE)
    assert manifest.schema_version == 2 and manifest.records == 5
    assert verify(Dataset("s3://goldens/team", "legacy")) == (5, [])


def test_an_append_to_a_big_dataset_reads_only_its_parent_and_its_batch(tmp_path):
    grown(tmp_path, 30)
    storage = CountingStorage(tmp_path)
    ds = Dataset(storage, "d")
    manifest, _ = ds.append([example(10_000), example(3)], run_id="next", **LINEAGE)
    assert manifest.version == 31 and manifest.added == 1
    batches = {key for key in storage.reads if key.startswith("d/batches/")}
    manifests = {key for key in storage.reads if key.startswith("d/versions/")}
    assert batches == {f"d/batches/{ds.manifest(30).own_batch.file}"}  # the parent's own batch, checked
    assert manifests == {"d/versions/v0030.json", "d/versions/v0029.json"}
    assert len(json.loads((tmp_path / "d" / "versions" / "v0031.json").read_text())) < 30  # no batch list


def test_the_start_of_a_run_reads_no_batch(tmp_path):
    grown(tmp_path, 20)
    storage = CountingStorage(tmp_path)
    ds = Dataset(storage, "d")
    latest = ds.latest()
    index = ds.prompt_index(latest)
    held = ds.held_case_keys(latest, {"structuring:C-00003", "structuring:C-99999"})
    assert held == {"structuring:C-00003"} and len(index) == 100
    assert index.match(example(42).prompt).kind == "duplicate"
    assert not [key for key in storage.reads if key.startswith("d/batches/")]


def test_the_persisted_prompt_index_answers_as_the_in_memory_one(tmp_path):
    ds = grown(tmp_path, 8)
    latest = ds.latest()
    memory = PromptIndex.from_prompts(ds.index(latest))
    stored = Dataset(tmp_path, "d").prompt_index(latest)
    queries = [
        example(3).prompt,
        example(3).prompt.upper() + "!",
        "Please check customer C-00003 for unusual structuring activity this week",  # one word replaced
        "Could you please check customer C-00003 for unusual structuring activity this month",
        "Please check customer C-00077 for unusual structuring activity this week",  # another customer
        "hello there",
    ]
    for query in queries:
        assert stored.match(query) == memory.match(query), query
    assert memory.match(queries[2]).kind == "near_duplicate"
    stored.add("run-key", "Please review customer C-00999 for cash structuring across branches now")
    memory.add("run-key", "Please review customer C-00999 for cash structuring across branches now")
    query = "Please review customer C-00999 for cash structuring across branches today"
    assert stored.match(query) == memory.match(query) and stored.match(query).key == "run-key"
    with pytest.raises(ValueError, match="already indexed with another prompt"):
        stored.add(example(3).id, "something else entirely")


def test_the_index_is_derived_a_missing_damaged_or_stale_one_is_rebuilt(tmp_path):
    ds = grown(tmp_path, 3)
    path = tmp_path / "d" / "index" / "records.sqlite"
    path.unlink()
    assert Dataset(tmp_path, "d").append([example(0)], run_id="x", **LINEAGE) == (None, [example(0).id])
    path.write_bytes(b"not a database" * 100)
    assert Dataset(tmp_path, "d").append([example(1)], run_id="x", **LINEAGE) == (None, [example(1).id])
    with sqlite3.connect(path) as db:  # a forged row: the digest of v3 no longer matches, rows are rebuilt
        db.execute("UPDATE versions SET sha256 = 'forged' WHERE version = 3")
        db.execute("DELETE FROM records WHERE version = 3")
    assert Dataset(tmp_path, "d").known_ids(ds.latest(), [example(12).id]) == {example(12).id}
    # a repair sets v3 aside and another v3 is written: the index follows the new chain
    (tmp_path / "d" / "batches" / ds.manifest(3).own_batch.file).write_bytes(b"torn")
    again = Dataset(tmp_path, "d")
    repair(again, plan_repair(again))
    again = Dataset(tmp_path, "d")
    v3, _ = again.append([example(500)], run_id="y", **LINEAGE)
    assert again.ids(v3) == {example(n).id for n in range(10)} | {example(500).id}
    assert Dataset(tmp_path, "d").committed_by("run2") == set()


def test_a_damaged_parent_is_refused_even_when_indexed(tmp_path):
    ds = grown(tmp_path, 3)
    (tmp_path / "d" / "batches" / ds.manifest(3).own_batch.file).write_bytes(b"edited")
    with pytest.raises(InputError, match=r"does not match its sha256 in d@v3 .*dataset verify d"):
        Dataset(tmp_path, "d").append([example(99)], run_id="x", **LINEAGE)


def test_a_diff_of_appends_reads_no_batch(tmp_path):
    grown(tmp_path, 12)
    storage = CountingStorage(tmp_path)
    changes = diff(Dataset(storage, "d"), 1, 12)
    assert len(changes.added) == 55 and not changes.removed and not changes.changed
    assert changes.added[0].reason == "added by generation run run1 (rubric r@v)"
    assert not [key for key in storage.reads if key.startswith("d/batches/")]


def test_a_diff_across_a_revalidation_names_what_changed(tmp_path):
    ds = grown(tmp_path, 2)
    v2 = ds.manifest(2)
    kept = [r for r in ds.records(v2) if r.id != example(0).id]
    kept[0] = kept[0].model_copy(update={"reference_answer": "fixed"})
    ds.replace(kept, based_on=v2, removed=1, run_id="rv", **LINEAGE)
    ds.append([example(77)], run_id="late", **LINEAGE)
    changes = diff(Dataset(tmp_path, "d"), 1, 4)
    assert [c.id for c in changes.removed] == [example(0).id]
    assert [(c.id, c.reason) for c in changes.changed] == [
        (example(1).id, "answer repaired by re-validation against rubric r@v (run rv)")
    ]
    assert sorted(c.id for c in changes.added) == sorted([example(n).id for n in range(5, 10)] + [example(77).id])
    assert verify(Dataset(tmp_path, "d")) == (4, [])


def test_a_streamed_jsonl_export_selects_as_before_and_writes_nothing_on_bad_filters(tmp_path):
    ds = grown(tmp_path, 4)
    ds.append([example(900 + n, "pep_match") for n in range(7)], run_id="p", **LINEAGE)
    records = list(ds.records(ds.manifest()))
    out = tmp_path / "x.jsonl"
    for filters, sample in (({}, None), ({"category": ["pep_match"]}, None), ({}, 9), ({"category": ["pep_match"]}, 3)):
        request = ExportRequest(format="jsonl", out=str(out), filters=filters, sample=sample, seed=4)
        assert export(ds, None, request).records == len(select(records, filters, sample, 4))
        expected = [r.id for r in select(records, filters, sample, 4)]
        assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == expected
    out.unlink()
    with pytest.raises(InputError, match="no record has category 'nope'"):
        export(ds, None, ExportRequest(format="jsonl", out=str(out), filters={"category": ["nope"]}))
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_verify_finds_a_wrong_record_count_in_a_schema_2_chain(tmp_path):
    grown(tmp_path, 3)
    path = tmp_path / "d" / "versions" / "v0003.json"
    manifest = json.loads(path.read_text())
    manifest["records"] = 99
    path.write_text(json.dumps(manifest))
    checked, problems = verify(Dataset(tmp_path, "d"))
    assert checked == 3 and problems == ["d@v3: manifest says 99 records, its batches hold a different number"]


def _index_rows(root: Path) -> list[tuple]:
    with sqlite3.connect(root / "d" / "index" / "records.sqlite") as db:
        return db.execute(
            "SELECT version, line, id, case_key, digest, normalised, salt, signature FROM records"
        ).fetchall()


def test_records_checked_as_they_land_commit_as_the_same_records_given_at_the_end(tmp_path):
    """A run checks each example as its episode lands (`CheckedRecords`, in key order) and its commit writes them
    unchecked again: the version is the one an append of the examples themselves makes, its index rows (made by the
    batch from the checked records) the ones an index rebuilt from the stored batch holds, records of version 1
    without a case key included."""
    records = [example(n) for n in range(6)] + [make_example("legacy-1")]  # the last: no case key, as version 1 wrote
    checked = CheckedRecords()
    for key in (3, 0, 6, 1, 5, 2, 4):  # landing order is not the dataset's
        checked.put(key, records[key])
    versions = {}
    for name, given in (("checked", checked), ("given", records)):
        ds = Dataset(tmp_path / name, "d")
        ds.bind(domain="kyc", domain_version="1", world_seed=None, default_world_seed=1)
        manifest, duplicates = ds.append(given, run_id="r", **LINEAGE)
        assert duplicates == [] and verify(ds) == (1, [])
        versions[name] = manifest.own_batch.sha256
        made = _index_rows(tmp_path / name)
        (tmp_path / name / "d" / "index" / "records.sqlite").unlink()
        Dataset(tmp_path / name, "d").ids(manifest)  # the index rebuilt from the stored batch
        assert _index_rows(tmp_path / name) == made
    assert versions["checked"] == versions["given"]
    assert [row[3] for row in made] == [*(f"structuring:C-{n:05d}" for n in range(6)), "structuring:"]


def test_a_record_that_does_not_read_back_is_refused_when_it_lands(tmp_path):
    checked = CheckedRecords()
    line = example(1).model_dump_json().encode()
    with pytest.raises(ValidationError):
        checked.put(0, line.replace(b'"category":"structuring"', b'"category":7'))
    assert len(checked) == 0


def test_a_small_version_answers_lookups_of_many_values_as_the_index_does(tmp_path):
    """Asked about more values than a version holds records, the index reads the version's column instead of
    looking each value up: the same answer either way."""
    ds = grown(tmp_path, 2)
    held = {f"structuring:C-{n:05d}" for n in range(10)}
    asked_few = {*list(held)[:3], "structuring:C-99999"}
    asked_many = held | {f"structuring:C-{n:05d}" for n in range(100, 200)}
    assert ds.held_case_keys(ds.latest(), asked_few) == set(list(held)[:3])
    assert ds.held_case_keys(ds.latest(), asked_many) == held
    assert ds.held_case_keys(ds.manifest(1), asked_many) == {f"structuring:C-{n:05d}" for n in range(5)}
