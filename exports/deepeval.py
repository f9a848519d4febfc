"""DeepEval goldens, in the JSON file `EvaluationDataset.add_goldens_from_json_file` loads.

A DeepEval dataset is single-turn or multi-turn, never both: single-turn examples become `Golden`s in the
--out file (always written, maybe empty), conversations become `ConversationalGolden`s in its `-multi-turn`
sibling. A conversation's golden carries what DeepEval's `ConversationSimulator` needs to play its user again
(scenario, persona, expected outcome) and its turns up to the final answer, each assistant turn with the tools it
called; its expected actions are `expectations` DeepEval checks against the tool evidence.

Every golden's `expectations.must` holds the rubric's gates for its category as conditions with the case's values
(`conditions`): the verdict and evidence, the actions (or that none is due), the regex and behaviour checks and the
required judged criteria; an answer failing any of them is not accepted, and DeepEval's expectation check is
pass/fail on all of them. DeepEval's judge of expectations does not see `expected_output`, hence the facts in words.
`ConversationalGolden` has no expected-tools field (DeepEval 4.3), so a conversation's expected tool calls are a
condition too, and stay in its metadata as data.
"""

from __future__ import annotations

import json
from typing import Any

from exports.base import (
    Context,
    Files,
    actions_text,
    calls_made,
    conditions,
    conversation_metadata,
    dumped_calls,
    evidence,
    history,
    metadata,
    multi_turn,
    scenario_text,
    user_description,
)
from rubrics.model import Rubric
from store.records import Example, Turn


def write_deepeval(records: list[Example], ctx: Context) -> Files:
    rubric = ctx.require_rubric("deepeval")
    single = [_golden(r, rubric, ctx) for r in records if not multi_turn(r)]
    conversations = [_conversational_golden(r, rubric, ctx) for r in records if multi_turn(r)]
    files: Files = {"": _json(single)}
    if conversations:
        files["multi-turn"] = _json(conversations)
    return files


def _golden(record: Example, rubric: Rubric, ctx: Context) -> dict[str, Any]:
    golden: dict[str, Any] = {
        "name": record.id,
        "input": record.prompt,
        "expected_output": record.reference_answer,
    }
    if record.expected_tool_calls is not None:  # a seed example may not state them
        golden["expected_tools"] = [{"name": c.name, "input_parameters": c.input} for c in record.expected_tool_calls]
    must = _must(record, rubric, tools=False)  # a Golden has `expected_tools`
    if must:
        golden["expectations"] = {"must": must}
    golden["context"] = evidence(record)
    golden["additional_metadata"] = {**metadata(record, ctx), "task_description": ctx.mission}
    return golden


def _must(record: Example, rubric: Rubric, tools: bool) -> list[str]:
    """The gates among the rubric's conditions for the record: all but the judged criteria that are not required
    (they weigh in the score, a failure does not reject the answer)."""
    return [text for c, text in conditions(record, rubric, tools) if c.method != "judge" or c.required]


def _conversational_golden(record: Example, rubric: Rubric, ctx: Context) -> dict[str, Any]:
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
    must = _must(record, rubric, tools=True)
    if must:
        golden["expectations"] = {"must": must}
    golden["context"] = evidence(record)
    golden["additional_metadata"] = {
        **metadata(record, ctx),
        "task_description": ctx.mission,
        "expected_tools": dumped_calls(record.expected_tool_calls),
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
