"""What every export format is given, and the readings of a record that several formats share."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from config import InputError
from rubrics.model import Criterion, Rubric
from store.records import Example, ToolCall, ToolTraceEntry, Turn, transcript

Files = dict[str, bytes]
"""What a format writes: file tag → content. The tag "" is the --out file itself; any other tag is a sibling
file named `<stem>-<tag><suffix>` (e.g. the shards of a Bedrock export)."""


@dataclass(frozen=True)
class Context:
    """The dataset version being exported and what the formats may need besides its records."""

    dataset: str
    version: int
    mission: str
    persona: str = ""  # the domain card's words for the simulated user (who they are, how they write)
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
    """A conversation: a multi-turn case (it has a scenario), or more than one turn before the final answer."""
    return record.scenario is not None or len(history(record)) > 1


def flattened(record: Example) -> str:
    """The request as one text: the prompt itself for a single-turn example; for a conversation, every turn
    before the final answer as `User: ...` / `Assistant: ...` paragraphs."""
    turns = history(record)
    if len(turns) == 1:
        return turns[0].content
    return transcript(turns)


def opening(record: Example) -> str:
    """The user's first message."""
    return history(record)[0].content


def scenario_text(record: Example) -> str:
    """What the user of a conversation is after, and how they open it; without a scenario, the opening alone."""
    if record.scenario is None:
        return opening(record)
    return f"The user's goal: {record.scenario.goal}.\n\nThey open with:\n{opening(record)}"


def user_description(record: Example, ctx: Context) -> str:
    """The user of a multi-turn case in words: the domain card's persona (else its name), and the private facts
    they tell only when asked."""
    text = ctx.persona or record.persona
    facts = record.scenario.private_facts if record.scenario else {}
    if facts:
        known = "; ".join(f"{key.replace('_', ' ')}: {value}" for key, value in facts.items())
        text += f"\n\nKnows, and tells only when asked: {known}."
    return text


def action_sentence(call: ToolCall) -> str:
    """One expected action as a grader reads it: `file_sar is called with {"customer_id": ...}`."""
    return f"{call.name} is called with {json.dumps(call.input, ensure_ascii=False)}"


def actions_text(record: Example) -> str:
    """The actions a multi-turn case should take over the conversation and the state they leave, in words."""
    if not record.expected_actions:
        return "No action is due: the conversation should leave everything as it was (expected end state: {})."
    calls = "; ".join(action_sentence(c) for c in record.expected_actions)
    state = json.dumps(record.expected_end_state, ensure_ascii=False)
    return (
        f"Over the conversation: {calls} (the arguments shown are the ones checked; others, such as a narrative "
        f"or a reason, are free). End state: {state}."
    )


def expected_calls(record: Example) -> list[ToolCall]:
    """Every call a conversation should make: the tools the investigation needs, then the actions."""
    return [*(record.expected_tool_calls or []), *record.expected_actions]


def calls_made(turn: Turn) -> list[ToolTraceEntry]:
    """The tool calls an assistant turn of a multi-turn record made (none for other turns)."""
    return turn.tool_trace or []


def due_actions(record: Example) -> list[ToolCall]:
    """The expected actions the final answer still has to take: those no assistant turn before it took already
    (a list argument matches in any order, as the end state compares it)."""
    taken = [e for t in history(record) for e in calls_made(t) if e.status == "success"]
    return [a for a in record.expected_actions if not any(_takes(e, a) for e in taken)]


def _takes(entry: ToolTraceEntry, action: ToolCall) -> bool:
    def same(a: Any, b: Any) -> bool:
        if isinstance(a, list) and isinstance(b, list):
            return sorted(map(json.dumps, a)) == sorted(map(json.dumps, b))
        return a == b

    return entry.name == action.name and all(same(entry.input.get(k), v) for k, v in action.input.items())


def dumped_calls(calls: list[ToolCall] | None) -> list[dict[str, Any]] | None:
    """Tool calls as JSON values; None when the record does not state them (a seed example)."""
    return None if calls is None else [call.model_dump(mode="json") for call in calls]


def tool_names(record: Example) -> list[str]:
    """The tools the case needs, in order, each once."""
    return list(dict.fromkeys(call.name for call in record.expected_tool_calls or []))


def evidence(record: Example) -> list[str]:
    """What the tools returned during the approved investigation: the answer's grounding (in a conversation, each
    output once: its turns may look the same records up again)."""
    outputs = [entry.output for entry in record.tool_trace if entry.status == "success"]
    return list(dict.fromkeys(outputs)) if multi_turn(record) else outputs


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
        "verdict": record.facts.verdict if record.facts else None,
        "evidence_ids": record.facts.evidence_ids if record.facts else [],
        **truth_flag(record),
        **sme_review(record),
    }


def truth_flag(record: Example) -> dict[str, Any]:
    """Where a record's truth came from when it is not the world's, and whether it still needs an SME's sign-off
    (a judged record: only the critic judged it). {} for the world's, so those exports stay as they were."""
    if record.truth == "world":
        return {}
    return {"truth": record.truth, "needs_sme_review": record.needs_sign_off}


UNREVIEWED = "needs-sme-review"  # the file tag of judged records, in formats with no place for a record's flags
Writer = Callable[[list[Example], "Context"], Files]


def unreviewed_apart(write: Writer) -> Writer:
    """A writer for a format with no place for a record's flags (Bedrock's rows, Ragas' samples): the judged records,
    which await an SME's sign-off, go to their own file(s) tagged `needs-sme-review`, never among the goldens."""

    @functools.wraps(write)
    def written(records: list[Example], ctx: Context) -> Files:
        judged = [r for r in records if r.needs_sign_off]
        ready = [r for r in records if not r.needs_sign_off]
        files = write(ready, ctx) if ready or not judged else {}
        if judged:

            def tagged(tag: str) -> str:
                return f"{UNREVIEWED}-{tag}" if tag else UNREVIEWED

            apart = replace(ctx, locate=(lambda tag: ctx.locate(tagged(tag))) if ctx.locate else None)
            files |= {tagged(tag): data for tag, data in write(judged, apart).items()}
        return files

    return written


def sme_review(record: Example) -> dict[str, Any]:
    """Who signed a golden off or corrected it, when the SME workspace did ({} for a record no SME reviewed)."""
    review = record.provenance.review
    if review is None:
        return {}
    return {"sme_review": {"reviewer": review.reviewer, "decision": review.decision, "at": review.at}}


def conversation_metadata(record: Example) -> dict[str, Any]:
    """What a multi-turn case adds to the metadata: its scenario, expected actions and end state ({} without one)."""
    if record.scenario is None:
        return {}
    return {
        "scenario": record.scenario.model_dump(mode="json"),
        "expected_actions": [call.model_dump(mode="json") for call in record.expected_actions],
        "expected_end_state": record.expected_end_state,
    }


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()


def shards(rows: list[dict[str, Any]], size: int) -> Files:
    """JSON Lines files of at most `size` rows: one file when they fit, else tags 00001, 00002, ..."""
    if len(rows) <= size:
        return {"": jsonl(rows)}
    return {f"{i // size + 1:05d}": jsonl(rows[i : i + size]) for i in range(0, len(rows), size)}


def stated(criterion: Criterion) -> str:
    """A judged criterion in words for one example it applies to: `criterion_text` without the applies-to line."""
    return criterion_text(criterion.model_copy(update={"applies_to": None}))


def conditions(record: Example, rubric: Rubric, tools: bool) -> list[tuple[Criterion, str]]:
    """Each rubric criterion that applies to the record's category as conditions a judge of the conversation checks,
    each text led by the criterion id, with the case's own values: the verdict and evidence (facts), each expected
    action or that none is due
    (end_state), a regex or behaviour check's description, a judged criterion in words (with the rating a 1-5 one
    passes at), and with `tools` the calls the request needs (tool_calls). json_schema and consistency criteria
    check the structured finding, which is not in the conversation: none."""
    facts = record.facts
    out: list[tuple[Criterion, str]] = []
    for criterion in rubric.criteria_for(record.category):
        texts: list[str] = []
        if not stated_truth(record, criterion):
            continue
        if criterion.method == "facts" and criterion.check == "verdict":
            typology = f" (typology: {facts.typology})" if facts.typology else ""
            texts = [f"The final answer gives the verdict '{facts.verdict}'{typology}."]
        elif criterion.method == "facts" and facts.evidence_ids:
            ids = ", ".join(facts.evidence_ids)
            texts = [f"The final answer cites and names the key evidence behind the verdict: {ids}."]
        elif criterion.method == "end_state":
            texts = [action_sentence(a) for a in record.expected_actions] or [actions_text(record)]
        elif criterion.method == "tool_calls" and tools:
            needed = ", ".join(
                f"{c.name} with {json.dumps(c.input, ensure_ascii=False)}" for c in record.expected_tool_calls
            )
            names = {c.name for c in record.expected_tool_calls}
            allowed = [n for n in dict.fromkeys(c.name for c in record.allowed_tool_calls) if n not in names]
            may = f"; it may also call {', '.join(allowed)}" if allowed else ""
            texts = [
                f"The assistant calls the tools the request needs: {needed}{may}."
                if needed
                else "The assistant calls no tool to answer."
            ]
        elif criterion.method in ("regex", "behaviour"):
            texts = [" ".join(criterion.description.split())]
        elif criterion.method == "judge":
            text = stated(criterion)
            if criterion.scale == "1-5":
                text += f"\n  Met when rated {math.ceil(1 + 4 * criterion.passing_score - 1e-9)} of 5 or more."
            texts = [text]
        out += [(criterion, text if criterion.method == "judge" else f"{criterion.id}: {text}") for text in texts]
    return out


def stated_truth(record: Example, criterion: Criterion) -> bool:
    """Whether the record states the truth a criterion's condition needs (as the critic's `missing_truth` decides:
    a seed example may state no facts or tool calls, and only the world's cases state an end state)."""
    if criterion.method == "facts" or criterion.check == "asks_which":
        return record.facts is not None
    if criterion.method == "tool_calls" or criterion.check == "runs_required_tools":
        return record.expected_tool_calls is not None
    return criterion.method != "end_state" or record.truth == "world"


def calls_due(record: Example) -> list[ToolCall]:
    """The calls the final answer still has to make: the expected tool calls no earlier turn made with the same
    input (each made call counts once), then the actions due (`due_actions`). A single-turn example: all of them."""
    made = [(e.name, e.input) for t in history(record) for e in calls_made(t) if e.status == "success"]
    due = []
    for call in record.expected_tool_calls or []:
        if (call.name, call.input) in made:
            made.remove((call.name, call.input))
        else:
            due.append(call)
    return [*due, *due_actions(record)]
