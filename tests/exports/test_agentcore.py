"""`--format agentcore` and `--format agentcore-simulated`, loaded by the AgentCore SDK itself (bedrock-agentcore,
the `exports` test extra): `FileDatasetProvider` and its scenario models, the ground truth its runners send
checked against botocore's AgentCore model, and the simulated user's system prompt as the SDK renders it.

Without the SDK these tests skip, unless GOLDSMITH_EXPORT_LIBS=required, which turns a missing library into a
failure (as in test_real_libraries.py).
"""

import json
import re
from pathlib import Path

import pytest

from config import InputError
from exports.agentcore import write_agentcore, write_agentcore_simulated
from exports.base import actions_text, history, opening
from store.dataset import Dataset
from store.records import Example

from .conftest import run
from .test_formats import context
from .test_real_libraries import library

FORMATS = ("agentcore", "agentcore-simulated")
DOMAINS = ("kyc", "crypto")


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """Datasets `kyc` and `crypto`, v1 of 30 simulated episodes each (seed 1): single-turn and multi-turn."""
    root = tmp_path_factory.mktemp("agentcore") / "output"
    for domain in DOMAINS:
        result = run("generate", "--domain", domain, "--count", "30", "--seed", "1", "--output-dir", str(root))
        assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def export(store, tmp_path):
    """`dataset export DOMAIN --format FMT --out tmp/NAME`; returns the path written."""

    def invoke(domain: str, fmt: str, name: str | None = None) -> Path:
        out = tmp_path / (name or f"{domain}-{fmt}.jsonl")
        result = run("dataset", "export", domain, "--format", fmt, "--out", str(out), "--output-dir", str(store))
        assert result.exit_code == 0, result.output
        assert f"wrote 30 records of {domain}@v1 ({fmt})" in result.output
        return out

    return invoke


def records(store: Path, domain: str) -> list[Example]:
    dataset = Dataset(store, domain)
    return list(dataset.records(dataset.manifest()))


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def sdk():
    return library("bedrock_agentcore.evaluation.runner")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("domain", DOMAINS)
def test_every_line_loads_with_the_sdks_file_dataset_provider_and_its_scenario_models(store, export, domain, fmt):
    runner = sdk()
    out = export(domain, fmt)
    dataset = runner.FileDatasetProvider(str(out)).get_dataset()  # also refuses a repeated scenario_id
    ids = [r.id for r in records(store, domain)]
    assert len(dataset.scenarios) == len(ids) == 30
    assert [s.scenario_id for s in dataset.scenarios] == ids and len(set(ids)) == 30
    model = runner.PredefinedScenario if fmt == "agentcore" else runner.SimulatedScenario
    assert all(type(s) is model for s in dataset.scenarios)
    for row in lines(out):
        # the SDK's models ignore unknown fields: check that every field written is one of theirs
        assert set(row) <= set(model.model_fields) - {"schema_type"}
        model.model_validate(row)
        if fmt == "agentcore":
            assert all(set(turn) <= set(runner.Turn.model_fields) for turn in row["turns"])
        else:
            assert set(row["actor_profile"]) == set(runner.ActorProfile.model_fields)
            runner.ActorProfile.model_validate(row["actor_profile"])


@pytest.mark.parametrize("domain", DOMAINS)
def test_predefined_turns_replay_the_golden_conversation_with_the_reference_replies(store, export, domain):
    loaded = {
        s.scenario_id: s for s in sdk().FileDatasetProvider(str(export(domain, "agentcore"))).get_dataset().scenarios
    }
    conversations = 0
    for record in records(store, domain):
        turns = loaded[record.id].turns
        if record.scenario is None:
            assert [(t.input, t.expected_response) for t in turns] == [(record.prompt, record.reference_answer)]
            continue
        conversations += 1
        users = [t.content for t in record.conversation if t.role == "user"]
        replies = [t.content for t in record.conversation if t.role == "assistant"]
        assert [t.role for t in record.conversation] == ["user", "assistant"] * len(users)
        assert len(turns) == len(users) >= 2
        assert [t.input for t in turns] == users
        assert [t.expected_response for t in turns] == replies and replies[-1] == record.reference_answer
    assert conversations >= 5


@pytest.mark.parametrize("domain", DOMAINS)
def test_expected_trajectory_is_the_expected_tool_names_then_the_actions(store, export, domain):
    loaded = {
        s.scenario_id: s for s in sdk().FileDatasetProvider(str(export(domain, "agentcore"))).get_dataset().scenarios
    }
    for record in records(store, domain):
        expected = [c.name for c in record.expected_tool_calls] + [a.name for a in record.expected_actions]
        assert loaded[record.id].expected_trajectory == expected
        # the golden itself passes TrajectoryInOrderMatch: the calls it made hold the expected names in that order
        if record.scenario is not None:
            made = iter([e.name for turn in record.conversation for e in turn.tool_trace or []])
        else:
            made = iter([e.name for e in record.tool_trace])
        assert all(any(name == m for m in made) for name in expected), record.id
    assert any(r.expected_actions for r in records(store, domain))
    assert any(len(set(s.expected_trajectory)) < len(s.expected_trajectory) for s in loaded.values())  # 2 accounts


@pytest.mark.parametrize("domain", DOMAINS)
def test_assertions_state_the_verified_facts_the_actions_and_the_rubric_criteria(store, export, domain):
    predefined = {row["scenario_id"]: row for row in lines(export(domain, "agentcore"))}
    simulated = {row["scenario_id"]: row for row in lines(export(domain, "agentcore-simulated"))}
    rubric = Dataset(store, domain).kept_rubric(records(store, domain)[0].critique.rubric_version)
    judged = {c["id"]: c for c in rubric["criteria"] if c["method"] == "judge"}
    for record in records(store, domain):
        said = predefined[record.id]["assertions"]
        assert said == simulated[record.id]["assertions"]
        assert 1 <= len(said) <= 100 and all(isinstance(s, str) and s.strip() for s in said)
        assert any(f"verdict '{record.facts.verdict}'" in s for s in said)
        if record.facts.typology:
            assert any(record.facts.typology in s for s in said)
        for ref in record.facts.evidence_ids:
            assert any(ref in s for s in said)
        assert actions_text(record) in said
        for action in record.expected_actions:
            assert any(action.name in s and json.dumps(action.input, ensure_ascii=False) in s for s in said)
        for criterion in judged.values():
            applies = criterion.get("applies_to") is None or record.category in criterion["applies_to"]
            assert (" ".join(criterion["description"].split()) in said) == applies
        if record.scenario is not None:
            assert f"The user's goal is met: {record.scenario.goal}." in said
        [tools] = [s for s in said if s.startswith(("The agent calls the tools", "The agent answers without"))]
        assert all(name in tools for name in predefined[record.id]["expected_trajectory"])


@pytest.mark.parametrize("fmt", FORMATS)
def test_metadata_traces_each_scenario_back_to_its_golden(store, export, fmt):
    rows = {row["scenario_id"]: row for row in lines(export("kyc", fmt))}
    for record in records(store, "kyc"):
        meta = rows[record.id]["metadata"]
        assert meta["goldsmith_id"] == record.id and meta["dataset"] == "kyc@v1"
        assert (meta["category"], meta["difficulty"], meta["tags"]) == (record.category, record.difficulty, record.tags)
        assert meta["case_key"] == record.case_key and meta["facts"] == record.facts.model_dump(mode="json")
        assert (meta["rubric_id"], meta["rubric_version"]) == (
            record.critique.rubric_id,
            record.critique.rubric_version,
        )
        assert meta["lineage"]["run_id"] == record.provenance.run_id
        assert meta["lineage"]["models"] == record.provenance.models
        assert [c["name"] for c in meta["expected_tool_calls"]] == [c.name for c in record.expected_tool_calls]
        assert ("expected_actions" in meta) == (record.scenario is not None)
        if fmt == "agentcore-simulated":
            assert meta["reference_answer"] == record.reference_answer
            names = [c.name for c in record.expected_tool_calls] + [a.name for a in record.expected_actions]
            assert meta["expected_trajectory"] == names


@pytest.mark.parametrize("domain", DOMAINS)
def test_a_simulated_scenario_plays_the_golden_user_and_tells_them_no_answer(store, export, domain):
    sdk()
    library("strands_evals")  # the SDK builds the simulated user's profile with it
    from bedrock_agentcore.evaluation.runner.scenario_executor import _render_system_prompt
    from strands_evals.types.simulation import ActorProfile

    loaded = {
        s.scenario_id: s
        for s in sdk().FileDatasetProvider(str(export(domain, "agentcore-simulated"))).get_dataset().scenarios
    }
    for record in records(store, domain):
        scenario = loaded[record.id]
        user_turns = sum(1 for t in history(record) if t.role == "user")
        assert scenario.input == opening(record)
        if record.scenario is not None:
            assert scenario.actor_profile.goal == record.scenario.goal
            assert scenario.max_turns == record.scenario.max_turns // 2 >= user_turns
            assert scenario.actor_profile.traits["private_facts"] == record.scenario.private_facts
            for value in record.scenario.private_facts.values():
                assert value in scenario.actor_profile.context
        else:
            assert scenario.input == record.prompt and scenario.max_turns == 2
            assert record.request_type.replace("_", " ") in scenario.actor_profile.goal
        assert scenario.actor_profile.traits["persona"] == record.persona
        profile = ActorProfile(
            traits=scenario.actor_profile.traits,
            context=scenario.actor_profile.context,
            actor_goal=scenario.actor_profile.goal,
        )
        prompt = _render_system_prompt(None, profile, scenario.scenario_description)
        assert scenario.actor_profile.goal in prompt and record.id in prompt
        seen = json.dumps(scenario.actor_profile.model_dump()) + scenario.scenario_description
        # a single request's category names its answer (structuring, pep_match); a conversation's names what the
        # user does (push_back), which the simulated user is meant to know
        secrets = [
            record.facts.verdict,
            *record.facts.evidence_ids,
            *([record.category] if not record.scenario else []),
        ]
        for secret in secrets:
            assert not re.search(rf"\b{re.escape(secret)}\b", seen), (record.id, secret)
        for action in record.expected_actions:  # unless the user asks for that very action (add_to_watchlist)
            assert action.name not in seen or action.name in record.scenario.follow_ups, (record.id, action.name)


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_ground_truth_the_sdk_runners_send_fits_the_agentcore_api(store, export, fmt):
    """Each scenario as the batch runner's inline ground truth (StartBatchEvaluation) and, for predefined ones, as the
    on-demand runner's reference inputs (Evaluate), validated against botocore's `bedrock-agentcore` model."""
    runner = sdk()
    botocore_session = library("botocore.session")
    from bedrock_agentcore.evaluation.runner.batch.batch_evaluation_runner import BatchEvaluationRunner
    from botocore.validate import ParamValidator

    model = botocore_session.get_session().get_service_model("bedrock-agentcore")
    evaluate = model.operation_model("Evaluate").input_shape.members["evaluationReferenceInputs"]
    batch = BatchEvaluationRunner.__new__(BatchEvaluationRunner)  # only its ground-truth mapping is used
    on_demand = runner.OnDemandEvaluationDatasetRunner.__new__(runner.OnDemandEvaluationDatasetRunner)
    for domain in DOMAINS:
        for scenario in runner.FileDatasetProvider(str(export(domain, fmt))).get_dataset().scenarios:
            truth = batch._transform_ground_truth(scenario)
            report = ParamValidator().validate(truth, model.shape_for("InlineGroundTruth"))
            assert not report.has_errors(), report.generate_report()
            assert truth["assertions"] == [{"text": a} for a in scenario.assertions]
            if fmt == "agentcore":
                traces = [f"{i:032x}" for i in range(len(scenario.turns))]
                references = on_demand._build_reference_inputs(scenario, traces, "session-1")
                report = ParamValidator().validate(references, evaluate)
                assert not report.has_errors(), report.generate_report()
                assert len(references) == 1 + len(scenario.turns)  # the session's, then one per expected response


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_export_of_a_version_is_byte_identical_when_run_twice(export, fmt):
    for domain in DOMAINS:
        assert export(domain, fmt, "a.jsonl").read_bytes() == export(domain, fmt, "b.jsonl").read_bytes()


@pytest.mark.parametrize("write", [write_agentcore, write_agentcore_simulated])
def test_a_version_whose_rubric_nobody_kept_cannot_be_exported(store, write):
    ctx = context(find_rubric=lambda: (None, "kyc@v1 was judged with rubric x@y, which the dataset does not keep"))
    with pytest.raises(InputError, match="--format agentcore.*which the dataset does not keep"):
        write(records(store, "kyc"), ctx)
