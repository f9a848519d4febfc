"""S3 as a dataset location, against moto's in-process S3: the same store code, conditional version writes."""

import json

import boto3
import pytest
from moto import mock_aws

from config import InputError
from store.dataset import Dataset
from store.storage import S3Storage, open_storage
from tests.factories import make_example

BUCKET = "goldens"


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def bound(location) -> Dataset:
    dataset = Dataset(location, "kyc")
    dataset.bind(domain="kyc", domain_version="1", world_seed=None, default_world_seed=1)
    return dataset


def append(dataset: Dataset, *ids: str):
    return dataset.append(
        [make_example(i) for i in ids], run_id="r", rubric={"id": "kyc", "version": "1"}, models={}, generation={}
    )


def test_create_is_a_conditional_put_that_only_one_writer_wins(s3):
    storage = open_storage(f"s3://{BUCKET}/team/a")
    assert isinstance(storage, S3Storage)
    assert storage.create("k/v0001.json", b"first") is True
    assert storage.create("k/v0001.json", b"second") is False
    assert storage.read("k/v0001.json") == b"first"
    assert s3.get_object(Bucket=BUCKET, Key="team/a/k/v0001.json")["Body"].read() == b"first"
    assert storage.read("k/missing") is None
    assert storage.children("k") == ["v0001.json"] and storage.children("") == ["k"]


def test_a_dataset_on_s3_versions_and_dedups_like_a_local_one(s3):
    dataset = bound(f"s3://{BUCKET}/goldens")
    first, _ = append(dataset, "a", "b")
    second, duplicates = append(dataset, "b", "c")
    assert (first.version, second.version, duplicates) == (1, 2, ["b"])
    assert [e.id for e in dataset.records(second)] == ["a", "b", "c"]
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert {"goldens/kyc/dataset.json", "goldens/kyc/versions/v0001.json", "goldens/kyc/versions/v0002.json"} <= keys


def test_a_writer_that_loses_the_version_race_on_s3_rebases(s3, monkeypatch):
    dataset = bound(f"s3://{BUCKET}/p")
    append(dataset, "a")
    real_latest = Dataset.latest
    raced = []

    def latest_then_someone_else_commits(self):
        manifest = real_latest(self)
        if not raced:
            raced.append(True)
            append(Dataset(f"s3://{BUCKET}/p", "kyc"), "b")  # another writer takes v2 between read and write
        return manifest

    monkeypatch.setattr(Dataset, "latest", latest_then_someone_else_commits)
    manifest, _ = append(dataset, "c")
    assert (manifest.version, manifest.parent) == (3, 2)
    assert [e.id for e in dataset.records(manifest)] == ["a", "b", "c"]


def test_generate_list_show_verify_and_export_on_s3(s3, cli, tmp_path):
    location = f"s3://{BUCKET}/team"
    result = cli("generate", "--count", "4", "--seed", "3", output_dir=location)
    assert result.exit_code == 0, result.output
    assert f"{location}/kyc" in result.output
    listed = cli("dataset", "list", output_dir=location)
    assert listed.exit_code == 0 and listed.output.startswith("kyc: domain kyc"), listed.output
    verified = cli("dataset", "verify", "kyc", output_dir=location)
    assert verified.exit_code == 0 and "1 versions verified" in verified.output, verified.output
    out = tmp_path / "kyc.jsonl"
    exported = cli("dataset", "export", "kyc", "--out", str(out), output_dir=location)
    assert exported.exit_code == 0, exported.output
    manifest = Dataset(location, "kyc").manifest()
    lines = out.read_text().splitlines()
    assert len(lines) == manifest.records > 0 and all(json.loads(line)["dataset"] == "kyc" for line in lines)


def test_a_missing_bucket_is_one_clear_line(s3, cli):
    result = cli("dataset", "list", output_dir="s3://no-such-bucket/x")
    assert result.exit_code == 2
    assert result.output.strip() == "s3://no-such-bucket/x: no such S3 bucket"
    with pytest.raises(InputError, match="names no bucket"):
        open_storage("s3:///prefix")


def test_a_run_on_s3_resumes_from_its_checkpoints_and_commits_once(s3, cli):
    location = f"s3://{BUCKET}/team"
    assert cli("generate", "--count", "3", "--seed", "2", "--run-id", "r9", output_dir=location).exit_code == 0
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="team/kyc/runs/r9/")["Contents"]}
    assert {f"team/kyc/runs/r9/episodes/{i:05d}.json" for i in range(3)} | {"team/kyc/runs/r9/plan.json"} <= keys
    again = cli("generate", "--run-id", "r9", output_dir=location)
    assert again.exit_code == 0 and "resuming run r9 (3 of 3 done)" in again.output
    assert Dataset(location, "kyc").versions() == [1]
