"""The user simulator: turns a case brief into the request a real user of the domain would write."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pydantic import Field

from agents.outputs import ModelOutput
from agents.runtime import Instructions

if TYPE_CHECKING:
    from agents.metering import Spend
    from agents.providers import RoleModel
    from simulation.domains.base import UserSimulatorCard


class SimulatedRequest(ModelOutput):
    """The message the simulated user sends to the assistant."""

    message: str = Field(min_length=1, description="The request, exactly as the user would type it.")


def user_instructions(card: UserSimulatorCard) -> Instructions:
    """The domain card's user: its mission as the goal; its persona and example requests grouped by request
    type (`[type]` then one per line) as the backstory."""
    lines = [
        f"Persona: {card.persona.strip()}",
        "",
        "Example requests by request type (placeholders in braces are filled from the brief):",
    ]
    for kind, questions in card.example_questions.items():
        lines.append(f"[{kind}]")
        lines += [f"- {q}" for q in questions]
    for kind, verb, phrases in (("openers", "open", card.openers), ("closers", "close", card.closers)):
        if phrases:
            lines += ["", f"Ways to {verb} a message (use one now and then, not always):", f"[{kind}]"]
            lines += [f"- {p}" for p in phrases]
    return Instructions(role=card.name, goal=card.mission, backstory="\n".join(lines))


class UserSimulator:
    def __init__(self, model: RoleModel, card: UserSimulatorCard):
        self.model = model
        self.instructions = user_instructions(card)

    async def request(self, brief: dict[str, Any]) -> tuple[str, Spend]:
        """Write the opening request for a case."""
        prompt = (
            "Write the request for this case, of the given request_type.\n"
            f"Case brief:\n```json\n{json.dumps(brief, indent=1, sort_keys=True)}\n```"
        )
        outcome = await self.model.run(self.instructions, prompt, SimulatedRequest)
        return outcome.output.message.strip(), outcome.spend
