"""The user simulator: turns a case brief into the request a real user of the domain would write."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from agents.metering import Spend
    from agents.providers import RoleModel


class SimulatedRequest(BaseModel):
    """The message the simulated user sends to the assistant."""

    message: str = Field(min_length=1, description="The request, exactly as the user would type it.")


def user_system_prompt(mission: str, persona: str, example_questions: dict[str, list[str]]) -> str:
    """Mission, persona and example requests grouped by request type (`[type]` then one per line)."""
    lines = [
        mission.strip(),
        "",
        f"Persona: {persona.strip()}",
        "",
        "Example requests by request type (placeholders in braces are filled from the brief):",
    ]
    for kind, questions in example_questions.items():
        lines.append(f"[{kind}]")
        lines += [f"- {q}" for q in questions]
    return "\n".join(lines)


class UserSimulator:
    def __init__(self, model: RoleModel, *, mission: str, persona: str, example_questions: dict[str, list[str]]):
        self.model = model
        self.system_prompt = user_system_prompt(mission, persona, example_questions)

    async def request(self, brief: dict[str, Any]) -> tuple[str, Spend]:
        """Write the opening request for a case."""
        agent = self.model.agent(system_prompt=self.system_prompt)
        prompt = (
            "Write the request for this case, of the given request_type.\n"
            f"Case brief:\n```json\n{json.dumps(brief, indent=1, sort_keys=True)}\n```"
        )
        result, spend = await self.model.invoke(agent, prompt, SimulatedRequest)
        return result.structured_output.message.strip(), spend
