"""A Strands Evals `Experiment` file: one case per example, and an `OutputEvaluator` built from the rubric.

Every case's expected trajectory lists the expected calls as `{name, input}`, the keys Strands Evals' own tool
extractor gives each call (`extract_agent_tools_used_from_messages`). The evaluator sets no model: Strands Evals then
judges with the strands `Agent` default, a Bedrock model (give the evaluator a `model` to use another).

A multi-turn case is written to be played again with Strands Evals' `ActorSimulator`: its input is the user's
opening message and its metadata holds the user as an `ActorProfile` (goal, persona, private facts) and the turn
budget; the expected trajectory lists the calls with their inputs, actions included, and the expected end state is
an `EnvironmentState` named `end_state`.
"""

from __future__ import annotations

import json
from typing import Any

from exports.base import (
    Context,
    Files,
    actions_text,
    conversation_metadata,
    criterion_text,
    dumped_calls,
    expected_calls,
    flattened,
    judged,
    metadata,
    opening,
    user_description,
)
from store.records import Example, Scenario


def write_strands_evals(records: list[Example], ctx: Context) -> Files:
    """The JSON `Experiment.from_file` loads: `cases` and `evaluators`."""
    rubric = ctx.require_rubric("strands-evals")
    cases = [
        _case(record, ctx) if record.scenario is None else _simulated_case(record, record.scenario, ctx)
        for record in records
    ]
    criteria = judged(rubric)
    evaluators = []
    if criteria:
        text = "\n\n".join(criterion_text(c) for c in criteria)
        evaluators.append(
            {
                "evaluator_type": "OutputEvaluator",
                "rubric": (
                    f"{rubric.title}. Pass only if the output meets every criterion below that applies to the "
                    f"request, and agrees with the expected output on the facts. Score 0-1 by the share of "
                    f"criteria met.\n\n{text}"
                ),
                "include_inputs": True,
            }
        )
    return {"": json.dumps({"cases": cases, "evaluators": evaluators}, indent=2, ensure_ascii=False).encode()}


def _case(record: Example, ctx: Context) -> dict[str, Any]:
    """One request (a conversation without a scenario: flattened) and the answer it should get."""
    return {
        "name": record.id,
        "session_id": record.id,
        "input": flattened(record),
        "expected_output": record.reference_answer,
        "expected_trajectory": None
        if record.expected_tool_calls is None
        else [{"name": c.name, "input": c.input} for c in record.expected_tool_calls],
        "metadata": {
            **metadata(record, ctx),
            "task_description": ctx.mission,
            "expected_tool_calls": dumped_calls(record.expected_tool_calls),
        },
    }


def _simulated_case(record: Example, scenario: Scenario, ctx: Context) -> dict[str, Any]:
    """A multi-turn case: the opening message, the user to simulate, and what the conversation should do."""
    goal = f"The user's goal is met: {scenario.goal}."
    return {
        "name": record.id,
        "session_id": record.id,
        "input": opening(record),
        "expected_output": record.reference_answer,
        "expected_assertion": f"{goal}\n{actions_text(record)}",
        "expected_trajectory": [{"name": c.name, "input": c.input} for c in expected_calls(record)],
        "expected_environment_state": [{"name": "end_state", "state": record.expected_end_state}],
        "metadata": {
            **metadata(record, ctx),
            "task_description": f"The user's goal: {scenario.goal}.",  # the user's view: no expected action
            "actor_profile": {
                "traits": {"persona": record.persona, "private_facts": scenario.private_facts},
                "context": user_description(record, ctx),
                "actor_goal": scenario.goal,
            },
            "max_turns": scenario.max_turns // 2,  # ActorSimulator counts the assistant's replies, not messages
            "expected_tool_calls": dumped_calls(record.expected_tool_calls),
            **conversation_metadata(record),
            "conversation": [turn.model_dump(mode="json", exclude_none=True) for turn in record.conversation],
        },
    }
