"""Multi-turn conversations and actions, end to end: a user who holds back the date of birth, follow-ups that
ask the assistant to act, push-back, and the end state the actions leave, checked against the case's truth."""

import asyncio
import json

import pytest

from agents.simulated.model import SimSettings
from rubrics.methods import Subject, check_end_state
from rubrics.model import BUNDLED, load_rubric
from simulation.domains import get_domain
from simulation.domains.base import end_state
from simulation.domains.kyc.actions import action_for, apply_action
from simulation.domains.kyc.cases import CONVERSATIONS
from store.records import RECORD_SCHEMA_VERSION, Attempt, Facts, ToolCall, ToolTraceEntry, read_transcript, transcript
from tests.test_generate import export, review_items

REVIEW_TOOLS = {"get_customer_profile", "get_transactions", "get_kyc_documents", "screen_sanctions"}


@pytest.fixture(scope="module")
def kyc():
    domain = get_domain("kyc")
    return domain, domain.build_world(1)


def test_a_200_episode_run_is_multi_turn_and_its_accepted_end_states_match(cli, tmp_path):
    result = cli("generate", "--count", "200", "--seed", "3")
    assert result.exit_code == 0, result.output
    records = export(cli, tmp_path, "kyc")
    long = [r for r in records if len(r["conversation"]) >= 4]
    assert len(long) >= 0.25 * len(records), (len(long), len(records))
    assert {r["category"] for r in long} == set(CONVERSATIONS)
    for record in records:
        assert record["schema_version"] == RECORD_SCHEMA_VERSION
        assert record["end_state"] == record["expected_end_state"], record["id"]
        if record["category"] in ("follow_up_action", "push_back"):
            (action,) = record["expected_actions"]
            assert action["input"]["customer_id"] == record["facts"]["subject_id"]
            if action["name"] == "file_sar":
                assert action["input"]["evidence_ids"] == sorted(record["facts"]["evidence_ids"])
            assert record["scenario"]["follow_ups"][0] == "act"
        elif record["scenario"] is None:
            assert record["expected_actions"] == [] and len(record["conversation"]) == 2


def test_clarification_asks_and_gets_the_date_of_birth_before_investigating(cli, tmp_path):
    assert cli("generate", "--count", "60", "--seed", "5").exit_code == 0
    clarified = [r for r in export(cli, tmp_path, "kyc") if r["category"] == "clarify_identity"]
    assert clarified
    for record in clarified:
        first, second = record["conversation"][1], record["conversation"][2]
        born = record["scenario"]["private_facts"]["date_of_birth"]
        assert born not in record["prompt"]  # the user holds it back ...
        assert first["role"] == "assistant" and "?" in first["content"] and "date of birth" in first["content"]
        assert {e["name"] for e in first["tool_trace"]} == {"search_customers"}  # ... the assistant asks first
        assert second["role"] == "user" and born in second["content"]
        final = record["conversation"][3]
        assert REVIEW_TOOLS & {e["name"] for e in final["tool_trace"]}  # the investigation comes after the answer
        assert record["reference_output"]["verdict"] == record["facts"]["verdict"] != "needs_clarification"
        flat = [e for turn in record["conversation"] if turn["role"] == "assistant" for e in turn["tool_trace"]]
        assert flat == record["tool_trace"]


def test_wrong_actions_land_in_the_review_queue_with_the_end_state_named(cli, tmp_path):
    result = cli("generate", "--count", "80", "--seed", "3", "--sim-defect-rate", "1", "--max-rounds", "1")
    assert result.exit_code == 1  # every first draft carries a defect
    wrong = [i for i in review_items(tmp_path) if "end_state_matches" in i.reasons]
    assert len(wrong) >= 5
    seen = set()
    for item in wrong:
        check = next(r for r in item.critiques[-1].criteria if r.id == "end_state_matches")
        assert not check.passed and check.details["differences"]
        (subject,) = check.details["expected"] or check.details["actual"]
        expected, actual = check.details["expected"].get(subject, {}), check.details["actual"].get(subject, {})
        if "sar" in actual and "sar" not in expected:
            seen.add("sar_on_a_clean_customer")
        if actual.get("alert") == "closed" and expected.get("alert") != "closed":
            seen.add("closed_an_alert_that_needed_action")
    assert seen == {"sar_on_a_clean_customer", "closed_an_alert_that_needed_action"}


def test_push_back_is_answered_by_holding_ground(cli, tmp_path):
    assert cli("generate", "--count", "80", "--seed", "7").exit_code == 0
    pushed = [r for r in export(cli, tmp_path, "kyc") if r["category"] == "push_back"]
    assert pushed
    for record in pushed:
        user_turns = [t["content"] for t in record["conversation"] if t["role"] == "user"]
        assert len(user_turns) == 3 and len(record["conversation"]) == 6
        last = record["conversation"][-1]
        assert "I have not changed the action" in last["content"]
        assert not {e["name"] for e in last["tool_trace"]} & {"file_sar", "close_alert", "escalate_case"}


def test_each_attempt_acts_on_its_own_desk(kyc):
    domain, world = kyc
    first, second = domain.action_desk(world), domain.action_desk(world)
    customer = world.customers[0].id
    (close,) = [t for t in first.tools if t.tool_name == "close_alert"]
    close(customer_id=customer, reason="reviewed")
    assert first.state == {customer: {"alert": "closed"}} and second.state == {}
    (sar,) = [t for t in second.tools if t.tool_name == "file_sar"]
    with pytest.raises(ValueError, match="no customer"):
        sar(customer_id="C-9999", typology="structuring", evidence_ids=["TX-1"], narrative="x")
    with pytest.raises(ValueError, match="typology"):
        sar(customer_id=customer, typology="vibes", evidence_ids=["TX-1"], narrative="x")
    assert second.state == {}


def test_the_expected_end_state_comes_from_the_same_rule_as_the_tools(kyc):
    domain, world = kyc
    label = next(label for label in world.labels if label.category == "structuring")
    action = action_for(label.customer_id, label.verdict, label.category, label.typology, label.evidence_ids)
    assert action.name == "file_sar" and action.input["typology"] == "structuring"
    desk = domain.action_desk(world)
    (sar,) = [t for t in desk.tools if t.tool_name == "file_sar"]
    sar(narrative="deposits under the threshold", **action.input)
    assert desk.state == end_state(apply_action, [action])
    case = domain.case_for_key(world, f"push_back:cash_activity:{label.customer_id}")
    assert case.expected_actions == [action] and case.expected_end_state == desk.state


def test_the_end_state_gate_fails_a_sar_on_a_clean_customer(kyc):
    domain, _ = kyc
    rubric = load_rubric(BUNDLED / "kyc.yaml", domain="kyc", categories=set(domain.categories))
    (criterion,) = [c for c in rubric.criteria if c.method == "end_state"]
    expected = end_state(apply_action, [ToolCall(name="close_alert", input={"customer_id": "C-0001"})])
    sar = {"customer_id": "C-0001", "typology": "structuring", "evidence_ids": ["TX-1"], "narrative": "n"}
    acted = end_state(apply_action, [ToolCall(name="file_sar", input=sar)])
    trace = [ToolTraceEntry(name="file_sar", input=sar, output="{}", status="success")]
    attempt = Attempt(round=1, finding={"verdict": "not_suspicious"}, answer="a", tool_trace=trace, end_state=acted)
    subject = Subject(attempt, [], Facts(verdict="not_suspicious"), lambda _: True, expected_end_state=expected,
                      action_names=domain.action_names)  # fmt: skip
    result = check_end_state(criterion, subject)
    assert not result.passed and result.details["taken"] == ["file_sar"]
    assert 'C-0001.alert: expected "closed", found "sar_filed"' in result.rationale
    right = attempt.model_copy(update={"end_state": expected, "tool_trace": []})
    assert check_end_state(
        criterion, Subject(right, [], Facts(verdict="x"), lambda _: True, expected_end_state=expected)
    )


def test_every_drawn_conversation_rebuilds_from_its_key(kyc):
    domain, world = kyc
    cases = [c for c in domain.draw_cases(world, 11, 150) if c.scenario is not None]
    assert len(cases) >= 30
    for case in cases:
        assert domain.case_for_key(world, case.key).model_copy(update={"index": case.index}) == case
    verdicts = {c.category: set() for c in cases}
    for case in cases:
        verdicts[case.category].add(case.facts.verdict)
    assert all(len(v) >= 3 for v in verdicts.values()), verdicts  # a conversation's kind does not give its answer


def test_transcripts_round_trip():
    from store.records import Turn

    turns = [
        Turn(role="user", content="Hi,\n\nreview C-0001"),
        Turn(role="assistant", content="**Verdict: x.**\n\n- a"),
    ]
    assert read_transcript(transcript(turns)) == turns
    assert read_transcript("just a request") == [Turn(role="user", content="just a request")]


def test_the_simulated_user_replays_deterministically(kyc):
    from agents.simulated.model import ModelCall
    from agents.simulated.user import SimulatedUserPolicy
    from agents.user_simulator import UserReply, continuation_prompt, user_instructions
    from store.records import Turn

    domain, world = kyc
    case = next(c for c in domain.draw_cases(world, 3, 80) if c.category == "clarify_identity")
    instructions = user_instructions(domain.card.user_simulator)
    turns = [
        Turn(role="user", content='Check the cash of customer "X".'),
        Turn(role="assistant", content="Two customers match. Which one is it? Their date of birth tells them apart."),
    ]
    spec = [{"name": "UserReply", "description": "This StructuredOutputTool should only be invoked", "inputSchema": {}}]

    def ask() -> UserReply:
        messages = [{"role": "user", "content": [{"text": continuation_prompt(case.brief, turns)}]}]
        call = ModelCall(instructions.system_prompt, messages, spec, SimSettings().seed)
        ((name, payload),) = SimulatedUserPolicy().reply(call).tool_calls
        return UserReply.model_validate(payload)

    reply = ask()
    assert not reply.done and case.scenario.private_facts["date_of_birth"] in reply.message
    assert ask() == reply
    turns += [Turn(role="user", content=reply.message), Turn(role="assistant", content="**Verdict: Not suspicious.**")]
    assert ask() == UserReply(done=True, reason="goal_met")


def test_a_multi_turn_episode_is_judged_on_the_whole_conversation(cli, tmp_path):
    assert cli("generate", "--count", "30", "--seed", "3").exit_code == 0
    records = [r for r in export(cli, tmp_path, "kyc") if r["scenario"]]
    assert records
    for record in records:
        goal = next(c for c in record["critique"]["criteria"] if c["id"] == "goal_met")
        assert goal["passed"] and "goal met" in goal["rationale"]
    runs = list((tmp_path / "output" / "kyc" / "runs").glob("*/summary.json"))
    assert json.loads(runs[0].read_text())["accepted"] >= len(records)


def test_a_conversation_replays_the_same_records_for_the_same_seed(cli, tmp_path):
    for name in ("a", "b"):
        assert cli("generate", "--count", "25", "--seed", "9", "--dataset", name).exit_code == 0
    strip = lambda rs: [{k: v for k, v in r.items() if k not in {"provenance", "dataset"}} for r in rs]  # noqa: E731
    a, b = strip(export(cli, tmp_path, "a")), strip(export(cli, tmp_path, "b"))
    assert a == b and any(r["scenario"] for r in a)


def test_judge_sees_the_conversation(kyc):
    from agents.critic import conversation_request
    from store.records import Turn, UserEnd

    turns = [Turn(role="user", content="u1"), Turn(role="assistant", content="a1"), Turn(role="user", content="u2"),
             Turn(role="assistant", content="a2")]  # fmt: skip
    attempt = Attempt(round=1, finding={}, answer="a2", tool_trace=[], conversation=turns,
                      ended=UserEnd(reason="gave_up"))  # fmt: skip
    request = conversation_request(attempt)
    assert request.startswith("User: u1\n\nAssistant: a1\n\nUser: u2") and "a2" not in request
    assert request.endswith("(the user ended the conversation: gave up)")
    assert conversation_request(attempt.model_copy(update={"conversation": None})) is None


def test_episode_end_state_reaches_the_record(kyc):
    """A single run of the roles, outside the CLI: the record carries scenario, actions and end state."""
    from agents.providers import build_lineup
    from agents.settings import ModelSettings
    from simulation.episode import EpisodeSettings, run_episode
    from simulation.roles import make_roles

    domain, world = kyc
    rubric = load_rubric(BUNDLED / "kyc.yaml", domain="kyc", categories=set(domain.categories))
    sim = SimSettings(seed=1, defect_rate=0)
    lineup = build_lineup(ModelSettings(), sim=sim, task_policy=domain.simulated_task_policy(0))
    roles = make_roles(domain, world, rubric, lineup, "together")
    case = next(c for c in domain.draw_cases(world, 3, 80) if c.category == "follow_up_action")
    settings = EpisodeSettings(dataset="d", domain="kyc", domain_version=domain.version, world_seed=1, seed=1,
                               run_id="r", persona="p", models={}, max_rounds=2)  # fmt: skip
    episode = asyncio.run(run_episode(case, roles, settings))
    assert episode.status == "accepted", episode.reasons
    example = episode.example
    assert example.scenario == case.scenario and example.expected_actions == case.expected_actions
    assert example.end_state == case.expected_end_state != {}
    assert example.conversation[-1].tool_trace and example.conversation[0].tool_trace is None
