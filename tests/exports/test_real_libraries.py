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

from exports.base import calls_made

from .conftest import run
from .test_formats import context, conversation, records_of, single_turn

ARN = "arn:aws:iam::123456789012:role/goldsmith-eval"
JOB_ARN = "arn:aws:bedrock:us-east-1:123456789012:evaluation-job/"


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
    assert golden.expectations.must == data[0]["expectations"]["must"] and golden.expectations.must


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
    assert sample.rubrics == rows[0]["rubrics"]
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
    must = golden.expectations.must
    assert f"end_state_matches: {action.name} is called with {json.dumps(action.input)}" in must
    assert must[0].startswith(f"verdict_correct: The final answer gives the verdict '{acts.facts.verdict}'")
    assert {"right_tools", "clear_conclusion", "actionable_next_step", "goal_met"} <= {c.split(":")[0] for c in must}
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
    """What botocore's parameter validation does not check: enums, string patterns and maximum lengths."""
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
        if shape.enum and value not in shape.enum:
            problems.append(f"{where}: {value!r} is not one of {shape.enum}")
        if len(value) > shape.metadata.get("max", len(value)):
            problems.append(f"{where}: longer than {shape.metadata['max']}")
        pattern = shape.metadata.get("pattern")
        if pattern and not re.fullmatch(pattern, value, flags=re.DOTALL):
            problems.append(f"{where}: {value!r} does not match {pattern}")
    return problems


def botocore_problems(client, request: dict) -> list[str]:
    """Everything botocore's model says is wrong with a `create_evaluation_job` request: its own parameter
    validation (types, required members, minimums), then enums, patterns and maximum lengths."""
    from botocore.exceptions import ParamValidationError
    from botocore.validate import validate_parameters

    shape = client.meta.service_model.operation_model("CreateEvaluationJob").input_shape
    try:
        validate_parameters(request, shape)
    except ParamValidationError as error:
        return [str(error)]
    return violations(shape, request)


def test_botocore_model_accepts_every_job_request_the_export_writes(store, s3, monkeypatch):
    """Sharded so that several requests are written: each one is checked against botocore's Bedrock model and sent
    through `Stubber`."""
    import exports.bedrock as bedrock

    monkeypatch.setattr(bedrock, "MAX_RECORDS", 15)
    result = run(
        "dataset", "export", "kyc", "--format", "bedrock", "--to", "s3://goldens/all/kyc.jsonl",
        "--with-responses", "--role-arn", ARN, "--output-dir", str(store),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="goldens", Prefix="all/")["Contents"]]
    jobs = sorted(k for k in keys if k.endswith("-job.json"))
    assert len(jobs) == 3
    client = boto3.client("bedrock", region_name="us-east-1")
    task_types = client.meta.service_model.shape_for("EvaluationTaskType").enum
    for key in jobs:
        request = json.loads(s3.get_object(Bucket="goldens", Key=key)["Body"].read())
        assert botocore_problems(client, request) == [], key
        [config] = request["evaluationConfig"]["automated"]["datasetMetricConfigs"]
        assert config["taskType"] in task_types
        with Stubber(client) as stub:
            stub.add_response("create_evaluation_job", {"jobArn": f"{JOB_ARN}abcdefghij12"}, expected_params=request)
            client.create_evaluation_job(**request)
            stub.assert_no_pending_responses()


def test_the_model_check_finds_a_task_type_botocore_does_not_list(store, s3):
    """The check above can fail: botocore's own validation lets an unknown taskType through, the enum check does
    not (the export wrote "General" before)."""
    from botocore.validate import validate_parameters

    run(
        "dataset", "export", "kyc", "--format", "bedrock", "--to", "s3://goldens/t/kyc.jsonl",
        "--with-responses", "--role-arn", ARN, "--output-dir", str(store),
    )  # fmt: skip
    request = json.loads(s3.get_object(Bucket="goldens", Key="t/kyc-job.json")["Body"].read())
    request["evaluationConfig"]["automated"]["datasetMetricConfigs"][0]["taskType"] = "General"
    client = boto3.client("bedrock", region_name="us-east-1")
    validate_parameters(request, client.meta.service_model.operation_model("CreateEvaluationJob").input_shape)
    [problem] = botocore_problems(client, request)
    assert "taskType: 'General' is not one of ['Summarization'," in problem


def test_botocore_accepts_the_create_evaluation_job_request_for_the_export(store, s3):
    result = run(
        "dataset", "export", "kyc", "--format", "bedrock", "--to", "s3://goldens/evals/kyc.jsonl",
        "--with-responses", "--role-arn", ARN, "--output-dir", str(store),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    request = json.loads(s3.get_object(Bucket="goldens", Key="evals/kyc-job.json")["Body"].read())
    client = boto3.client("bedrock", region_name="us-east-1")
    assert botocore_problems(client, request) == []
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
    assert automated["datasetMetricConfigs"][0]["taskType"] == "QuestionAndAnswer"
    with Stubber(client) as stub:
        job_arn = f"{JOB_ARN}abcdefghij12"
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


# Each library's own offline metric on the export: the golden's calls score full marks, a broken call less.


def broken_input(arguments: dict) -> dict:
    """The same arguments with the first one's value changed."""
    key = next(iter(arguments))
    return {**arguments, key: "WRONG"}


def test_deepeval_tool_correctness_gives_the_golden_tools_full_marks_and_broken_calls_less(
    store, export, monkeypatch, tmp_path
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    dataset_module = library("deepeval.dataset")
    from deepeval.errors import DeepEvalError
    from deepeval.metrics import ToolCorrectnessMetric
    from deepeval.models import DeepEvalBaseLLM
    from deepeval.test_case import LLMTestCase, ToolCall, ToolCallParams

    class NoModel(DeepEvalBaseLLM):
        """A judge that is never asked: without `available_tools` the metric scores in code."""

        def __init__(self):
            pass

        def load_model(self):
            return None

        def generate(self, *args, **kwargs):
            raise AssertionError("ToolCorrectnessMetric called its model")

        async def a_generate(self, *args, **kwargs):
            raise AssertionError("ToolCorrectnessMetric called its model")

        def get_model_name(self):
            return "no model"

    result, out = export("deepeval", "kyc.json")
    assert result.exit_code == 0, result.output
    dataset = dataset_module.EvaluationDataset()
    dataset.add_goldens_from_json_file(str(out))
    records = {r.id: r for r in records_of(store)}
    with pytest.raises(DeepEvalError, match="OpenAI API key is not configured"):
        ToolCorrectnessMetric()  # builds its judge even when it will not use it (see docs/exports.md)
    metrics = [
        ToolCorrectnessMetric(model=NoModel(), evaluation_params=[ToolCallParams.INPUT_PARAMETERS]),
        ToolCorrectnessMetric(
            model=NoModel(), evaluation_params=[ToolCallParams.INPUT_PARAMETERS], should_consider_ordering=True
        ),
    ]

    def scores(golden, called: list) -> list[float]:
        case = LLMTestCase(
            input=golden.input,
            actual_output=golden.expected_output,
            tools_called=called,
            expected_tools=golden.expected_tools,
        )
        for metric in metrics:
            metric.measure(case, _show_indicator=False)
        return [metric.score for metric in metrics]

    assert len(dataset.goldens) == len(single_turn(records_of(store)))
    for golden in dataset.goldens:
        expected = golden.expected_tools
        run_calls = [ToolCall(name=e.name, input_parameters=e.input) for e in records[golden.name].tool_trace]
        assert scores(golden, expected) == [1.0, 1.0]
        assert scores(golden, run_calls) == [1.0, 1.0]  # the golden's own run: its extra look-ups cost nothing
        if not expected:  # a request to decline: any call is wrong
            assert max(scores(golden, [ToolCall(name="get_customer_profile", input_parameters={})])) == 0.0
            continue
        assert all(tool.input_parameters for tool in expected)
        assert max(scores(golden, expected[:-1])) < 1.0  # a call left out
        wrong = [expected[0].model_copy(update={"input_parameters": broken_input(expected[0].input_parameters)})]
        assert max(scores(golden, wrong + expected[1:])) < 1.0  # a call with a wrong argument
    monkeypatch.setenv("OPENAI_API_KEY", "unused")  # the other way: any key, as the metric never calls the model
    ToolCorrectnessMetric()


@pytest.mark.filterwarnings("ignore:Length mismatch", "ignore:Reference tool calls are empty", "ignore:No tool calls")
def test_ragas_tool_call_metrics_give_the_golden_calls_full_marks_and_broken_calls_less(store, export):
    ragas = library("ragas")
    from ragas.messages import AIMessage, ToolCall
    from ragas.metrics._domain_specific_rubrics import DEFAULT_WITH_REFERENCE_RUBRICS
    from ragas.metrics.collections import ToolCallAccuracy, ToolCallF1

    result, out = export("ragas", "kyc.jsonl")
    assert result.exit_code == 0, result.output
    dataset = ragas.EvaluationDataset.from_jsonl(str(out))
    metrics = [ToolCallAccuracy(), ToolCallF1()]

    def scores(sample, calls: list) -> list[float]:
        answer = [AIMessage(content="", tool_calls=calls)] if calls else []
        messages = [*sample.user_input, *answer, AIMessage(content=sample.reference)]
        return [m.score(user_input=messages, reference_tool_calls=sample.reference_tool_calls).value for m in metrics]

    extra_action = ToolCall(name="close_alert", args={"customer_id": "C-0000"})
    full, declined = [], 0
    for sample in dataset.samples:
        assert sample.rubrics.keys() == DEFAULT_WITH_REFERENCE_RUBRICS.keys()  # the score descriptions Ragas reads
        made = [c for m in sample.user_input if isinstance(m, AIMessage) for c in m.tool_calls or []]
        assert sample.reference_tool_calls[: len(made)] == made  # the conversation's own calls lead the reference
        due = sample.reference_tool_calls[len(made) :]
        if not sample.reference_tool_calls:  # a request to decline: ToolCallF1 gives 0 when neither side calls
            assert scores(sample, []) == [1.0, 0.0]
            declined += 1
        else:
            full.append(scores(sample, due))
        assert max(scores(sample, [*due, extra_action])) < 1.0  # an action nobody asked for
        if due:
            assert max(scores(sample, due[:-1])) < 1.0  # a call left out
            wrong = due[0].model_copy(update={"args": broken_input(due[0].args)})
            assert max(scores(sample, [wrong, *due[1:]])) < 1.0  # a call with a wrong argument
    assert full == [[1.0, 1.0]] * len(full) and len(full) + declined == 40 and declined
    # the golden's own run scores lower: Ragas counts the calls a case allows at no cost, and look-ups made again
    records = records_of(store)
    own = [
        scores(
            sample,
            [
                ToolCall(name=e.name, args=e.input)
                for e in (r.tool_trace if r.scenario is None else calls_made(r.conversation[-1]))
            ],
        )
        for sample, r in zip(dataset.samples, records, strict=True)
    ]
    assert sum(accuracy == 1.0 for accuracy, _ in own) < len(own) // 2


def test_strands_evals_deterministic_checks_give_the_golden_trajectory_full_marks_and_broken_ones_less(store, export):
    strands_evals = library("strands_evals")
    from strands_evals.evaluators import ToolCalled
    from strands_evals.tools.evaluation_tools import exact_match_scorer, in_order_match_scorer
    from strands_evals.types.evaluation import EvaluationData

    result, out = export("strands-evals", "kyc.json")
    assert result.exit_code == 0, result.output
    experiment = strands_evals.Experiment.from_file(str(out))
    records = {r.id: r for r in records_of(store)}
    [judge] = experiment.evaluators
    assert judge.model is None  # Strands Evals' default judge: a Bedrock model (docs/exports.md)
    for case in experiment.cases:
        record = records[case.name]
        expected = case.expected_trajectory
        assert all(set(step) == {"name", "input"} for step in expected)
        if not expected:  # a request to decline (exact_match_scorer divides by the expected length: 0 here)
            assert in_order_match_scorer(actual_trajectory=[], expected_trajectory=expected) == 1.0
            continue
        keys = {step["name"]: step["input"].keys() for step in expected}
        # the golden's own run, every turn, each call as {name, input}; an action keeps the arguments the
        # expected step checks (its narrative or reason is free text)
        run_calls = [
            {"name": e.name, "input": {k: v for k, v in e.input.items() if k in keys.get(e.name, e.input)}}
            for turn in record.conversation
            for e in (turn.tool_trace or [])
        ] or [{"name": e.name, "input": e.input} for e in record.tool_trace]
        assert exact_match_scorer(actual_trajectory=expected, expected_trajectory=expected) == 1.0
        assert in_order_match_scorer(actual_trajectory=run_calls, expected_trajectory=expected) == 1.0
        missing = [step for step in run_calls if step != expected[-1]]
        assert in_order_match_scorer(actual_trajectory=missing, expected_trajectory=expected) < 1.0
        wrong = [{**expected[0], "input": broken_input(expected[0]["input"])}, *expected[1:]]
        assert exact_match_scorer(actual_trajectory=wrong, expected_trajectory=expected) < 1.0
        names = [step["name"] for step in run_calls]
        for name in dict.fromkeys(step["name"] for step in expected):
            check = ToolCalled(tool_name=name)
            assert check.evaluate(EvaluationData(input=case.input, actual_trajectory=names))[0].test_pass
            without = [n for n in names if n != name]
            assert not check.evaluate(EvaluationData(input=case.input, actual_trajectory=without))[0].test_pass
    data = json.loads(out.read_text())
    data["evaluators"][0]["model"] = "us.amazon.nova-pro-v1:0"  # how to pick another judge in the file
    assert strands_evals.Experiment.from_dict(data).evaluators[0].model == "us.amazon.nova-pro-v1:0"
