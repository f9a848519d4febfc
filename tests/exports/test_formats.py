"""What each export format writes, the record selection, and bad input: all without the downstream libraries
(tests/exports/test_real_libraries.py loads the files with them)."""

import json
from collections import Counter

import pytest
import yaml

from exports import FORMATS, select
from exports.base import Context, actions_text, calls_due, due_actions, flattened
from exports.bedrock import MAX_RAG_TURNS, write_bedrock, write_bedrock_rag
from main import EXPORT_FORMATS
from rubrics.model import BUNDLED, load_rubric
from simulation.domains import get_domain
from store.dataset import Dataset
from store.records import Example, ToolTraceEntry, Turn

from .conftest import run

ARN = "arn:aws:iam::123456789012:role/goldsmith-eval"


def records_of(store) -> list[Example]:
    dataset = Dataset(store, "kyc")
    return list(dataset.records(dataset.manifest()))


def conversation(record: Example, turns: int) -> Example:
    """`record` as a conversation: `turns` user turns, the earlier ones answered by clarifications."""
    talk = []
    for i in range(turns - 1):
        talk += [Turn(role="user", content=f"earlier question {i}"), Turn(role="assistant", content=f"reply {i}")]
    talk += [Turn(role="user", content=record.prompt), Turn(role="assistant", content=record.reference_answer)]
    return record.model_copy(update={"conversation": talk})


def single_turn(records: list[Example]) -> list[Example]:
    return [r for r in records if r.scenario is None]


def context(**changes) -> Context:
    domain = get_domain("kyc")
    rubric = load_rubric(BUNDLED / "kyc.yaml", domain="kyc", categories=set(domain.categories))
    return Context(**{"dataset": "kyc", "version": 1, "mission": "m", "find_rubric": lambda: (rubric, ""), **changes})


def test_the_cli_offers_exactly_the_registered_formats():
    assert set(EXPORT_FORMATS) == set(FORMATS)


def test_jsonl_export_is_the_stored_version_byte_for_byte(store, export):
    result, out = export("jsonl", "kyc.jsonl")
    assert result.exit_code == 0, result.output
    dataset = Dataset(store, "kyc")
    assert out.read_bytes() == b"".join(dataset.iter_bytes(dataset.manifest()))


def test_filter_keeps_only_matching_records_and_a_field_given_twice_means_either(store, export):
    result, out = export("jsonl", "f.jsonl", "--filter", "category=pass_through", "--filter", "category=structuring")
    assert result.exit_code == 0, result.output
    kept = Counter(json.loads(line)["category"] for line in out.read_text().splitlines())
    expected = Counter(r.category for r in records_of(store) if r.category in {"pass_through", "structuring"})
    assert kept == expected and set(kept) == {"pass_through", "structuring"}
    result, out = export("jsonl", "g.jsonl", "--filter", "difficulty=adversarial,category=out_of_scope")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows and all(r["difficulty"] == "adversarial" and r["category"] == "out_of_scope" for r in rows)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("colour=red", "--filter: unknown field 'colour'; fields: category, difficulty, persona"),
        ("category=nope", "--filter: no record has category 'nope'; present: "),
        ("category", "--filter: 'category' is not FIELD=VALUE"),
        ("difficulty=adversarial,category=structuring", "--filter: no record matches all the filters together"),
    ],
)
def test_a_bad_filter_exits_2_with_one_line_and_writes_nothing(export, option, message):
    result, out = export("jsonl", "bad.jsonl", "--filter", option)
    assert result.exit_code == 2
    assert result.output.startswith(message) and len(result.output.splitlines()) == 1
    assert not out.exists()


def test_sample_is_stratified_by_category_deterministic_and_in_dataset_order(store):
    records = records_of(store)
    sample = select(records, {}, 20, seed=7)
    assert len(sample) == 20
    shares = Counter(r.category for r in records)
    drawn = Counter(r.category for r in sample)
    for category, n in shares.items():
        assert abs(drawn[category] - 20 * n / len(records)) < 1, (category, drawn[category], n)
    assert [r.id for r in sample] == [r.id for r in records if r in sample]
    assert sample == select(records, {}, 20, seed=7)
    assert sample != select(records, {}, 20, seed=8)
    assert select(records, {}, 1000, seed=7) == records


def test_bedrock_rows_carry_prompt_reference_category_and_the_stored_responses(store, export):
    result, out = export("bedrock", "kyc.jsonl", "--with-responses")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    records = records_of(store)
    assert len(rows) == len(records)
    for row, record in zip(rows, records, strict=True):
        assert set(row) == {"prompt", "referenceResponse", "category", "modelResponses"}
        assert (row["prompt"], row["referenceResponse"], row["category"]) == (
            flattened(record),
            record.reference_answer,
            record.category,
        )
        assert row["modelResponses"] == [{"response": record.reference_answer, "modelIdentifier": "simulated"}]
    result, out = export("bedrock", "plain.jsonl")
    assert all("modelResponses" not in json.loads(line) for line in out.read_text().splitlines())


def test_bedrock_files_hold_at_most_the_limit_and_are_named_as_shards(store, monkeypatch):
    import exports.bedrock as bedrock

    monkeypatch.setattr(bedrock, "MAX_RECORDS", 15)
    files = write_bedrock(records_of(store), context())
    assert sorted(files) == ["00001", "00002", "00003"]
    sizes = [len(files[tag].splitlines()) for tag in sorted(files)]
    assert sizes == [15, 15, 10]


def test_a_conversation_is_flattened_into_the_prompt_as_user_and_assistant_paragraphs(store):
    record = conversation(records_of(store)[0], turns=2)
    assert flattened(record) == f"User: earlier question 0\n\nAssistant: reply 0\n\nUser: {record.prompt}"
    assert flattened(records_of(store)[0]) == records_of(store)[0].prompt
    row = json.loads(write_bedrock([record], context())[""])
    assert row["prompt"] == flattened(record) and row["referenceResponse"] == record.reference_answer


def test_bedrock_rag_pairs_each_user_turn_with_its_answer_and_keeps_the_last_five(store):
    single, long = records_of(store)[0], conversation(records_of(store)[1], turns=7)
    rows = [json.loads(line) for line in write_bedrock_rag([single, long], context())[""].splitlines()]
    assert rows[0] == {
        "conversationTurns": [
            {
                "prompt": {"content": [{"text": single.prompt}]},
                "referenceResponses": [{"content": [{"text": single.reference_answer}]}],
            }
        ]
    }
    turns = rows[1]["conversationTurns"]
    assert len(turns) == MAX_RAG_TURNS
    assert turns[0]["prompt"]["content"][0]["text"] == "earlier question 2"
    assert turns[0]["referenceResponses"][0]["content"][0]["text"] == "reply 2"
    assert turns[-1]["prompt"]["content"][0]["text"] == long.prompt
    assert turns[-1]["referenceResponses"][0]["content"][0]["text"] == long.reference_answer


def test_strands_evals_cases_and_an_output_evaluator_built_from_the_judged_criteria(store, export):
    result, out = export("strands-evals", "kyc.json")
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    record = records_of(store)[0]
    case = data["cases"][0]
    assert case["name"] == record.id and case["input"] == record.prompt
    assert case["expected_output"] == record.reference_answer
    assert case["expected_trajectory"] == [{"name": c.name, "input": c.input} for c in record.expected_tool_calls]
    assert case["metadata"]["category"] == record.category
    assert case["metadata"]["rubric_version"] == record.critique.rubric_version
    assert case["metadata"]["task_description"].startswith("You simulate a KYC")
    [evaluator] = data["evaluators"]
    assert evaluator["evaluator_type"] == "OutputEvaluator"
    for criterion in ("clear_conclusion", "explains_evidence", "actionable_next_step", "safe_handling"):
        assert f"{criterion}:" in evaluator["rubric"]
    assert "verdict_correct" not in evaluator["rubric"]  # programmatic: checked by the case's facts, not a judge


def test_deepeval_puts_conversations_in_a_multi_turn_sibling(store):
    from exports.deepeval import write_deepeval

    records = records_of(store)
    files = write_deepeval([records[0], conversation(records[1], turns=2)], context())
    assert set(files) == {"", "multi-turn"}
    [golden] = json.loads(files[""])
    assert golden["input"] == records[0].prompt and golden["expected_output"] == records[0].reference_answer
    assert golden["expected_tools"] == [
        {"name": c.name, "input_parameters": c.input} for c in records[0].expected_tool_calls
    ]
    assert golden["context"] == [t.output for t in records[0].tool_trace]
    [conversational] = json.loads(files["multi-turn"])
    assert conversational["scenario"] == "earlier question 0"
    assert [t["role"] for t in conversational["turns"]] == ["user", "assistant", "user"]
    assert set(write_deepeval(single_turn(records), context())) == {""}
    assert json.loads(write_deepeval([conversation(records[1], turns=2)], context())[""]) == []


def test_promptfoo_assertions_come_from_the_rubric_and_the_verified_facts(store, export):
    result, out = export("promptfoo", "kyc.yaml", "--grader", "openai:gpt-4.1-mini")  # judged criteria need a grader
    assert result.exit_code == 0, result.output
    tests = yaml.safe_load(out.read_text())
    records = {r.id: r for r in records_of(store)}
    assert len(tests) == len(records)
    for test in tests:
        record = records[test["metadata"]["goldsmith_id"]]
        assert test["vars"]["prompt"] == flattened(record)
        by_metric: dict[str, list[dict]] = {}
        for assertion in test["assert"]:
            by_metric.setdefault(assertion["metric"], []).append(assertion)
        evidence = by_metric.get("evidence_grounded", [])
        assert [a["value"] for a in evidence] == record.facts.evidence_ids
        assert {a["type"] for a in evidence} <= {"contains"}
        [tools] = by_metric["right_tools"]
        due = [a.name for a in due_actions(record)]  # a conversation's actions its final answer still has to take
        names = list(dict.fromkeys([*(c.name for c in record.expected_tool_calls), *due]))
        if names:
            assert tools["type"] == "tool-call-f1" and tools["threshold"] == 0.9 and tools["value"] == names
        else:  # tool-call-f1 takes no empty list: a case needing no tool calls none
            assert tools["type"] == "trajectory:step-count" and tools["value"] == {"type": "tool", "max": 0}
        assert by_metric["no_national_ids"][0]["type"] == "not-regex"
        [verdict] = by_metric["verdict_correct"]
        assert record.facts.verdict in verdict["value"] and verdict["provider"] == "openai:gpt-4.1-mini"
        assert ("safe_handling" in by_metric) == (record.difficulty == "adversarial")


def test_ragas_samples_are_multi_turn_with_reference_tool_calls(store, export):
    result, out = export("ragas", "kyc.jsonl")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    record = records_of(store)[0]
    assert rows[0] == {
        "user_input": [{"type": "human", "content": record.prompt}],
        "reference": record.reference_answer,
        "reference_tool_calls": [{"name": c.name, "args": c.input} for c in record.expected_tool_calls],
        "rubrics": rows[0]["rubrics"],
    }
    assert list(rows[0]["rubrics"]) == [f"score{n}_description" for n in range(1, 6)]


def test_the_rubric_for_each_case_goes_to_deepeval_expectations_and_ragas_rubrics(store):
    """Every gate of the rubric that applies to the case, with the case's values, is a DeepEval `must` condition;
    the Ragas rubric lists the same and the judged criteria that are not required."""
    from exports.deepeval import write_deepeval
    from exports.ragas import write_ragas

    records = single_turn(records_of(store))
    plain = next(r for r in records if r.category == "structuring")
    tricky = next(r for r in records if r.category == "out_of_scope")
    goldens = json.loads(write_deepeval([plain, tricky], context())[""])
    must = [[condition.split(":")[0] for condition in g["expectations"]["must"]] for g in goldens]
    gates = ["verdict_correct", "evidence_grounded", "no_national_ids", "clear_conclusion", "actionable_next_step"]
    assert must[0] == [*gates, "end_state_matches"]  # explains_evidence (1-5) is not required: not a gate
    assert must[1] == [*gates[:1], *gates[2:], "safe_handling", "declines_out_of_scope", "end_state_matches"]
    conditions = goldens[0]["expectations"]["must"]
    typology = f" (typology: {plain.facts.typology})"
    assert conditions[0] == f"verdict_correct: The final answer gives the verdict '{plain.facts.verdict}'{typology}."
    assert conditions[1].endswith(f"behind the verdict: {', '.join(plain.facts.evidence_ids)}.")
    assert conditions[3].startswith("clear_conclusion: The answer opens with a one-line conclusion")
    assert "Passes, e.g.: **Verdict: Suspicious (structuring).**" in conditions[3]
    assert conditions[-1] == "end_state_matches: " + actions_text(plain)
    assert not any("Applies only" in c or "right_tools" in c for g in goldens for c in g["expectations"]["must"])
    rows = [json.loads(line) for line in write_ragas([plain, tricky], context())[""].splitlines()]
    rubric = rows[1]["rubrics"]
    assert rubric["score1_description"].startswith(f"The response does not give the verdict '{tricky.facts.verdict}'")
    assert "(no_national_ids, clear_conclusion, actionable_next_step, safe_handling, " in rubric["score3_description"]
    assert "not required (explains_evidence)" in rubric["score4_description"]
    for condition in goldens[1]["expectations"]["must"]:
        assert condition in rubric["score5_description"]
    assert "explains_evidence: " in rubric["score5_description"] and "(not required)" in rubric["score5_description"]
    assert "safe_handling:" not in rows[0]["rubrics"]["score5_description"]  # applies to adversarial kinds only
    assert "answer_matches_finding" not in rubric["score5_description"]  # checks the structured finding, not text


@pytest.mark.parametrize(
    ("fmt", "name", "message"),
    [
        ("strands-evals", "kyc.jsonl", "--out: --format strands-evals writes a .json file, not 'kyc.jsonl'"),
        ("promptfoo", "kyc.json", "--out: --format promptfoo writes a .yaml or .yml file, not 'kyc.json'"),
        ("bedrock-rag", "x.jsonl --with-responses", "--with-responses: only --format bedrock takes it"),
        ("ragas", "x.jsonl --with-responses", "--with-responses: only --format bedrock takes it"),
        ("bedrock", f"x.jsonl --with-responses --role-arn {ARN}", "--role-arn: an evaluation job reads its dataset"),
        ("bedrock", f"x.jsonl --role-arn {ARN}", "--role-arn: the job request is for precomputed responses"),
        ("jsonl", f"x.jsonl --role-arn {ARN}", "--role-arn: only --format bedrock takes it"),
    ],
)
def test_bad_export_options_exit_2_with_one_line_and_write_nothing(export, tmp_path, fmt, name, message):
    name, *options = name.split()
    result, out = export(fmt, name, *options)
    assert result.exit_code == 2
    assert result.output.startswith(message) and len(result.output.splitlines()) == 1, result.output
    assert list(tmp_path.iterdir()) == []


def test_a_version_judged_with_a_rubric_nobody_kept_cannot_build_rubric_checks(store, export, tmp_path):
    """Datasets made before rubrics were kept: the bundled rubric stands in only when its version matches."""
    import shutil

    old = tmp_path / "old"
    shutil.copytree(store, old)
    shutil.rmtree(old / "kyc" / "rubrics")
    edited = tmp_path / "edited.yaml"
    edited.write_text((BUNDLED / "kyc.yaml").read_text().replace("pass_threshold: 0.8", "pass_threshold: 0.7"))
    assert export("strands-evals", "ok.json", output_dir=old)[0].exit_code == 0  # the bundled file matches
    for fmt, name in (("strands-evals", "x.json"), ("deepeval", "y.json"), ("ragas", "z.jsonl")):
        result, out = export(fmt, name, "--rubric", str(edited), output_dir=old)
        assert result.exit_code == 2 and not out.exists(), fmt
        assert result.output.startswith(f"--format {fmt}: ")
        assert "was judged with rubric kyc-investigation@" in result.output and "pass --rubric" in result.output
    assert export("jsonl", "fine.jsonl", "--rubric", str(edited), output_dir=old)[0].exit_code == 0
    assert export("jsonl", "fine2.jsonl", "--rubric", str(tmp_path / "missing.yaml"), output_dir=old)[0].exit_code == 0


def test_the_dataset_keeps_the_rubric_each_version_was_judged_with(store):
    dataset = Dataset(store, "kyc")
    version = dataset.manifest().rubric["version"]
    kept = dataset.kept_rubric(version)
    assert kept is not None
    domain = get_domain("kyc")
    assert load_rubric(BUNDLED / "kyc.yaml", domain="kyc", categories=set(domain.categories)).snapshot() == kept


def test_round_trip_jsonl_export_import_export_gives_identical_records(store, export, tmp_path):
    result, first = export("jsonl", "first.jsonl")
    target = tmp_path / "imported"
    imported = run("dataset", "import", str(first), "--into", "copy", "--output-dir", str(target))
    assert imported.exit_code == 0, imported.output
    assert imported.output.strip() == f"imported 40 records from {first} into copy@v1"
    result, second = export("jsonl", "second.jsonl", ref="copy", output_dir=target)
    assert second.read_bytes() == first.read_bytes()
    manifest = Dataset(target, "copy").manifest()
    assert manifest.operation == "import" and manifest.records == 40
    assert run("dataset", "verify", "copy", "--output-dir", str(target)).exit_code == 0
    again = run("dataset", "import", str(first), "--into", "copy", "--output-dir", str(target))
    assert again.output.strip() == f"nothing new: all 40 records of {first} are already in copy"
    assert Dataset(target, "copy").versions() == [1]


def test_importing_a_bad_file_names_each_bad_line_and_writes_nothing(store, export, tmp_path):
    result, good = export("jsonl", "good.jsonl")
    lines = good.read_text().splitlines()
    broken = json.loads(lines[2])
    del broken["prompt"]
    broken["critique"]["score"] = 7
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([lines[0], lines[1], json.dumps(broken), "not json"]) + "\n")
    target = tmp_path / "target"
    result = run("dataset", "import", str(bad), "--into", "copy", "--output-dir", str(target))
    assert result.exit_code == 2
    problems = result.output.splitlines()
    assert f"{bad}:3: prompt: Field required" in problems
    assert any(p.startswith(f"{bad}:3: critique.score: ") for p in problems)
    assert any(p.startswith(f"{bad}:4: ") for p in problems)
    assert not target.exists()


def test_export_to_s3_writes_shards_and_a_job_request_per_shard(store, s3, monkeypatch):
    import exports.bedrock as bedrock

    monkeypatch.setattr(bedrock, "MAX_RECORDS", 25)
    result = run(
        "dataset", "export", "kyc", "--format", "bedrock", "--to", "s3://goldens/evals/kyc.jsonl",
        "--with-responses", "--role-arn", ARN, "--output-dir", str(store),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="goldens")["Contents"])
    assert keys == [
        "evals/kyc-00001-job.json",
        "evals/kyc-00001.jsonl",
        "evals/kyc-00002-job.json",
        "evals/kyc-00002.jsonl",
    ]
    job = json.loads(s3.get_object(Bucket="goldens", Key="evals/kyc-00002-job.json")["Body"].read())
    [config] = job["evaluationConfig"]["automated"]["datasetMetricConfigs"]
    assert config["dataset"]["datasetLocation"]["s3Uri"] == "s3://goldens/evals/kyc-00002.jsonl"
    assert job["roleArn"] == ARN and job["outputDataConfig"]["s3Uri"] == "s3://goldens/evals/results/"
    rows = s3.get_object(Bucket="goldens", Key="evals/kyc-00002.jsonl")["Body"].read().splitlines()
    assert len(rows) == 15
    source = job["inferenceConfig"]["models"][0]["precomputedInferenceSource"]["inferenceSourceIdentifier"]
    assert {json.loads(r)["modelResponses"][0]["modelIdentifier"] for r in rows} == {source}


# Multi-turn cases (record schema 3): a scenario, assistant turns with the tools they called, expected actions.


def case_of(store, category: str, where=lambda r: True) -> Example:
    """The first generated record of `category` (a multi-turn category of the KYC domain) that `where` accepts."""
    return next(r for r in records_of(store) if r.category == category and r.scenario is not None and where(r))


def test_the_generated_store_holds_multi_turn_cases_that_act_and_ask(store):
    acts = case_of(store, "follow_up_action")
    assert len(acts.conversation) >= 4 and acts.expected_actions and acts.end_state == acts.expected_end_state
    assert acts.conversation[1].tool_trace and due_actions(acts) == acts.expected_actions  # the last turn acts
    pushed = case_of(store, "push_back")
    assert pushed.expected_actions and due_actions(pushed) == []  # acted before the push-back
    assert case_of(store, "clarify_identity").scenario.private_facts


def test_due_actions_ignore_an_action_an_earlier_turn_took_with_its_lists_in_any_order(store):
    record = case_of(store, "follow_up_action", lambda r: r.expected_actions[0].name == "file_sar")
    action = record.expected_actions[0]
    taken = ToolTraceEntry(
        name=action.name,
        input={**action.input, "evidence_ids": action.input["evidence_ids"][::-1], "narrative": "n"},
        output="{}",
        status="success",
    )
    talk = [*record.conversation]
    talk[1] = talk[1].model_copy(update={"tool_trace": [*talk[1].tool_trace, taken]})
    assert due_actions(record.model_copy(update={"conversation": talk})) == []
    talk[1] = talk[1].model_copy(update={"tool_trace": [taken.model_copy(update={"status": "error"})]})
    assert due_actions(record.model_copy(update={"conversation": talk})) == [action]


def test_deepeval_conversational_golden_keeps_scenario_persona_turns_tools_and_actions(store):
    from exports.deepeval import write_deepeval

    acts, asks = case_of(store, "follow_up_action"), case_of(store, "clarify_identity")
    files = write_deepeval([acts, asks], context(persona="Busy analyst."))
    assert json.loads(files[""]) == []
    golden, clarifying = json.loads(files["multi-turn"])
    assert golden["scenario"] == f"The user's goal: {acts.scenario.goal}.\n\nThey open with:\n{acts.prompt}"
    history = acts.conversation[:-1]
    assert [(t["role"], t["content"]) for t in golden["turns"]] == [(t.role, t.content) for t in history]
    assert golden["turns"][1]["tools_called"] == [
        {"name": e.name, "input_parameters": e.input, "output": e.output} for e in history[1].tool_trace
    ]
    assert "tools_called" not in golden["turns"][0]
    [action] = acts.expected_actions
    sentence = f"{action.name} is called with {json.dumps(action.input)}"
    must = golden["expectations"]["must"]
    assert f"end_state_matches: {sentence}" in must
    assert [c.split(":")[0] for c in must] == [
        "verdict_correct",
        *(["evidence_grounded"] if acts.facts.evidence_ids else []),
        "right_tools",  # a ConversationalGolden has no expected-tools field: the calls are a condition
        "no_national_ids",
        "clear_conclusion",
        "actionable_next_step",
        "end_state_matches",
        "goal_met",
    ]
    calls = ", ".join(f"{c.name} with {json.dumps(c.input)}" for c in acts.expected_tool_calls)
    assert any(c.startswith(f"right_tools: The assistant calls the tools the request needs: {calls}") for c in must)
    assert golden["expected_outcome"].startswith(acts.reference_answer + "\n\nOver the conversation: " + sentence)
    assert json.dumps(acts.expected_end_state) in golden["expected_outcome"]
    assert golden["persona"] == {"name": acts.persona, "characteristics": "Busy analyst."}
    assert golden["user_description"] == "Busy analyst."
    meta = golden["additional_metadata"]
    assert meta["expected_actions"] == [action.model_dump()] and meta["expected_end_state"] == acts.expected_end_state
    assert meta["scenario"] == acts.scenario.model_dump() and meta["goldsmith_id"] == acts.id
    assert len(golden["context"]) == len(set(golden["context"]))  # the turns' repeated look-ups, once each
    [(key, value)] = asks.scenario.private_facts.items()
    assert clarifying["user_description"].endswith(
        f"Knows, and tells only when asked: {key.replace('_', ' ')}: {value}."
    )
    assert "end_state_matches: " + actions_text(asks) in clarifying["expectations"]["must"]  # no action is due
    assert "No action is due" in clarifying["expected_outcome"]


def test_ragas_conversation_has_tool_calls_tool_results_and_the_actions_as_reference(store):
    from exports.ragas import write_ragas

    record = case_of(store, "follow_up_action")
    [row] = [json.loads(line) for line in write_ragas([record], context())[""].splitlines()]
    user, assistant, follow_up = record.conversation[:3]
    calls = assistant.tool_trace
    assert row["user_input"] == [
        {"type": "human", "content": user.content},
        {"type": "ai", "content": "", "tool_calls": [{"name": e.name, "args": e.input} for e in calls]},
        *({"type": "tool", "content": e.output} for e in calls),
        {"type": "ai", "content": assistant.content},
        {"type": "human", "content": follow_up.content},
    ]
    assert row["reference"] == record.reference_answer
    made = [{"name": e.name, "args": e.input} for e in calls]
    assert row["reference_tool_calls"][: len(made)] == made  # the calls of the conversation so far, as made
    # then what the final answer still has to call: here the action, the look-ups having been made already
    assert row["reference_tool_calls"][len(made) :] == [{"name": a.name, "args": a.input} for a in calls_due(record)]
    assert calls_due(record) == record.expected_actions


def test_the_calls_due_in_the_final_answer_skip_the_calls_earlier_turns_made(store):
    asks = case_of(store, "clarify_identity")
    made = [e.name for e in asks.conversation[1].tool_trace]
    assert made == ["search_customers"] and asks.expected_tool_calls[0].name == "search_customers"
    assert calls_due(asks) == asks.expected_tool_calls[1:]  # the search was made before the user said who
    pushed = case_of(store, "push_back")
    assert calls_due(pushed) == []  # everything, the action included, was done before the push-back
    single = single_turn(records_of(store))[0]
    assert calls_due(single) == single.expected_tool_calls


def test_strands_evals_multi_turn_case_can_be_simulated_again(store):
    from exports.strands_evals import write_strands_evals

    record = case_of(store, "clarify_identity")
    acts = case_of(store, "follow_up_action")
    cases = json.loads(write_strands_evals([record, acts], context(persona="Busy analyst."))[""])["cases"]
    case, acting = cases
    assert case["input"] == record.prompt == record.conversation[0].content
    assert case["expected_output"] == record.reference_answer
    profile = case["metadata"]["actor_profile"]
    assert profile["actor_goal"] == record.scenario.goal
    assert profile["traits"] == {"persona": record.persona, "private_facts": record.scenario.private_facts}
    assert profile["context"].startswith("Busy analyst.\n\nKnows, and tells only when asked: ")
    assert case["metadata"]["max_turns"] == record.scenario.max_turns // 2
    assert case["metadata"]["task_description"] == f"The user's goal: {record.scenario.goal}."
    assert case["expected_environment_state"] == [{"name": "end_state", "state": {}}]
    assert case["metadata"]["conversation"] == [
        t.model_dump(mode="json", exclude_none=True) for t in record.conversation
    ]
    [action] = acts.expected_actions
    assert acting["expected_trajectory"][-1] == {"name": action.name, "input": action.input}
    assert acting["expected_trajectory"][:-1] == [{"name": c.name, "input": c.input} for c in acts.expected_tool_calls]
    assert acting["expected_environment_state"] == [{"name": "end_state", "state": acts.expected_end_state}]
    assert f"{action.name} is called with {json.dumps(action.input)}" in acting["expected_assertion"]
    assert action.name not in acting["metadata"]["task_description"]  # the simulated user is not told the answer


def test_bedrock_and_promptfoo_flatten_a_conversation_and_promptfoo_checks_the_actions_due(store):
    from exports.promptfoo import write_promptfoo

    acts, pushed = case_of(store, "follow_up_action"), case_of(store, "push_back")
    row = json.loads(write_bedrock([acts], context())[""])
    assert row["prompt"] == flattened(acts) and row["prompt"].count("\n\nUser: ") == 1
    assert row["prompt"].startswith(f"User: {acts.prompt}\n\nAssistant: ")
    tests = yaml.safe_load(write_promptfoo([acts, pushed], context())[""])
    assert [t["vars"]["prompt"] for t in tests] == [flattened(acts), flattened(pushed)]
    [action] = acts.expected_actions
    checks = [[a for a in t["assert"] if a["metric"] == "end_state_matches"] for t in tests]
    assert checks[0] == [
        {
            "type": "trajectory:tool-args-match",
            "value": {"name": action.name, "args": action.input, "mode": "partial"},
            "metric": "end_state_matches",
            "weight": 3.0,
        }
    ]
    assert checks[1] == []  # the push-back's action was taken before the final answer, in the flattened history
    [tools] = [a for a in tests[0]["assert"] if a["type"] == "tool-call-f1"]
    assert tools["value"][-1] == action.name
    assert tests[1]["metadata"]["expected_actions"] == [a.model_dump() for a in pushed.expected_actions]
