"""DeepEval goldens, in the JSON file `EvaluationDataset.add_goldens_from_json_file` loads.

A DeepEval dataset is single-turn or multi-turn, never both: single-turn examples become `Golden`s in the
--out file (always written, maybe empty), conversations become `ConversationalGolden`s in its `-multi-turn`
sibling.
"""

from __future__ import annotations

import json
from typing import Any

from exports.base import Context, Files, evidence, history, metadata, multi_turn
from store.records import Example


def write_deepeval(records: list[Example], ctx: Context) -> Files:
    single = [_golden(r, ctx) for r in records if not multi_turn(r)]
    conversations = [_conversational_golden(r, ctx) for r in records if multi_turn(r)]
    files: Files = {"": _json(single)}
    if conversations:
        files["multi-turn"] = _json(conversations)
    return files


def _golden(record: Example, ctx: Context) -> dict[str, Any]:
    return {
        "name": record.id,
        "input": record.prompt,
        "expected_output": record.reference_answer,
        "expected_tools": [{"name": c.name, "input_parameters": c.input} for c in record.expected_tool_calls],
        "context": evidence(record),
        "additional_metadata": {**metadata(record, ctx), "task_description": ctx.mission},
    }


def _conversational_golden(record: Example, ctx: Context) -> dict[str, Any]:
    turns = history(record)
    return {
        "name": record.id,
        "scenario": turns[0].content,
        "turns": [{"role": t.role, "content": t.content} for t in turns],
        "expected_outcome": record.reference_answer,
        "context": evidence(record),
        "additional_metadata": {
            **metadata(record, ctx),
            "task_description": ctx.mission,
            "expected_tools": [c.model_dump(mode="json") for c in record.expected_tool_calls],
        },
    }


def _json(rows: list[dict[str, Any]]) -> bytes:
    return json.dumps(rows, indent=2, ensure_ascii=False).encode()
