"""The task agent: investigates a request with the domain's tools and returns a structured finding.

Each attempt is a fresh agent run, so the tool trace of an attempt is exactly the tools that attempt
needed; a revision sees the original request, its previous answer and the critic's feedback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agents.messages import tool_exchanges
from store.records import Attempt

if TYPE_CHECKING:
    from agents.metering import Spend
    from agents.providers import RoleModel

REVISION_MARKER = "\n\n--- REVIEWER FEEDBACK ---\n"


def revision_prompt(request: str, previous_answer: str, feedback: str) -> str:
    """The prompt for a revision: the request, then the previous answer and what the reviewer found."""
    return (
        f"{request}{REVISION_MARKER}Your previous answer:\n{previous_answer}\n\n"
        f"A reviewer found these problems:\n{feedback}\n\n"
        "Investigate again as needed and give a corrected finding."
    )


def split_revision(prompt: str) -> tuple[str, str | None]:
    """(request, feedback) from a task prompt; feedback is None for a first attempt."""
    request, marker, rest = prompt.partition(REVISION_MARKER)
    return (request, rest) if marker else (prompt, None)


class TaskAgent:
    """Builds and runs the task agent for one attempt at a time."""

    def __init__(self, model: RoleModel, *, mission: str, persona: str, tools: list[Any], finding_model: type):
        self.model = model
        self.tools = tools
        self.finding_model = finding_model
        self.system_prompt = (
            f"{mission.strip()}\n\nPersona: {persona.strip()}\n\n"
            f"When you have finished investigating, return your finding as "
            f"{finding_model.__name__}."
        )

    async def attempt(
        self, request: str, round: int, previous: Attempt | None = None, feedback: str | None = None
    ) -> tuple[Attempt, Spend]:
        agent = self.model.agent(tools=self.tools, system_prompt=self.system_prompt)
        prompt = request if previous is None else revision_prompt(request, previous.answer, feedback or "")
        result, spend = await self.model.invoke(agent, prompt, self.finding_model)
        finding = result.structured_output
        trace = tool_exchanges(agent.messages, skip={self.finding_model.__name__})
        attempt = Attempt(round=round, finding=finding.model_dump(mode="json"), answer=finding.answer, tool_trace=trace)
        return attempt, spend
