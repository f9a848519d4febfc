"""One attempt at a multi-turn case: the task agent and the user simulator talk until the user ends the
conversation (its goal met, or giving up) or the case's turn budget runs out.

Every assistant turn is a fresh run of the task agent on the conversation so far, with the domain's tools and
the attempt's own action desk (so what it did in earlier turns stays done, and no other attempt sees it). A
revision replays the conversation from the same opening with the critic's feedback; the simulated user answers
the same conversation the same way, so only what the assistant changes changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agents.metering import Spend
from agents.task_agent import conversation_prompt, revision_prompt
from store.records import Attempt, ToolTraceEntry, Turn, UserEnd

if TYPE_CHECKING:
    from simulation.domains.base import Case
    from simulation.episode import Roles


async def converse(
    case: Case, opening: str, roles: Roles, round: int, previous: Attempt | None = None, feedback: str | None = None
) -> tuple[Attempt, Spend]:
    """Play the conversation of one attempt from the user's opening message."""
    assert case.scenario is not None
    desk = roles.task.new_desk()
    turns = [Turn(role="user", content=opening)]
    trace: list[ToolTraceEntry] = []
    spend = Spend()
    while True:
        prompt = conversation_prompt(turns)
        if previous is not None:
            prompt = revision_prompt(prompt, previous.answer, feedback or "", [], round)
        outcome = await roles.task.answer(prompt, desk)
        spend += outcome.spend
        finding = outcome.output
        turns.append(Turn(role="assistant", content=finding.answer, tool_trace=outcome.tool_trace))
        trace += outcome.tool_trace
        if len(turns) + 2 > case.scenario.max_turns:
            ended = UserEnd(reason="turn_budget")
            break
        reply, used = await roles.user.reply(case.brief, turns)
        spend += used
        if reply.done:
            ended = UserEnd(reason=reply.reason or "goal_met")
            break
        turns.append(Turn(role="user", content=(reply.message or "").strip()))
    attempt = Attempt(
        round=round,
        finding=finding.model_dump(mode="json"),
        answer=finding.answer,
        tool_trace=trace,
        conversation=turns,
        ended=ended,
        end_state=desk.state if desk else {},
    )
    return attempt, spend
