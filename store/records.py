"""The golden-example record and its parts: the one schema every dataset line validates against."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer, model_validator

RECORD_SCHEMA_VERSION = 5
# 2: case_key, request_type, tags, allowed_tool_calls. 3: multi-turn conversations (scenario, each assistant turn's
# tool trace) and actions (expected_actions, end_state, expected_end_state). 4: provenance.review, the SME decision
# a reviewed version applied (written only when there is one). 5: truth, where a record's truth came from (world,
# sme or judged), and facts / expected_tool_calls that may be unknown (None) when it is not the world's. Older
# records are read as they are (their truth is the world's).

TruthSource = Literal["world", "sme", "judged"]
TRUTH_SOURCES: dict[str, str] = {
    "world": "computed by the domain's labeller from the simulated world",
    "sme": "stated by a subject-matter expert (a seed case's facts, or a reviewed example)",
    "judged": "judged by the critic alone: no world or SME stated it; an SME must sign it off",
}


class Strict(BaseModel):
    """Base for boundary models: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class ToolCall(Strict):
    """A tool the task needs, with the input it should be called with."""

    name: str
    input: dict[str, Any] = Field(default_factory=dict)


class ToolTraceEntry(Strict):
    """One tool call the task agent really made, as the framework executed it."""

    name: str
    input: dict[str, Any] = Field(default_factory=dict)
    output: str
    status: Literal["success", "error"]


class Turn(Strict):
    role: Literal["user", "assistant"]
    content: str
    tool_trace: list[ToolTraceEntry] | None = Field(
        None, description="an assistant turn of a multi-turn conversation: the tool calls it made"
    )


SPEAKERS = {"user": "User", "assistant": "Assistant"}


def transcript(turns: list[Turn]) -> str:
    """A conversation as text: `User: ...` / `Assistant: ...` paragraphs (how prompts and flattened exports
    show one)."""
    return "\n\n".join(f"{SPEAKERS[t.role]}: {t.content}" for t in turns)


def read_transcript(text: str) -> list[Turn]:
    """The turns `transcript` wrote (text that is not one: a single user turn)."""
    parts = re.split(r"(?:^|\n\n)(User|Assistant): ", text)
    if len(parts) < 3 or parts[0].strip():
        return [Turn(role="user", content=text)]
    roles = {v: k for k, v in SPEAKERS.items()}
    pairs = zip(parts[1::2], parts[2::2], strict=True)
    return [Turn(role=roles[speaker], content=content) for speaker, content in pairs]


class Scenario(Strict):
    """The user of a multi-turn case: what they want, what they know but say only when asked, what they bring up
    after an answer (follow-up kinds the persona card words), and how many messages the conversation may last."""

    goal: str = Field(min_length=1)
    private_facts: dict[str, str] = Field(default_factory=dict)
    follow_ups: list[str] = Field(default_factory=list)
    max_turns: int = Field(8, ge=2, description="messages (user and assistant) at most")


class UserEnd(Strict):
    """How the simulated user ended a conversation."""

    reason: Literal["goal_met", "gave_up", "turn_budget"]
    message: str = ""


class TokenUsage(Strict):
    """Tokens as reported by the model provider's usage metadata."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(**{k: getattr(self, k) + getattr(other, k) for k in type(self).model_fields})


class Facts(Strict):
    """Verified ground truth for a case, taken from the domain world, never from a model."""

    verdict: str
    typology: str | None = None
    evidence_ids: list[str] = Field(default_factory=list)
    subject_id: str | None = None


class CriterionResult(Strict):
    """How one rubric criterion judged one attempt; score is normalised to [0, 1]."""

    id: str
    method: str
    weight: float
    required: bool
    score: float = Field(ge=0, le=1)
    passed: bool
    rationale: str
    details: dict[str, Any] = Field(default_factory=dict)

    @property
    def counted(self) -> bool:
        """False for a check the case's truth cannot score (nobody stated the facts, the tool calls or the end
        state it needs): unscored, left out of the decision, never a pass."""
        return not self.details.get("no_truth")


class Comparison(Strict):
    """The relative evaluation: this attempt against the previous one."""

    previous_score: float
    score: float
    judge_preference: Literal["current", "previous", "tie"] | None = None
    rationale: str = ""


class Jury(Strict):
    """How a judge jury voted: each juror's pass/fail per judged criterion and how far they agreed."""

    models: list[str]
    votes: dict[str, list[bool | None]] = Field(description="criterion id → each juror's pass, None if unscored")
    agreement: dict[str, float] = Field(description="criterion id → share of scoring jurors on the majority side")


class Critique(Strict):
    rubric_id: str
    rubric_version: str
    rounds: int = Field(ge=1)
    passed: bool
    score: float = Field(ge=0, le=1)
    criteria: list[CriterionResult]
    comparison: Comparison | None = None
    feedback: str = ""
    jury: Jury | None = None

    def unnecessary_tools(self) -> set[str]:
        """The tools the tool-call check found called without need."""
        return {name for r in self.criteria if r.method == "tool_calls" for name in r.details.get("unnecessary", [])}

    def failed_criteria(self) -> list[str]:
        """Ids of the criteria this attempt failed (`below_threshold` when only the total fell short)."""
        failed = [r.id for r in self.criteria if not r.passed and r.counted]
        return failed or ([] if self.passed else ["below_threshold"])


class SmeReview(Strict):
    """The SME decision `review publish` applied to a record: who decided what, when, and what they changed."""

    reviewer: str
    decision: Literal["approve", "correct", "promote"]
    at: str
    decision_id: str
    note: str = ""
    marks: dict[str, bool] = Field(default_factory=dict, description="criterion id → the SME's pass, if marked")
    original: dict[str, Any] = Field(
        default_factory=dict, description="each field an SME changed, as it was before any SME changed it"
    )
    queue_item: str | None = Field(None, description="a promoted record's review-queue item: '<run_id>:<episode>'")


class Provenance(Strict):
    models: dict[str, str | list[str]] = Field(description="model spec per role; a list for a judge jury")
    runtime: str
    seed: int
    world_seed: int
    domain_version: str
    run_id: str
    episode: int
    created_at: str
    tokens: TokenUsage
    cost_usd: float = Field(0.0, ge=0, description="estimated from the price table; 0 for unpriced models")
    review: SmeReview | None = Field(None, description="the SME decision a reviewed version applied")

    @model_serializer(mode="wrap")
    def _without_empty_review(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A record no SME reviewed is written without `review`, byte for byte as before schema 4."""
        data = handler(self)
        if self.review is None:
            data.pop("review", None)
        return data


class Attempt(Strict):
    """One answer of the task agent: its structured finding, its text and the tools it really called. In a
    multi-turn case, one whole conversation: the finding and answer of its last turn, the tool calls of all its
    turns, and the state its actions left."""

    round: int = Field(ge=1)
    finding: dict[str, Any]
    answer: str
    tool_trace: list[ToolTraceEntry]
    conversation: list[Turn] | None = Field(None, description="a multi-turn attempt's conversation")
    ended: UserEnd | None = Field(None, description="how the user ended a multi-turn attempt")
    end_state: dict[str, Any] = Field(default_factory=dict, description="what the attempt's actions changed")


class Example(Strict):
    """One golden example: a request, its verified reference answer, and how it was validated."""

    schema_version: int = RECORD_SCHEMA_VERSION
    id: str
    dataset: str
    domain: str
    case_key: str | None = Field(None, description="the case in the domain's world (None in version 1 records)")
    request_type: str | None = Field(None, description="what the user asked for (None in version 1 records)")
    category: str
    difficulty: Literal["standard", "adversarial"]
    persona: str
    conversation: list[Turn]
    prompt: str
    reference_answer: str = Field(min_length=1)
    reference_output: dict[str, Any]
    expected_tool_calls: list[ToolCall] | None = Field(
        description="the calls an expert needs before knowing the answer; None when nobody stated them"
    )
    allowed_tool_calls: list[ToolCall] = Field(
        default_factory=list, description="calls an expert may make as well (not required, not penalised)"
    )
    tags: list[str] = Field(default_factory=list, description="what makes the case hard: near_threshold, pep, ...")
    tool_trace: list[ToolTraceEntry]
    truth: TruthSource = Field(
        "world", description="where the truth (facts, expected tool calls) came from; written unless the world's"
    )
    facts: Facts | None = Field(description="None when no world or SME stated them (truth judged, or SME-reviewed)")
    scenario: Scenario | None = Field(None, description="a multi-turn case's user: goal and private facts")
    expected_actions: list[ToolCall] = Field(
        default_factory=list, description="the actions (with their checked arguments) the case should end with"
    )
    expected_end_state: dict[str, Any] = Field(default_factory=dict, description="the state those actions leave")
    end_state: dict[str, Any] = Field(default_factory=dict, description="the state the approved answer left")
    critique: Critique
    provenance: Provenance

    @model_serializer(mode="wrap")
    def _world_truth_unsaid(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A record whose truth is the world's is written without `truth`, byte for byte as before schema 5 (a record
        without it reads as the world's)."""
        data = handler(self)
        if self.truth == "world":
            data.pop("truth", None)
        return data

    @model_validator(mode="after")
    def _world_truth_is_whole(self) -> Example:
        if self.truth == "world" and (self.facts is None or self.expected_tool_calls is None):
            raise ValueError("a record whose truth is the world's states its facts and expected tool calls")
        if self.truth == "judged" and self.facts is not None:
            raise ValueError("a judged record has no facts (nobody stated them)")
        return self

    @property
    def needs_sign_off(self) -> bool:
        """Judged by the critic alone: not golden until an SME signs it off."""
        return self.truth == "judged"


def utc_now() -> str:
    """The current time, as every record and manifest writes it."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def content_id(*parts: Any) -> str:
    """A stable id: sha256 of the canonical JSON of `parts`, shortened."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class ReviewItem(Strict):
    """An episode that produced no golden example, kept for SMEs with the reasons."""

    schema_version: int = RECORD_SCHEMA_VERSION
    dataset: str
    run_id: str
    episode: int
    case_key: str
    category: str
    difficulty: Literal["standard", "adversarial"]
    status: Literal["rejected", "failed"]
    reasons: list[str]
    prompt: str | None = None
    attempts: list[Attempt] = Field(default_factory=list)
    critiques: list[Critique] = Field(default_factory=list)
    error: str | None = None
    created_at: str
