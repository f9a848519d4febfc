"""Ragas samples, in the JSON Lines `EvaluationDataset.from_jsonl` loads.

Every example is written as a `MultiTurnSample`, also single-turn ones: Ragas keeps the expected tool
calls (`reference_tool_calls`, read by its tool-call metrics) only on multi-turn samples, and one Ragas
dataset holds one kind of sample. A single-turn example is a conversation of one human message. In a
conversation, an assistant turn that called tools is an `ai` message with those `tool_calls`, a `tool` message
per result, then an `ai` message with the turn's text.

Ragas' tool-call metrics read every `tool_calls` of the sample's messages, the conversation before the final answer
included, so `reference_tool_calls` is the calls that conversation made, as made, followed by the calls its final
answer still has to make (`calls_due`). `rubrics` is the rubric for the example, its criteria with the case's values,
as the score descriptions (`score1_description` .. `score5_description`) Ragas' rubric metrics read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from exports.base import Context, Files, calls_due, calls_made, conditions, history, jsonl, unreviewed_apart
from rubrics.model import Rubric
from store.records import Example, Turn


@unreviewed_apart
def write_ragas(records: list[Example], ctx: Context) -> Files:
    rubric = ctx.require_rubric("ragas")
    rows = [
        {
            "user_input": [message for t in history(r) for message in _messages(t)],
            "reference": r.reference_answer,
            "reference_tool_calls": None
            if r.expected_tool_calls is None  # a seed example that does not state its calls
            else [
                *({"name": e.name, "args": e.input} for t in history(r) for e in calls_made(t)),
                *({"name": c.name, "args": c.input} for c in calls_due(r)),
            ],
            "rubrics": rubrics(rubric, r),
        }
        for r in records
    ]
    return {"": jsonl(rows)}


def rubrics(rubric: Rubric, record: Example) -> dict[str, str]:
    """The rubric for the record as five score descriptions: every condition (`conditions`) listed under 5; 4 and 5
    are answers Goldsmith accepts (every required condition met), 1 to 3 answers it rejects."""
    listed = conditions(record, rubric, tools=False)  # the calls are `reference_tool_calls`
    optional = list(dict.fromkeys(c.id for c, _ in listed if c.method == "judge" and not c.required))
    others = [c.id for c, _ in listed if c.id not in optional and not (c.method == "facts" and c.check == "verdict")]
    required = ", ".join(dict.fromkeys(others)) or "none"
    lines = [text + ("\n  (not required)" if c.id in optional else "") for c, text in listed]
    if record.facts is None:  # a judged seed example: no stated verdict to grade by
        return {
            "score1_description": f"The response misses most of the required conditions ({required}).",
            "score2_description": f"The response misses several of the required conditions ({required}).",
            "score3_description": f"The response misses one of the required conditions ({required}).",
            "score4_description": "The response meets every required condition but falls short on "
            + (f"one that is not required ({', '.join(optional)})." if optional else "details."),
            "score5_description": "The response meets every condition below.\n\n" + "\n\n".join(lines),
        }
    verdict = f"the verdict '{record.facts.verdict}'"
    return {
        "score1_description": f"The response does not give {verdict} (it gives another, or none).",
        "score2_description": f"The response gives {verdict} but misses several of the other required conditions "
        f"({required}).",
        "score3_description": f"The response gives {verdict} but misses one of the other required conditions "
        f"({required}).",
        "score4_description": "The response meets every required condition but falls short on "
        + (f"one that is not required ({', '.join(optional)})." if optional else "details that change no conclusion."),
        "score5_description": "The response meets every condition below.\n\n" + "\n\n".join(lines),
    }


def _messages(turn: Turn) -> Iterator[dict[str, Any]]:
    if turn.role == "user":
        yield {"type": "human", "content": turn.content}
        return
    calls = calls_made(turn)
    if calls:
        yield {"type": "ai", "content": "", "tool_calls": [{"name": e.name, "args": e.input} for e in calls]}
        yield from ({"type": "tool", "content": e.output} for e in calls)
    yield {"type": "ai", "content": turn.content}
