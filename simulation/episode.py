"""One episode: simulate a request → the task agent answers → the critic reviews → revise → outcome.

This module decides the outcome of one case and builds its record; it does not schedule episodes
(the runner does) or write anything (the store does).
"""

from __future__ import annotations

import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agents.critic import Critic
from agents.metering import Spend
from agents.task_agent import TaskAgent
from agents.user_simulator import UserSimulator
from simulation.conversation import converse
from simulation.domains.base import Case
from store.dedup import normalise_prompt
from store.records import (
    Attempt,
    Critique,
    Example,
    Provenance,
    ReviewItem,
    Turn,
    content_id,
    transcript,
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


Status = Literal["in_progress", "accepted", "rejected", "failed"]
Checkpoint = Callable[["Episode"], Awaitable[None]]
Screen = Callable[["Episode", str], Awaitable[str | None]]


class Episode(BaseModel):
    """One episode's state, saved after every stage (request, each attempt, each critique, the outcome) so
    that a resumed run continues it from the last completed stage."""

    model_config = ConfigDict(extra="forbid")

    case: Case
    status: Status = "in_progress"
    reasons: list[str] = []
    spend: Spend = Field(default_factory=Spend)
    prompt: str | None = None
    attempts: list[Attempt] = []
    critiques: list[Critique] = []
    example: Example | None = None
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.status != "in_progress"

    @property
    def rounds(self) -> int:
        return len(self.critiques)

    @property
    def tool_calls(self) -> int:
        return sum(len(a.tool_trace) for a in self.attempts)

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
            attempts=self.attempts,
            critiques=self.critiques,
            error=self.error,
            created_at=utc_now(),
        )


async def _no_checkpoint(episode: Episode) -> None:
    return None


async def _no_screen(episode: Episode, prompt: str) -> str | None:
    return None


async def run_episode(
    episode: Episode | Case,
    roles: Roles,
    settings: EpisodeSettings,
    *,
    checkpoint: Checkpoint = _no_checkpoint,
    screen: Screen = _no_screen,
) -> Episode:
    """Play an episode to an outcome, from where it stands (a new case, or a checkpoint of an interrupted
    one), calling `checkpoint` after every stage. `screen` may turn a new request away (e.g. as a near
    duplicate) with a reason. Errors fail the episode (with the reason), never the run."""
    episode = episode if isinstance(episode, Episode) else Episode(case=episode)
    case = episode.case
    try:
        if episode.prompt is None:
            prompt, used = await roles.user.request(case.brief)
            episode.spend += used
            episode.prompt = prompt
            if reason := await screen(episode, prompt):
                episode.status, episode.reasons = "rejected", [reason]
            else:
                await checkpoint(episode)
        while not episode.finished:
            if len(episode.attempts) == len(episode.critiques):  # next: an attempt
                if len(episode.attempts) == settings.max_rounds:
                    episode.status, episode.reasons = "rejected", episode.critiques[-1].failed_criteria()
                    break
                previous = episode.attempts[-1] if episode.attempts else None
                feedback = episode.critiques[-1].feedback if previous else None
                if case.scenario is not None:
                    attempt, used = await converse(
                        case, episode.prompt, roles, len(episode.attempts) + 1, previous, feedback
                    )
                else:
                    attempt, used = await roles.task.attempt(
                        task_request(episode.prompt, case.history),
                        len(episode.attempts) + 1,
                        previous=previous,
                        feedback=feedback,
                        unnecessary=episode.critiques[-1].unnecessary_tools() if previous else frozenset(),
                    )
                episode.attempts.append(attempt)
            else:  # next: the critique of the latest attempt
                attempt = episode.attempts[-1]
                previous = (episode.attempts[-2], episode.critiques[-1]) if episode.critiques else None
                critique, used = await roles.critic.review(
                    category=case.category,
                    request=task_request(episode.prompt, case.history),
                    attempt=attempt,
                    previous=previous,
                    **case.reference,
                )
                episode.critiques.append(critique)
                if critique.passed:
                    episode.status = "accepted"
                    episode.example = _example(case, episode.prompt, attempt, critique, settings, episode.spend + used)
            episode.spend += used
            if not episode.finished:
                await checkpoint(episode)
    except Exception as exc:  # one bad episode must not stop the batch
        exc = getattr(exc, "original_exception", None) or exc  # strands wraps errors of nested agent cycles
        episode.status = "failed"
        episode.reasons = [failure_reason(exc)]
        episode.error = "".join(traceback.format_exception_only(exc)).strip()
    await checkpoint(episode)
    return episode


def failure_reason(exc: Exception) -> str:
    """The review-queue reason for an episode that failed: model output that never validated, or the error."""
    from agents.output_guard import MalformedOutput

    if isinstance(exc, MalformedOutput):
        return "malformed_output"
    return f"error: {type(exc).__name__}"


def task_request(prompt: str, history: list[Turn]) -> str:
    """What the task agent and the judge read as a single-turn request: the prompt, after a seed case's
    conversation so far (as `User: ...` / `Assistant: ...` paragraphs)."""
    return transcript([*history, Turn(role="user", content=prompt)]) if history else prompt


def earlier_turns(record: Example) -> list[Turn]:
    """A single-turn record's conversation before its request: a seed case's history (none for the others)."""
    return [] if record.scenario is not None else record.conversation[:-2]


def answer_fields(prompt: str, attempt: Attempt, history: list[Turn] = ()) -> dict:
    """The record fields an accepted attempt provides: the conversation (after a seed case's `history`), reference
    answer, tool trace and the state its actions left."""
    return {
        "conversation": attempt.conversation
        or [*history, Turn(role="user", content=prompt), Turn(role="assistant", content=attempt.answer)],
        "reference_answer": attempt.answer,
        "reference_output": {k: v for k, v in attempt.finding.items() if k != "answer"},
        "tool_trace": attempt.tool_trace,
        "end_state": attempt.end_state,
    }


def example_id(settings: EpisodeSettings, prompt: str) -> str:
    """An example's id: its world and its normalised prompt, so the same request is the same example."""
    return record_id(settings.domain, settings.domain_version, settings.world_seed, prompt)


def record_id(domain: str, domain_version: str, world_seed: int, prompt: str) -> str:
    """The id of the example a request makes in a world (see `example_id`)."""
    return content_id(domain, domain_version, world_seed, normalise_prompt(prompt))


def case_fields(case: Case) -> dict:
    """The record fields a case provides: where it is in the world, and its truth."""
    return {
        "case_key": case.key,
        "request_type": case.request_type,
        "category": case.category,
        "difficulty": case.difficulty,
        "expected_tool_calls": case.expected_tool_calls,
        "allowed_tool_calls": case.allowed_tool_calls,
        "tags": case.tags,
        "truth": case.truth,
        "facts": case.facts,
        "scenario": case.scenario,
        "expected_actions": case.expected_actions,
        "expected_end_state": case.expected_end_state,
    }


def _example(
    case: Case, prompt: str, attempt: Attempt, critique: Critique, settings: EpisodeSettings, spend: Spend
) -> Example:
    return Example(
        id=example_id(settings, prompt),
        dataset=settings.dataset,
        domain=settings.domain,
        persona=settings.persona,
        prompt=prompt,
        **case_fields(case),
        **answer_fields(prompt, attempt, case.history),
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
