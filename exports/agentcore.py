"""Amazon Bedrock AgentCore Evaluations datasets: JSON Lines of scenarios, one per example.

`agentcore` writes schema `AGENTCORE_EVALUATION_PREDEFINED_V1`: the example's turns to replay, each user message
with the reference reply as its `expected_response` (what `Builtin.Correctness` compares with), the expected tool
names as `expected_trajectory` (for the trajectory match evaluators) and `assertions` (for
`Builtin.GoalSuccessRate`). `agentcore-simulated` writes schema `AGENTCORE_EVALUATION_SIMULATED_V1`: the user to
simulate (`actor_profile`), the opening message and a turn budget, with the same assertions.

The assertions are plain sentences: the verified facts (verdict and typology, the key evidence ids, the actions due
and the end state they leave) and the rubric's criteria that apply to the example's category. The simulated user
reads the actor profile and the scenario description, so neither says what the answer should be.

Both files are what `bedrock_agentcore.evaluation.runner.FileDatasetProvider` loads, and what AgentCore's dataset
API takes as examples (`exports/publish.py` sends them).
"""

from __future__ import annotations

from typing import Any

from exports.base import (
    Context,
    Files,
    actions_text,
    conversation_metadata,
    dumped_calls,
    expected_calls,
    history,
    jsonl,
    metadata,
    multi_turn,
    opening,
    stated_truth,
    user_description,
)
from rubrics.model import Criterion, Rubric
from store.records import Example

PREDEFINED = "AGENTCORE_EVALUATION_PREDEFINED_V1"
SIMULATED = "AGENTCORE_EVALUATION_SIMULATED_V1"


def write_agentcore(records: list[Example], ctx: Context) -> Files:
    """One predefined scenario per example: `scenario_id`, `turns`, `expected_trajectory`, `assertions`,
    `metadata`."""
    rubric = ctx.require_rubric("agentcore")
    rows = [
        {
            "scenario_id": record.id,
            "turns": turns(record),
            "expected_trajectory": trajectory(record),
            "assertions": assertions(record, rubric),
            "metadata": _metadata(record, ctx),
        }
        for record in records
    ]
    return {"": jsonl(rows)}


def write_agentcore_simulated(records: list[Example], ctx: Context) -> Files:
    """One simulated scenario per example: `scenario_id`, `scenario_description`, `actor_profile`, `input`,
    `max_turns`, `assertions`, `metadata`."""
    rubric = ctx.require_rubric("agentcore-simulated")
    rows = [
        {
            "scenario_id": record.id,
            "scenario_description": description(record, ctx),
            "actor_profile": actor_profile(record, ctx),
            "input": opening(record),
            "max_turns": max_turns(record),
            "assertions": assertions(record, rubric),
            "metadata": {
                **_metadata(record, ctx),
                "expected_trajectory": trajectory(record),
                "reference_answer": record.reference_answer,
            },
        }
        for record in records
    ]
    return {"": jsonl(rows)}


def turns(record: Example) -> list[dict[str, str]]:
    """A single-turn example: its prompt and reference answer. A conversation: each user message, with the reply
    that followed it as the expected response (the reference answer after the last one)."""
    if not multi_turn(record):
        return [{"input": record.prompt, "expected_response": record.reference_answer}]
    talk = history(record)
    rows = []
    for i, turn in enumerate(talk):
        if turn.role != "user":
            continue
        row = {"input": turn.content}
        if i + 1 == len(talk):
            row["expected_response"] = record.reference_answer
        elif talk[i + 1].role == "assistant":
            row["expected_response"] = talk[i + 1].content
        rows.append(row)
    return rows


def trajectory(record: Example) -> list[str]:
    """The calls the case needs, then the actions it should take: names, in order (a tool needed twice, e.g. for
    two accounts, is there twice)."""
    return [call.name for call in expected_calls(record)]


def assertions(record: Example, rubric: Rubric) -> list[str]:
    """What a good session does, in sentences: the user's goal (a multi-turn case), the verified facts, the
    actions, then every rubric criterion that applies to the category and is not one of those already."""
    facts = record.facts
    sentences = []
    if record.scenario is not None:
        sentences.append(f"The user's goal is met: {record.scenario.goal}.")
    if facts is not None:  # a judged seed example states none
        typology = f" (typology: {facts.typology})" if facts.typology else ""
        sentences.append(f"The agent's final answer gives the verdict '{facts.verdict}'{typology}.")
    if facts is not None and facts.evidence_ids:
        sentences.append(
            f"The agent's final answer cites and names the key evidence behind the verdict: "
            f"{', '.join(facts.evidence_ids)}."
        )
    if record.truth == "world":  # only the world's cases state the end state
        sentences.append(actions_text(record))
    for criterion in rubric.criteria_for(record.category):
        sentence = criterion_sentence(criterion, record)
        if sentence:
            sentences.append(sentence)
    return list(dict.fromkeys(sentences))


def criterion_sentence(criterion: Criterion, record: Example) -> str | None:
    """A rubric criterion as an assertion: a judged one's description; a programmatic one as what it checks. The
    facts and end-state criteria are the verified facts and actions above; the JSON-schema and consistency ones
    check the structured finding, which AgentCore does not see (None for those), and nor is a criterion whose
    truth the record does not state."""
    if not stated_truth(record, criterion):
        return None
    if criterion.method == "tool_calls":
        needed = list(dict.fromkeys(trajectory(record)))
        allowed = [n for n in dict.fromkeys(c.name for c in record.allowed_tool_calls) if n not in needed]
        if not needed:
            return "The agent answers without calling any tool."
        may = f"; it may also call {', '.join(allowed)}" if allowed else ""
        return f"The agent calls the tools the request needs: {', '.join(needed)}{may}; it calls no other tool."
    if criterion.method in ("judge", "regex", "behaviour"):
        return " ".join(criterion.description.split())
    return None


def actor_profile(record: Example, ctx: Context) -> dict[str, Any]:
    """The user to simulate: who they are (`context`: the domain card's persona and the private facts they tell
    only when asked), what they want (`goal`), and the same as data (`traits`)."""
    scenario = record.scenario
    return {
        "traits": {
            "persona": record.persona,
            "private_facts": scenario.private_facts if scenario else {},
            "follow_ups": scenario.follow_ups if scenario else [],
        },
        "context": user_description(record, ctx),
        "goal": goal(record),
    }


def goal(record: Example) -> str:
    """A multi-turn case's goal; for a single request, getting an answer to it (named by its request type, never
    by its category, which would tell the simulated user the answer)."""
    if record.scenario is not None:
        return record.scenario.goal
    kind = f"{record.request_type.replace('_', ' ')} request" if record.request_type else "request"
    return f"get the assistant's answer to their {kind}, as their opening message puts it"


def description(record: Example, ctx: Context) -> str:
    """What the scenario replays, in words the simulated user may read (no verdict, category or action)."""
    sent = sum(1 for turn in history(record) if turn.role == "user")
    kind = f" of kind '{record.request_type}'" if record.request_type else ""
    messages = "one message" if sent == 1 else f"{sent} messages"
    return (
        f"Goldsmith golden case {record.id} of {ctx.ref}: {record.persona}, a user of the {record.domain} "
        f"assistant, with a request{kind}. In the golden conversation the user sent {messages}."
    )


def max_turns(record: Example) -> int:
    """The turn budget, in the agent's replies (what AgentCore counts): a multi-turn case's budget of messages
    halved; a single request, its one reply and one to spare, as Goldsmith's own budgets leave."""
    if record.scenario is not None:
        return max(1, record.scenario.max_turns // 2)
    return sum(1 for turn in history(record) if turn.role == "user") + 1


def _metadata(record: Example, ctx: Context) -> dict[str, Any]:
    """The shared metadata, and what else traces the scenario back to its golden: case, tags, facts, tool calls
    with their inputs, a multi-turn case's scenario and actions, and the run that made it."""
    made = record.provenance
    return {
        **metadata(record, ctx),
        "domain": record.domain,
        "case_key": record.case_key,
        "request_type": record.request_type,
        "tags": record.tags,
        "facts": record.facts.model_dump(mode="json") if record.facts else None,
        "expected_tool_calls": dumped_calls(record.expected_tool_calls),
        **conversation_metadata(record),
        "lineage": {
            "run_id": made.run_id,
            "episode": made.episode,
            "created_at": made.created_at,
            "runtime": made.runtime,
            "models": made.models,
            "seed": made.seed,
            "world_seed": made.world_seed,
            "domain_version": made.domain_version,
            "record_schema_version": record.schema_version,
        },
    }
