"""DeepEval goldens, in the JSON file `EvaluationDataset.add_goldens_from_json_file` loads.

A DeepEval dataset is single-turn or multi-turn, never both: single-turn examples become `Golden`s in the
--out file (always written, maybe empty), conversations become `ConversationalGolden`s in its `-multi-turn`
sibling. A conversation's golden carries what DeepEval's `ConversationSimulator` needs to play its user again
(scenario, persona, expected outcome) and its turns up to the final answer, each assistant turn with the tools it
called; its expected actions are `expectations` DeepEval checks against the tool evidence.
"""

from __future__ import annotations

import json
from typing import Any

from exports.base import (
    Context,
    Files,
    action_sentence,
    actions_text,
    calls_made,
    conversation_metadata,
    evidence,
    history,
    metadata,
    multi_turn,
    scenario_text,
    user_description,
)
from store.records import Example, Turn


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
    golden: dict[str, Any] = {
        "name": record.id,
        "scenario": scenario_text(record),
        "turns": [_turn(t) for t in history(record)],
        "expected_outcome": record.reference_answer,
    }
    if record.scenario is not None:
        golden["expected_outcome"] += "\n\n" + actions_text(record)
        description = user_description(record, ctx)
        golden["persona"] = {"name": record.persona, "characteristics": description}
        golden["user_description"] = description  # what DeepEval before `persona` reads
    if record.expected_actions:
        golden["expectations"] = {"must": [action_sentence(a) for a in record.expected_actions]}
    golden["context"] = evidence(record)
    golden["additional_metadata"] = {
        **metadata(record, ctx),
        "task_description": ctx.mission,
        "expected_tools": [c.model_dump(mode="json") for c in record.expected_tool_calls],
        **conversation_metadata(record),
    }
    return golden


def _turn(turn: Turn) -> dict[str, Any]:
    """A DeepEval `Turn`; an assistant turn that called tools lists them (name, input, output) in `tools_called`."""
    row: dict[str, Any] = {"role": turn.role, "content": turn.content}
    if calls_made(turn):
        row["tools_called"] = [
            {"name": e.name, "input_parameters": e.input, "output": e.output} for e in calls_made(turn)
        ]
    return row


def _json(rows: list[dict[str, Any]]) -> bytes:
    return json.dumps(rows, indent=2, ensure_ascii=False).encode()
