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
from .test_formats import context, conversation, records_of, single_turn

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
    assert len(dataset.goldens) == len(data) == len(single_turn(records_of(store)))
    golden = dataset.goldens[0]
    assert golden.input == data[0]["input"] and golden.expected_output == data[0]["expected_output"]
    assert [t.name for t in golden.expected_tools] == [t["name"] for t in data[0]["expected_tools"]]
    assert golden.expected_tools[0].input_parameters == data[0]["expected_tools"][0]["input_parameters"]
    assert golden.context == data[0]["context"] and golden.additional_metadata["goldsmith_id"] == data[0]["name"]


def test_deepeval_loads_the_multi_turn_sibling_as_conversational_goldens(store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    dataset_module = library("deepeval.dataset")
    from exports.deepeval import write_deepeval

    records = single_turn(records_of(store))
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


def test_deepeval_multi_turn_goldens_keep_turns_tools_persona_and_expected_actions(
    store, export, monkeypatch, tmp_path
):
    monkeypatch.chdir(tmp_path)
    dataset_module = library("deepeval.dataset")
    result, out = export("deepeval", "kyc.json")
    assert result.exit_code == 0, result.output
    dataset = dataset_module.EvaluationDataset()
    dataset.add_goldens_from_json_file(str(out.with_name("kyc-multi-turn.json")))
    cases = [r for r in records_of(store) if r.scenario is not None]
    assert [g.name for g in dataset.goldens] == [r.id for r in cases]
    assert {type(g).__name__ for g in dataset.goldens} == {"ConversationalGolden"}
    goldens = {g.name: g for g in dataset.goldens}
    acts = next(r for r in cases if r.category == "follow_up_action")
    golden = goldens[acts.id]
    assert [(t.role, t.content) for t in golden.turns] == [(t.role, t.content) for t in acts.conversation[:-1]]
    called = golden.turns[1].tools_called
    assert [(c.name, c.input_parameters, c.output) for c in called] == [
        (e.name, e.input, e.output) for e in acts.conversation[1].tool_trace
    ]
    [action] = acts.expected_actions
    assert golden.expectations.must == [f"{action.name} is called with {json.dumps(action.input)}"]
    assert golden.scenario.endswith(acts.prompt) and acts.scenario.goal in golden.scenario
    assert golden.expected_outcome.startswith(acts.reference_answer)
    assert golden.additional_metadata["expected_actions"] == [action.model_dump()]
    asks = next(r for r in cases if r.scenario.private_facts)
    persona = goldens[asks.id].persona
    assert persona.name == asks.persona and persona.characteristics.startswith("Eight years in transaction")
    assert all(value in persona.characteristics for value in asks.scenario.private_facts.values())
    assert goldens[asks.id].user_description == persona.characteristics


def test_ragas_multi_turn_samples_keep_ai_tool_calls_tool_results_and_expected_actions(store, export):
    ragas = library("ragas")
    result, out = export("ragas", "kyc.jsonl", "--filter", "category=follow_up_action")
    assert result.exit_code == 0, result.output
    dataset = ragas.EvaluationDataset.from_jsonl(str(out))
    records = [r for r in records_of(store) if r.category == "follow_up_action"]
    assert len(dataset.samples) == len(records)
    sample, record = dataset.samples[0], records[0]
    assert [type(m).__name__ for m in sample.user_input] == [
        "HumanMessage",
        "AIMessage",
        *["ToolMessage"] * len(record.conversation[1].tool_trace),
        "AIMessage",
        "HumanMessage",
    ]
    assert [(c.name, c.args) for c in sample.user_input[1].tool_calls] == [
        (e.name, e.input) for e in record.conversation[1].tool_trace
    ]
    assert sample.user_input[2].content == record.conversation[1].tool_trace[0].output
    assert [(c.name, c.args) for c in sample.reference_tool_calls] == [
        (c.name, c.input) for c in [*record.expected_tool_calls, *record.expected_actions]
    ]


def test_strands_evals_multi_turn_case_loads_with_its_actor_profile_and_end_state(store, export):
    strands_evals = library("strands_evals")
    from strands_evals.evaluators import StateEquals
    from strands_evals.simulation import ActorSimulator
    from strands_evals.types.evaluation import EnvironmentState, EvaluationData
    from strands_evals.types.simulation import ActorProfile

    result, out = export("strands-evals", "kyc.json", "--filter", "category=follow_up_action,category=clarify_identity")
    assert result.exit_code == 0, result.output
    experiment = strands_evals.Experiment.from_file(str(out))
    records = {r.id: r for r in records_of(store)}
    acting = next(c for c in experiment.cases if records[c.name].category == "follow_up_action")
    record = records[acting.name]
    assert acting.input == record.prompt
    [action] = record.expected_actions
    assert acting.expected_trajectory[-1] == {"name": action.name, "input": action.input}
    assert acting.expected_environment_state == [EnvironmentState(name="end_state", state=record.expected_end_state)]
    # the stored conversation left the expected state: Strands Evals' own state check agrees
    data = EvaluationData(
        input=acting.input,
        actual_environment_state=[EnvironmentState(name="end_state", state=record.end_state)],
        expected_environment_state=acting.expected_environment_state,
    )
    assert StateEquals(name="end_state").evaluate(data)[0].test_pass
    asking = next(c for c in experiment.cases if records[c.name].category == "clarify_identity")
    profile = ActorProfile(**asking.metadata["actor_profile"])
    assert profile.actor_goal == records[asking.name].scenario.goal
    assert all(v in profile.context for v in records[asking.name].scenario.private_facts.values())
    user = ActorSimulator(actor_profile=profile, initial_query=asking.input, max_turns=asking.metadata["max_turns"])
    assert user.conversation_history[-1]["content"] == [{"text": asking.input}]  # no model is called to build it
    assert experiment.to_dict()["cases"][0]["expected_environment_state"] is not None


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
        "kyc-investigation.goal_met",
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
