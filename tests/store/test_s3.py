"""S3 as a dataset location, against moto's in-process S3: conditional writes, and the commands end to end.
(The store's own tests run on S3 too: tests/store/test_dataset.py.)"""

import json

import pytest

from config import InputError
from store.dataset import Dataset
from store.storage import S3Storage, open_storage

BUCKET = "goldens"


def test_create_is_a_conditional_put_that_only_one_writer_wins(s3):
    storage = open_storage(f"s3://{BUCKET}/team/a")
    assert isinstance(storage, S3Storage)
    assert storage.create("k/v0001.json", b"first") is True
    assert storage.create("k/v0001.json", b"second") is False
    assert storage.read("k/v0001.json") == b"first"
    assert s3.get_object(Bucket=BUCKET, Key="team/a/k/v0001.json")["Body"].read() == b"first"
    assert storage.read("k/missing") is None
    assert storage.children("k") == ["v0001.json"] and storage.children("") == ["k"]


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


def test_verify_in_worker_processes_reads_s3_itself(s3, cli, monkeypatch):
    """The worker processes get each batch's bytes from the command (they could not reach this in-process S3):
    a sound dataset verifies, and a torn batch is named, as in one process."""
    from store import history

    location = f"s3://{BUCKET}/team"
    assert cli("generate", "--count", "4", "--seed", "3", output_dir=location).exit_code == 0
    monkeypatch.setattr(history, "PARALLEL_FROM", 0)
    verified = cli("dataset", "verify", "kyc", "--workers", "2", output_dir=location)
    assert verified.exit_code == 0 and "1 versions verified" in verified.output, verified.output

    own = Dataset(location, "kyc").manifest().own_batch
    key = f"team/kyc/batches/{own.file}"
    torn = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()[:-40]
    s3.put_object(Bucket=BUCKET, Key=key, Body=torn)
    for workers in ("1", "2"):
        failed = cli("dataset", "verify", "kyc", "--workers", workers, output_dir=location)
        assert failed.exit_code == 1 and f"kyc@v1: batch {own.file} does not match its sha256" in failed.output
