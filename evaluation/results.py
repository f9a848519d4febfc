"""One line of `results.jsonl`: how one candidate did on one golden, every score the leaderboard is built from.

The file is appended to as results come (one fsync'd line each); a resumed evaluation reads it back, drops a
torn last line, and skips every (golden, candidate) already there, so no golden is scored twice.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, Field, ValidationError

from config import InputError
from config.yamlfile import dotted_path
from store.records import Attempt, Strict, TokenUsage

Line = TypeVar("Line", bound=BaseModel)

RESULTS_SCHEMA_VERSION = 1


class JudgedScore(Strict):
    score: float = Field(description="normalised to 0-1")
    passed: bool
    unscored: bool = False


class EvalResult(Strict):
    """One candidate's answer to one golden, scored with the dataset's rubric."""

    schema_version: int = RESULTS_SCHEMA_VERSION
    golden_id: str
    candidate: str = Field(description="the --agent spec, as given")
    category: str
    request_type: str | None = None
    difficulty: str
    tags: list[str] = Field(default_factory=list)
    multi_turn: bool = False
    passed: bool = Field(description="passed under the rubric: every gate, and the threshold")
    score: float
    failed_criteria: list[str] = Field(default_factory=list)
    verdict: str | None = None
    verdict_correct: bool
    typology_correct: bool | None = Field(None, description="None when the golden has no typology")
    evidence_precision: float
    evidence_recall: float
    tool_precision: float = Field(description="tool names, required and allowed calls as the rubric counts them")
    tool_recall: float
    tool_f1: float
    call_precision: float = Field(description="calls with their arguments, against the golden's expected calls")
    call_recall: float
    call_f1: float
    end_state_match: bool | None = Field(None, description="None when the golden states no end state (a seed request)")
    judged: dict[str, JudgedScore] = Field(default_factory=dict)
    judge: str = Field(description="the judge's model spec; 'simulated' offline (keyword readings)")
    latency_s: float
    tokens: TokenUsage = Field(default_factory=TokenUsage)
    cost_usd: float = 0.0
    turns: int = 1
    answer: str = ""
    error: str | None = Field(None, description="the candidate failed to answer (counted as a failed golden)")

    @property
    def key(self) -> tuple[str, str]:
        return self.golden_id, self.candidate


class Answer(Strict):
    """A candidate's answer to a golden, kept (`answers.jsonl`) until a batch judge scores it: the attempt, or the
    error it failed with, and what it cost."""

    golden_id: str
    candidate: str
    attempt: Attempt | None = None
    error: str | None = None
    tokens: TokenUsage = Field(default_factory=TokenUsage)
    cost_usd: float = 0.0
    latency_s: float = 0.0

    @property
    def key(self) -> tuple[str, str]:
        return self.golden_id, self.candidate


def read_results(path: Path, model: type[Line] = EvalResult) -> list[Line]:
    """Every complete line of `path` (none if it does not exist), a torn last line cut off the file; the first line
    of a (golden, candidate) pair wins. A damaged line elsewhere is an InputError."""
    if not path.exists():
        return []
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):  # a crash mid-write: the last line never finished
        cut = data.rfind(b"\n") + 1
        with path.open("r+b") as handle:
            handle.truncate(cut)
        data = data[:cut]
    results: dict[tuple[str, str], Line] = {}
    for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            result = model.model_validate_json(line)
        except ValidationError as exc:
            error = exc.errors()[0]
            raise InputError(f"{path}:{number}: {dotted_path(error['loc']) or '(line)'}: {error['msg']}") from None
        results.setdefault(result.key, result)  # type: ignore[attr-defined]
    return list(results.values())


class ResultsFile:
    """Appends results (or answers), one durable line each."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = path.open("a", encoding="utf-8")

    def append(self, result: BaseModel) -> None:
        self.handle.write(result.model_dump_json() + "\n")
        self.handle.flush()
        os.fsync(self.handle.fileno())

    def close(self) -> None:
        self.handle.close()
