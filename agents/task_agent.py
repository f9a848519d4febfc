"""The task agent: investigates a request with the domain's tools and returns a structured finding.

Each attempt is a fresh agent run, so the tool trace of an attempt is exactly the tools that attempt
needed; a revision sees the original request, its previous answer and the critic's feedback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from strands import Agent

from agents.messages import tool_exchanges, usage_of
from store.records import Attempt, TokenUsage

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

    def __init__(
        self, model_factory: Callable[[], Any], *, mission: str, persona: str, tools: list[Any], finding_model: type
    ):
        self.model_factory = model_factory
        self.tools = tools
        self.finding_model = finding_model
        self.system_prompt = (
            f"{mission.strip()}\n\nPersona: {persona.strip()}\n\n"
            f"When you have finished investigating, return your finding as "
            f"{finding_model.__name__}."
        )

    async def attempt(
        self, request: str, round: int, previous: Attempt | None = None, feedback: str | None = None
    ) -> tuple[Attempt, TokenUsage]:
        agent = Agent(
            model=self.model_factory(), tools=self.tools, system_prompt=self.system_prompt, callback_handler=None
        )
        prompt = request if previous is None else revision_prompt(request, previous.answer, feedback or "")
        result = await agent.invoke_async(prompt, structured_output_model=self.finding_model)
        finding = result.structured_output
        trace = tool_exchanges(agent.messages, skip={self.finding_model.__name__})
        attempt = Attempt(round=round, finding=finding.model_dump(mode="json"), answer=finding.answer, tool_trace=trace)
        return attempt, usage_of(result)
