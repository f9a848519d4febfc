"""What every export format is given, and the readings of a record that several formats share."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from config import InputError
from rubrics.model import Criterion, Rubric
from store.records import Example, Turn

Files = dict[str, bytes]
"""What a format writes: file tag → content. The tag "" is the --out file itself; any other tag is a sibling
file named `<stem>-<tag><suffix>` (e.g. the shards of a Bedrock export)."""


@dataclass(frozen=True)
class Context:
    """The dataset version being exported and what the formats may need besides its records."""

    dataset: str
    version: int
    mission: str
    find_rubric: Callable[[], tuple[Rubric | None, str]] = lambda: (None, "no rubric")
    responses: dict[str, str] | None = None
    responder: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    locate: Callable[[str], str] | None = None  # file tag → where it will be written

    @property
    def ref(self) -> str:
        return f"{self.dataset}@v{self.version}"

    def require_rubric(self, fmt: str) -> Rubric:
        """The rubric the version was judged with (looked up only by the formats that derive checks from it)."""
        rubric, problem = self.find_rubric()
        if rubric is None:
            raise InputError(f"--format {fmt}: {problem}")
        return rubric


def judged(rubric: Rubric, category: str | None = None) -> list[Criterion]:
    """The rubric's judged criteria (all, or those that apply to `category`)."""
    criteria = rubric.criteria if category is None else rubric.criteria_for(category)
    return [c for c in criteria if c.method == "judge"]


def criterion_text(criterion: Criterion) -> str:
    """One judged criterion in words a grader model reads: what it asks, its scale and its examples."""
    lines = [f"{criterion.id}: {' '.join(criterion.description.split())}"]
    if criterion.scale == "1-5":
        lines.append("  Rate 1 (poor) to 5 (excellent).")
    if criterion.applies_to:
        lines.append(f"  Applies only to these kinds of request: {', '.join(criterion.applies_to)}.")
    for word, examples in (
        ("Passes", criterion.examples and criterion.examples.passing),
        ("Fails", criterion.examples and criterion.examples.failing),
    ):
        for example in examples or []:
            lines.append(f"  {word}, e.g.: {example}")
    return "\n".join(lines)


def history(record: Example) -> list[Turn]:
    """The conversation up to (not including) the final answer; its last turn is the user's request."""
    turns = record.conversation
    return turns[:-1] if turns and turns[-1].role == "assistant" else list(turns)


def multi_turn(record: Example) -> bool:
    return len(history(record)) > 1


def flattened(record: Example) -> str:
    """The request as one text: the prompt itself for a single-turn example; for a conversation, every turn
    before the final answer as `User: ...` / `Assistant: ...` paragraphs."""
    turns = history(record)
    if len(turns) == 1:
        return turns[0].content
    return "\n\n".join(f"{'User' if t.role == 'user' else 'Assistant'}: {t.content}" for t in turns)


def tool_names(record: Example) -> list[str]:
    """The tools the case needs, in order, each once."""
    return list(dict.fromkeys(call.name for call in record.expected_tool_calls))


def evidence(record: Example) -> list[str]:
    """What the tools returned during the approved investigation: the answer's grounding."""
    return [entry.output for entry in record.tool_trace if entry.status == "success"]


def metadata(record: Example, ctx: Context) -> dict[str, Any]:
    """Provenance every format can carry as free-form metadata."""
    return {
        "goldsmith_id": record.id,
        "dataset": ctx.ref,
        "category": record.category,
        "difficulty": record.difficulty,
        "persona": record.persona,
        "rubric_id": record.critique.rubric_id,
        "rubric_version": record.critique.rubric_version,
        "critique_score": record.critique.score,
        "verdict": record.facts.verdict,
        "evidence_ids": record.facts.evidence_ids,
    }


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()


def shards(rows: list[dict[str, Any]], size: int) -> Files:
    """JSON Lines files of at most `size` rows: one file when they fit, else tags 00001, 00002, ..."""
    if len(rows) <= size:
        return {"": jsonl(rows)}
    return {f"{i // size + 1:05d}": jsonl(rows[i : i + size]) for i in range(0, len(rows), size)}
