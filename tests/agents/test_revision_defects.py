"""Revisions are honest: the simulated analyst follows the feedback lines it can act on, and its revisions carry
defects too (one the feedback named that survives a round, or a fix that breaks something else), which the
critic must catch again. Defects are told apart here from the world's truth, not from the critic's verdict."""

import asyncio

import pytest

from agents.settings import ModelSettings
from agents.simulated.analyst import read_feedback
from agents.simulated.model import SimSettings
from rubrics.model import BUNDLED, load_rubric
from simulation.domains import get_domain
from simulation.episode import Episode
from simulation.roles import make_roles, prepare_models
from simulation.runner import Run, RunConfig
from store.records import Attempt

DOMAIN = get_domain("kyc")
INVENTED = "TX-999999"  # no tool returns it: no such transaction in the world


@pytest.fixture(scope="module")
def world():
    return DOMAIN.build_world(1)


def task_agent(world, defect_rate: float):
    lineup = prepare_models(ModelSettings(), DOMAIN, SimSettings(seed=3, defect_rate=defect_rate))
    rubric = load_rubric(BUNDLED / "kyc.yaml", domain="kyc", categories=set(DOMAIN.categories))
    return make_roles(DOMAIN, world, rubric, lineup, "together")


@pytest.fixture(scope="module")
def first_draft(world):
    """A clean first draft of a single-turn structuring review citing several records, and its request."""
    roles = task_agent(world, 0.0)
    for case in DOMAIN.draw_cases(world, 5, 60):
        if case.category == "structuring" and case.scenario is None:
            request, _ = asyncio.run(roles.user.request(case.brief))
            attempt, _ = asyncio.run(roles.task.attempt(request, 1))
            if len(attempt.finding["evidence_ids"]) >= 2:
                return request, attempt
    raise AssertionError("no structuring case in the draw")


def revise(world, defect_rate: float, request: str, previous: Attempt, feedback: str, round: int = 2) -> Attempt:
    roles = task_agent(world, defect_rate)
    attempt, _ = asyncio.run(roles.task.attempt(request, round, previous=previous, feedback=feedback))
    return attempt


def test_feedback_is_read_line_by_line_for_what_the_analyst_can_act_on():
    feedback = read_feedback(
        "- [evidence_grounded] cited ids that do not exist: TX-1, TX-2; 1 key piece(s) of evidence behind the "
        "verdict are not cited\n"
        "- [right_tools] tool use F1 0.67 is below 0.9: unnecessary tool calls: get_kyc_documents\n"
        "- [verdict_correct] the verdict 'suspicious' (structuring) does not match what the records show; "
        "re-examine them before concluding\n"
        "- [explains_evidence] unscored: no offline check for this criterion\n"
        "- [house_style] the tone is off"
    )
    assert feedback.drop_ids == ["TX-1", "TX-2"] and feedback.avoid_tools == ["get_kyc_documents"]
    assert feedback.named == {"invented_evidence", "missing_evidence", "unnecessary_tools", "wrong_verdict"}
    assert feedback.left == ["- [house_style] the tone is off"]  # an unscored line is nothing to act on


def test_a_revision_drops_the_ids_the_feedback_says_do_not_exist(world, first_draft):
    request, draft = first_draft
    previous = draft.model_copy(
        update={"finding": {**draft.finding, "evidence_ids": [*draft.finding["evidence_ids"], INVENTED]}}
    )
    revised = revise(world, 0.0, request, previous, f"- [evidence_grounded] cited ids that do not exist: {INVENTED}")
    assert revised.finding["evidence_ids"] == draft.finding["evidence_ids"]
    # it acts on what the line says: told that a record it cites does not exist, it leaves that record out
    cited = draft.finding["evidence_ids"][0]
    told = revise(world, 0.0, request, draft, f"- [evidence_grounded] cited ids that do not exist: {cited}")
    assert told.finding["evidence_ids"] == draft.finding["evidence_ids"][1:] and f"- {cited}:" not in told.answer
    # a line it cannot read is left: the record stays cited
    unread = revise(world, 0.0, request, draft, f"- [evidence_grounded] {cited} looks doubtful")
    assert unread.finding["evidence_ids"] == draft.finding["evidence_ids"]


def test_at_defect_rate_one_the_named_id_survives_some_rounds_and_is_dropped_in_others(world, first_draft):
    request, draft = first_draft
    feedback = f"- [evidence_grounded] cited ids that do not exist: {INVENTED}"
    previous = draft.model_copy(
        update={"finding": {**draft.finding, "evidence_ids": [*draft.finding["evidence_ids"], INVENTED]}}
    )
    revisions = [revise(world, 1.0, request, previous, feedback, round) for round in range(2, 14)]
    kept = [r for r in revisions if INVENTED in r.finding["evidence_ids"]]
    assert kept and len(kept) < len(revisions)
    assert revise(world, 1.0, request, previous, feedback, 5).finding == revisions[3].finding  # same round, same


def defects(episode: Episode, attempt: Attempt, world) -> set[str]:
    """What is wrong with an attempt, by the world's truth for its case (never the critic's word)."""
    case, finding = episode.case, attempt.finding
    found = set()
    if (finding["verdict"], finding.get("typology")) != (case.facts.verdict, case.facts.typology):
        found.add("wrong_verdict")
    if not all(world.has_id(i) for i in finding["evidence_ids"]):
        found.add("invented_evidence")
    if not set(case.facts.evidence_ids) <= set(finding["evidence_ids"]):
        found.add("missing_evidence")
    allowed = {c.name for c in case.expected_tool_calls + case.allowed_tool_calls} | DOMAIN.action_names
    if {t.name for t in attempt.tool_trace} - allowed:
        found.add("unnecessary_tools")
    if attempt.end_state != case.expected_end_state:
        found.add("wrong_action")
    return found


def test_revisions_carry_defects_that_survive_or_break_something_else_and_the_critic_catches_them(tmp_path):
    run = Run(RunConfig(count=200, seed=11, output_dir=str(tmp_path), concurrency=4, sim_defect_rate=0.5))
    world = run.world
    results: list[Episode] = []
    run.execute(results.append)
    survived = broke = clean = 0
    for episode in results:
        wrong = [defects(episode, attempt, world) for attempt in episode.attempts]
        for i in range(1, len(episode.attempts)):
            if not wrong[i]:
                clean += 1
                continue
            survived += bool(wrong[i] & wrong[i - 1])  # named in the feedback on the round before, still there
            broke += bool(wrong[i] - wrong[i - 1])  # not there before: the fix broke something else
            # caught: the critique failed, and the episode went another round or to the review queue
            assert not episode.critiques[i].passed, (episode.case.key, i, wrong[i])
            assert len(episode.attempts) > i + 1 or episode.status == "rejected"
    assert survived >= 3 and broke >= 3 and clean > survived + broke, (survived, broke, clean)
    accepted = [e for e in results if e.status == "accepted"]
    assert len(accepted) >= 0.9 * len(results)
    for episode in accepted:
        assert not defects(episode, episode.attempts[-1], world), episode.case.key
