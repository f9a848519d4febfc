"""Ragas samples, in the JSON Lines `EvaluationDataset.from_jsonl` loads.

Every example is written as a `MultiTurnSample`, also single-turn ones: Ragas keeps the expected tool
calls (`reference_tool_calls`, read by its tool-call metrics) only on multi-turn samples, and one Ragas
dataset holds one kind of sample. A single-turn example is a conversation of one human message.
"""

from __future__ import annotations

from exports.base import Context, Files, history, jsonl
from store.records import Example


def write_ragas(records: list[Example], ctx: Context) -> Files:
    rows = [
        {
            "user_input": [{"type": "human" if t.role == "user" else "ai", "content": t.content} for t in history(r)],
            "reference": r.reference_answer,
            "reference_tool_calls": [{"name": c.name, "args": c.input} for c in r.expected_tool_calls],
        }
        for r in records
    ]
    return {"": jsonl(rows)}
