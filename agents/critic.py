"""The critic: programmatic rubric checks first, then one judge call for the judged criteria (per juror, when
the critic is a jury), then the rubric's aggregation. A judged score never overrules a programmatic failure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from agents.batch import BatchAnswers, JudgeRequest
from agents.metering import Spend
from rubrics.judge import JudgeVerdict, agreement, combine_jurors, judge_instructions, judge_request, normalise
from rubrics.methods import Subject, Vocabulary, run_check
from rubrics.model import Criterion, Rubric
from store.records import (
    Attempt,
    Comparison,
    CriterionResult,
    Critique,
    Facts,
    Jury,
    ToolCall,
    TruthSource,
    transcript,
)

if TYPE_CHECKING:
    from agents.providers import RoleModel

JudgeMode = Literal["together", "per_criterion"]


ENDINGS = {
    "goal_met": "the user ended the conversation: goal met",
    "gave_up": "the user ended the conversation: gave up",
    "turn_budget": "the conversation ran out of turns before the user was done",
}


def conversation_request(attempt: Attempt) -> str | None:
    """What a judge reads as the request of a multi-turn attempt: the conversation before its final answer, and
    how the user ended it. None for a single-turn attempt."""
    if not attempt.conversation:
        return None
    ending = f"\n\n({ENDINGS[attempt.ended.reason]})" if attempt.ended else ""
    return transcript(attempt.conversation[:-1]) + ending


class Critic:
    def __init__(
        self,
        judges: list[RoleModel],
        rubric: Rubric,
        id_exists: Callable[[str], bool],
        judge_mode: JudgeMode = "together",
        vocabulary: Vocabulary | None = None,
        action_names: frozenset[str] = frozenset(),
        owner_of: Callable[[str], str | None] = lambda _: None,
    ):
        self.judges = judges
        self.rubric = rubric
        self.id_exists = id_exists
        self.vocabulary = vocabulary or Vocabulary()
        self.action_names = action_names
        self.owner_of = owner_of
        self.judge_mode = judge_mode
        self.instructions = judge_instructions(rubric)
        self.batch: BatchAnswers | None = None  # verdicts a batch job returned (`--judge-batch`), by request

    async def review(
        self,
        *,
        category: str,
        request: str,
        attempt: Attempt,
        facts: Facts | None,
        expected_tool_calls: list[ToolCall] | None,
        allowed_tool_calls: list[ToolCall] = (),
        expected_end_state: dict[str, Any] | None = None,
        truth: TruthSource = "world",
        previous: tuple[Attempt, Critique] | None = None,
    ) -> tuple[Critique, Spend]:
        """Judge an attempt; a multi-turn attempt's judge sees its whole conversation as the request."""
        judged, checks, prompts = self._prepare(category, request, attempt, facts, expected_tool_calls,
                                                allowed_tool_calls, expected_end_state, truth, previous)  # fmt: skip
        spend = Spend()
        verdicts: list[JudgeVerdict] = []
        for judge in self.judges if prompts else []:
            verdict, used = await self._judge_all(judge, prompts)
            verdicts.append(verdict)
            spend += used
        judged_results, jury = self._combine(judged, verdicts)
        results = checks + judged_results
        score, passed, _ = self.rubric.decide(results)
        comparison = None
        if previous is not None:
            preferences = Counter(v.preference for v in verdicts if v.preference)
            preference = preferences.most_common(1)[0][0] if preferences else None
            comparison = Comparison(
                previous_score=previous[1].score,
                score=score,
                judge_preference=preference,
                rationale=next((v.comparison_rationale for v in verdicts if v.preference == preference), ""),
            )
        feedback = "\n".join(f"- [{r.id}] {r.rationale}" for r in results if not r.passed and r.counted)
        critique = Critique(
            rubric_id=self.rubric.id,
            rubric_version=self.rubric.version,
            rounds=attempt.round,
            passed=passed,
            score=score,
            criteria=results,
            comparison=comparison,
            feedback=feedback,
            jury=jury,
        )
        return critique, spend

    def requests(
        self,
        *,
        category: str,
        request: str,
        attempt: Attempt,
        facts: Facts | None,
        expected_tool_calls: list[ToolCall] | None,
        allowed_tool_calls: list[ToolCall] = (),
        expected_end_state: dict[str, Any] | None = None,
        truth: TruthSource = "world",
    ) -> list[JudgeRequest]:
        """The judge calls `review` would make for this attempt (no previous attempt), without making them."""
        *_, prompts = self._prepare(category, request, attempt, facts, expected_tool_calls, allowed_tool_calls,
                                    expected_end_state, truth, None)  # fmt: skip
        system = self.instructions.system_prompt
        return [JudgeRequest(judge.spec, system, prompt) for judge in self.judges for prompt in prompts]

    def _prepare(
        self,
        category: str,
        request: str,
        attempt: Attempt,
        facts: Facts | None,
        expected_tool_calls: list[ToolCall] | None,
        allowed_tool_calls: list[ToolCall],
        expected_end_state: dict[str, Any] | None,
        truth: TruthSource,
        previous: tuple[Attempt, Critique] | None,
    ) -> tuple[list[Criterion], list[CriterionResult], list[str]]:
        """The judged criteria, the programmatic checks' results, and the judge prompts: one for all judged
        criteria, or (judge_mode "per_criterion") one each; none when nothing is judged."""
        criteria = self.rubric.criteria_for(category)
        request = conversation_request(attempt) or request
        subject = self.subject(attempt, facts, expected_tool_calls, allowed_tool_calls, expected_end_state, truth)
        checks = [run_check(c, subject) for c in criteria if c.programmatic]
        judged = [c for c in criteria if not c.programmatic]
        prev = (
            None
            if previous is None
            else (previous[0], previous[1].score, [r.id for r in previous[1].criteria if not r.passed])
        )
        groups = [judged] if self.judge_mode == "together" else [[c] for c in judged]
        prompts = [judge_request(request, attempt, group, checks, prev) for group in groups if group]
        return judged, checks, prompts

    def subject(
        self,
        attempt: Attempt,
        facts: Facts | None,
        expected_tool_calls: list[ToolCall] | None,
        allowed_tool_calls: list[ToolCall] = (),
        expected_end_state: dict[str, Any] | None = None,
        truth: TruthSource = "world",
    ) -> Subject:
        """What the programmatic checks look at, for an attempt at a case with this truth."""
        return Subject(
            attempt=attempt,
            expected_tool_calls=expected_tool_calls,
            facts=facts,
            id_exists=self.id_exists,
            allowed_tool_calls=list(allowed_tool_calls),
            vocabulary=self.vocabulary,
            expected_end_state=expected_end_state or {},
            action_names=self.action_names,
            owner_of=self.owner_of,
            truth=truth,
        )

    def _combine(
        self, judged: list[Criterion], verdicts: list[JudgeVerdict]
    ) -> tuple[list[CriterionResult], Jury | None]:
        """Each judged criterion's result: the judge's, or for a jury the combined vote with its agreement."""
        per_juror = [{j.id: j for j in v.criteria} for v in verdicts]
        if len(self.judges) == 1:
            replies = per_juror[0] if per_juror else {}
            return [normalise(c, replies.get(c.id)) for c in judged], None
        models = [j.spec for j in self.judges]
        results = [combine_jurors(c, [normalise(c, r.get(c.id)) for r in per_juror], models) for c in judged]
        jury = Jury(
            models=models,
            votes={r.id: [None if v["unscored"] else v["passed"] for v in r.details["jury"]] for r in results},
            agreement={r.id: a for r in results if (a := agreement(r)) is not None},
        )
        return results, jury

    async def _judge_all(self, judge: RoleModel, prompts: list[str]) -> tuple[JudgeVerdict, Spend]:
        """The judge's verdict on every prompt (one, or one per criterion), merged."""
        verdicts, spend = [], Spend()
        for prompt in prompts:
            verdict, used = await self._judge(judge, prompt)
            verdicts.append(verdict)
            spend += used
        if len(verdicts) == 1:
            return verdicts[0], spend
        preference = next((v for v in verdicts if v.preference), None)
        return JudgeVerdict(
            criteria=[j for v in verdicts for j in v.criteria],
            preference=preference.preference if preference else None,
            comparison_rationale=preference.comparison_rationale if preference else "",
        ), spend

    async def _judge(self, judge: RoleModel, prompt: str) -> tuple[JudgeVerdict, Spend]:
        """The batch's verdict when it has one (its cost is the batch's), else one on-demand call."""
        if self.batch is not None:
            verdict = self.batch.get(JudgeRequest(judge.spec, self.instructions.system_prompt, prompt))
            if verdict is not None:
                return verdict, Spend()
        outcome = await judge.run(self.instructions, prompt, JudgeVerdict)
        return outcome.output, outcome.spend
