"""Rubric test suites: answers an SME knows to be good or bad, judged against a rubric to see that it says so.

A suite is a JSON Lines file beside the rubric: `rubrics/tests/<domain>.good.jsonl` holds answers the rubric must
pass, `<domain>.bad.jsonl` answers it must fail (each with the criteria expected to fail). A line is either a
whole stored record (`{"record": {...}}`, as `dataset export --format jsonl` writes one) or just what the answer
consists of:

    {"name": "clears in the text, suspicious in the finding", "case": "cash_activity:C-0042",
     "answer": "Not suspicious. ...", "finding": {"verdict": "suspicious", ...}, "fails": ["answer_matches_finding"]}

`case` is a case key of the domain's world; `tool_calls` (default: the calls the case needs, then its expected
actions) are made again against that world through the domain's real tools, so every tool output a check reads
is real. A multi-turn case also needs `conversation`: the turns before the answer. `request` is what the judge
reads as the question (default: a record's prompt, else the case's brief).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from config import InputError
from config.yamlfile import dotted_path
from store.records import Attempt, Critique, Example, Strict, ToolCall, Turn

Expect = Literal["pass", "fail"]


class SuiteTurn(Strict):
    role: Literal["user", "assistant"]
    content: str = Field(min_length=1)


class SuiteEntry(Strict):
    """One known answer: a stored record, or a case key with the answer, the finding and the tool calls."""

    name: str | None = Field(None, description="how the table names it  [default: the case key]")
    record: Example | None = None
    case: str | None = Field(None, description="a case key of the domain's world: category:subject")
    request: str | None = None
    answer: str | None = None
    finding: dict[str, Any] | None = None
    tool_calls: list[ToolCall] | None = Field(None, description="[default: the calls and actions the case needs]")
    conversation: list[SuiteTurn] | None = Field(None, description="a multi-turn case: the turns before the answer")
    fails: list[str] = Field(default_factory=list, description="a bad answer: criteria expected to fail")

    @model_validator(mode="after")
    def _one_form(self) -> SuiteEntry:
        parts = {"case": self.case, "answer": self.answer, "finding": self.finding}
        given = [name for name, value in parts.items() if value is not None]
        if self.record is not None and (given or self.tool_calls is not None or self.conversation is not None):
            raise ValueError(f"give a record, or case, answer and finding, not both (also {', '.join(given)})")
        if self.record is None and len(given) < len(parts):
            missing = ", ".join(name for name in parts if name not in given)
            raise ValueError(f"give a record, or case, answer and finding (missing: {missing})")
        return self

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        return self.record.case_key or self.record.id if self.record else str(self.case)


@dataclass
class Known:
    """A suite line: where it is, the entry, and whether the rubric must pass or fail it."""

    where: str  # file:line
    entry: SuiteEntry
    expect: Expect


def expectation_of(path: Path) -> Expect | None:
    """What a suite file's name says its answers are: `*.good.jsonl` pass, `*.bad.jsonl` fail."""
    if path.name.endswith(".good.jsonl"):
        return "pass"
    if path.name.endswith(".bad.jsonl"):
        return "fail"
    return None


def suites_beside(rubric: Path) -> list[Path]:
    """The suite files that sit beside a rubric: `tests/<rubric stem>.good.jsonl` and `.bad.jsonl`."""
    folder = rubric.parent / "tests"
    return [p for kind in ("good", "bad") if (p := folder / f"{rubric.stem}.{kind}.jsonl").is_file()]


def read_suite(path: Path, expect: Expect | None = None) -> list[Known]:
    """Every line of a suite file, validated; any bad line is an InputError naming `file:line: field: problem`."""
    expect = expect or expectation_of(path)
    if expect is None:
        raise InputError(f"{path}: name it <rubric>.good.jsonl or <rubric>.bad.jsonl, or give --expect pass|fail")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    known, problems = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = SuiteEntry.model_validate_json(line)
        except ValidationError as exc:
            for error in exc.errors():
                problems.append(f"{path}:{number}: {dotted_path(error['loc']) or '(line)'}: {error['msg']}")
            continue
        if expect == "pass" and entry.fails:
            problems.append(f"{path}:{number}: fails: a good answer expects no criterion to fail")
        known.append(Known(f"{path}:{number}", entry, expect))
    if problems:
        raise InputError.capped(problems)
    if not known:
        raise InputError(f"{path}: no answers")
    return known


@dataclass
class Verdict:
    """How the rubric judged one known answer, and whether that is a surprise."""

    known: Known
    critique: Critique
    failed: list[str] = field(default_factory=list)
    unscored: list[str] = field(default_factory=list)

    @property
    def surprise(self) -> str | None:
        """Why the verdict is not what the suite expects (None: as expected)."""
        if self.known.expect == "pass":
            return None if self.critique.passed else f"failed {', '.join(self.failed) or 'the threshold'}"
        if self.critique.passed:
            return "passed"
        missed = [c for c in self.known.entry.fails if c not in self.failed]
        return f"did not fail {', '.join(missed)}" if missed else None


class RubricTester:
    """Judges known answers against one rubric, with one world of its domain and the rubric's critic."""

    def __init__(self, rubric_path: Path, world_seed: int, settings: Any = None):
        from agents.settings import ModelSettings
        from agents.simulated.model import SimSettings
        from rubrics.check import load_checked
        from simulation.domains import get_domain
        from simulation.roles import make_roles, prepare_models
        from simulation.truth import WorldChecker

        self.rubric = load_checked(rubric_path)
        self.domain = get_domain(self.rubric.applies_to.domain)
        self.world = self.domain.build_world(world_seed)
        lineup = prepare_models(settings or ModelSettings(), self.domain, SimSettings(seed=0, defect_rate=0.0))
        self.roles = make_roles(self.domain, self.world, self.rubric, lineup, "together")
        self.checker = WorldChecker(self.domain, self.world, self.rubric)

    def prepare(self, known: Known) -> tuple[Any, str, Attempt]:
        """The case, the request and the attempt a known answer stands for; InputError for one the world cannot
        stand behind (no such case, a tool the domain lacks, an input a tool cannot take)."""
        entry = known.entry
        if entry.record is not None:
            entry = self.entry_of(entry.record).model_copy(update={"name": entry.name, "fails": entry.fails})
        try:
            case = self.domain.case_for_key(self.world, entry.case)
        except LookupError as exc:
            raise InputError(f"{known.where}: case: {exc}") from None
        if case.scenario is not None and not entry.conversation:
            raise InputError(
                f"{known.where}: conversation: a {case.category} case is a conversation; give the turns before "
                "the answer"
            )
        calls = entry.tool_calls
        if calls is None:
            calls = [*case.expected_tool_calls, *case.expected_actions]
        try:
            trace, end_state = self.checker.replay(calls)
        except LookupError as exc:
            raise InputError(f"{known.where}: tool_calls: no tool '{exc}' in the {self.domain.name} domain") from None
        except ValueError as exc:
            raise InputError(f"{known.where}: tool_calls: {exc}") from None
        conversation = None
        if case.scenario is not None:
            conversation = [Turn(role=t.role, content=t.content) for t in entry.conversation]
            conversation.append(Turn(role="assistant", content=entry.answer))
        brief = "; ".join(f"{k}: {v}" for k, v in case.brief.items())
        request = entry.request or (entry.conversation[0].content if entry.conversation else brief)
        attempt = Attempt(
            round=1,
            finding={**entry.finding, "answer": entry.answer},
            answer=entry.answer,
            tool_trace=trace,
            conversation=conversation,
            end_state=end_state,
        )
        return case, request, attempt

    def entry_of(self, record: Example) -> SuiteEntry:
        """A stored record as a suite entry: its case key, prompt, answer, finding, tool calls and earlier turns."""
        earlier = record.conversation[:-1] if record.scenario is not None else None
        return SuiteEntry(
            case=self.domain.case_key_of(record),
            request=record.prompt,
            answer=record.reference_answer,
            finding=record.reference_output,
            tool_calls=[ToolCall(name=t.name, input=t.input) for t in record.tool_trace],
            conversation=[SuiteTurn(role=t.role, content=t.content) for t in earlier] if earlier else None,
        )

    async def judge(self, known: Known, prepared: tuple[Any, str, Attempt]) -> Verdict:
        from simulation.truth import user_ending

        case, request, attempt = prepared
        attempt, _ = await user_ending(self.roles.user, case, attempt)
        critique, _ = await self.roles.critic.review(
            category=case.category,
            request=request,
            attempt=attempt,
            **case.reference,
        )
        failed = [r.id for r in critique.criteria if not r.passed]
        unscored = [r.id for r in critique.criteria if r.details.get("unscored")]
        return Verdict(known, critique, failed, unscored)

    def run(self, suite: list[Known], concurrency: int = 4) -> list[Verdict]:
        """Every known answer judged, in suite order. The whole suite is prepared first: a line the world cannot
        stand behind stops the test before any judge call."""
        prepared = [self.prepare(known) for known in suite]

        async def judge_all() -> list[Verdict]:
            gate = asyncio.Semaphore(concurrency)

            async def one(known: Known, ready: tuple[Any, str, Attempt]) -> Verdict:
                async with gate:
                    return await self.judge(known, ready)

            return await asyncio.gather(*(one(k, p) for k, p in zip(suite, prepared, strict=True)))

        return asyncio.run(judge_all())


def entry_line(entry: SuiteEntry) -> str:
    """A suite entry as one JSON line (what `read_suite` reads back)."""
    return json.dumps(entry.model_dump(mode="json", exclude_none=True, exclude_defaults=True), ensure_ascii=False)
