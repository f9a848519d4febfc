"""The critic: programmatic rubric checks first, then one judge call for the judged criteria, then the
rubric's aggregation. A judged score never overrules a programmatic failure."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from strands import Agent

from agents.messages import usage_of
from rubrics.judge import JudgeVerdict, judge_request, judge_system_prompt, normalise
from rubrics.methods import Subject, run_check
from rubrics.model import Criterion, Rubric
from store.records import Attempt, Comparison, CriterionResult, Critique, Facts, TokenUsage, ToolCall

JudgeMode = Literal["together", "per_criterion"]


class Critic:
    def __init__(
        self,
        model_factory: Callable[[], Any],
        rubric: Rubric,
        id_exists: Callable[[str], bool],
        judge_mode: JudgeMode = "together",
    ):
        self.model_factory = model_factory
        self.rubric = rubric
        self.id_exists = id_exists
        self.judge_mode = judge_mode
        self.system_prompt = judge_system_prompt(rubric)

    async def review(
        self,
        *,
        category: str,
        request: str,
        attempt: Attempt,
        facts: Facts,
        expected_tool_calls: list[ToolCall],
        previous: tuple[Attempt, Critique] | None = None,
    ) -> tuple[Critique, TokenUsage]:
        criteria = self.rubric.criteria_for(category)
        subject = Subject(
            attempt=attempt, expected_tool_calls=expected_tool_calls, facts=facts, id_exists=self.id_exists
        )
        checks = [run_check(c, subject) for c in criteria if c.programmatic]
        judged = [c for c in criteria if not c.programmatic]
        usage = TokenUsage()
        verdict = None
        if judged:
            prev = (
                None
                if previous is None
                else (previous[0], previous[1].score, [r.id for r in previous[1].criteria if not r.passed])
            )
            verdict, usage = await self._judge_all(request, attempt, judged, checks, prev)
        replies = {j.id: j for j in (verdict.criteria if verdict else [])}
        results = checks + [normalise(c, replies.get(c.id)) for c in judged]
        score, passed, _ = self.rubric.decide(results)
        comparison = None
        if previous is not None:
            comparison = Comparison(
                previous_score=previous[1].score,
                score=score,
                judge_preference=verdict.preference if verdict else None,
                rationale=verdict.comparison_rationale if verdict else "",
            )
        feedback = "\n".join(f"- [{r.id}] {r.rationale}" for r in results if not r.passed)
        critique = Critique(
            rubric_id=self.rubric.id,
            rubric_version=self.rubric.version,
            rounds=attempt.round,
            passed=passed,
            score=score,
            criteria=results,
            comparison=comparison,
            feedback=feedback,
        )
        return critique, usage

    async def _judge_all(
        self, request: str, attempt: Attempt, judged: list[Criterion], checks: list[CriterionResult], previous
    ) -> tuple[JudgeVerdict, TokenUsage]:
        """One call for all judged criteria, or (judge_mode "per_criterion") one call each, merged."""
        if self.judge_mode == "together":
            return await self._judge(judge_request(request, attempt, judged, checks, previous))
        verdicts, usage = [], TokenUsage()
        for criterion in judged:
            verdict, used = await self._judge(judge_request(request, attempt, [criterion], checks, previous))
            verdicts.append(verdict)
            usage += used
        preference = next((v for v in verdicts if v.preference), None)
        return JudgeVerdict(
            criteria=[j for v in verdicts for j in v.criteria],
            preference=preference.preference if preference else None,
            comparison_rationale=preference.comparison_rationale if preference else "",
        ), usage

    async def _judge(self, prompt: str) -> tuple[JudgeVerdict, TokenUsage]:
        agent = Agent(model=self.model_factory(), system_prompt=self.system_prompt, callback_handler=None)
        result = await agent.invoke_async(prompt, structured_output_model=JudgeVerdict)
        return result.structured_output, usage_of(result)
