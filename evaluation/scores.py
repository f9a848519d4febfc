"""Scoring one candidate's answer to one golden with the dataset's rubric: the critic's own review (the same
checks and decision that made the golden), and the measures a leaderboard adds, each from the rubric's own
methods run on the same subject."""

from __future__ import annotations

import traceback
from typing import Any

from agents.metering import Spend
from evaluation.results import EvalResult, JudgedScore
from rubrics.methods import call_scores, run_check
from rubrics.model import Criterion
from store.records import Attempt, Example

VERDICT = Criterion(id="verdict", description="the verdict", method="facts", check="verdict", weight=1)
EVIDENCE = Criterion(id="evidence", description="the evidence", method="facts", check="evidence", weight=1)
TOOLS = Criterion(id="tools", description="the tools", method="tool_calls", min_f1=0, weight=1)
END_STATE = Criterion(id="end_state", description="the end state", method="end_state", weight=1)


def _golden_fields(golden: Example, case: Any) -> dict[str, Any]:
    return {
        "golden_id": golden.id,
        "category": case.category,
        "request_type": case.request_type,
        "difficulty": case.difficulty,
        "tags": case.tags,
        "multi_turn": case.scenario is not None,
    }


async def score(
    golden: Example, case: Any, attempt: Attempt, critic: Any, candidate: str, judge: str, latency: float, spend: Spend
) -> EvalResult:
    """The critic's review of the attempt, and every measure of it, as one result line."""
    critique, _ = await critic.review(
        category=case.category,
        request=golden.prompt,
        attempt=attempt,
        **case.reference,
    )
    subject = critic.subject(attempt, **case.reference)
    evidence = run_check(EVIDENCE, subject).details
    key = case.facts.evidence_ids
    cited = evidence["cited"]
    tools = run_check(TOOLS, subject).details
    actions = critic.action_names
    made = [t for t in attempt.tool_trace if t.name not in actions]
    calls = call_scores(case.expected_tool_calls, made, case.allowed_tool_calls)
    typology = case.facts.typology
    return EvalResult(
        **_golden_fields(golden, case),
        candidate=candidate,
        passed=critique.passed,
        score=critique.score,
        failed_criteria=critique.failed_criteria(),
        verdict=attempt.finding.get("verdict"),
        verdict_correct=run_check(VERDICT, subject).passed,
        typology_correct=None if typology is None else attempt.finding.get("typology") == typology,
        evidence_precision=evidence["precision"] if cited else float(not key),
        evidence_recall=round(1 - evidence["missing"] / len(key), 4) if key else 1.0,
        tool_precision=tools["precision"],
        tool_recall=tools["recall"],
        tool_f1=tools["f1"],
        call_precision=calls[0],
        call_recall=calls[1],
        call_f1=calls[2],
        end_state_match=end_state.passed if (end_state := run_check(END_STATE, subject)).counted else None,
        judged={
            r.id: JudgedScore(score=r.score, passed=r.passed, unscored=bool(r.details.get("unscored")))
            for r in critique.criteria
            if r.method == "judge"
        },
        judge=judge,
        latency_s=round(latency, 4),
        tokens=spend.tokens,
        cost_usd=round(spend.cost_usd, 6),
        turns=len(attempt.conversation) if attempt.conversation else 1,
        answer=attempt.answer,
    )


def error_text(exc: BaseException) -> str:
    """How a result records the error a candidate failed with."""
    return "".join(traceback.format_exception_only(exc)).strip()[:500]


def failed_result(
    golden: Example, case: Any, candidate: str, judge: str, latency: float, exc: BaseException | str, spend: Spend
) -> EvalResult:
    """A candidate that did not answer: a failed golden, every score at zero, the error kept (an exception, or
    its text as `error_text` wrote it)."""
    return EvalResult(
        **_golden_fields(golden, case),
        candidate=candidate,
        passed=False,
        score=0.0,
        verdict_correct=False,
        evidence_precision=0.0,
        evidence_recall=0.0,
        tool_precision=0.0,
        tool_recall=0.0,
        tool_f1=0.0,
        call_precision=0.0,
        call_recall=0.0,
        call_f1=0.0,
        end_state_match=False,
        judge=judge,
        latency_s=round(latency, 4),
        tokens=spend.tokens,
        cost_usd=round(spend.cost_usd, 6),
        error=exc if isinstance(exc, str) else error_text(exc),
    )
