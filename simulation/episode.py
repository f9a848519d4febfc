"""One episode: simulate a request → the task agent answers → the critic reviews → revise → outcome.

This module decides the outcome of one case and builds its record; it does not schedule episodes
(the runner does) or write anything (the store does).
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Literal

from agents.critic import Critic
from agents.metering import Spend
from agents.task_agent import TaskAgent
from agents.user_simulator import UserSimulator
from simulation.domains.base import Case
from store.records import (
    Attempt,
    Critique,
    Example,
    Provenance,
    ReviewItem,
    Turn,
    content_id,
    utc_now,
)


@dataclass(frozen=True)
class Roles:
    user: UserSimulator
    task: TaskAgent
    critic: Critic


@dataclass(frozen=True)
class EpisodeSettings:
    """What every episode of a run shares."""

    dataset: str
    domain: str
    domain_version: str
    world_seed: int
    seed: int
    run_id: str
    persona: str
    models: dict[str, str | list[str]]
    max_rounds: int
    runtime: str = "strands"


@dataclass
class EpisodeResult:
    case: Case
    status: Literal["accepted", "rejected", "failed"]
    reasons: list[str]
    spend: Spend
    prompt: str | None = None
    attempts: list[Attempt] | None = None
    critiques: list[Critique] | None = None
    example: Example | None = None
    error: str | None = None

    @property
    def rounds(self) -> int:
        return len(self.critiques or [])

    @property
    def tool_calls(self) -> int:
        return sum(len(a.tool_trace) for a in self.attempts or [])

    def review_item(self, settings: EpisodeSettings) -> ReviewItem:
        """The review-queue entry for an episode that produced no example."""
        return ReviewItem(
            dataset=settings.dataset,
            run_id=settings.run_id,
            episode=self.case.index,
            case_key=self.case.key,
            category=self.case.category,
            difficulty=self.case.difficulty,
            status=self.status,
            reasons=self.reasons,
            prompt=self.prompt,
            attempts=self.attempts or [],
            critiques=self.critiques or [],
            error=self.error,
            created_at=utc_now(),
        )


async def run_episode(case: Case, roles: Roles, settings: EpisodeSettings) -> EpisodeResult:
    """Play one case to an outcome. Errors fail the episode (with the reason), never the run."""
    spend = Spend()
    attempts: list[Attempt] = []
    critiques: list[Critique] = []
    prompt = None
    try:
        prompt, used = await roles.user.request(case.brief)
        spend += used
        for round in range(1, settings.max_rounds + 1):
            previous = (attempts[-1], critiques[-1]) if attempts else None
            if previous is None:
                attempt, used = await roles.task.attempt(prompt, round)
            else:
                attempt, used = await roles.task.attempt(
                    prompt, round, previous=previous[0], feedback=previous[1].feedback
                )
            spend += used
            critique, used = await roles.critic.review(
                category=case.category,
                request=prompt,
                attempt=attempt,
                facts=case.facts,
                expected_tool_calls=case.expected_tool_calls,
                previous=previous,
            )
            spend += used
            attempts.append(attempt)
            critiques.append(critique)
            if critique.passed:
                example = _example(case, prompt, attempt, critique, settings, spend)
                return EpisodeResult(case, "accepted", [], spend, prompt, attempts, critiques, example)
        return EpisodeResult(case, "rejected", critiques[-1].failed_criteria(), spend, prompt, attempts, critiques)
    except Exception as exc:  # one bad episode must not stop the batch
        error = "".join(traceback.format_exception_only(exc)).strip()
        return EpisodeResult(
            case, "failed", [f"error: {type(exc).__name__}"], spend, prompt, attempts, critiques, error=error
        )


def answer_fields(prompt: str, attempt: Attempt) -> dict:
    """The record fields an accepted attempt provides: the conversation, reference answer and tool trace."""
    return {
        "conversation": [Turn(role="user", content=prompt), Turn(role="assistant", content=attempt.answer)],
        "reference_answer": attempt.answer,
        "reference_output": {k: v for k, v in attempt.finding.items() if k != "answer"},
        "tool_trace": attempt.tool_trace,
    }


def _example(
    case: Case, prompt: str, attempt: Attempt, critique: Critique, settings: EpisodeSettings, spend: Spend
) -> Example:
    return Example(
        id=content_id(settings.domain, settings.domain_version, settings.world_seed, prompt),
        dataset=settings.dataset,
        domain=settings.domain,
        category=case.category,
        difficulty=case.difficulty,
        persona=settings.persona,
        prompt=prompt,
        expected_tool_calls=case.expected_tool_calls,
        facts=case.facts,
        **answer_fields(prompt, attempt),
        critique=critique,
        provenance=Provenance(
            models=settings.models,
            runtime=settings.runtime,
            seed=settings.seed,
            world_seed=settings.world_seed,
            domain_version=settings.domain_version,
            run_id=settings.run_id,
            episode=case.index,
            created_at=utc_now(),
            tokens=spend.tokens,
            cost_usd=round(spend.cost_usd, 6),
        ),
    )
