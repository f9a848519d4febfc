"""Each export loaded by the tool it is for: Strands Evals, DeepEval and Ragas themselves (the `exports` test
extra, which .ci/run installs), and botocore's own Bedrock model for the evaluation job request.

Without the extra these tests skip, unless GOLDSMITH_EXPORT_LIBS=required (set by .ci/run), which turns a
missing library into a failure.
"""

import importlib
import json
import os
import re

import boto3
import pytest
from botocore.stub import Stubber

from .conftest import run

ARN = "arn:aws:iam::123456789012:role/goldsmith-eval"


def library(name: str):
    if os.environ.get("GOLDSMITH_EXPORT_LIBS") == "required":
        return importlib.import_module(name)
    return pytest.importorskip(name)


def test_strands_evals_experiment_from_file_loads_cases_and_the_rubric_evaluator(store, export):
    strands_evals = library("strands_evals")
    result, out = export("strands-evals", "kyc.json")
    assert result.exit_code == 0, result.output
    experiment = strands_evals.Experiment.from_file(str(out))
    data = json.loads(out.read_text())
    assert [c.name for c in experiment.cases] == [c["name"] for c in data["cases"]]
    case = experiment.cases[0]
    assert case.input == data["cases"][0]["input"] and case.expected_output == data["cases"][0]["expected_output"]
    assert case.expected_trajectory == data["cases"][0]["expected_trajectory"]
    assert case.metadata["category"] == data["cases"][0]["metadata"]["category"]
    [evaluator] = experiment.evaluators
    assert isinstance(evaluator, strands_evals.evaluators.OutputEvaluator)
    assert "actionable_next_step" in evaluator.rubric
    assert experiment.to_dict()["cases"][0]["expected_trajectory"] == case.expected_trajectory


def test_deepeval_evaluation_dataset_loads_goldens_with_expected_tools(store, export, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # DeepEval creates a .deepeval folder in the working directory
    dataset_module = library("deepeval.dataset")
    result, out = export("deepeval", "kyc.json")
    assert result.exit_code == 0, result.output
    dataset = dataset_module.EvaluationDataset()
    dataset.add_goldens_from_json_file(str(out))
    data = json.loads(out.read_text())
    assert len(dataset.goldens) == len(data) == 40
    golden = dataset.goldens[0]
    assert golden.input == data[0]["input"] and golden.expected_output == data[0]["expected_output"]
    assert [t.name for t in golden.expected_tools] == [t["name"] for t in data[0]["expected_tools"]]
    assert golden.expected_tools[0].input_parameters == data[0]["expected_tools"][0]["input_parameters"]
    assert golden.context == data[0]["context"] and golden.additional_metadata["goldsmith_id"] == data[0]["name"]


def test_deepeval_loads_the_multi_turn_sibling_as_conversational_goldens(store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    dataset_module = library("deepeval.dataset")
    from exports.deepeval import write_deepeval

    from .test_formats import context, conversation, records_of

    records = records_of(store)
    path = tmp_path / "conversations.json"
    path.write_bytes(write_deepeval([conversation(r, turns=2) for r in records[:3]], context())["multi-turn"])
    dataset = dataset_module.EvaluationDataset()
    dataset.add_goldens_from_json_file(str(path))
    assert [type(g).__name__ for g in dataset.goldens] == ["ConversationalGolden"] * 3
    assert [t.role for t in dataset.goldens[0].turns] == ["user", "assistant", "user"]
    assert dataset.goldens[0].expected_outcome == records[0].reference_answer


def test_ragas_evaluation_dataset_from_jsonl_keeps_the_reference_tool_calls(store, export):
    ragas = library("ragas")
    result, out = export("ragas", "kyc.jsonl")
    assert result.exit_code == 0, result.output
    dataset = ragas.EvaluationDataset.from_jsonl(str(out))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(dataset.samples) == len(rows) == 40
    sample = dataset.samples[0]
    assert isinstance(sample, ragas.MultiTurnSample)
    assert sample.user_input[0].content == rows[0]["user_input"][0]["content"]
    assert [(c.name, c.args) for c in sample.reference_tool_calls] == [
        (c["name"], c["args"]) for c in rows[0]["reference_tool_calls"]
    ]
    # why every example is multi-turn: a single-turn sample would drop the tool calls without a word
    single = ragas.SingleTurnSample(user_input="q", reference="r", reference_tool_calls=rows[0]["reference_tool_calls"])
    assert not hasattr(single, "reference_tool_calls")


def violations(shape, value, where: str = "") -> list[str]:
    """What botocore's parameter validation does not check: string patterns and maximum lengths."""
    problems = []
    if shape.type_name == "structure":
        for name, member in shape.members.items():
            if name in value:
                problems += violations(member, value[name], f"{where}.{name}")
    elif shape.type_name == "list":
        if len(value) > shape.metadata.get("max", len(value)):
            problems.append(f"{where}: more than {shape.metadata['max']} items")
        for i, item in enumerate(value):
            problems += violations(shape.member, item, f"{where}[{i}]")
    elif shape.type_name == "string":
        if len(value) > shape.metadata.get("max", len(value)):
            problems.append(f"{where}: longer than {shape.metadata['max']}")
        pattern = shape.metadata.get("pattern")
        if pattern and not re.fullmatch(pattern, value, flags=re.DOTALL):
            problems.append(f"{where}: {value!r} does not match {pattern}")
    return problems


def test_botocore_accepts_the_create_evaluation_job_request_for_the_export(store, s3):
    result = run(
        "dataset", "export", "kyc", "--format", "bedrock", "--to", "s3://goldens/evals/kyc.jsonl",
        "--with-responses", "--role-arn", ARN, "--output-dir", str(store),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    request = json.loads(s3.get_object(Bucket="goldens", Key="evals/kyc-job.json")["Body"].read())
    client = boto3.client("bedrock", region_name="us-east-1")
    shape = client.meta.service_model.operation_model("CreateEvaluationJob").input_shape
    assert violations(shape, request) == []
    automated = request["evaluationConfig"]["automated"]
    metrics = [m["customMetricDefinition"] for m in automated["customMetricConfig"]["customMetrics"]]
    assert [m["name"] for m in metrics] == [
        "kyc-investigation.clear_conclusion",
        "kyc-investigation.explains_evidence",
        "kyc-investigation.actionable_next_step",
        "kyc-investigation.safe_handling",
    ]
    assert all("{{prompt}}" in m["instructions"] and "{{prediction}}" in m["instructions"] for m in metrics)
    assert len(metrics[1]["ratingScale"]) == 5 and len(metrics[0]["ratingScale"]) == 2  # 1-5 and pass/fail
    assert automated["datasetMetricConfigs"][0]["metricNames"][2:] == [m["name"] for m in metrics]
    with Stubber(client) as stub:
        job_arn = "arn:aws:bedrock:us-east-1:123456789012:evaluation-job/abcdefghij12"
        stub.add_response("create_evaluation_job", {"jobArn": job_arn}, expected_params=request)
        assert client.create_evaluation_job(**request)["jobArn"] == job_arn
        stub.assert_no_pending_responses()


def test_botocore_rejects_a_request_missing_what_the_job_needs(store, s3):
    """The check above can fail: the same request without its role is refused by botocore's validation."""
    from botocore.exceptions import ParamValidationError

    run(
        "dataset", "export", "kyc", "--format", "bedrock", "--to", "s3://goldens/e/kyc.jsonl",
        "--with-responses", "--role-arn", ARN, "--output-dir", str(store),
    )  # fmt: skip
    request = json.loads(s3.get_object(Bucket="goldens", Key="e/kyc-job.json")["Body"].read())
    del request["roleArn"]
    client = boto3.client("bedrock", region_name="us-east-1")
    with Stubber(client) as stub, pytest.raises(ParamValidationError, match="roleArn"):
        stub.add_response(
            "create_evaluation_job", {"jobArn": "arn:aws:bedrock:us-east-1:123456789012:evaluation-job/x"}
        )
        client.create_evaluation_job(**request)
