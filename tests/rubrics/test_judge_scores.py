"""The score decides a judged criterion, not the judge's flag; the offline judge never passes what it cannot
check; a rationale that only restates the criterion is flagged."""

import asyncio

import pytest

from agents.critic import Critic
from agents.simulated.judge import SimulatedJudgePolicy
from rubrics.judge import JudgedCriterion, normalise
from rubrics.model import Criterion, Rubric
from store.records import Attempt, Facts
from tests.agents.test_jury import ANSWER, juror


def judged(scale: str = "1-5", **options) -> Criterion:
    return Criterion(id="c", description="The answer explains every cited record.", method="judge", weight=1,
                     scale=scale, **options)  # fmt: skip


def reply(score: float, passed: bool, rationale: str = "TX-1 is explained as a salary payment") -> JudgedCriterion:
    return JudgedCriterion(id="c", score=score, passed=passed, rationale=rationale)


def test_a_low_score_with_a_pass_flag_fails_and_is_recorded_as_inconsistent():
    result = normalise(judged(), reply(1, True))
    assert not result.passed and result.score == 0.0
    assert result.details["judge_inconsistent"] == "the judge said passed=True with score 1.0"
    agreed = normalise(judged(), reply(4, True))
    assert agreed.passed and "judge_inconsistent" not in agreed.details


@pytest.mark.parametrize(
    ("scale", "options", "score", "passes"),
    [
        ("1-5", {}, 3, True),  # the midpoint
        ("1-5", {}, 2, False),
        ("binary", {}, 1, True),
        ("binary", {}, 0, False),
        ("1-5", {"pass_mark": 0.75}, 3, False),  # an SME's stricter mark
        ("1-5", {"pass_mark": 0.75}, 4, True),
    ],
)
def test_the_pass_mark_is_the_midpoint_unless_the_rubric_sets_one(scale, options, score, passes):
    assert normalise(judged(scale, **options), reply(score, not passes)).passed is passes


def test_a_pass_mark_is_only_for_judged_criteria():
    with pytest.raises(ValueError, match="only applies to method 'judge'"):
        Criterion(id="x", description="d", method="regex", pattern="x", weight=1, pass_mark=0.5)


def test_a_declined_criterion_is_unscored_and_a_restated_rationale_is_flagged():
    declined = normalise(judged(), JudgedCriterion(id="c", score=0, passed=False, rationale="-", unscored="no view"))
    assert not declined.passed and declined.rationale == "unscored: no view" and declined.details["unscored"]
    restated = normalise(judged(), reply(5, True, "The answer explains every cited record."))
    assert restated.passed and restated.details["restated"] is True


def test_the_offline_judge_answers_unscored_for_a_criterion_it_has_no_check_for():
    rubric = Rubric.model_validate(
        {
            "id": "odd",
            "title": "A criterion the offline judge cannot read",
            "applies_to": {"domain": "kyc"},
            "pass_threshold": 0.5,
            "criteria": [
                {"id": "tone", "description": "Polite and warm in tone.", "method": "judge", "weight": 1},
                {"id": "next", "description": "Recommends a next step.", "method": "judge", "weight": 1},
            ],
        }
    )
    critic = Critic([juror("simulated", SimulatedJudgePolicy())], rubric, id_exists=lambda _: True)
    attempt = Attempt(round=1, finding={"verdict": "not_suspicious"}, answer=ANSWER, tool_trace=[])
    critique, _ = asyncio.run(
        critic.review(
            category="routine_cash", request="r", attempt=attempt, facts=Facts(verdict="x"), expected_tool_calls=[]
        )  # fmt: skip
    )
    results = {r.id: r for r in critique.criteria}
    assert results["tone"].rationale == "unscored: no offline check for this criterion" and not results["tone"].passed
    assert results["next"].passed and results["next"].details["evidence"].startswith("Recommended next step")
