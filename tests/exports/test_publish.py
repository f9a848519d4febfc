"""`dataset publish --to agentcore`: the AgentCore dataset is created, filled and versioned; publishing a version
again sends nothing, a later version sends only its new examples; a service error is one line and records
nothing. Against a stand-in on 127.0.0.1 and, for the request shapes, botocore's Stubber (its own model)."""

import json
from pathlib import Path

import pytest

from tests.exports.agentcore_server import AgentCoreStandIn, serve

pytest.importorskip("bedrock_agentcore")


@pytest.fixture
def agentcore(monkeypatch):
    stand_in = AgentCoreStandIn()
    server = serve(stand_in)
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL", f"http://127.0.0.1:{server.server_port}")
    yield stand_in
    server.shutdown()


def publish(cli, out: Path, *extra: str):
    return cli("dataset", "publish", "kyc", "--to", "agentcore", "--region", "us-east-1", "--poll", "0", *extra,
               output_dir=out)  # fmt: skip


def generate(cli, out: Path, count: int, seed: int):
    result = cli("generate", "--count", str(count), "--seed", str(seed), "--sim-defect-rate", "0", output_dir=out)
    assert result.exit_code == 0, result.output


def test_publish_creates_then_sends_only_what_is_new(cli, tmp_path, agentcore):
    out = tmp_path / "output"
    generate(cli, out, 12, 1)
    first = publish(cli, out)
    assert first.exit_code == 0, first.output
    assert "kyc@v1 → AgentCore dataset kyc (ds-1, created) version 1: 12 examples sent, 12 in all" in first.output
    (dataset,) = agentcore.datasets.values()
    assert dataset.schema == "AGENTCORE_EVALUATION_PREDEFINED_V1" and len(dataset.examples) == 12
    assert len({e["scenario_id"] for e in dataset.examples}) == 12
    record = json.loads((out / "kyc" / "published" / "agentcore-predefined.json").read_text())
    assert record["dataset_id"] == "ds-1" and record["versions"]["1"]["agentcore_version"] == "1"

    calls = len(agentcore.requests)
    again = publish(cli, out)
    assert again.exit_code == 0 and "kyc@v1 is already AgentCore dataset ds-1 version 1: nothing sent" in again.output
    assert len(agentcore.requests) == calls  # not one request

    generate(cli, out, 8, 2)
    later = publish(cli, out)
    assert later.exit_code == 0, later.output
    added = [body for op, _, body in agentcore.requests[calls:] if op == "add"]
    assert len(added) == 1 and len(added[0]["source"]["inlineExamples"]["examples"]) == 8
    assert "kyc@v2 → AgentCore dataset kyc (ds-1, updated) version 2: 8 examples sent, 20 in all" in later.output
    assert [op for op, _, _ in agentcore.requests].count("create") == 1


def test_a_service_error_is_one_line_and_records_nothing(cli, tmp_path, agentcore):
    out = tmp_path / "output"
    generate(cli, out, 4, 1)
    agentcore.fail["create"] = ("ValidationException", "datasetName already exists")
    result = publish(cli, out)
    assert result.exit_code == 1
    assert result.output.strip().endswith("agentcore: CreateDataset: ValidationException: datasetName already exists")
    assert not (out / "kyc" / "published").exists()


def publish_with_stubs(out: Path, schema: str, source, **options):
    """Publish the kyc dataset through a client whose every request botocore's Stubber checks against the service
    model: CreateDataset (with `schema` and `source`), GetDataset, CreateDatasetVersion, GetDataset."""
    import boto3
    from botocore.stub import ANY, Stubber

    from exports.publish import SCHEMAS, AgentCorePublisher
    from store.dataset import Dataset

    client = boto3.client("bedrock-agentcore-control", region_name="us-east-1")
    arn = "arn:aws:bedrock-agentcore:us-east-1:123456789012:dataset/ds-9"
    now = "2026-12-01T00:00:00Z"
    described = {"datasetArn": arn, "datasetId": "ds-9", "datasetVersion": "DRAFT", "datasetName": "kyc",
                 "status": "ACTIVE", "exampleCount": 3, "createdAt": now, "updatedAt": now}  # fmt: skip
    with Stubber(client) as stub:
        stub.add_response(
            "create_dataset",
            {"datasetArn": arn, "datasetId": "ds-9", "status": "CREATING", "createdAt": now},
            {
                "datasetName": "kyc",
                "description": ANY,
                "schemaType": SCHEMAS[schema],
                "clientToken": ANY,
                "source": source,
            },  # fmt: skip
        )
        stub.add_response("get_dataset", described, {"datasetId": "ds-9"})
        stub.add_response(
            "create_dataset_version",
            {"datasetArn": arn, "datasetId": "ds-9", "status": "ACTIVE", "datasetVersion": "1", "createdAt": now},
            {"datasetId": "ds-9", "clientToken": ANY},
        )
        stub.add_response("get_dataset", described, {"datasetId": "ds-9"})
        outcome = AgentCorePublisher(Dataset(out, "kyc"), client, schema=schema, poll_s=0, **options).publish()
        stub.assert_no_pending_responses()
    return outcome


def test_the_requests_fit_botocores_model(tmp_path, cli):
    from botocore.stub import ANY

    out = tmp_path / "output"
    generate(cli, out, 3, 1)
    outcome = publish_with_stubs(out, "simulated", ANY)
    assert outcome.agentcore_version == "1" and outcome.added == 3 and outcome.created


def test_large_versions_go_through_s3(tmp_path, cli, s3):
    out = tmp_path / "output"
    generate(cli, out, 3, 1)
    source = {"s3Source": {"s3Uri": "s3://goldens/agentcore/kyc-v1-create.jsonl"}}
    publish_with_stubs(out, "predefined", source, s3_uri="s3://goldens/agentcore/", s3_client=s3)
    body = s3.get_object(Bucket="goldens", Key="agentcore/kyc-v1-create.jsonl")["Body"].read().decode()
    assert len(body.splitlines()) == 3 and all(json.loads(line)["turns"] for line in body.splitlines())
