"""The task agent: investigates a request with the domain's tools and returns a structured finding.

Each attempt is a fresh agent run, so the tool trace of an attempt is exactly the tools that attempt
needed; a revision sees the original request, its previous answer and the critic's feedback. The agent is
Goldsmith's own (in the run's runtime), or one the user brings (agents/custom_task_agent.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agents.runtime import Instructions
from store.records import Attempt

if TYPE_CHECKING:
    from agents.custom_task_agent import CustomTaskAgent
    from agents.metering import Spend
    from agents.providers import RoleModel
    from simulation.domains.base import RoleCard

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


def task_instructions(domain: str, card: RoleCard, finding_model: type) -> Instructions:
    """The domain card's task agent: its mission as the goal, its persona and the finding to return as the
    backstory."""
    return Instructions(
        role=f"{domain} assistant",
        goal=card.mission,
        backstory=f"Persona: {card.persona.strip()}\n\n"
        f"When you have finished investigating, return your finding as {finding_model.__name__}.",
    )


class TaskAgent:
    """Runs the task agent for one attempt at a time."""

    def __init__(
        self,
        model: RoleModel,
        instructions: Instructions,
        *,
        tools: list[Any],
        finding_model: type,
        custom: CustomTaskAgent | None = None,
    ):
        self.model = model
        self.instructions = instructions
        self.tools = tools
        self.finding_model = finding_model
        self.custom = custom

    async def attempt(
        self, request: str, round: int, previous: Attempt | None = None, feedback: str | None = None
    ) -> tuple[Attempt, Spend]:
        prompt = request if previous is None else revision_prompt(request, previous.answer, feedback or "")
        if self.custom is not None:
            outcome = await self.custom.run(prompt, self.finding_model)
        else:
            outcome = await self.model.run(self.instructions, prompt, self.finding_model, self.tools)
        finding = outcome.output
        attempt = Attempt(
            round=round, finding=finding.model_dump(mode="json"), answer=finding.answer, tool_trace=outcome.tool_trace
        )
        return attempt, outcome.spend
