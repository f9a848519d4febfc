"""Ragas samples, in the JSON Lines `EvaluationDataset.from_jsonl` loads.

Every example is written as a `MultiTurnSample`, also single-turn ones: Ragas keeps the expected tool
calls (`reference_tool_calls`, read by its tool-call metrics) only on multi-turn samples, and one Ragas
dataset holds one kind of sample. A single-turn example is a conversation of one human message. In a
conversation, an assistant turn that called tools is an `ai` message with those `tool_calls`, a `tool` message
per result, then an `ai` message with the turn's text; the expected actions follow the expected tool calls in
`reference_tool_calls`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from exports.base import Context, Files, calls_made, expected_calls, history, jsonl
from store.records import Example, Turn


def write_ragas(records: list[Example], ctx: Context) -> Files:
    rows = [
        {
            "user_input": [message for t in history(r) for message in _messages(t)],
            "reference": r.reference_answer,
            "reference_tool_calls": [{"name": c.name, "args": c.input} for c in expected_calls(r)],
        }
        for r in records
    ]
    return {"": jsonl(rows)}


def _messages(turn: Turn) -> Iterator[dict[str, Any]]:
    if turn.role == "user":
        yield {"type": "human", "content": turn.content}
        return
    calls = calls_made(turn)
    if calls:
        yield {"type": "ai", "content": "", "tool_calls": [{"name": e.name, "args": e.input} for e in calls]}
        yield from ({"type": "tool", "content": e.output} for e in calls)
    yield {"type": "ai", "content": turn.content}
