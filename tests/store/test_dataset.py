"""The dataset store, on both locations: a local directory and an S3 prefix (moto's in-process S3)."""

import hashlib

import pytest

from config import InputError
from store.dataset import Dataset, chain_digest, parse_ref
from tests.factories import make_example


@pytest.fixture(params=["local", "s3"])
def dataset(request, tmp_path):
    if request.param == "local":
        location = str(tmp_path)
    else:
        request.getfixturevalue("s3")
        location = "s3://goldens/team"
    ds = Dataset(location, "d")
    ds.bind(domain="kyc", domain_version="1", world_seed=None, default_world_seed=1)
    return ds


def append(ds: Dataset, *ids: str):
    return ds.append(
        [make_example(i) for i in ids], run_id="run", rubric={"id": "r", "version": "v"}, models={}, generation={}
    )


def test_versions_are_cumulative_and_append_writes_only_the_batch(dataset):
    v1, _ = append(dataset, "a", "b")
    v2, _ = append(dataset, "c")
    assert (v1.version, v2.version, v2.parent) == (1, 2, 1)
    assert [b.records for b in dataset.batches(v2)] == [2, 1] and dataset.batches(v2)[0] == v1.batch
    assert (v1.schema_version, v2.batch.records, v2.batches) == (2, 1, None)  # a manifest names its own batch
    assert [e.id for e in dataset.records(dataset.manifest(2))] == ["a", "b", "c"]
    assert [e.id for e in dataset.records(dataset.manifest(1))] == ["a", "b"]
    assert v2.categories == {"structuring": 3} and v2.records == 3


def test_digest_chains_the_batch_digests(dataset):
    v1, _ = append(dataset, "a")
    v2, _ = append(dataset, "b")
    for manifest in (v1, v2):
        data = dataset.batch_bytes(manifest.own_batch)
        assert hashlib.sha256(data).hexdigest() == manifest.own_batch.sha256
    assert v2.sha256 == chain_digest(v1.sha256, v2.own_batch.sha256)


def test_ids_already_in_the_dataset_are_never_appended_twice(dataset):
    append(dataset, "a", "b")
    manifest, duplicates = append(dataset, "b", "c", "c")
    assert duplicates == ["b", "c"] and manifest.added == 1
    assert append(dataset, "a") == (None, ["a"])
    assert dataset.versions() == [1, 2]


def another_writer_takes_the_next_version(monkeypatch) -> None:
    """The first time a writer reads the latest version, another writer commits example "b" right after."""
    real_latest = Dataset.latest
    raced = []

    def latest_then_someone_else_commits(self):
        manifest = real_latest(self)
        if not raced:
            raced.append(True)
            append(Dataset(self.storage, self.name), "b")  # the other writer takes the next version now
        return manifest

    monkeypatch.setattr(Dataset, "latest", latest_then_someone_else_commits)


def test_a_writer_that_loses_the_race_for_a_version_rebases_on_the_winner(dataset, monkeypatch):
    append(dataset, "a")
    another_writer_takes_the_next_version(monkeypatch)
    manifest, _ = append(dataset, "c")
    assert manifest.version == 3 and manifest.parent == 2
    assert [e.id for e in dataset.records(manifest)] == ["a", "b", "c"]


def test_binding_conflicts_are_input_errors(dataset):
    with pytest.raises(InputError, match="belongs to domain 'kyc'"):
        Dataset(dataset.storage, "d").bind(domain="other", domain_version="1", world_seed=None, default_world_seed=1)
    with pytest.raises(InputError, match="domain version 1"):
        Dataset(dataset.storage, "d").bind(domain="kyc", domain_version="2", world_seed=None, default_world_seed=1)


@pytest.mark.parametrize("ref", ["d@2", "d@v0", "d@vx"])
def test_bad_version_refs(ref):
    with pytest.raises(InputError, match="version must look like"):
        parse_ref(ref)
    assert parse_ref("d@v12") == ("d", 12) and parse_ref("d") == ("d", None)


def test_append_streams_a_one_shot_iterable_of_examples_and_lines_and_rebases_it(dataset, monkeypatch):
    append(dataset, "a")
    another_writer_takes_the_next_version(monkeypatch)
    given = iter([make_example("b"), make_example("c").model_dump_json().encode(), make_example("a")])
    manifest, duplicates = dataset.append(given, run_id="run", rubric={}, models={}, generation={})
    assert (manifest.version, manifest.parent, manifest.added, duplicates) == (3, 2, 1, ["b", "a"])
    assert [e.id for e in dataset.records(manifest)] == ["a", "b", "c"]
    assert dataset.known_ids(manifest, ["a", "b", "c", "d"]) == {"a", "b", "c"}  # the index took the batch in
    data = dataset.batch_bytes(manifest.own_batch)
    assert data == make_example("c").model_dump_json().encode() + b"\n"
    assert dataset.storage.read(dataset.index_key(manifest.own_batch)) == b'["c", "q c "]\n'


def test_append_refuses_a_line_that_is_not_a_record_and_writes_nothing(dataset):
    append(dataset, "a")
    with pytest.raises(ValueError):
        dataset.append([make_example("b"), b'{"id": "x"}'], run_id="run", rubric={}, models={}, generation={})
    assert dataset.versions() == [1]
