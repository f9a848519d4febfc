"""Re-earning a stored record's truth from the dataset's world, never from the record itself.

A record that comes from outside a run (`dataset import`) or is judged again (`revalidate`) claims a case, facts,
expected tool calls and a tool trace. Each claim is checked against what the world says:

- the case: the domain rebuilds it from its key and the world alone (brief, facts from the world's labels,
  the tool calls the case needs); the record's facts and expected tool calls must equal the rebuilt ones;
- the request names the case's subject (one of the brief's identifiers: an id, a name, a symbol);
- the tool trace: every call is executed again against the world with the same input (through the domain's
  real tools); a successful call must return what the record says it returned, a failed one must fail. Action
  calls (file_sar, close_alert, ...) are taken in trace order on one fresh action desk per record, and the state
  they leave must be the record's `end_state`;
- a multi-turn case's scenario, expected actions and expected end state must equal the rebuilt case's; its
  conversation must open with the request, alternate user and assistant, end with the reference answer, and
  its assistant turns' tool traces, one after another, must be exactly the record's tool trace;
- the rubric's programmatic criteria (the end-state gate among them), run on the stored answer against the
  rebuilt facts and expected end state.

What no program can check (how well the answer explains itself, whether a conversation met its user's goal) is
left to the judge (`--judge`, `revalidate`). A record does not keep how its user ended the conversation; before a
judge reads one, `user_ending` asks the user simulator again (or sees the turn budget used up).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agents.metering import Spend
from rubrics.methods import Subject, run_check, vocabulary_of
from rubrics.model import Rubric
from simulation.domains.base import Case, Domain, World
from simulation.seeds import SEED_PREFIX, SEEDED
from store.records import Attempt, CriterionResult, Example, ReviewItem, ToolCall, ToolTraceEntry, UserEnd

if TYPE_CHECKING:
    from agents.user_simulator import UserSimulator

MIN_IDENTIFIER_LENGTH = 3
# brief keys that name no subject (a seed case's brief holds its whole request)
NOT_IDENTIFIERS = {"request_type", "variant", "alert_reason", "period", "goal", "request"}


@dataclass
class Recheck:
    """The verdict on one stored record: the world's case (None if it has none) and what disagrees with it."""

    record: Example
    case: Case | None
    claims: list[str] = field(default_factory=list)  # the record's claims the world contradicts
    criteria: list[CriterionResult] = field(default_factory=list)  # the rubric criteria its answer fails

    @property
    def ok(self) -> bool:
        return not self.claims and not self.criteria

    @property
    def problems(self) -> list[str]:
        """Every problem as one line: `field: what is wrong`."""
        return self.claims + [f"{c.id}: {c.rationale}" for c in self.criteria]

    def reasons(self) -> list[str]:
        """Review-queue reasons: `truth` when a claim is contradicted, and each failed criterion."""
        return (["truth"] if self.claims else []) + [c.id for c in self.criteria]


class WorldChecker:
    """Checks stored records against one domain world (and a rubric's programmatic criteria)."""

    def __init__(self, domain: Domain, world: World, rubric: Rubric):
        from strands import Agent

        from agents.strands_runtime import quiet_tracing

        quiet_tracing()  # the direct tool calls below build no span content that nobody records
        self.domain = domain
        self.world = world
        self.rubric = rubric
        # the domain's real tools, called directly through strands (no model is ever asked)
        self.tools = Agent(
            tools=domain.tools(world), callback_handler=None, model="unused", load_tools_from_directory=False
        )
        self.tool_names = set(self.tools.tool_names)
        self.action_names = set(domain.action_names)

    def case(self, record: Example) -> tuple[Case | None, str | None]:
        """The world's case for a record, or None and why there is none. A record whose truth is not the world's
        (a seed example) has no case in the world: its own facts stand for it, and its tool trace is still replayed."""
        if record.truth != "world":
            return stated_case(record), None
        key = self.domain.case_key_of(record)
        try:
            return self.domain.case_for_key(self.world, key), None
        except LookupError as exc:
            return None, f"case: {exc}"

    def case_of(self, item: ReviewItem) -> Case:
        """The case of a review-queue item: the world's; for a seed request, one whose truth nobody stated (the
        item does not keep its facts). LookupError when the world has no such case."""
        if item.case_key.startswith(SEED_PREFIX):
            return Case(
                index=0,
                key=item.case_key,
                category=item.category,
                request_type=SEEDED,
                difficulty=item.difficulty,
                brief={"request_type": SEEDED, "request": item.prompt},
                expected_tool_calls=None,
                truth="judged",
                facts=None,
            )
        return self.domain.case_for_key(self.world, item.case_key)

    def check(self, record: Example) -> Recheck:
        """Every claim of the record against the world, then the rubric's programmatic criteria."""
        result = self.claims(record)
        if result.case is None:
            return result
        case = result.case
        subject = Subject(
            attempt_of(record),
            case.expected_tool_calls,
            case.facts,
            self.world.has_id,
            case.allowed_tool_calls,
            vocabulary_of(self.domain.finding_model),
            expected_end_state=case.expected_end_state,
            action_names=self.domain.action_names,
            owner_of=self.world.owner_of,
            truth=case.truth,
        )
        for criterion in self.rubric.criteria_for(case.category):
            if criterion.programmatic and not (checked := run_check(criterion, subject)).passed and checked.counted:
                result.criteria.append(checked)
        return result

    def claims(self, record: Example) -> Recheck:
        """The record's case, facts, expected tool calls, request, conversation, tool trace and end state against
        the world."""
        case, missing = self.case(record)
        result = Recheck(record, case)
        if case is None:
            result.claims.append(missing or "case: not in the world")
            return result
        claims = (
            ("category", record.category, case.category),
            ("difficulty", record.difficulty, case.difficulty),
            ("facts", record.facts, case.facts),
            ("expected_tool_calls", record.expected_tool_calls, case.expected_tool_calls),
        )
        if record.schema_version >= 2:  # fields version 1 records did not have
            claims += (
                ("request_type", record.request_type, case.request_type),
                ("allowed_tool_calls", record.allowed_tool_calls, case.allowed_tool_calls),
                ("tags", record.tags, case.tags),
            )
        # multi-turn and action fields: compared whatever the record's version says (an older record, and a
        # single-turn case, has none on either side), so relabelling a record cannot skip them
        claims += (
            ("scenario", record.scenario, case.scenario),
            ("expected_actions", record.expected_actions, case.expected_actions),
            ("expected_end_state", record.expected_end_state, case.expected_end_state),
        )
        for name, claimed, true in claims:
            if claimed != true:
                result.claims.append(f"{name}: the record says {_short(claimed)}; the world says {_short(true)}")
        identifiers = subject_identifiers(case)
        prompt = record.prompt.casefold()
        if identifiers and not any(i.casefold() in prompt for i in identifiers):
            result.claims.append(f"prompt: names none of the case's subject ({', '.join(identifiers)})")
        if case.scenario is not None:  # the world's case decides: dropping a record's scenario skips nothing
            result.claims += conversation_problems(record)
        result.claims += self.trace_problems(record)
        return result

    def trace_problems(self, record: Example) -> list[str]:
        """Tool-trace entries the world does not reproduce, and an end state the trace's actions do not leave.
        Actions are taken in trace order on one fresh desk for the record, as the attempt took them."""
        session = ToolSession(self)
        problems = []
        for number, entry in enumerate(record.tool_trace, start=1):
            where = f"tool_trace[{number}] {entry.name}"
            try:
                again = session.call(entry.name, entry.input)
            except LookupError:
                problems.append(f"{where}: no such tool in the {self.domain.name} domain")
                continue
            except ValueError as exc:
                problems.append(f"{where}: {exc}")
                continue
            if again.status != entry.status:
                problems.append(
                    f"{where}: the record says it {_ended(entry.status)}; in the world it {_ended(again.status)}"
                )
            elif again.status == "success" and again.output != entry.output:
                problems.append(f"{where}: its output differs from what the tool returns in the dataset's world")
        if session.desk.state != record.end_state:
            problems.append(
                f"end_state: the record says {_short(record.end_state)}; its tool trace's actions, taken again, "
                f"leave {_short(session.desk.state)}"
            )
        return problems

    def replay(self, calls: list[ToolCall]) -> tuple[list[ToolTraceEntry], dict[str, Any]]:
        """The tool trace and end state of making `calls` in order against the world, on a fresh action desk.
        LookupError for a tool the domain does not have, ValueError for an input a tool cannot take."""
        session = ToolSession(self)
        return [session.call(c.name, c.input) for c in calls], session.desk.state


class ToolSession:
    """A task agent's tools without a model: the domain's real tools on the checker's world, and a fresh action
    desk's action tools, called directly through strands."""

    def __init__(self, checker: WorldChecker):
        self.checker = checker
        self.desk = checker.domain.action_desk(checker.world)
        self.actions = None  # the desk's action tools, built when first needed

    def call(self, name: str, arguments: dict[str, Any]) -> ToolTraceEntry:
        """One call as the framework makes it: what it returned, or the error it ended with."""
        from strands import Agent

        from agents.messages import result_text

        if name in self.checker.action_names:
            if self.actions is None:
                self.actions = Agent(
                    tools=self.desk.tools,
                    callback_handler=None,
                    model=self.checker.tools.model,
                    load_tools_from_directory=False,
                )
            tools = self.actions
        elif name in self.checker.tool_names:
            tools = self.checker.tools
        else:
            raise LookupError(name)
        try:
            result = getattr(tools.tool, name)(**arguments, record_direct_tool_call=False)
        except Exception as exc:  # a tool input the tool cannot take at all
            raise ValueError(f"cannot be called with {_short(arguments)} ({type(exc).__name__})") from None
        status = "error" if result.get("status") == "error" else "success"
        return ToolTraceEntry(name=name, input=arguments, output=result_text(result), status=status)


def conversation_problems(record: Example) -> list[str]:
    """How a multi-turn record's conversation disagrees with its request, its answer and its tool trace."""
    turns = record.conversation
    problems = []
    if not turns or turns[0].role != "user" or turns[0].content != record.prompt:
        problems.append("conversation: its opening user turn is not the record's prompt")
    if not turns or turns[-1].role != "assistant" or turns[-1].content != record.reference_answer:
        problems.append("conversation: its last turn is not the assistant's reference answer")
    roles = [turn.role for turn in turns]
    if roles != ["user", "assistant"] * (len(turns) // 2):
        problems.append(f"conversation: turns must alternate user, assistant (they go {', '.join(roles)})")
    if record.scenario is not None and len(turns) > record.scenario.max_turns:
        problems.append(f"conversation: {len(turns)} turns, more than the scenario's {record.scenario.max_turns}")
    if any(turn.tool_trace is not None for turn in turns if turn.role == "user"):
        problems.append("conversation: a user turn carries a tool trace")
    flattened = [entry for turn in turns if turn.role == "assistant" for entry in turn.tool_trace or []]
    if flattened != record.tool_trace:
        problems.append(
            f"conversation: its turns' tool traces ({len(flattened)} calls) are not the record's tool_trace "
            f"({len(record.tool_trace)} calls, in order)"
        )
    return problems


def stated_case(record: Example) -> Case:
    """The case a seed example states itself: its request, facts and expected calls as stored (what an SME gave, or
    nothing), its conversation before the request."""
    from simulation.episode import earlier_turns

    return Case(
        index=0,
        key=record.case_key or f"{SEED_PREFIX}{record.id}",
        category=record.category,
        request_type=record.request_type or SEEDED,
        difficulty=record.difficulty,
        brief={"request_type": record.request_type or SEEDED, "request": record.prompt},
        expected_tool_calls=record.expected_tool_calls,
        allowed_tool_calls=record.allowed_tool_calls,
        tags=record.tags,
        truth=record.truth,
        facts=record.facts,
        history=earlier_turns(record),
    )


def attempt_of(record: Example) -> Attempt:
    """A stored record's answer as the attempt a critic reviews; a multi-turn record's with its conversation (how
    the user ended it is not stored) and every record's with the state its actions left."""
    return Attempt(
        round=record.critique.rounds,
        finding={**record.reference_output, "answer": record.reference_answer},
        answer=record.reference_answer,
        tool_trace=record.tool_trace,
        conversation=record.conversation if record.scenario is not None else None,
        ended=None,
        end_state=record.end_state,
    )


async def user_ending(user: UserSimulator, case: Case, attempt: Attempt) -> tuple[Attempt, Spend]:
    """A stored multi-turn attempt with how its conversation ended (records do not keep it), for the judge: the turn
    budget if the conversation used it up, else what the user simulator says after the last answer, asked again as
    at the end of the conversation. A user who would carry on leaves it unset: the judge reads no ending."""
    if case.scenario is None or not attempt.conversation:
        return attempt, Spend()
    if len(attempt.conversation) + 2 > case.scenario.max_turns:  # where simulation/conversation.py stops
        return attempt.model_copy(update={"ended": UserEnd(reason="turn_budget")}), Spend()
    reply, spend = await user.reply(case.brief, attempt.conversation)
    if not reply.done:
        return attempt, spend
    return attempt.model_copy(update={"ended": UserEnd(reason=reply.reason or "goal_met")}), spend


def subject_identifiers(case: Case) -> list[str]:
    """The brief's identifying strings (ids, names, symbols): a request about the case names one of them."""
    return [
        str(value)
        for key, value in case.brief.items()
        if key not in NOT_IDENTIFIERS and isinstance(value, str) and len(value) >= MIN_IDENTIFIER_LENGTH
    ]


def _ended(status: str) -> str:
    return "succeeded" if status == "success" else "failed"


def _short(value: Any, limit: int = 120) -> str:
    text = value.model_dump_json() if hasattr(value, "model_dump_json") else repr(value)
    if isinstance(value, dict):
        text = json.dumps(value, default=repr)
    if isinstance(value, list) and value and hasattr(value[0], "model_dump"):
        text = "[" + ", ".join(v.model_dump_json() for v in value) + "]"
    return text if len(text) <= limit else text[: limit - 1] + "…"
