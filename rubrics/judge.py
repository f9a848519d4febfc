"""The judge's side of a rubric: the instructions built from the judged criteria, the review request,
and the structured verdict the critic model must return."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field

from agents.outputs import ModelOutput
from agents.runtime import Instructions
from rubrics.model import Criterion, Rubric
from store.records import Attempt, CriterionResult

SCALES = {"binary": "0 (fails) or 1 (meets it)", "1-5": "an integer from 1 (very poor) to 5 (excellent)"}


class JudgedCriterion(ModelOutput):
    id: str = Field(description="The criterion id, exactly as given.")
    evidence: str = Field(
        default="", description="First, a short quote from the answer that your score rests on ('' if none)."
    )
    score: float = Field(description="The score on the criterion's scale.")
    passed: bool = Field(description="Whether the answer meets the criterion (the score decides).")
    rationale: str = Field(description="One or two sentences: why, citing the answer.")
    unscored: str = Field(
        default="", description="Only when you cannot judge the criterion from what you were shown: why ('' else)."
    )


class JudgeVerdict(ModelOutput):
    """Your judgement of the answer: one entry per criterion you were asked to judge."""

    criteria: list[JudgedCriterion]
    preference: Literal["current", "previous", "tie"] | None = Field(
        default=None, description="When a previous attempt is shown: which attempt is better overall."
    )
    comparison_rationale: str = Field(default="", description="Why, when a previous attempt is shown.")


def judge_instructions(rubric: Rubric) -> Instructions:
    """The critic's instructions: an exacting reviewer (the goal) of the rubric's judged criteria, with their
    scales and examples (the backstory)."""
    lines = [
        f"Rubric: {rubric.title} ({rubric.id}, version {rubric.version}).",
        rubric.description.strip(),
        "",
        "Judge each criterion you are asked about on its own, on its scale, from the answer as written: first quote "
        "the part of the answer your judgement rests on (evidence), then score it; do not restate the criterion as "
        "your rationale. A criterion passes when its score reaches the middle of its scale.",
        "Programmatic checks (facts, tool use, patterns) have already been run; their results are shown to you "
        "for context and are final: do not re-judge them.",
        "When a previous attempt is shown, also say which attempt is better overall and why.",
        "",
        "Criteria:",
    ]
    for criterion in rubric.criteria:
        if criterion.method != "judge":
            continue
        lines.append(f"- id: {criterion.id}")
        lines.append(f"  description: {' '.join(criterion.description.split())}")
        lines.append(f"  scale: {SCALES[criterion.scale]}")
        if criterion.applies_to:
            lines.append(f"  applies to categories: {', '.join(criterion.applies_to)}")
        if criterion.examples:
            lines += [f"  passing example: {ex}" for ex in criterion.examples.passing]
            lines += [f"  failing example: {ex}" for ex in criterion.examples.failing]
    return Instructions(
        role=f"{rubric.id} critic",
        goal="You are an expert reviewer (an exacting teacher) of answers given by an AI assistant.",
        backstory="\n".join(lines),
    )


def judge_request(
    request: str,
    attempt: Attempt,
    criteria: list[Criterion],
    checks: list[CriterionResult],
    previous: tuple[Attempt, float, list[str]] | None,
) -> str:
    """The review request: the case, the answer, the check results, and the criteria to judge (as JSON)."""
    payload: dict[str, Any] = {
        "request": request,
        "answer": attempt.answer,
        "tools_called": [t.name for t in attempt.tool_trace],
        "programmatic_results": [{"id": c.id, "passed": c.passed, "rationale": c.rationale} for c in checks],
        "judge": [{"id": c.id, "description": " ".join(c.description.split()), "scale": c.scale} for c in criteria],
        "previous": None
        if previous is None
        else {"answer": previous[0].answer, "score": previous[1], "failed_criteria": previous[2]},
    }
    return (
        'Review this answer against the criteria listed under "judge" and return your verdict.\n'
        f"```json\n{json.dumps(payload, indent=1)}\n```"
    )


RESTATEMENT = 0.7  # a rationale sharing this much of its words with the criterion's description restates it


def normalise(criterion: Criterion, judged: JudgedCriterion | None) -> CriterionResult:
    """A judged score mapped to [0, 1]; the score decides the pass (at the criterion's pass mark), not the judge's
    flag. A missing, off-scale or declined reply is recorded as unscored, never defaulted. A flag that contradicts
    the score is kept as `judge_inconsistent`, a rationale that only restates the criterion as `restated`."""

    def unscored(reason: str) -> CriterionResult:
        return CriterionResult(
            id=criterion.id,
            method="judge",
            weight=criterion.weight,
            required=criterion.required,
            score=0.0,
            passed=False,
            rationale=f"unscored: {reason}",
            details={"unscored": True, "raw": judged.model_dump() if judged else None},
        )

    if judged is None:
        return unscored("judge_parse_failure: the judge returned no verdict for this criterion")
    if judged.unscored:
        return unscored(judged.unscored)
    low, high = (0, 1) if criterion.scale == "binary" else (1, 5)
    if not low <= judged.score <= high:
        return unscored(f"judge_parse_failure: score {judged.score} is outside the {criterion.scale} scale")
    score = round((judged.score - low) / (high - low), 4)
    passed = score >= criterion.passing_score
    details: dict[str, Any] = {"raw_score": judged.score}
    if judged.evidence:
        details["evidence"] = judged.evidence
    if judged.passed != passed:
        details["judge_inconsistent"] = f"the judge said passed={judged.passed} with score {judged.score}"
    if _restates(judged.rationale, criterion.description):
        details["restated"] = True
    return CriterionResult(
        id=criterion.id,
        method="judge",
        weight=criterion.weight,
        required=criterion.required,
        score=score,
        passed=passed,
        rationale=judged.rationale,
        details=details,
    )


def _restates(rationale: str, description: str) -> bool:
    """Whether a rationale is mostly the criterion's own words (a judge that explained nothing)."""
    words, criterion = set(rationale.lower().split()), set(description.lower().split())
    return bool(words) and len(words & criterion) / len(words) >= RESTATEMENT


def combine_jurors(criterion: Criterion, results: list[CriterionResult], models: list[str]) -> CriterionResult:
    """One result from a jury's results on `criterion`: the mean score, and a pass only when a strict majority
    of the jurors that scored it passed it (a tie fails). A juror that returned no usable verdict abstains."""
    scored = [r for r in results if not r.details.get("unscored")]
    votes = [
        {"model": m, "score": r.score, "passed": r.passed, "unscored": bool(r.details.get("unscored"))}
        for m, r in zip(models, results, strict=True)
    ]
    if not scored:
        return results[0].model_copy(update={"details": {**results[0].details, "jury": votes}})
    passes = sum(r.passed for r in scored)
    passed = passes * 2 > len(scored)
    spokesman = next(r for r in scored if r.passed == passed)
    return CriterionResult(
        id=criterion.id,
        method="judge",
        weight=criterion.weight,
        required=criterion.required,
        score=round(sum(r.score for r in scored) / len(scored), 4),
        passed=passed,
        rationale=f"jury {max(passes, len(scored) - passes)}/{len(scored)}: {spokesman.rationale}",
        details={"jury": votes},
    )


def agreement(result: CriterionResult) -> float | None:
    """Share of scoring jurors on the majority side of a combined result; None when nobody scored it."""
    votes = [v["passed"] for v in result.details.get("jury", []) if not v["unscored"]]
    if not votes:
        return None
    return round(max(sum(votes), len(votes) - sum(votes)) / len(votes), 4)
